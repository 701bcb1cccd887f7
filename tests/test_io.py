"""Block-wise file filtering: equal to the offline result, atomic on failure."""

import numpy as np
import pytest
import soundfile as sf

from wavedil.engine.conv import DilatedConv1d
from wavedil.io import filter_file, read_blocks


@pytest.fixture
def stereo(tmp_path):
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal((5000, 2))).astype(np.float32)
    path = tmp_path / "in.wav"
    sf.write(path, audio, 8000, subtype="FLOAT")
    return path, audio


@pytest.mark.parametrize("block_size", [1, 37, 4096, 100000])
def test_filter_file_equals_offline_per_channel(stereo, tmp_path, block_size):
    path, audio = stereo
    layer = DilatedConv1d(np.random.default_rng(1).standard_normal((1, 1, 5)), dilation=9,
                          alignment="centered")
    report = filter_file(lambda b: layer.stream(batch=b), path, tmp_path / "out.wav",
                         block_size=block_size)
    out, rate = sf.read(tmp_path / "out.wav", dtype="float32", always_2d=True)
    expected = layer(audio.T[:, None, :])[:, 0, :].T
    assert rate == 8000 and out.shape == audio.shape
    assert report.latency == 18 and report.frames == 5000 and report.channels == 2
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_failure_leaves_existing_output_untouched_and_no_temporary_files(stereo, tmp_path):
    path, _ = stereo
    target = tmp_path / "out.wav"
    target.write_bytes(b"precious")
    wrong = DilatedConv1d(np.ones((2, 1, 3)))  # two output channels: rejected while writing
    with pytest.raises(ValueError, match=r"one output channel, got shape \(2, 2, "):
        filter_file(lambda b: wrong.stream(batch=b), path, target, block_size=100)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.wav", "out.wav"]


def test_bad_arguments(stereo, tmp_path):
    path, _ = stereo
    layer = DilatedConv1d(np.ones((1, 1, 2)))
    with pytest.raises(ValueError, match="cannot tell the audio format from the extension .xyz"):
        filter_file(lambda b: layer.stream(batch=b), path, tmp_path / "out.xyz")
    with pytest.raises(ValueError, match="block_size must be >= 1, got 0"):
        next(read_blocks(path, 0))


def test_progress_bar_does_not_change_the_output(stereo, tmp_path, capsys):
    path, _ = stereo
    layer = DilatedConv1d(np.ones((1, 1, 3)) / 3, dilation=2)
    for name, progress in (("plain.wav", False), ("bar.wav", True)):
        filter_file(lambda b: layer.stream(batch=b), path, tmp_path / name, block_size=500,
                    progress=progress)
    np.testing.assert_array_equal(sf.read(tmp_path / "plain.wav")[0],
                                  sf.read(tmp_path / "bar.wav")[0])
    assert "samples" in capsys.readouterr().err  # tqdm drew its bar on stderr
