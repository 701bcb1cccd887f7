"""The engine: one dilated convolution, offline and streaming, that everything else runs on.

"One engine" means one semantics (alignment, boundary, latency, the streaming contract and
its state protocol, one history layout); several runtimes serve it where speed needs it
(numpy products with compiled gathers, the fused time-major chain, a compiled step through
a whole chain, compiled per-tap and per-level loops), each held to the same oracles by the tests.

- ``spec``: ``LayerSpec`` and alignments, the vocabulary every layer describes itself in.
- ``checks``: input checks shared by every module (dtypes, shapes, positive integers).
- ``finite``: the non-finite input policy (refuse by default, or confine), one check.
- ``history``: ``History``, a stream's past without re-copying, and the ``DelayLine``.
- ``stream``: the streaming contract (``Stream``) and the drivers ``run_stream``/``feed_stream``.
- ``state``: what a saved stream state may hold (``ArraySpec`` per key), checked on load.
- ``conv``: ``DilatedConv1d``, its stream and the functional ``conv1d``.
- ``depthwise``: the per-tap path of a layer with one filter per channel.
- ``fused``: the time-major chain of convs that the model streams run.
- ``blocks``: a TCN's whole chain in one compiled call per short chunk, on the same histories.
- ``memory``: recycled large outputs and per-thread scratch blocks.
- ``_jit``: every compiled (numba) loop, imported on first use; ``compiled`` is the public
  door through which the other rooms reach the loops they call.

Nothing here imports from the wavelets, models, receptive or torch rooms.
"""

from .conv import ConvStream, DilatedConv1d, conv1d
from .finite import nonfinite
from .history import DelayLine, History
from .spec import Branches, Chain, LayerSpec, Shift, dilation_schedule, resolve_alignment
from .stream import Stream, feed_stream, run_stream

__all__ = ["Branches", "Chain", "ConvStream", "DelayLine", "DilatedConv1d", "History",
           "LayerSpec", "Shift", "Stream", "conv1d", "dilation_schedule", "feed_stream",
           "nonfinite", "resolve_alignment", "run_stream"]
