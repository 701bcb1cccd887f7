"""The MODWT trio against a direct implementation of Percival & Walden's equations (ch. 5).

The oracle takes its scaling filter g from PyWavelets' ``rec_lo`` (MATLAB's LoR, which
MATLAB's modwt uses) or from R waveslim's published tables, builds h_l = (-1)^l g_{L-1-l},
the level-j equivalent filters by convolving up-sampled filters, and sums
W_j,t = sum_l h~_j,l X_{t-l mod N} index by index; D_j,t = sum_l h~_j,l W_j,{t+l mod N}.
"""

import numpy as np
import pytest
import pywt
from hypothesis import given
from hypothesis import strategies as st

import wavedil
from wavedil.wavelets.modwt import imodwt, modwt, modwtmra

MATLAB_NAMES = ["haar", "db2", "db4", "sym4", "sym8", "coif1", "coif3"]
# R waveslim's wave.filter("la8" / "la16" / "d6"): the lowpass as published there.
WAVESLIM = {
    "la8": [-0.07576571478935668, -0.02963552764596039, 0.49761866763256290,
            0.80373875180538600, 0.29785779560560505, -0.09921954357695636,
            -0.01260396726226383, 0.03222310060407815],
    "la16": [-0.0033824159513594, -0.0005421323316355, 0.0316950878103452,
             0.0076074873252848, -0.1432942383510542, -0.0612733590679088,
             0.4813596512592012, 0.7771857516997478, 0.3644418948359564,
             -0.0519458381078751, -0.0272190299168137, 0.0491371796734768,
             0.0038087520140601, -0.0149522583367926, -0.0003029205145516,
             0.0018899503329007],
    "d6": [0.3326705529500827, 0.8068915093110928, 0.4598775021184915,
           -0.1350110200102546, -0.0854412738820267, 0.0352262918857096],
}


def scaling_filter(name):
    return np.array(WAVESLIM[name]) if name in WAVESLIM else np.array(pywt.Wavelet(name).rec_lo)


def equivalent_filters(g, level):
    """PW's h~_j and g~_j: h_l = (-1)^l g_{L-1-l}, up-sampled cascade, / 2^(j/2)."""
    h = (-1.0) ** np.arange(g.size) * g[::-1]

    def up(f, d):
        out = np.zeros((f.size - 1) * d + 1)
        out[::d] = f
        return out

    cascade = np.ones(1)
    for l in range(level - 1):
        cascade = np.convolve(cascade, up(g, 2**l))
    d = 2 ** (level - 1)
    scale = 2 ** (level / 2)
    return np.convolve(cascade, up(h, d)) / scale, np.convolve(cascade, up(g, d)) / scale


def circular(filt, x, sign):
    """sum_l filt_l x_{t - sign*l mod N} for every t (sign -1: the transpose)."""
    t = np.arange(x.size)
    return sum(filt[l] * x[(t - sign * l) % x.size] for l in range(filt.size))


def pw_modwt(x, g, levels):
    rows = [circular(equivalent_filters(g, j)[0], x, 1) for j in range(1, levels + 1)]
    return np.array(rows + [circular(equivalent_filters(g, levels)[1], x, 1)])


def pw_mra(w, g):
    levels = w.shape[0] - 1
    rows = [circular(equivalent_filters(g, j)[0], w[j - 1], -1) for j in range(1, levels + 1)]
    return np.array(rows + [circular(equivalent_filters(g, levels)[1], w[-1], -1)])


def assert_close(actual, expected, tol=1e-12):
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def table_error(name):
    """How far wavedil's exact tables take the result from the oracle's filters (PyWavelets'
    and waveslim's tables are rounded: measured up to 3.7e-12 for sym8, 3.6e-12 for la16)."""
    return 1e-13 if name in ("haar", "db2", "db4", "d6") else 1e-11


@pytest.mark.parametrize("name", MATLAB_NAMES + list(WAVESLIM))
@pytest.mark.parametrize("length", [1, 2, 3, 7, 16, 33, 100])
@pytest.mark.parametrize("levels", [1, 3, 6])
def test_equals_the_percival_walden_equations(name, length, levels):
    x = np.random.default_rng(length + levels).standard_normal(length)
    g = scaling_filter(name)
    w = modwt(x, name, levels)
    assert w.shape == (levels + 1, length)
    tol = table_error(name)
    assert_close(w, pw_modwt(x, g, levels), tol)
    if name in MATLAB_NAMES:  # the same equations on wavedil's exact table: rounding only
        assert_close(w, pw_modwt(x, wavedil.filter_bank(name).rec_lo, levels), 1e-13)
    parts = modwtmra(w, name)
    assert parts.shape == w.shape
    assert_close(parts, pw_mra(w, g), tol)
    assert_close(parts.sum(0), x)
    assert_close(imodwt(w, name), x)
    np.testing.assert_allclose(np.sum(w**2), np.sum(x**2), rtol=1e-12)


@given(name=st.sampled_from(MATLAB_NAMES + ["la8"]), length=st.integers(1, 80),
       levels=st.integers(1, 7), seed=st.integers(0, 2**31 - 1))
def test_any_length_and_levels(name, length, levels, seed):
    x = np.random.default_rng(seed).standard_normal(length)
    w = modwt(x, name, levels)
    assert_close(w, pw_modwt(x, scaling_filter(name), levels), table_error(name))
    np.testing.assert_allclose(np.sum(w**2), np.sum(x**2), rtol=1e-12)  # PW eq. (170a)
    assert_close(imodwt(w, name), x)
    assert_close(modwtmra(w, name).sum(0), x)


def test_matlab_defaults_sym4_and_floor_log2_levels():
    x = np.random.default_rng(1).standard_normal(100)
    w = modwt(x)
    assert w.shape == (7, 100)  # floor(log2(100)) = 6 levels
    assert_close(w, pw_modwt(x, scaling_filter("sym4"), 6), 1e-11)
    assert_close(imodwt(w), x)
    assert modwt(np.ones(1)).shape == (2, 1)


def test_a_scaling_and_wavelet_filter_pair_is_taken_as_given():
    """MATLAB's modwt(x, Lo, Hi): Lo is g, Hi is h, no reversal."""
    x = np.random.default_rng(2).standard_normal(30)
    w = pywt.Wavelet("db3")
    g, h = np.array(w.rec_lo), np.array(w.rec_hi)
    ours = modwt(x, (g, h), 3)
    assert_close(ours, pw_modwt(x, g, 3))
    assert_close(ours, modwt(x, w, 3))
    assert_close(imodwt(ours, (g, h)), x)


def test_la8_is_sym4_time_reversed_with_the_same_mra():
    x = np.random.default_rng(3).standard_normal(64)
    la8, sym4 = modwt(x, "la8", 4), modwt(x, "sym4", 4)
    assert np.max(np.abs(la8 - sym4)) > 0.1
    assert_close(modwtmra(la8, "la8"), modwtmra(sym4, "sym4"))


def test_the_a_trous_transform_with_pywt_dec_filters_is_not_the_modwt():
    """The facts behind the trio: atrous(norm=True) filters with g reversed; the bank whose
    dec_lo is g (PyWavelets' QMF rule) gives V_J and -W_j."""
    x = np.random.default_rng(4).standard_normal(40)
    g = scaling_filter("db2")
    direct = wavedil.atrous(x, "db2", 3, alignment="causal", norm=True).stack()
    assert np.max(np.abs(direct - pw_modwt(x, g, 3))) > 0.1
    qmf_highpass = -((-1.0) ** np.arange(g.size)) * g[::-1]  # dec_hi[k] = -(-1)^k rec_lo[k]
    reversed_bank = wavedil.filter_bank((g, qmf_highpass))
    flipped = wavedil.atrous(x, reversed_bank, 3, alignment="causal", norm=True).stack()
    signs = np.array([-1, -1, -1, 1])[:, None]
    assert_close(signs * flipped, pw_modwt(x, g, 3))


def test_reflection_boundary_is_the_mirrored_signal():
    x = np.random.default_rng(5).standard_normal(21)
    w = modwt(x, "db4", 3, boundary="reflection")
    assert w.shape == (4, 42)
    assert_close(w, pw_modwt(np.concatenate([x, x[::-1]]), scaling_filter("db4"), 3))
    assert_close(imodwt(w, "db4", boundary="reflection"), x)
    parts = modwtmra(w, "db4", boundary="reflection")
    assert parts.shape == (4, 21)
    assert_close(parts.sum(0), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axis_batch_and_dtype(dtype):
    x = np.random.default_rng(6).standard_normal((3, 50, 2)).astype(dtype)
    w = modwt(x, "sym4", 3, axis=1)
    assert w.shape == (4, 3, 50, 2) and w.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_close(w[:, 1, :, 0], modwt(x[1, :, 0], "sym4", 3), tol)
    assert_close(imodwt(w, "sym4", axis=1), x, tol)
    parts = modwtmra(w, "sym4", axis=-2)
    assert parts.shape == w.shape and parts.dtype == dtype
    assert_close(parts.sum(0), x, tol)


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="orthogonal.*'bior2.2'.*atrous"):
        modwt(np.ones(8), "bior2.2")
    with pytest.raises(ValueError, match="boundary must be one of.*'symmetric'"):
        modwt(np.ones(8), boundary="symmetric")
    with pytest.raises(ValueError, match=r"levels must be an integer >= 1, got 0"):
        modwt(np.ones(8), levels=0)
    with pytest.raises(ValueError, match=r"w must be the \(levels \+ 1, \.\.\., N\).*\(8,\)"):
        imodwt(np.ones(8))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        modwt(np.ones(8), axis=2)
    with pytest.raises(ValueError, match="even length 2N, got 7"):
        imodwt(np.ones((2, 7)), "haar", boundary="reflection")
    with pytest.raises(ValueError, match="unknown wavelet 'la9'"):
        modwt(np.ones(8), "la9")
