"""Generate ``wavedil/wavelets/_tables.py`` from the defining equations of the wavelets.

Every table is computed in high precision with mpmath (50 digits by default) and written as
the nearest float64, printed with 17 significant digits (so it reads back bit for bit):

- Daubechies dbN (N = 1..20): spectral factorisation of the Daubechies polynomial
  P(y) = sum_k C(N-1+k, k) y^k, y = sin^2(w/2); every root of P gives a pair z, 1/z with
  z + 1/z = 2 - 4y, and the minimum-phase choice keeps the roots inside the unit circle.
- Symlets symN: the same roots, with the choice (one per real root, one per conjugate pair)
  whose phase is closest to linear: it minimises the L2 norm over a period of the phase
  minus its linear part.  With s_z = +1 for a root kept inside the circle and -1 outside,
  that norm squared is pi * sum_{z, w} s_z s_w Li2(z w) over the inside roots z, w (Li2 the
  dilogarithm), so the search over the 2^(groups-1) choices is exact.  This criterion picks
  the same roots as Matlab's symaux (and so PyWavelets) for every order 2..20.  A choice and
  its complement give time-reversed filters; which of the two the tables use is a
  convention with no rule behind it (Matlab's root order), recorded in
  ``SYMLET_LATE_ENERGY``.
- Coiflets coifN (N = 1..5): 6N taps solving sum h_k h_{k+2m} = delta_m, the wavelet moments
  sum (-1)^k k^l h_k = 0 (l < 2N) and the scaling moments sum (k - 2N)^l h_k = 0
  (0 < l < 2N), by Gauss-Newton in mpmath.  The start is the Deslauriers-Dubuc
  interpolating filter of the same order (exact rationals), which satisfies every linear
  condition but not orthogonality; the iteration converges quadratically to the coiflet.

- Biorthogonal biorNr.Nd (Cohen-Daubechies-Feauveau): the reconstruction scaling filter
  Rf and the decomposition one Df (each sum 1) split the Daubechies product filter
  ((1+z)/2)^(2L) P_L(y), y = (2 - z - 1/z)/4, P_L(y) = sum_{k<L} C(L-1+k, k) y^k. The
  spline family (Nr <= 3): Rf = ((1+z)/2)^Nr (a B-spline), Df = ((1+z)/2)^Nd P_L(y) with
  L = (Nr + Nd)/2, exact rationals. bior4.4 (the 9/7 filters), bior5.5 and bior6.8: each
  filter takes some factors (1+z)/2 and some root groups of P_L (a real root or a conjugate
  pair, 1 - y/y_k each); which factors go where is the CDF choice, recorded in ``CDF_SPLITS``
  (a convention: it makes the two lengths similar; nothing in the equations fixes it).
  Both filters are then laid out as Matlab's ``biorfilt`` does (PyWavelets copies its
  tables): zero-padded to a common even length lmax, floor((lmax - n)/2) zeros before,
  rec_lo = sqrt(2) Rf, dec_lo = sqrt(2) Df reversed. rbioNr.Nd is biorNr.Nd with analysis
  and synthesis swapped (wavedil.wavelets.banks derives it).
- dmey: PyWavelets' 62-tap FIR approximation of the Meyer wavelet (from Matlab's dmey.mat)
  is not derived here. The Meyer lowpass is h_n = phi(n/2) / sqrt(2) (phi the Meyer scaling
  function, band-limited, auxiliary function nu(x) = x^4 (35 - 84x + 70x^2 - 20x^3)); the
  table is that up to a factor of about 1.0011 that varies in its 5th digit from tap to tap
  (largest difference 8.4e-4), i.e. phi was evaluated numerically on a grid, and the table
  meets orthogonality only to 2.2e-3. So it ships as published data: read from an installed
  PyWavelets (MIT licence) when this script runs, never by wavedil at run time.

PyWavelets' rounding: for the orders in ``SYMLETS_PYWT_ROUNDED`` the Matlab/PyWavelets
symlet tables differ from the exact filters by 1.3e-12 to 1.5e-11 (those tables meet the
orthogonality and moment conditions only to 1e-13..1e-11). wavedil ships the exact filters
for every order; pass ``pywt.Wavelet("symN")`` to use PyWavelets' values bit for bit.

Run ``python scripts/make_filters.py`` to rewrite the table, ``--check`` to verify it (both
need mpmath, and PyWavelets for the dmey data).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import mpmath

DIGITS = 50
DAUBECHIES_ORDERS = range(1, 21)
SYMLET_ORDERS = range(2, 21)
COIFLET_ORDERS = range(1, 6)
# (Nr, Nd) of the spline biorthogonal wavelets biorNr.Nd (Matlab's and PyWavelets' set).
BIOR_SPLINES = ((1, 1), (1, 3), (1, 5), (2, 2), (2, 4), (2, 6), (2, 8), (3, 1), (3, 3),
                (3, 5), (3, 7), (3, 9))
# The CDF factorisations of ((1+z)/2)^(2L) P_L(y): name -> (factors (1+z)/2 of Rf, of Df,
# indices of the root groups of P_L that Rf takes, groups sorted by real part). The rest
# goes to Df. Measured against Matlab's / PyWavelets' tables: bior4.4 gives Rf the real root
# of P_4 (the 7-tap filter), bior5.5 the pair of P_5 with the smaller real part, bior6.8 the
# middle one of P_7's three pairs.
CDF_SPLITS = {"bior4.4": (4, 4, (0,)), "bior5.5": (6, 4, (0,)), "bior6.8": (6, 8, (1,))}

# Orders whose PyWavelets (Matlab) symlet table deviates from the exact filter by more than
# 1e-12 (measured: sym3 3.6e-12, sym5 1.6e-12, sym6 1.5e-12, sym7 1.7e-12, sym18 3.5e-12,
# sym19 1.3e-12, sym20 1.5e-11); tests/test_banks.py re-measures it.
SYMLETS_PYWT_ROUNDED = (3, 5, 6, 7, 18, 19, 20)

# Orders whose Matlab/PyWavelets reconstruction lowpass has its energy centroid after the
# middle (the others have it before the middle): the orientation convention of those tables.
SYMLET_LATE_ENERGY = frozenset({4, 5, 6, 8, 9, 10, 13, 18})

TABLE_PATH = Path(__file__).resolve().parent.parent / "wavedil" / "wavelets" / "_tables.py"


def _polymul(p: list, q: list) -> list:
    out = [mpmath.mpf(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return out


def daubechies_root_groups(order: int) -> list[list]:
    """Roots inside the unit circle of the dbN lowpass, grouped for real coefficients.

    Each group is one real root or a conjugate pair; the order of the groups is fixed by
    mpmath's polyroots (real roots first, then pairs).
    """
    if order == 1:
        return []
    coeffs = [mpmath.binomial(order - 1 + k, k) for k in range(order)]
    y_roots = mpmath.polyroots(coeffs[::-1], maxsteps=400, extraprec=4 * mpmath.mp.prec)
    tiny = mpmath.mpf(10) ** (-mpmath.mp.dps // 2)
    groups, pending = [], list(y_roots)
    while pending:
        y = pending.pop(0)
        z = _inside_root(y)
        if abs(mpmath.im(y)) < tiny:
            groups.append([mpmath.re(z)])
            continue
        partner = min(range(len(pending)), key=lambda i: abs(pending[i] - mpmath.conj(y)))
        pending.pop(partner)
        groups.append([z, mpmath.conj(z)])
    return groups


def _inside_root(y):
    """The root z of z + 1/z = 2 - 4y with |z| < 1."""
    a = 1 - 2 * y
    s = mpmath.sqrt(a * a - 1)
    return min(a + s, a - s, key=abs)


def _lowpass_from_roots(order: int, roots: list) -> list:
    """(1 + z^-1)^order * prod (1 - r z^-1), as coefficients of z^0, z^-1, ..., sum sqrt(2)."""
    poly = [mpmath.mpf(1)]
    for _ in range(order):
        poly = _polymul(poly, [1, 1])
    for r in roots:
        poly = _polymul(poly, [1, -r])
    poly = [mpmath.re(c) for c in poly]
    scale = mpmath.sqrt(2) / mpmath.fsum(poly)
    return [c * scale for c in poly]


def _chosen_roots(groups: list[list], signs: tuple[int, ...]) -> list:
    return [z if s > 0 else 1 / z for g, s in zip(groups, signs) for z in g]


def daubechies_rec_lo(order: int) -> list:
    """Minimum-phase dbN lowpass (PyWavelets' rec_lo), 2N taps."""
    groups = daubechies_root_groups(order)
    return _lowpass_from_roots(order, _chosen_roots(groups, (1,) * len(groups)))


def symlet_signs(groups: list[list]) -> tuple[int, ...]:
    """Root choice (+1 inside, -1 outside per group) with the phase closest to linear.

    Minimises sum s_g s_h Re(sum_{z in g, w in h} Li2(z w)); the first sign is fixed to +1
    because a choice and its complement give the same (time-reversed) filter.
    """
    n = len(groups)
    gram = [
        [mpmath.re(mpmath.fsum(mpmath.polylog(2, z * w) for z in g for w in h)) for h in groups]
        for g in groups
    ]
    scored = []
    for tail in itertools.product((1, -1), repeat=n - 1):
        signs = (1,) + tail
        value = mpmath.fsum(signs[i] * signs[j] * gram[i][j] for i in range(n) for j in range(n))
        scored.append((value, signs))
    scored.sort(key=lambda item: item[0])
    if len(scored) > 1 and scored[1][0] - scored[0][0] < mpmath.mpf(10) ** -20:
        raise ArithmeticError(f"symlet root choice is not unique: {scored[:2]}")
    return scored[0][1]


def _energy_centroid_offset(h: list):
    """sum k h_k^2 / sum h_k^2 - (K-1)/2: negative when the energy comes early."""
    k_mid = mpmath.mpf(len(h) - 1) / 2
    return mpmath.fsum(k * c * c for k, c in enumerate(h)) / mpmath.fsum(c * c for c in h) - k_mid


def symlet_rec_lo(order: int) -> list:
    """symN lowpass in PyWavelets' rec_lo orientation, 2N taps."""
    groups = daubechies_root_groups(order)
    signs = symlet_signs(groups) if groups else ()
    h = _lowpass_from_roots(order, _chosen_roots(groups, signs))
    late = _energy_centroid_offset(h) > 0
    if late != (order in SYMLET_LATE_ENERGY):
        h = h[::-1]
    return h


def interpolating_lowpass(order: int) -> list:
    """Deslauriers-Dubuc interpolating filter, 4N-1 taps, sum sqrt(2), exact rationals.

    It is the autocorrelation of the dbN lowpass: ((1+z)(1+1/z)/4)^N P((2-z-1/z)/4), which
    needs no roots.  Shape: (4N - 1,).
    """
    quarter = mpmath.mpf(1) / 4
    half_band = [quarter, 2 * quarter, quarter]  # (1+z)(1+1/z)/4
    high_band = [-quarter, 2 * quarter, -quarter]  # (2-z-1/z)/4
    total = [mpmath.mpf(0)] * (4 * order - 1)
    power = [mpmath.mpf(1)]
    for _ in range(order):
        power = _polymul(power, half_band)
    high_power = [mpmath.mpf(1)]
    for k in range(order):
        term = _polymul(power, high_power)
        offset = (len(total) - len(term)) // 2
        for i, c in enumerate(term):
            total[offset + i] += mpmath.binomial(order - 1 + k, k) * c
        high_power = _polymul(high_power, high_band)
    return [c * mpmath.sqrt(2) for c in total]


def _coiflet_equations(h: list, order: int) -> tuple[list, list]:
    """Residuals and Jacobian rows of the coiflet conditions.

    The moment conditions are written in the Legendre basis on x = (2k - K + 1) / (K - 1)
    (the same span as the monomials k^l, far better conditioned): sum (-1)^k P_l(x_k) h_k
    = 0 for l < 2N, and sum (P_l(x_k) - P_l(x_c)) h_k = 0 for 0 < l < 2N, c = 2N.
    """
    taps = len(h)
    residuals, rows = [], []
    for m in range(3 * order):
        residuals.append(mpmath.fsum(h[k] * h[k + 2 * m] for k in range(taps - 2 * m)) - (m == 0))
        row = [mpmath.mpf(0)] * taps
        for k in range(taps - 2 * m):
            row[k] += h[k + 2 * m]
            row[k + 2 * m] += h[k]
        rows.append(row)
    x = [mpmath.mpf(2 * k - taps + 1) / (taps - 1) for k in range(taps)]
    for l in range(2 * order):
        row = [(-1) ** k * mpmath.legendre(l, x[k]) for k in range(taps)]
        residuals.append(mpmath.fdot(row, h))
        rows.append(row)
    for l in range(1, 2 * order):
        at_centre = mpmath.legendre(l, x[2 * order])
        row = [mpmath.legendre(l, x[k]) - at_centre for k in range(taps)]
        residuals.append(mpmath.fdot(row, h))
        rows.append(row)
    return residuals, rows


def _gauss_newton_step(rows: list, residuals: list) -> list:
    """Least-squares step J^T J step = -J^T r, with extra digits for the squared condition."""
    with mpmath.extradps(mpmath.mp.dps):
        jac = mpmath.matrix(rows)
        step = mpmath.lu_solve(jac.T * jac, -(jac.T * mpmath.matrix(residuals)))
    return [+s for s in step]


def coiflet_rec_lo(order: int, max_iterations: int = 50) -> list:
    """coifN lowpass in PyWavelets' rec_lo orientation (moments vanish about tap 2N), 6N taps.

    Gauss-Newton from the interpolating filter (full steps, halved only if one would raise
    the residual); it converges quadratically, in 6 steps at 50 digits.  The condition
    sum h = sqrt(2) is left out: orthogonality and H(pi) = 0 imply it, and with it the
    Jacobian would be singular at the solution.
    """
    taps = 6 * order
    seed = interpolating_lowpass(order)
    h = [mpmath.mpf(0)] + seed + [mpmath.mpf(0)] * (taps - 1 - len(seed))
    tolerance = mpmath.mpf(10) ** (-mpmath.mp.dps + 5)
    residuals, rows = _coiflet_equations(h, order)
    cost = mpmath.fsum(r * r for r in residuals)
    for _ in range(max_iterations):
        if cost < tolerance**2:
            break
        step = _gauss_newton_step(rows, residuals)
        length = mpmath.mpf(1)
        while True:
            trial = [a + length * b for a, b in zip(h, step)]
            trial_residuals, trial_rows = _coiflet_equations(trial, order)
            trial_cost = mpmath.fsum(r * r for r in trial_residuals)
            if trial_cost < cost or length < 1e-6:
                break
            length /= 2
        h, residuals, rows, cost = trial, trial_residuals, trial_rows, trial_cost
    else:
        raise ArithmeticError(f"coif{order}: no convergence, residual {mpmath.sqrt(cost)}")
    if abs(mpmath.fsum(h) - mpmath.sqrt(2)) > tolerance:
        raise ArithmeticError(f"coif{order}: converged to a filter with sum {mpmath.fsum(h)}")
    return h


def compute_dec_lo(name: str, digits: int = DIGITS) -> tuple[float, ...]:
    """Decomposition lowpass of one wavelet ('db4', 'sym8', 'coif2') as float64 values."""
    family = name.rstrip("0123456789")
    order = int(name[len(family) :])
    builders = {"db": daubechies_rec_lo, "sym": symlet_rec_lo, "coif": coiflet_rec_lo}
    with mpmath.workdps(digits):
        rec_lo = builders[family](order)
        return tuple(float(c) for c in reversed(rec_lo))


def _spline(zeros: int) -> list:
    """((1 + z)/2)^zeros, coefficients of z^0 .. z^zeros."""
    poly = [mpmath.mpf(1)]
    for _ in range(zeros):
        poly = _polymul(poly, [mpmath.mpf(1) / 2, mpmath.mpf(1) / 2])
    return poly


def _y_factor(root) -> list:
    """1 - y/root with y = (2 - z - 1/z)/4, as coefficients of z^-1, z^0, z^1."""
    edge = 1 / (4 * root)
    return [edge, 1 - 2 * edge, edge]


def _daubechies_polynomial(order: int) -> list:
    """P_L(y) = sum_{k<L} C(L-1+k, k) y^k in powers of y = (2 - z - 1/z)/4."""
    quarter = mpmath.mpf(1) / 4
    y = [-quarter, 2 * quarter, -quarter]
    total = [mpmath.mpf(0)] * (2 * order - 1)
    power = [mpmath.mpf(1)]
    for k in range(order):
        offset = order - 1 - k
        for i, c in enumerate(power):
            total[offset + i] += mpmath.binomial(order - 1 + k, k) * c
        power = _polymul(power, y)
    return total


def _y_root_groups(order: int) -> list[list]:
    """Roots of P_L in y, one group per real root or conjugate pair, by real part."""
    coeffs = [mpmath.binomial(order - 1 + k, k) for k in range(order)]
    roots = mpmath.polyroots(coeffs[::-1], maxsteps=400, extraprec=4 * mpmath.mp.prec)
    tiny = mpmath.mpf(10) ** (-mpmath.mp.dps // 2)
    groups = [[mpmath.re(r)] for r in roots if abs(mpmath.im(r)) < tiny]
    groups += [[r, mpmath.conj(r)] for r in roots if mpmath.im(r) >= tiny]
    return sorted(groups, key=lambda g: mpmath.re(g[0]))


def bior_scaling_filters(name: str) -> tuple[list, list]:
    """(Rf, Df): the reconstruction and decomposition scaling filters of biorNr.Nd, sum 1."""
    nr, nd = (int(n) for n in name[len("bior") :].split("."))
    if (nr, nd) in BIOR_SPLINES:
        return _spline(nr), _polymul(_spline(nd), _daubechies_polynomial((nr + nd) // 2))
    rec_zeros, dec_zeros, rec_groups = CDF_SPLITS[name]
    groups = _y_root_groups((rec_zeros + dec_zeros) // 2)
    rf, df = _spline(rec_zeros), _spline(dec_zeros)
    for index, group in enumerate(groups):
        for root in group:
            if index in rec_groups:
                rf = _polymul(rf, _y_factor(root))
            else:
                df = _polymul(df, _y_factor(root))
    return [mpmath.re(c) for c in rf], [mpmath.re(c) for c in df]


def _pad(values: list, length: int) -> list:
    before = (length - len(values)) // 2
    return [0] * before + values + [0] * (length - len(values) - before)


def compute_bior(name: str, digits: int = DIGITS) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(dec_lo, rec_lo) of biorNr.Nd in Matlab's biorfilt layout, as float64 values."""
    with mpmath.workdps(digits):
        rf, df = bior_scaling_filters(name)
        length = max(len(rf), len(df))
        length += length % 2
        root2 = mpmath.sqrt(2)
        rec_lo = [root2 * c for c in _pad(rf, length)]
        dec_lo = [root2 * c for c in _pad(df, length)][::-1]
        return tuple(float(c) for c in dec_lo), tuple(float(c) for c in rec_lo)


def bior_names() -> list[str]:
    splines = [f"bior{nr}.{nd}" for nr, nd in BIOR_SPLINES]
    return sorted(splines + list(CDF_SPLITS), key=lambda n: tuple(map(int, n[4:].split("."))))


def published_dmey() -> tuple[float, ...]:
    """PyWavelets' dmey decomposition lowpass (62 taps), read from an installed pywt."""
    import pywt

    return tuple(float(c) for c in pywt.Wavelet("dmey").dec_lo)


def shipped_names() -> list[str]:
    return (
        [f"db{n}" for n in DAUBECHIES_ORDERS]
        + [f"sym{n}" for n in SYMLET_ORDERS]
        + [f"coif{n}" for n in COIFLET_ORDERS]
    )


def _render_values(lines: list[str], values: tuple[float, ...], indent: str) -> None:
    lines.extend(f"{indent}{v:.17g}," for v in values)


def render_table(
    tables: dict[str, tuple[float, ...]],
    bior: dict[str, tuple[tuple[float, ...], tuple[float, ...]]],
    dmey: tuple[float, ...],
) -> str:
    lines = [
        "# Generated by scripts/make_filters.py -- do not edit by hand.",
        f"# Computed from the defining equations with mpmath at {DIGITS} digits, then rounded",
        "# to the nearest float64 (printed with 17 significant digits); DMEY_DEC_LO is data.",
        '"""Decomposition lowpass filters (PyWavelets dec_lo order) of the built-in wavelets."""',
        "",
        f"SYMLETS_PYWT_ROUNDED = {SYMLETS_PYWT_ROUNDED!r}",
        "",
        "DEC_LO = {",
    ]
    for name, values in tables.items():
        lines.append(f'    "{name}": (')
        _render_values(lines, values, " " * 8)
        lines.append("    ),")
    lines += [
        "}",
        "",
        "# biorNr.Nd: (dec_lo, rec_lo), zero-padded as Matlab's biorfilt lays them out.",
        "BIOR = {",
    ]
    for name, (dec_lo, rec_lo) in bior.items():
        lines.append(f'    "{name}": (')
        for values in (dec_lo, rec_lo):
            lines.append("        (")
            _render_values(lines, values, " " * 12)
            lines.append("        ),")
        lines.append("    ),")
    lines += [
        "}",
        "",
        "# The discrete Meyer lowpass as PyWavelets publishes it (from Matlab's dmey.mat),",
        "# Copyright (c) PyWavelets Developers, MIT licence. Not derived: see make_filters.py.",
        "DMEY_DEC_LO = (",
    ]
    _render_values(lines, dmey, " " * 4)
    lines.append(")")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=TABLE_PATH)
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    tables = {name: compute_dec_lo(name) for name in shipped_names()}
    bior = {name: compute_bior(name) for name in bior_names()}
    text = render_table(tables, bior, published_dmey())
    elapsed = time.perf_counter() - start
    if args.check:
        same = args.output.exists() and args.output.read_text() == text
        print(f"{args.output.name}: {'up to date' if same else 'DIFFERS'} ({elapsed:.1f} s)")
        return 0 if same else 1
    args.output.write_text(text)
    count = len(tables) + len(bior) + 1
    print(f"wrote {count} filters to {args.output.name} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
