"""Calls from a parallel kernel to its task function by address, so that compiling the kernel does
not compile the task's code again.

Why. Numba links a callee's machine code into its caller: the caller's module holds a copy of the
callee and everything inlined into it, which LLVM optimises again and emits again. A ``prange``
kernel is four modules deep (the kernel, the wrapper of its parallel region, the region's gufunc
and the gufunc's body), so a task function called there directly had its code (the SSIM task:
every pass and the formula inlined) optimised and emitted five times: about 1.1 s of a cold 2-D
`ssim`'s 4.4 s (``llvmtime``-style timings of ``CPUCodeLibrary.finalize`` per library, empty
cache).

How. The task function stays an ordinary cached ``@njit`` function, compiled on its own (once).
The caller receives its address as an integer argument (`address`, from the wrapper) and calls it
through a pointer with Numba's own calling convention (`call_at`); the caller's modules then hold
one call instruction. The address is a run-time value, never a constant of the compiled code, so
the caller stays cacheable on disk. A task is tens of thousands of pixels: the indirect call costs
nothing measurable.

Safety. The address must be that of the task compiled for exactly the argument types the call
passes. `address` compiles (or loads from the cache) the task for the types of the values the
wrapper passes, which the kernel passes on unchanged (Python ints are int64 in both), and checks
that it returns nothing; `call_at` refuses to compile a kernel whose call-site types differ from
every signature `address` was asked for in this process (an internal error at compile time, never
a call through a mismatched pointer; a process that compiles the kernel without taking an address,
a helper of `kernels.ahead`, has nothing to compare with).
"""

import threading

from llvmlite import ir
from numba import typeof, types
from numba.core import cgutils, errors
from numba.core.callconv import excinfo_t
from numba.core.typing.typeof import Purpose
from numba.extending import intrinsic

from numba._dispatcher import compute_fingerprint as _fingerprint  # the dispatchers' own type key (C)

#: (task function, its argument types' key) -> the address of its compiled code
_ADDRESSES: dict = {}
#: task function -> the argument types `address` was asked for in this process
_ASKED: dict = {}
_LOCK = threading.Lock()


def _canonical(t):
    """The type a value of call-site type ``t`` is passed as: literals as their plain types."""
    if isinstance(t, types.BaseTuple):
        items = [_canonical(e) for e in t]
        if items and all(e == items[0] for e in items):
            return types.UniTuple(items[0], len(items))
        return types.Tuple(items)
    return types.unliteral(t)


def address(function, args):
    """The address of ``function`` (an ``@njit`` dispatcher) compiled for the types of ``args``
    (the values it will be called with through `call_at`), compiling it or loading it from the disk
    cache the first time."""
    try:
        key = (function, tuple(map(_fingerprint, args)))  # about 2 us for a task's 15 arguments
    except (TypeError, ValueError, NotImplementedError):  # a value it has no key for: typed each time
        key = None
    if key is not None:
        found = _ADDRESSES.get(key)
        if found is not None:
            return found
    sig = tuple(_canonical(typeof(a, Purpose.argument)) for a in args)
    with _LOCK:
        _ASKED.setdefault(function, set()).add(sig)
    function.compile(sig)
    result = function.overloads[sig]
    if result.signature.return_type != types.none:
        raise TypeError(f"{function.__name__} returns {result.signature.return_type}: a task called by "
                        f"address must return nothing (its outputs are arrays)")
    found = result.library.get_pointer_to_function(result.fndesc.llvm_func_name)
    if key is not None:
        _ADDRESSES[key] = found
    return found


@intrinsic
def call_at(typingctx, function, where, args):
    """Call ``function`` (a global ``@njit`` dispatcher that returns nothing, for its types) at
    ``where`` (the address `address` gave for these arguments) with the tuple ``args``. Typing the
    call does not compile ``function``: a kernel compiles without its task (a helper process can
    compile it while this one compiles the task, `kernels.ahead`)."""
    if not isinstance(function, types.Dispatcher):
        raise errors.TypingError("call_at: the first argument must be an @njit function")
    argtypes = tuple(_canonical(t) for t in args)
    asked = _ASKED.get(function.dispatcher)
    if asked is not None and argtypes not in asked:
        raise errors.TypingError(
            f"internal error: {function.dispatcher.__name__} is called with types {argtypes}, but its "
            f"address was taken for {sorted(map(str, asked))}; the wrapper and the kernel disagree")
    sig = types.none(function, types.intp, types.Tuple(argtypes))

    def codegen(context, builder, signature, llargs):
        cc = context.call_conv
        fnty = cc.get_function_type(types.none, argtypes)
        pointer = builder.inttoptr(llargs[1], fnty.as_pointer())
        values = [builder.extract_value(llargs[2], i) for i in range(len(argtypes))]
        packed = list(cc._get_arg_packer(argtypes).as_arguments(builder, values))
        result = cgutils.alloca_once(builder, cc.get_return_type(types.none).pointee)
        builder.store(cgutils.get_null_value(result.type.pointee), result)
        excinfo = cgutils.alloca_once(builder, ir.PointerType(excinfo_t), name="excinfo")
        code = builder.call(pointer, [result, excinfo] + packed)
        status = cc._get_return_status(builder, code, builder.load(excinfo))
        with builder.if_then(status.is_error, likely=False):
            cc.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return sig, codegen
