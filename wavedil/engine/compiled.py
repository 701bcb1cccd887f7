"""The compiled (numba) loops that other rooms call: the engine's public door to ``_jit``.

Importing this module imports numba, so callers import it inside the function that needs
it (``import wavedil`` stays free of numba). The loops themselves live in ``_jit.levels``
and ``_jit.cwt``.
"""

from ._jit.cwt import complex_bands, strided_correlate
from ._jit.levels import (
    analysis_rows,
    correlate_rows,
    depthwise_rows,
    stream_levels,
    synthesis_rows,
)

__all__ = ["analysis_rows", "complex_bands", "correlate_rows", "depthwise_rows", "stream_levels",
           "strided_correlate", "synthesis_rows"]
