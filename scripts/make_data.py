"""Regenerate the audio shipped in data/ (run through scripts/make_data.sh).

Needs the command-line tools ``espeak-ng`` and ``sox`` (Debian packages of the same
names) plus numpy and soundfile. Everything is deterministic: espeak-ng and sox (run with
``-R``, repeatable mode) give the same samples on every run for a given tool version, and
the noise comes from a seeded numpy generator. All paths are relative to the repo root.

Files written:

* ``data/speech.wav``        about 10 s of English speech (two espeak-ng voices), 16 kHz,
                             mono, PCM 16-bit, peak at -1 dBFS.
* ``data/speech_noisy.wav``  the same speech plus white Gaussian noise at 5 dB SNR.
* ``data/guitar.wav``        about 8 s of plucked-string notes and strummed chords (sox
                             ``synth ... pluck``), 16 kHz mono PCM 16-bit.
* ``data/guitar_test.wav``   about 4 s of a different melody, for held-out testing.

It prints the values that data/README.md records (durations, sizes, peaks, the SNR).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16000
PEAK_DBFS = -1.0
SNR_DB = 5.0
NOISE_SEED = 20240605

# (espeak-ng voice, words per minute, pitch 0-99, text)
SENTENCES = [
    (
        "en-us",
        165,
        40,
        "The quick brown fox jumps over the lazy dog, while seven owls watch from the oak.",
    ),
    (
        "en-gb+f3",
        165,
        70,
        "Please call Stella and ask her to bring these things with her from the store.",
    ),
]
LEAD_S, GAP_S, TAIL_S = 0.2, 0.35, 0.2

# Guitar-like scores: (onset in beats, length in beats, notes, velocity 0-1).
# A tuple of several notes is a chord, strummed downwards with STRUM_S between strings.
STRUM_S = 0.018
GUITAR_BPM = 120
GUITAR_SCORE = [
    # bar 1: E minor arpeggio, then a strummed Em chord
    (0.0, 1.0, ("E2",), 0.9),
    (0.5, 1.0, ("B2",), 0.6),
    (1.0, 1.0, ("E3",), 0.7),
    (1.5, 1.0, ("G3",), 0.6),
    (2.0, 2.0, ("E2", "B2", "E3", "G3", "B3", "E4"), 1.0),
    # bar 2: single-note melody over an open low string
    (4.0, 4.0, ("E2",), 0.5),
    (4.0, 0.5, ("B3",), 0.8),
    (4.5, 0.5, ("D4",), 0.7),
    (5.0, 0.5, ("E4",), 0.9),
    (5.5, 0.5, ("G4",), 0.6),
    (6.0, 1.0, ("F#4",), 0.8),
    (7.0, 1.0, ("D4",), 0.5),
    # bar 3: G and D chords, quick strums with different strengths
    (8.0, 1.5, ("G2", "B2", "D3", "G3", "B3", "G4"), 0.9),
    (9.5, 0.5, ("G2", "B2", "D3", "G3", "B3", "G4"), 0.4),
    (10.0, 2.0, ("D3", "A3", "D4", "F#4"), 0.8),
    # bar 4: descending line, a C chord and a ringing Em to finish
    (12.0, 0.5, ("A4",), 0.8),
    (12.5, 0.5, ("G4",), 0.6),
    (13.0, 0.5, ("E4",), 0.7),
    (13.5, 0.5, ("D4",), 0.5),
    (14.0, 1.0, ("C3", "E3", "G3", "C4", "E4"), 0.8),
    (15.0, 1.0, ("E2", "B2", "E3", "G3", "B3", "E4"), 0.6),
]
GUITAR_TEST_BPM = 100
GUITAR_TEST_SCORE = [
    # A minor / F / C / G in a different register, mostly arpeggiated
    (0.0, 0.5, ("A2",), 0.9),
    (0.5, 0.5, ("E3",), 0.5),
    (1.0, 0.5, ("A3",), 0.7),
    (1.5, 0.5, ("C4",), 0.6),
    (2.0, 1.0, ("F2", "C3", "F3", "A3", "C4", "F4"), 0.8),
    (3.0, 0.5, ("C5",), 0.7),
    (3.5, 0.5, ("B4",), 0.6),
    (4.0, 1.0, ("C3", "G3", "C4", "E4"), 0.7),
    (5.0, 0.5, ("G2",), 0.9),
    (5.5, 0.5, ("D3",), 0.4),
    (6.0, 1.0, ("G2", "B2", "D3", "G3", "D4", "G4"), 1.0),
]
RING_S = 1.6  # every note rings this long past its written length, then fades out


def run(cmd: list[str]) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def read_float(path: Path) -> np.ndarray:
    """Read a WAV as float64 of shape (frames, channels)."""
    x, rate = sf.read(path, dtype="float64", always_2d=True)
    if rate != RATE:
        raise RuntimeError(f"{path.name}: rate {rate}, expected {RATE}")
    return x


def to_pcm16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def normalise(x: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    return x * (10.0 ** (peak_dbfs / 20.0) / np.max(np.abs(x)))


def trim(x: np.ndarray, threshold: float = 1e-3, pad: int = 160) -> np.ndarray:
    """Cut leading and trailing near-silence (keeps ``pad`` samples either side)."""
    loud = np.flatnonzero(np.abs(x) > threshold * np.max(np.abs(x)))
    return x[max(loud[0] - pad, 0) : loud[-1] + pad + 1]


def make_speech(tmp: Path) -> np.ndarray:
    parts = []
    for i, (voice, wpm, pitch, text) in enumerate(SENTENCES):
        raw, resampled = tmp / f"speech{i}_raw.wav", tmp / f"speech{i}.wav"
        run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(raw), text])
        # very-high-quality resampling to 16 kHz, written as float so that sox neither
        # dithers nor clips; quantisation to 16 bits happens once, at the end.
        run(["sox", "-R", str(raw), "-e", "floating-point", "-b", "32", "-c", "1",
             str(resampled), "rate", "-v", str(RATE)])  # fmt: skip
        parts.append(trim(read_float(resampled)[:, 0]))
    lead, gap, tail = (np.zeros(int(s * RATE)) for s in (LEAD_S, GAP_S, TAIL_S))
    speech = np.concatenate([lead, parts[0], gap, parts[1], tail])
    return to_pcm16(normalise(speech))


def make_noisy(clean: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Add white Gaussian noise at exactly SNR_DB over the whole file (in float).

    The reference signal is the clean speech as quantised to 16 bits. If the sum would peak
    above PEAK_DBFS, the clean and the noisy file are both scaled down by one gain (so that
    noisy - clean is still exactly the scaled noise and the SNR is unchanged); with the
    current seed and tools no scaling is needed (gain 1). Returns (clean, noisy, info).
    """
    s = clean.astype(np.float64) / 32768.0
    noise = np.random.default_rng(NOISE_SEED).standard_normal(s.size)
    noise *= np.sqrt(np.mean(s**2) / (np.mean(noise**2) * 10.0 ** (SNR_DB / 10.0)))
    mix = s + noise
    gain = min(1.0, 10.0 ** (PEAK_DBFS / 20.0) / np.max(np.abs(mix)))
    if gain < 1.0:
        clean = to_pcm16(gain * s)
    noisy = to_pcm16(gain * mix)
    # SNR after quantisation, as the test measures it: the written clean file is the
    # signal, the written noisy file minus the clean one is the noise.
    c = clean.astype(np.float64) / 32768.0
    y = noisy.astype(np.float64) / 32768.0
    info = {
        "gain": gain,
        "snr_float": 10.0 * np.log10(np.sum(s**2) / np.sum(noise**2)),
        "snr_written": 10.0 * np.log10(np.sum(c**2) / np.sum((y - c) ** 2)),
    }
    return clean, noisy, info


def render_event(tmp: Path, name: str, notes: tuple[str, ...], length_s: float) -> np.ndarray:
    """One note or strummed chord by sox's pluck synth, summed to mono, float."""
    path = tmp / f"{name}.wav"
    n = len(notes)
    fade = min(RING_S, length_s / 2)
    plucks = [word for note in notes for word in ("pluck", note)]
    # sox's pluck runs only at 44.1-48 kHz: synthesise at 48 kHz, resample at the end
    cmd = ["sox", "-R", "-r", "48000", "-c", str(n), "-n",
           "-e", "floating-point", "-b", "32", "-r", str(RATE), str(path),
           "synth", f"{length_s:.4f}", *plucks]  # fmt: skip
    if n > 1:
        cmd += ["delay", *(f"{k * STRUM_S:.4f}" for k in range(n))]
    cmd += ["fade", "t", "0.002", f"{length_s + (n - 1) * STRUM_S:.4f}", f"{fade:.4f}"]
    cmd += ["rate", "-v", str(RATE)]
    run(cmd)
    return read_float(path).sum(axis=1) / np.sqrt(n)


def make_guitar(tmp: Path, name: str, score: list, bpm: float, total_s: float) -> np.ndarray:
    beat = 60.0 / bpm
    out = np.zeros(int(round(total_s * RATE)))
    for i, (onset, beats, notes, velocity) in enumerate(score):
        length_s = min(beats * beat + RING_S, total_s - onset * beat)
        x = velocity * render_event(tmp, f"{name}{i}", notes, length_s)
        start = int(round(onset * beat * RATE))
        x = x[: out.size - start]
        out[start : start + x.size] += x
    # short fade-out so the file ends at zero
    n_fade = int(0.05 * RATE)
    out[-n_fade:] *= np.linspace(1.0, 0.0, n_fade)
    return to_pcm16(normalise(out))


def write(path: Path, x: np.ndarray) -> None:
    sf.write(path, x, RATE, subtype="PCM_16", format="WAV")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data", help="output folder (default: data)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wavedil-data-") as t:
        tmp = Path(t)
        clean, noisy, info = make_noisy(make_speech(tmp))
        guitar = make_guitar(tmp, "train", GUITAR_SCORE, GUITAR_BPM, 8.0)
        guitar_test = make_guitar(tmp, "test", GUITAR_TEST_SCORE, GUITAR_TEST_BPM, 4.0)
    files = {
        "speech.wav": clean,
        "speech_noisy.wav": noisy,
        "guitar.wav": guitar,
        "guitar_test.wav": guitar_test,
    }
    for name, x in files.items():
        write(out / name, x)
    for name, x in files.items():
        xf = x.astype(np.float64) / 32768.0
        size = (out / name).stat().st_size
        print(
            f"{name:18s} {x.size / RATE:6.3f} s  {size:7d} bytes  "
            f"peak {20 * np.log10(np.max(np.abs(xf))):6.2f} dBFS  "
            f"rms {20 * np.log10(np.sqrt(np.mean(xf**2))):6.2f} dBFS"
        )
    print(
        f"noise: seed {NOISE_SEED}, target {SNR_DB} dB, float SNR {info['snr_float']:.6f} dB, "
        f"common gain {info['gain']:.6f}"
    )
    print(f"SNR of the written files (noisy - clean as noise): {info['snr_written']:.6f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
