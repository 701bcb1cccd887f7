"""A compiled (numba) BLAS product that writes into, or adds to, rows in place.

numba's ``np.dot(a, b, out)`` overwrites a whole contiguous ``out``: the products of a
conv's taps each need their own buffer and a pass to sum them, and one more to copy the
sum to where it goes. ``product_rows`` calls the same BLAS ``gemm`` (SciPy's, through
numba's own wrapper, so compiled callers stay cacheable) with ``beta`` 1 to add, and with
the row strides of the operands, so the taps accumulate straight into their destination.

Imported on first use, so ``import wavedil`` does not import numba.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import check_blas_return, ensure_blas, get_blas_kind

_CHAR = ir.IntType(8)
_VOID_P = ir.IntType(8).as_pointer()


@intrinsic
def product_rows(typingctx, a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate):
    """``C = A @ B`` (``accumulate``: ``C += A @ B``) on 1-D arrays of one float dtype,
    row-major: ``A`` ``(m, k)`` from ``a[a0]`` with rows ``lda`` apart, ``B`` ``(k, n)``
    from ``b[b0]`` contiguous, ``C`` ``(m, n)`` from ``c[c0]`` with rows ``ldc`` apart.
    Nothing is checked: the caller keeps every row within its array."""
    arrays = (a, b, c)
    if not all(isinstance(t, types.Array) and t.ndim == 1 for t in arrays) \
            or len({t.dtype for t in arrays}) != 1 \
            or a.dtype not in (types.float32, types.float64) \
            or not all(isinstance(t, types.Integer) for t in (a0, lda, b0, c0, ldc, m, n, k)) \
            or not isinstance(accumulate, types.Boolean):
        given = ", ".join(str(t) for t in (a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate))
        raise TypeError("product_rows takes three 1-D float32 or float64 arrays of one dtype, "
                        f"integer offsets, strides and sizes, and a boolean; got ({given})")
    ensure_blas()
    dtype = a.dtype
    kind = get_blas_kind(dtype, "product_rows")

    def codegen(context, builder, sig, args):
        a_, a0_, lda_, b_, b0_, c_, c0_, ldc_, m_, n_, k_, acc_ = args
        intp = context.get_value_type(types.intp)

        def pointer(ty, value, offset):
            data = context.make_array(ty)(context, builder, value).data
            return builder.bitcast(builder.gep(data, [offset]), _VOID_P)

        def size(ty, value):
            return context.cast(builder, value, ty, types.intp)

        one = context.get_constant(dtype, 1.0)
        zero = context.get_constant(dtype, 0.0)
        alpha = cgutils.alloca_once_value(builder, one)
        beta = cgutils.alloca_once_value(builder, builder.select(acc_, one, zero))
        fnty = ir.FunctionType(ir.IntType(32), [_CHAR, _CHAR, _CHAR, intp, intp, intp,
                                                _VOID_P, _VOID_P, intp, _VOID_P, intp,
                                                _VOID_P, _VOID_P, intp])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "numba_xxgemm")
        notrans = ir.Constant(_CHAR, ord("n"))
        # column-major BLAS sees the row-major C^T (n, m) = B^T (n, k) @ A^T (k, m)
        res = builder.call(fn, (
            ir.Constant(_CHAR, ord(kind)), notrans, notrans,
            size(sig.args[9], n_), size(sig.args[8], m_), size(sig.args[10], k_),
            builder.bitcast(alpha, _VOID_P),
            pointer(sig.args[3], b_, b0_), size(sig.args[9], n_),
            pointer(sig.args[0], a_, a0_), size(sig.args[2], lda_),
            builder.bitcast(beta, _VOID_P),
            pointer(sig.args[5], c_, c0_), size(sig.args[7], ldc_)))
        check_blas_return(context, builder, res)
        return context.get_dummy_value()

    return types.void(a, a0, lda, b, b0, c, c0, ldc, m, n, k, accumulate), codegen
