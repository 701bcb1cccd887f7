"""CPU atomics for compiled (numba) threads that share memory: numba has none, so these
intrinsics emit LLVM's atomic loads and stores on an ``int64`` array element.

``load(a, i)`` (acquire) and ``store(a, i, v)`` (release) hand data from one thread to
another: what a thread wrote before its ``store`` is visible to a thread whose ``load``
reads that value. ``exchange`` (a seq_cst store) and ``load_seq`` (a seq_cst load) order a
store before a later load of another element, which a wake-up handshake needs (each side
stores its flag, then reads the other's). ``claim`` is a compare-and-swap, ``pause`` the
spin-wait hint and ``ticks`` the CPU's time-stamp counter (``wavedil.engine.chain_threads``
calibrates it).

Imported on first use, so ``import wavedil`` does not import numba.
"""

from __future__ import annotations

import platform

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _pointer(context, builder, sig, args):
    """The address of ``args[0][args[1]]`` (a 1-D int64 array)."""
    array = context.make_array(sig.args[0])(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, sig.args[0], array, [args[1]])


def _check(array, index) -> None:
    if not (isinstance(array, types.Array) and array.dtype == types.int64
            and array.ndim == 1 and isinstance(index, types.Integer)):
        raise TypeError("atomics take a 1-D int64 array and an integer index")


def _loader(order: str):
    def load(typingctx, array, index):
        _check(array, index)

        def codegen(context, builder, sig, args):
            return builder.load_atomic(_pointer(context, builder, sig, args), order, 8)
        return types.int64(array, index), codegen
    return load


load = intrinsic(_loader("acquire"))
load.__doc__ = "``array[index]``, an atomic acquire load."
load_seq = intrinsic(_loader("seq_cst"))
load_seq.__doc__ = "``array[index]``, an atomic sequentially consistent load."


def _storer(order: str):
    def store(typingctx, array, index, value):
        _check(array, index)

        def codegen(context, builder, sig, args):
            value = context.cast(builder, args[2], sig.args[2], types.int64)
            builder.store_atomic(value, _pointer(context, builder, sig, args), order, 8)
            return context.get_dummy_value()
        return types.void(array, index, value), codegen
    return store


store = intrinsic(_storer("release"))
store.__doc__ = "``array[index] = value``, an atomic release store."
exchange = intrinsic(_storer("seq_cst"))
exchange.__doc__ = "``array[index] = value``, an atomic sequentially consistent store."


@intrinsic
def claim(typingctx, array, index, expected, value):
    """Atomically ``array[index] = value`` if it holds ``expected`` (compare and swap,
    acquire-release): whether it did."""
    _check(array, index)

    def codegen(context, builder, sig, args):
        old = context.cast(builder, args[2], sig.args[2], types.int64)
        new = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(_pointer(context, builder, sig, args), old, new, "acq_rel",
                               "acquire")
        return builder.extract_value(pair, 1)
    return types.boolean(array, index, expected, value), codegen


@intrinsic
def pause(typingctx):
    """The spin-wait hint (x86 ``pause``; nothing elsewhere)."""
    def codegen(context, builder, sig, args):
        if not X86:
            return context.get_dummy_value()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), []),
                                            "llvm.x86.sse2.pause")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen


@intrinsic
def ticks(typingctx):
    """The CPU's time-stamp counter (``llvm.readcyclecounter``)."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(ir.IntType(64), []),
                                            "llvm.readcyclecounter")
        return builder.call(fn, [])
    return types.int64(), codegen


@intrinsic
def yield_cpu(typingctx):
    """Give the CPU to another thread (POSIX ``sched_yield``): a thread that waits long
    for one that is not running lets it run."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module,
                                            ir.FunctionType(ir.IntType(32), []),
                                            "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()
    return types.void(), codegen
