"""Filter banks: values against PyWavelets, closed-form properties, user filters, errors,
noise gains, and the generated table against its generator."""

import dataclasses
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import convolve

from wavedil.wavelets import _tables as _filter_tables
from wavedil.wavelets.banks import (
    FilterBank,
    equivalent_detail_filter,
    filter_bank,
    noise_gain,
    wavelist,
)
from wavedil.wavelets.transform import atrous, iatrous, mra

pywt = pytest.importorskip("pywt")

ORTHOGONAL = ["haar", *_filter_tables.DEC_LO]
BIORTHOGONAL = [name for name in wavelist() if name[:4] in ("bior", "rbio")]
# CDF factorisations: PyWavelets' (Matlab's) tables are rounded to ~7e-13; the rest exact.
CDF = ("bior4.4", "bior5.5", "bior6.8", "rbio4.4", "rbio5.5", "rbio6.8")
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
    discrete = pywt.wavelist(kind="discrete")
    for family in ("bior", "rbio"):
        ours = [n for n in names if n.startswith(family)]
        assert ours == [n for n in discrete if n.startswith(family)] and len(ours) == 15
    assert names[-1] == "dmey" and set(names) - {"starlet", "linear"} <= set(discrete)


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


def test_unknown_name_lists_the_builtins_compactly_and_the_other_ways():
    with pytest.raises(ValueError) as info:
        filter_bank("morlet")
    message = str(info.value)
    assert "db1-db20, sym2-sym20, coif1-coif5, dmey" in message
    assert "bior/rbio 1.1, 1.3, 1.5, 2.2, 2.4, 2.6, 2.8, 3.1, 3.3" in message
    assert "pywt.Wavelet object" in message and "(lowpass, highpass) pair" in message


@pytest.mark.parametrize("name", BIORTHOGONAL + ["dmey"])
def test_biorthogonal_and_dmey_banks_match_pywt(name):
    """The spline families and dmey bit for bit; the CDF factorisations to 1e-12."""
    bank, reference = filter_bank(name), pywt.Wavelet(name)
    assert not bank.difference and bank.orthogonal == name.endswith("1.1")
    for role in ("dec_lo", "dec_hi", "rec_lo", "rec_hi"):
        ours, theirs = getattr(bank, role), np.asarray(getattr(reference, role))
        assert ours.shape == theirs.shape, (name, role)
        if name in CDF:
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12, err_msg=role)
        else:
            np.testing.assert_array_equal(ours, theirs, err_msg=f"{name}.{role}")


def _pr_defect(wavelet):
    """rec_lo * dec_lo + rec_hi * dec_hi - 2 delta[n - (K-1)]: its largest coefficient."""
    product = np.convolve(wavelet.rec_lo, wavelet.dec_lo) + np.convolve(wavelet.rec_hi,
                                                                       wavelet.dec_hi)
    product[len(wavelet.dec_lo) - 1] -= 2
    return float(np.max(np.abs(product)))


@pytest.mark.parametrize("name", BIORTHOGONAL)
def test_biorthogonal_closed_form_properties(name):
    """Perfect reconstruction (to rounding, PyWavelets' CDF tables only to ~1e-12), both
    lowpass sums sqrt(2), and the vanishing moments of each highpass: as many as the
    factors (1 + z) of the other side's lowpass (Nr for dec_hi, Nd for rec_hi)."""
    bank = filter_bank(name)
    assert _pr_defect(bank) < 2e-15
    assert abs(bank.dec_lo.sum() - np.sqrt(2)) < 1e-14
    assert abs(bank.rec_lo.sum() - np.sqrt(2)) < 1e-14
    nr, nd = (int(n) for n in name[4:].split("."))
    zeros = {"bior4.4": (4, 4), "bior5.5": (6, 4), "bior6.8": (6, 8)}
    rec_zeros, dec_zeros = zeros.get("bior" + name[4:], (nr, nd))
    if name.startswith("rbio"):
        rec_zeros, dec_zeros = dec_zeros, rec_zeros
    k = np.arange(bank.length) - (bank.length - 1) / 2

    def moment(highpass, l):  # relative to the sum of the magnitudes
        return abs(np.sum(k**l * highpass)) / np.sum(np.abs(k**l * highpass))

    for highpass, moments in ((bank.dec_hi, rec_zeros), (bank.rec_hi, dec_zeros)):
        assert all(moment(highpass, l) < 1e-13 for l in range(moments)), name
        assert moment(highpass, moments) > 1e-3, (name, moments)


def test_cdf_tables_are_closer_to_perfect_reconstruction_than_pywts():
    for name in CDF:
        assert _pr_defect(filter_bank(name)) < 2e-15 < _pr_defect(pywt.Wavelet(name))


def test_dmey_is_pywts_table_which_is_not_orthogonal():
    bank = filter_bank("dmey")
    h = bank.dec_lo
    assert bank.length == 62 and not bank.orthogonal
    np.testing.assert_array_equal(h, h[::-1][np.r_[61, 0:61]])  # symmetric about tap 31
    orthogonality = max(abs(np.dot(h[2 * m :], h[: 62 - 2 * m]) - (m == 0)) for m in range(31))
    assert 1e-3 < orthogonality < 3e-3


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
    text = generator.render_table(_filter_tables.DEC_LO, _filter_tables.BIOR,
                                  _filter_tables.DMEY_DEC_LO)
    assert text == Path(_filter_tables.__file__).read_text()


def test_generator_reproduces_the_biorthogonal_table_and_dmey(generator):
    assert generator.bior_names() == list(_filter_tables.BIOR)
    for name, shipped in _filter_tables.BIOR.items():
        assert generator.compute_bior(name, digits=30) == shipped, name
    assert generator.published_dmey() == _filter_tables.DMEY_DEC_LO


def test_spline_scaling_filters_are_the_textbook_ones(generator):
    """biorNr.Nd's Rf is the B-spline ((1+z)/2)^Nr; Df for bior2.2 and bior1.3 as in
    Daubechies' Ten Lectures (table 8.2): [-1, 2, 6, 2, -1]/8 and [-1, 1, 8, 8, 1, -1]/16."""
    rf, df = generator.bior_scaling_filters("bior2.2")
    assert [float(c) for c in rf] == [0.25, 0.5, 0.25]
    assert [float(c * 8) for c in df] == [-1, 2, 6, 2, -1]
    rf, df = generator.bior_scaling_filters("bior1.3")
    assert [float(c) for c in rf] == [0.5, 0.5]
    assert [float(c * 16) for c in df] == [-1, 1, 8, 8, 1, -1]


@pytest.mark.parametrize("order", [3, 5, 6, 7, 18, 19, 20])
def test_pywt_rounded_symlets_differ_only_by_its_rounding(generator, order):
    exact = np.array(generator.compute_dec_lo(f"sym{order}", digits=30))
    taps = exact.size
    for m in range(taps // 2):
        assert abs(np.dot(exact[2 * m :], exact[: taps - 2 * m]) - (m == 0)) < 1e-14
    error = np.abs(exact - pywt.Wavelet(f"sym{order}").dec_lo).max()
    assert 1e-12 < error < 2e-11, error


@given(name=st.sampled_from(BIORTHOGONAL), levels=st.integers(1, 5), length=st.integers(1, 90),
       alignment=st.sampled_from(["causal", "centered", "pywt"]), norm=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_biorthogonal_banks_reconstruct_perfectly(name, levels, length, alignment, norm, seed):
    x = np.random.default_rng(seed).standard_normal((2, length))
    result = atrous(x, name, levels, alignment=alignment, boundary="periodic", norm=norm)
    np.testing.assert_allclose(iatrous(result), x, rtol=0, atol=1e-12)
    parts = mra(x, name, levels, boundary="symmetric")
    np.testing.assert_allclose(parts.sum(0), x, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", BIORTHOGONAL + ["dmey"])
@pytest.mark.parametrize("levels", [1, 3])
def test_by_name_equals_pywt_swt_and_iswt(name, levels):
    x = np.random.default_rng(levels).standard_normal(3 * 2**levels)
    ours = atrous(x, name, levels, alignment="pywt", boundary="periodic")
    theirs = pywt.swt(x, name, levels, trim_approx=True)  # [cA_J, cD_J, ..., cD_1]
    tol = 5e-11 if name in CDF else 1e-13  # pywt's CDF tables: 7e-13 off, 9.8e-12 at J = 3
    np.testing.assert_allclose(ours.details, np.array(theirs[:0:-1]), rtol=0, atol=tol)
    np.testing.assert_allclose(ours.approx, theirs[0], rtol=0, atol=tol)
    if name == "dmey":  # pywt's inverse runs, but only to its table's 2.2e-3 orthogonality
        assert np.max(np.abs(pywt.iswt(theirs, name) - x)) > 1e-4
        with pytest.raises(ValueError, match="'dmey' is not a perfect-reconstruction bank"):
            iatrous(ours)
    else:
        np.testing.assert_allclose(iatrous(ours), pywt.iswt(theirs, name), rtol=0, atol=tol)
