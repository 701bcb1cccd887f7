"""A compiled (numba) prefetch: numba has none, so ``prefetch_write`` emits LLVM's
``llvm.prefetch`` (for writing, kept in every cache level) for an array element's cache
line. It changes nothing and never faults, whatever the address.

Imported on first use, so ``import wavedil`` does not import numba.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch_write(typingctx, array, index):
    """Bring the cache line of ``array[index]`` (a 1-D array) in, to be written (x86
    ``prefetchw``); an index past the end is harmless (a prefetch does not fault)."""
    if not (isinstance(array, types.Array) and array.ndim == 1
            and isinstance(index, types.Integer)):
        raise TypeError("prefetch_write takes a 1-D array and an integer index")

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        address = builder.bitcast(builder.gep(data, [args[1]]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [address.type, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(fn, [address, i32(1), i32(3), i32(1)])  # write, keep, data cache
        return context.get_dummy_value()
    return types.void(array, index), codegen
