"""Scratch arrays for the kernels' tasks, allocated by code lowered in place.

``np.empty`` and ``np.zeros`` in a Numba function are overloads: each combination of shape type
(an integer, a 2- or 3-tuple) and dtype used anywhere compiles a small function of its own, through
Numba's whole pipeline, on a process's first call (about 40 ms each; the SSIM task's dozen
allocations compiled seven of them, 0.4 s of a cold ``ssim``). `empty` and `zeros` are
intrinsics instead: the allocation (Numba's own ``_empty_nd_impl``, the same C-contiguous array
NumPy's functions give) is emitted into the caller, compiling nothing of its own. Like calls.py,
this relies on Numba's lowering internals (checked with Numba 0.68).
"""

from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["empty", "zeros"]


def _array_type(shape, dtype):
    """The C-contiguous array type of ``shape`` (an integer or a tuple of them) and ``dtype`` (a
    dtype, as ``a.dtype`` gives, or a NumPy scalar type, as ``np.float64``), or None."""
    if isinstance(shape, types.Integer):
        ndim = 1
    elif isinstance(shape, types.BaseTuple) and all(isinstance(s, types.Integer) for s in shape):
        ndim = len(shape)
    else:
        return None
    if isinstance(dtype, types.DType):
        dt = dtype.dtype
    elif isinstance(dtype, types.NumberClass):
        dt = dtype.instance_type
    else:
        return None
    return types.Array(dt, ndim, "C")


def _allocator(zero):
    def typer(typingctx, shape, dtype):
        arrtype = _array_type(shape, dtype)
        if arrtype is None:
            return None

        def codegen(context, builder, sig, args):
            from numba.np.arrayobj import _empty_nd_impl, _parse_shape  # compiling only: not at import

            ary = _empty_nd_impl(context, builder, sig.return_type, _parse_shape(context, builder, sig.args[0],
                                                                                 args[0]))
            if zero:
                cgutils.memset(builder, ary.data, builder.mul(ary.itemsize, ary.nitems), 0)
            return ary._getvalue()

        return arrtype(shape, dtype), codegen

    return typer


empty = intrinsic(_allocator(False))
empty.__doc__ = """``np.empty(shape, dtype)``, C-contiguous, lowered in place (see the module)."""
zeros = intrinsic(_allocator(True))
zeros.__doc__ = """``np.zeros(shape, dtype)``, C-contiguous, lowered in place (see the module)."""
