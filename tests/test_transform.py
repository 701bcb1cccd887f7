"""The offline à trous transform against PyWavelets, worked values and a direct formula."""

import numpy as np
import pytest
import pywt
from hypothesis import given, settings
from hypothesis import strategies as st

import wavedil
from wavedil.wavelets.banks import filter_bank, wavelist
from wavedil.wavelets.transform import (
    AtrousResult,
    atrous,
    iatrous,
    level_energies,
    level_extent,
    max_level,
    mra,
)

BUILTIN = wavelist()
ORTHOGONAL = [name for name in BUILTIN if filter_bank(name).orthogonal  # not bior1.1 (pywt
              and pywt.Wavelet(name).orthogonal]                        # warns on norm=True)
DIFFERENCE = [name for name in BUILTIN if filter_bank(name).difference]
PYWT_MODES = {"periodic": "periodic", "symmetric": "symmetric", "reflect": "reflect",
              "zero": "zero", "edge": "constant"}
TOL = {np.float32: 1e-5, np.float64: 1e-12}
SOME_WAVELETS = ["starlet", "linear", "haar", "db2", "db4", "sym8", "coif2", "db20"]


def assert_close(actual, expected, tol=1e-12):
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def filter_error(name):
    """How far the built-in table is from PyWavelets' (sym tables differ by up to 1e-12)."""
    return float(np.max(np.abs(filter_bank(name).dec_lo - pywt.Wavelet(name).dec_lo)))


def pr_defect(wavelet):
    """How far a bank is from perfect reconstruction (PyWavelets' sym tables: up to 4e-12)."""
    p = np.convolve(wavelet.rec_lo, wavelet.dec_lo) + np.convolve(wavelet.rec_hi, wavelet.dec_hi)
    p[len(wavelet.dec_lo) - 1] -= 2
    return float(np.max(np.abs(p)))


def reference(x, name, levels, alignment, boundary, norm=False):
    """The definition, written out: pad with pywt.pad, then sum the taps by index."""
    bank = filter_bank(name)
    lo, hi, k = bank.dec_lo, bank.dec_hi, bank.length
    scale = 2 ** -0.5 if norm else 1.0
    c, details = np.asarray(x, np.float64), []
    n = np.arange(c.size)
    for j in range(1, levels + 1):
        d = 2 ** (j - 1)
        span = (k - 1) * d
        right = {"causal": 0, "centered": span // 2, "pywt": (k // 2) * d}[alignment]
        left = span - right
        p = pywt.pad(c, (left, right), PYWT_MODES[boundary])
        taps = [p[n + span - d * t] for t in range(k)]
        c_next = scale * sum(lo[t] * taps[t] for t in range(k))
        if bank.difference:
            details.append(scale * c - c_next)
        else:
            details.append(scale * sum(hi[t] * taps[t] for t in range(k)))
        c = c_next
    return np.array(details), c


# -- worked values ----------------------------------------------------------------------------

def test_pywt_haar_worked_example():
    r = atrous([3, 7, 1, 3, -2, 6, 4, 6], "haar", 2, alignment="pywt", boundary="periodic")
    assert_close(r.approx, [7, 4.5, 4, 5.5, 7, 9.5, 10, 8.5])
    assert_close(r.details[1], [3, 3.5, 0, -4.5, -3, 0.5, 0, 0.5])


def test_starlet_impulse_worked_values():
    x = np.zeros(41)
    x[20] = 1
    r = atrous(x, "starlet", 2, alignment="centered", boundary="zero")
    assert_close(r.details[0][18:23], np.array([-1, -4, 10, -4, -1]) / 16)
    assert np.count_nonzero(r.details[0]) == 5
    c2 = np.array([1, 4, 10, 20, 31, 40, 44, 40, 31, 20, 10, 4, 1]) / 256
    assert_close(r.approx[14:27], c2)
    assert np.count_nonzero(r.approx) == 13
    causal = atrous(x, "starlet", 2, alignment="causal", boundary="zero")
    assert_close(causal.approx[20:33], c2)  # the same filter, delayed by its half-span
    assert_close(causal.details[0] + causal.details[1] + causal.approx, x)


@pytest.mark.parametrize("name", SOME_WAVELETS)
@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_impulse_support_is_k_minus_1_times_2j_minus_1_plus_1(name, level):
    k = filter_bank(name).length
    support = (k - 1) * (2**level - 1) + 1
    x = np.zeros(2 * support + 3)
    x[support] = 1
    r = atrous(x, name, level, alignment="causal", boundary="zero")
    nonzero = np.flatnonzero(np.abs(r.approx) > 1e-300)
    assert nonzero[-1] - nonzero[0] + 1 == support == filter_bank(name).support(level)
    assert nonzero[0] == support  # causal: starts at the impulse


# -- PyWavelets parity --------------------------------------------------------------------------

def pywt_order(coeffs):
    """pywt.swt(..., trim_approx=True) = [cA_J, cD_J, ..., cD_1] -> (details, approx)."""
    return np.array(coeffs[:0:-1]), coeffs[0]


@settings(max_examples=60)
@given(name=st.sampled_from(ORTHOGONAL), levels=st.integers(1, 4), blocks=st.integers(1, 6),
       norm=st.booleans(), pywt_object=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_reproduces_pywt_swt_where_pywt_accepts_the_length(name, levels, blocks, norm,
                                                           pywt_object, seed):
    x = np.random.default_rng(seed).standard_normal(blocks * 2**levels)
    wavelet = pywt.Wavelet(name) if pywt_object else name
    r = atrous(x, wavelet, levels, alignment="pywt", boundary="periodic", norm=norm)
    details, approx = pywt_order(pywt.swt(x, name, levels, trim_approx=True, norm=norm))
    tol = 1e-12 + (0 if pywt_object else 100 * filter_error(name))
    assert_close(r.details, details, tol)
    assert_close(r.approx, approx, tol)
    # both inverses are as exact as the filters are orthogonal
    tol = 1e-12 + 10 * max(pr_defect(pywt.Wavelet(name)), pr_defect(filter_bank(wavelet)))
    theirs = pywt.iswt(pywt.swt(x, name, levels, trim_approx=True, norm=norm), name, norm=norm)
    assert_close(iatrous(r), theirs, tol)
    assert_close(iatrous(r), x, tol)


@given(name=st.sampled_from(ORTHOGONAL + ["sym5", "sym20"]), levels=st.integers(1, 4),
       length=st.integers(1, 70), norm=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_extends_pywt_swt_to_every_length(name, levels, length, norm, seed):
    """The N-periodic signal tiled 2^J times has a length pywt accepts; its first N
    coefficients are those of x."""
    wavelet = pywt.Wavelet(name)
    x = np.random.default_rng(seed).standard_normal(length)
    r = atrous(x, wavelet, levels, alignment="pywt", boundary="periodic", norm=norm)
    tiled = np.tile(x, 2**levels)
    details, approx = pywt_order(pywt.swt(tiled, wavelet, levels, trim_approx=True, norm=norm))
    assert_close(r.details, details[:, :length])
    assert_close(r.approx, approx[:length])


@given(name=st.sampled_from(SOME_WAVELETS), levels=st.integers(1, 5),
       length=st.integers(1, 80), alignment=st.sampled_from(["causal", "centered", "pywt"]),
       boundary=st.sampled_from(list(PYWT_MODES)), norm=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_matches_the_definition_for_every_option(name, levels, length, alignment, boundary,
                                                 norm, seed):
    x = np.random.default_rng(seed).standard_normal(length)
    r = atrous(x, name, levels, alignment=alignment, boundary=boundary, norm=norm)
    details, approx = reference(x, name, levels, alignment, boundary, norm)
    assert_close(r.details, details)
    assert_close(r.approx, approx)


def test_level_extent_of_the_three_alignments():
    assert level_extent("db4", 1, "causal") == (7, 0)
    assert level_extent("db4", 2, "centered") == (7, 7)
    assert level_extent("db4", 3, "pywt") == (12, 16)
    assert level_extent("starlet", 3, "pywt") == level_extent("starlet", 3, "centered")


# -- perfect reconstruction --------------------------------------------------------------------

def invertible(name, boundary):
    """dmey's table is orthogonal only to 2.2e-3: never invertible (tests/test_banks.py)."""
    return name != "dmey" and (filter_bank(name).difference or boundary == "periodic")


@settings(max_examples=80)
@given(name=st.sampled_from(BUILTIN), levels=st.integers(1, 6), length=st.integers(0, 90),
       alignment=st.sampled_from(["causal", "centered", "pywt"]),
       boundary=st.sampled_from(list(PYWT_MODES)), norm=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_perfect_reconstruction_or_a_clear_error(name, levels, length, alignment, boundary,
                                                 norm, seed):
    x = np.random.default_rng(seed).standard_normal((2, length))
    r = atrous(x, name, levels, alignment=alignment, boundary=boundary, norm=norm)
    if invertible(name, boundary):
        assert_close(iatrous(r), x)
    else:
        with pytest.raises(ValueError, match="not exactly invertible.*periodic|'dmey' is not"):
            iatrous(r)


def test_inverse_of_a_pywt_wavelet_object_and_a_biorthogonal_bank():
    x = np.random.default_rng(3).standard_normal(37)
    for wavelet in [pywt.Wavelet("sym7"), pywt.Wavelet("bior2.2"), pywt.Wavelet("rbio3.5")]:
        r = atrous(x, wavelet, 4, alignment="centered", boundary="periodic")
        assert_close(iatrous(r), x)


def test_a_bank_without_perfect_reconstruction_is_refused():
    r = atrous(np.ones(16), ([0.5, 0.5], [0.3, -0.6]), 2, boundary="periodic")
    with pytest.raises(ValueError, match="not a perfect-reconstruction bank"):
        iatrous(r)


# -- shapes, dtypes, axes ----------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_float32_is_close_to_float64(dtype):
    x = np.random.default_rng(0).standard_normal((3, 100))
    r = atrous(x.astype(dtype), "db4", 4, alignment="centered")
    r64 = atrous(x, "db4", 4, alignment="centered")
    assert r.details.dtype == dtype and r.approx.dtype == dtype
    assert_close(r.details, r64.details, TOL[dtype])
    assert iatrous(r).dtype == dtype
    assert_close(iatrous(r), x, TOL[dtype])
    assert atrous(np.arange(10), "haar", 1).approx.dtype == np.float64


def test_axis_and_leading_axes():
    x = np.random.default_rng(1).standard_normal((2, 50, 3))
    r = atrous(x, "sym4", 3, alignment="pywt", axis=1)
    assert r.details.shape == (3, 2, 50, 3) and r.approx.shape == x.shape
    column = atrous(x[1, :, 2], "sym4", 3, alignment="pywt")
    assert_close(r.details[:, 1, :, 2], column.details)
    assert_close(r.approx[1, :, 2], column.approx)
    assert_close(iatrous(r), x)
    parts = mra(x, "sym4", 3, axis=-2)
    assert parts.shape == (4, 2, 50, 3)
    assert_close(parts.sum(0), x)


def test_result_is_a_small_frozen_record():
    r = atrous(np.arange(12.0), "starlet", 2)
    assert isinstance(r, AtrousResult) and r.levels == 2
    assert r.stack().shape == (3, 12)
    with pytest.raises(AttributeError):
        r.norm = True


@pytest.mark.parametrize("length", [0, 1, 2, 3, 7, 64, 65, 1000])
@pytest.mark.parametrize("name", ["haar", "starlet", "db4"])
def test_max_level_rule(length, name):
    bank = filter_bank(name)
    level = max_level(length, name)
    assert level >= 1
    if level > 1:
        assert bank.support(level) <= length
    assert bank.support(level + 1) > length
    assert atrous(np.ones(length), name).levels == level


def test_haar_max_level_is_pywt_swt_max_level():
    for length in [2, 8, 9, 1024, 1500]:
        assert max_level(length, "haar") == pywt.swt_max_level(2 ** int(np.log2(length)))


def test_bad_arguments_quote_what_was_given():
    with pytest.raises(ValueError, match="alignment must be one of.*'sideways'"):
        atrous(np.ones(8), "haar", alignment="sideways")
    with pytest.raises(ValueError, match="boundary must be one of.*'wrap'"):
        atrous(np.ones(8), "haar", boundary="wrap")
    with pytest.raises(ValueError, match="levels must be an integer >= 1, got 0"):
        atrous(np.ones(8), "haar", 0)
    with pytest.raises(ValueError, match="unknown wavelet 'db99'"):
        atrous(np.ones(8), "db99")
    with pytest.raises(TypeError, match="complex128"):
        atrous(np.ones(8, complex), "haar")
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        atrous(np.ones(8), "haar", axis=2)
    with pytest.raises(TypeError, match="AtrousResult"):
        iatrous(np.ones(8))


# -- MRA and energy -----------------------------------------------------------------------------

@settings(max_examples=60)
@given(name=st.sampled_from(SOME_WAVELETS), levels=st.integers(1, 5), length=st.integers(0, 80),
       alignment=st.sampled_from(["causal", "centered", "pywt"]),
       boundary=st.sampled_from(list(PYWT_MODES)), seed=st.integers(0, 2**31 - 1))
def test_mra_components_add_up_to_x(name, levels, length, alignment, boundary, seed):
    x = np.random.default_rng(seed).standard_normal(length)
    parts = mra(x, name, levels, alignment=alignment, boundary=boundary)
    assert parts.shape == (levels + 1, length)
    assert_close(parts.sum(axis=0), x)


@settings(max_examples=30)
@given(name=st.sampled_from(ORTHOGONAL), levels=st.integers(1, 4), blocks=st.integers(1, 4),
       seed=st.integers(0, 2**31 - 1))
def test_mra_matches_pywt_mra(name, levels, blocks, seed):
    x = np.random.default_rng(seed).standard_normal(blocks * 2**levels)
    wavelet = pywt.Wavelet(name)
    ours = mra(x, wavelet, levels, alignment="pywt")
    theirs = pywt.mra(x, wavelet, levels, transform="swt")  # [A_J, D_J, ..., D_1]
    tol = 1e-12 + 10 * pr_defect(wavelet)  # both are as exact as pywt's table
    assert_close(ours, np.array(theirs[1:][::-1] + [theirs[0]]), tol)


@pytest.mark.filterwarnings("ignore:norm=True, but the wavelet is not orthogonal")
@pytest.mark.parametrize("name", ["haar", "db4", "sym8", "coif2", "bior2.2", "rbio3.5"])
@pytest.mark.parametrize("levels", [1, 2, 4])
def test_mra_in_pywt_order_is_pywt_mra(name, levels):
    """pywt.mra(transform="swt") returns [A_J, D_J, ..., D_1]; order="pywt" gives that."""
    x = np.random.default_rng(levels).standard_normal(3 * 2**levels)
    theirs = np.array(pywt.mra(x, name, levels, transform="swt"))
    ours = mra(x, name, levels, alignment="pywt", order="pywt")
    assert_close(ours, theirs, 1e-12 + 10 * pr_defect(pywt.Wavelet(name)))
    assert_close(ours.mean(axis=1), [x.mean()] + [0] * levels)  # the smooth comes first
    assert_close(mra(x, name, levels, alignment="pywt"), ours[::-1])
    with pytest.raises(ValueError, match="order must be one of.*'matlab'"):
        mra(x, name, levels, order="matlab")


def test_difference_bank_mra_is_the_coefficients():
    x = np.random.default_rng(4).standard_normal(100)
    r = atrous(x, "starlet", 4, alignment="causal", boundary="edge")
    assert_close(mra(x, "starlet", 4, alignment="causal", boundary="edge"), r.stack())


@given(name=st.sampled_from(ORTHOGONAL), levels=st.integers(1, 6), length=st.integers(1, 90),
       alignment=st.sampled_from(["causal", "centered", "pywt"]), seed=st.integers(0, 2**31 - 1))
def test_modwt_energy_is_preserved(name, levels, length, alignment, seed):
    x = np.random.default_rng(seed).standard_normal(length)
    r = atrous(x, name, levels, alignment=alignment, boundary="periodic", norm=True)
    energy = np.sum(r.details**2) + np.sum(r.approx**2)
    np.testing.assert_allclose(energy, np.sum(x**2), rtol=1e-12)
    rows = level_energies(r)
    assert [row[0] for row in rows] == [f"w{j}" for j in range(1, levels + 1)] + [f"c{levels}"]
    np.testing.assert_allclose(sum(row[1] for row in rows), np.sum(x**2), rtol=1e-12)
    np.testing.assert_allclose(sum(row[2] for row in rows), 1.0, rtol=1e-12)


def test_float32_mra_and_inverse_stay_float32():
    x = np.random.default_rng(5).standard_normal(64).astype(np.float32)
    parts = mra(x, "db4", 3, boundary="symmetric")
    assert parts.dtype == np.float32
    assert_close(parts.sum(0), x, 1e-5)


@pytest.mark.parametrize("name", ["db4", "starlet", "haar", "sym8"])
@pytest.mark.parametrize("alignment", ["causal", "centered", "pywt"])
@pytest.mark.parametrize("boundary", ["zero", "edge"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level_is_bitwise_the_engines_layer(name, alignment, boundary, dtype):
    """The compiled offline levels compute what the engine's DilatedConv1d layers compute."""
    from wavedil.wavelets.transform import level_layers

    x = np.random.default_rng(5).standard_normal(700).astype(dtype)
    result = atrous(x, name, 4, alignment, boundary)
    c = x
    for j in range(1, 5):
        lo, hi = level_layers(name, j, alignment, boundary=boundary)
        c_next = lo(c)
        w = c - c_next if hi is None else hi(c)
        np.testing.assert_array_equal(result.details[j - 1], w)
        c = c_next
    np.testing.assert_array_equal(result.approx, c)


def test_atrous_transform_is_atrous_with_the_zero_boundary():
    """The twins' documented difference: ``AtrousTransform`` defaults to ``boundary="zero"``."""
    x = np.random.default_rng(5).standard_normal((2, 300))
    op = wavedil.AtrousTransform("db4", 3)
    assert np.array_equal(op(x), wavedil.atrous(x, "db4", 3, boundary="zero").stack())
    assert not np.allclose(op(x), wavedil.atrous(x, "db4", 3).stack())
