"""Helpers shared by the tests: tolerances, closeness, signals and chunk-size strategies.

Import them as ``from helpers import ...`` (pytest puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

# DESIGN.md, the streaming contract: float64 <= 1e-12 relative, float32 <= 1e-5 relative
TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}
TOL.update({np.float32: 1e-5, np.float64: 1e-12})  # the scalar types work as keys too

# chunk sizes worth trying: empty, one sample, small primes, longer than most receptive fields
SPECIAL_SIZES = [0, 1, 2, 3, 5, 7, 13, 31, 97, 257]


def chunk_sizes(longest: int = 400, most: int = 8):
    """A list of chunk sizes (cycled over the signal): special sizes or any up to ``longest``."""
    return st.lists(st.one_of(st.sampled_from(SPECIAL_SIZES), st.integers(0, longest)),
                    min_size=1, max_size=most)


def assert_close(actual, expected, dtype=np.float64):
    """``actual`` within the contract tolerance of ``dtype``, relative to ``max |expected|``
    (at least 1, so a signal near zero is compared absolutely)."""
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOL[np.dtype(dtype)] * scale)


def signal(seed, shape, dtype=np.float64) -> np.ndarray:
    """Standard normal noise of ``shape`` in ``dtype`` (reproducible from ``seed``)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def state_layout(stream, x):
    """Keys, shapes and dtypes of ``stream``'s state after two chunks of ``x``."""
    stream.process(x[..., :333])
    stream.process(x[..., 333:500])
    return {key: (value.shape, value.dtype.str) for key, value in stream.state_dict().items()
            if key != "meta"}
