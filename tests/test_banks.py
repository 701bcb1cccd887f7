"""Filter banks: values against PyWavelets, closed-form properties, user filters, errors,
noise gains, and the generated table against its generator."""

import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import convolve

from wavedil.wavelets import _tables as _filter_tables
from wavedil.wavelets.banks import (
    FilterBank,
    equivalent_detail_filter,
    filter_bank,
    noise_gain,
    wavelist,
)

pywt = pytest.importorskip("pywt")

ORTHOGONAL = [name for name in wavelist() if name not in ("starlet", "linear")]
GENERATOR = Path(__file__).resolve().parents[1] / "scripts" / "make_filters.py"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_filters", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wavelist_covers_the_families():
    names = wavelist()
    assert names[:3] == ["starlet", "linear", "haar"]
    assert [f"db{n}" for n in range(1, 21)] == [n for n in names if n.startswith("db")]
    assert [f"coif{n}" for n in range(1, 6)] == [n for n in names if n.startswith("coif")]
    assert [f"sym{n}" for n in range(2, 21)] == [n for n in names if n.startswith("sym")]


@pytest.mark.parametrize("name", ORTHOGONAL)
def test_orthogonal_banks_match_pywt(name):
    """1e-12, except where PyWavelets' own table is off the exact filter by more (measured
    in test_pywt_rounded_symlets_differ_only_by_its_rounding)."""
    rounded = {f"sym{n}" for n in _filter_tables.SYMLETS_PYWT_ROUNDED}
    tol = 2e-11 if name in rounded else 1e-12
    bank, reference = filter_bank(name), pywt.Wavelet(name)
    assert bank.orthogonal and not bank.difference
    for role in ("dec_lo", "dec_hi", "rec_lo", "rec_hi"):
        ours, theirs = getattr(bank, role), np.asarray(getattr(reference, role))
        assert ours.dtype == np.float64 and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=tol, err_msg=f"{name}.{role}")


@pytest.mark.parametrize("name", ORTHOGONAL)
def test_lowpass_closed_form_properties(name):
    h = filter_bank(name).dec_lo
    taps = h.size
    assert abs(h.sum() - np.sqrt(2)) < 1e-14
    for m in range(taps // 2):
        assert abs(np.dot(h[2 * m :], h[: taps - 2 * m]) - (m == 0)) < 1e-14, (name, m)
    # p vanishing moments of the wavelet: sum (-1)^k k^l h_k = 0 for l < p
    family, order = re.fullmatch(r"([a-z]+?)(\d*)", name).groups()
    order = int(order or 1)
    moments = {"haar": 1, "db": order, "sym": order, "coif": 2 * order}[family]
    k = np.arange(taps) / taps
    for l in range(moments):
        assert abs(np.sum((-1.0) ** np.arange(taps) * k**l * h)) < 1e-13, (name, l)


def test_haar_is_db1():
    assert np.array_equal(filter_bank("haar").dec_lo, filter_bank("db1").dec_lo)
    assert filter_bank("HAAR").name == "haar"


@pytest.mark.parametrize("name, lowpass", [("starlet", [1, 4, 6, 4, 1]), ("linear", [1, 2, 1])])
def test_difference_banks(name, lowpass):
    bank = filter_bank(name)
    h = np.array(lowpass, dtype=float) / sum(lowpass)
    delta = np.zeros(h.size)
    delta[h.size // 2] = 1
    assert bank.difference and not bank.orthogonal
    np.testing.assert_array_equal(bank.dec_lo, h)
    np.testing.assert_array_equal(bank.dec_hi, delta - h)
    np.testing.assert_array_equal(bank.rec_lo, delta)
    np.testing.assert_array_equal(bank.rec_hi, delta)
    assert bank.length == h.size
    assert [bank.support(j) for j in (0, 1, 2, 3)] == [
        1,
        h.size,
        (h.size - 1) * 3 + 1,
        (h.size - 1) * 7 + 1,
    ]


def test_banks_are_immutable_and_comparable():
    bank = filter_bank("db3")
    with pytest.raises(ValueError):
        bank.dec_lo[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        bank.name = "x"
    twin = FilterBank("db3", bank.dec_lo, bank.dec_hi, bank.rec_lo, bank.rec_hi, True)
    assert twin == bank and hash(twin) == hash(bank)
    assert twin != filter_bank("sym4") and filter_bank(bank) is bank


def test_pywt_wavelet_object_is_accepted():
    bank = filter_bank(pywt.Wavelet("db3"))
    assert bank.name == "db3" and bank.orthogonal
    np.testing.assert_allclose(bank.dec_hi, filter_bank("db3").dec_hi, rtol=0, atol=1e-15)
    bior = filter_bank(pywt.Wavelet("bior2.2"))
    assert not bior.orthogonal
    np.testing.assert_array_equal(bior.rec_lo, pywt.Wavelet("bior2.2").rec_lo)
    # PyWavelets' own tables are used as given, even where wavedil leaves an order out.
    assert filter_bank(pywt.Wavelet("sym5")).orthogonal


def test_user_pair_is_accepted():
    db2 = filter_bank("db2")
    bank = filter_bank((list(db2.dec_lo), tuple(db2.dec_hi)))
    assert bank.name == "user" and bank.orthogonal and not bank.difference
    np.testing.assert_array_equal(bank.rec_lo, db2.dec_lo[::-1])
    np.testing.assert_array_equal(bank.rec_hi, db2.dec_hi[::-1])
    assert filter_bank(np.stack([db2.dec_lo, db2.dec_hi])).orthogonal
    off = filter_bank((db2.dec_lo * (1 + 1e-8), db2.dec_hi))
    assert not off.orthogonal
    spline = filter_bank(([1, 2, 1], [0, 1, -1]))
    assert not spline.orthogonal and spline.dec_lo.dtype == np.float64


@pytest.mark.parametrize(
    "wavelet, error, quoted",
    [
        (([], []), ValueError, "shape (0,)"),
        (([[1, 2], [3, 4]], [1, 2]), ValueError, "shape (2, 2)"),
        (([1.0, np.nan], [1.0, -1.0]), ValueError, "nan"),
        (([1.0, 1.0], [np.inf, -1.0]), ValueError, "inf"),
        (([1, 1, 1], [1, -1]), ValueError, "3 [1., 1., 1.] and 2 [ 1., -1.]"),
        (([1, 2], [3, 4], [5, 6]), ValueError, "3 items"),
        (([1, 2j], [1, -1]), TypeError, "complex128"),
        ((["a", "b"], [1, -1]), TypeError, "['a', 'b']"),
        ("db99", ValueError, "'db99'"),
        ("sym21", ValueError, "'sym21'"),
        (3, TypeError, "int: 3"),
        (None, TypeError, "NoneType: None"),
        ({"dec_lo": [1]}, TypeError, "dict: {'dec_lo': [1]}"),
    ],
)
def test_bad_wavelets_are_rejected_with_what_was_given(wavelet, error, quoted):
    with pytest.raises(error) as info:
        filter_bank(wavelet)
    assert quoted in str(info.value)


def test_unknown_name_lists_the_builtins_compactly():
    with pytest.raises(ValueError, match="db1-db20, sym2-sym20, coif1-coif5"):
        filter_bank("morlet")


def test_filterbank_rejects_bad_filters():
    db2 = filter_bank("db2")
    with pytest.raises(ValueError, match=r"dec_hi .*\(3 taps\)"):
        FilterBank("x", db2.dec_lo, db2.dec_hi[:3], db2.rec_lo, db2.rec_hi)
    with pytest.raises(ValueError, match="odd number of taps, got 4"):
        FilterBank("x", db2.dec_lo, db2.dec_hi, db2.rec_lo, db2.rec_hi, difference=True)
    with pytest.raises(TypeError, match="got int: 7"):
        FilterBank(7, db2.dec_lo, db2.dec_hi, db2.rec_lo, db2.rec_hi)
    h = filter_bank("starlet").dec_lo
    with pytest.raises(ValueError, match="dec_hi must be"):
        FilterBank("x", h, h, h, h, difference=True)


@pytest.mark.parametrize("level, error", [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_noise_gain_rejects_bad_levels(level, error):
    with pytest.raises(error, match=str(level)):
        noise_gain("db2", level)


def _cascade_detail(signal, bank, level, modwt=False):
    """Independent à trous cascade with zero-stuffed filters and scipy's convolution.

    MODWT scaling divides every filter by sqrt(2); for a difference-type bank the level-j
    filter is delta - h, so w_j = (c_{j-1} - h * c_{j-1}) / sqrt(2).
    """
    scale = 1 / np.sqrt(2) if modwt else 1.0

    def stuffed(taps, dilation):
        out = np.zeros((taps.size - 1) * dilation + 1)
        out[::dilation] = taps
        return out

    approx = signal
    for j in range(1, level):
        approx = scale * convolve(approx, stuffed(bank.dec_lo, 2 ** (j - 1)))
    if bank.difference:
        smoother = convolve(approx, stuffed(bank.dec_lo, 2 ** (level - 1)))
        shift = (bank.length // 2) * 2 ** (level - 1)
        detail = -smoother
        detail[shift : shift + approx.size] += approx
        return scale * detail
    return scale * convolve(approx, stuffed(bank.dec_hi, 2 ** (level - 1)))


@pytest.mark.parametrize("name", ["starlet", "linear", "haar", "db4", "sym8", "coif2"])
@pytest.mark.parametrize("norm", [False, True])
def test_noise_gain_is_the_norm_of_an_independent_cascade(name, norm):
    bank = filter_bank(name)
    impulse = np.zeros(1)
    impulse[0] = 1.0
    for level in (1, 2, 3, 5):
        response = _cascade_detail(impulse, bank, level, modwt=norm)
        assert response.size == bank.support(level)
        np.testing.assert_allclose(
            equivalent_detail_filter(bank, level, norm), response, rtol=0, atol=1e-15
        )
        assert noise_gain(bank, level, norm) == pytest.approx(np.linalg.norm(response), 1e-13)


@pytest.mark.parametrize("name", ["starlet", "db4"])
def test_noise_gain_matches_white_noise_std(name, rng):
    bank = filter_bank(name)
    noise = rng.standard_normal(2**18)
    for level in (1, 2, 3, 4):
        detail = _cascade_detail(noise, bank, level)
        edge = bank.support(level)
        measured = detail[edge:-edge].std()
        assert measured == pytest.approx(noise_gain(bank, level), rel=0.03), level


@pytest.mark.parametrize("name", ["haar", "db6", "sym10", "coif3"])
def test_orthogonal_gains_closed_form(name):
    # The level-j equivalent filter of an orthonormal bank is a DWT basis function: norm 1.
    for level in range(1, 8):
        assert noise_gain(name, level) == pytest.approx(1.0, abs=1e-12)
        assert noise_gain(name, level, norm=True) == pytest.approx(2 ** (-level / 2), abs=1e-12)


def test_starlet_gains_exact_values():
    # Level 1: ||delta - h|| = sqrt(134) / 16; later levels as tabulated by Starck & Murtagh
    # from simulations (0.286, 0.178, 0.122, 0.086).
    assert noise_gain("starlet", 1) == pytest.approx(np.sqrt(134) / 16, rel=1e-15)
    gains = [noise_gain("starlet", j) for j in (2, 3, 4, 5)]
    np.testing.assert_allclose(gains, [0.286, 0.178, 0.122, 0.086], atol=2e-3)


@pytest.mark.slow  # one of the slowest: left out of `make quick`
def test_generator_reproduces_the_shipped_table(generator):
    assert generator.shipped_names() == list(_filter_tables.DEC_LO)
    assert generator.SYMLETS_PYWT_ROUNDED == _filter_tables.SYMLETS_PYWT_ROUNDED
    for name, shipped in _filter_tables.DEC_LO.items():
        assert generator.compute_dec_lo(name, digits=30) == shipped, name
    text = generator.render_table(_filter_tables.DEC_LO)
    assert text == Path(_filter_tables.__file__).read_text()


@pytest.mark.parametrize("order", [3, 5, 6, 7, 18, 19, 20])
def test_pywt_rounded_symlets_differ_only_by_its_rounding(generator, order):
    exact = np.array(generator.compute_dec_lo(f"sym{order}", digits=30))
    taps = exact.size
    for m in range(taps // 2):
        assert abs(np.dot(exact[2 * m :], exact[: taps - 2 * m]) - (m == 0)) < 1e-14
    error = np.abs(exact - pywt.Wavelet(f"sym{order}").dec_lo).max()
    assert 1e-12 < error < 2e-11, error
