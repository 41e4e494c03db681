"""SSIM and MS-SSIM of each plane of two tensors as a PyTorch custom operator, with its
autograd formula and its fake (meta) implementation, so that eager code, autograd and
``torch.compile(..., fullgraph=True)`` all call fastssim's kernels the same way.

``planes(x, y, taps=..., data_range=..., ...)`` takes (P, H, W) or (P, D, H, W) tensors (the
drop-ins reshape (N, C, ...) to planes) and returns each plane's value, float64, differentiable
in ``x`` and ``y``. The operator ``fastssim::planes`` computes the values and, when a
gradient will be wanted, the gradients in the same pass (`fastssim.metrics.planes`); its
backward only scales them. A backward that builds a graph (``create_graph=True``: gradients of
gradients) differentiates the same SSIM written in PyTorch operations (`torch_reference`)
instead, so that the second-order terms are there rather than silently missing. Tensors on a
GPU are computed on the host and their gradients are copied back.

Needs PyTorch 2.4 or later (``torch.library.custom_op``).
"""

import numpy as np

from ..kernels.math import valid_shape
from ..metrics.planes import halve_planes, ms_ssim_planes, ssim_map_planes, ssim_map_planes_vjp, ssim_planes

try:
    import torch as _torch
except ImportError:  # the drop-ins explain what to install
    _torch = None  # type: ignore[assignment]

__all__ = ["planes", "ssim_map", "avg_pool2", "work_dtype"]

_OP = "fastssim::planes"
_MAP_OP = "fastssim::ssim_map"
_MAP_VJP_OP = "fastssim::ssim_map_vjp"


def work_dtype(x, y):
    """float64 when either tensor is float64, else float32 (float16, bfloat16 and integer input
    are computed in float32)."""
    return _torch.float64 if _torch.float64 in (x.dtype, y.dtype) else _torch.float32


def _host(t, work):
    return t.detach().to("cpu", work).contiguous().numpy()


def _window(taps):
    """The window as the metrics layer takes it (float64 NumPy, the tensors' numbers as they are):
    ``taps`` is a list of one tensor, (k,) or (R, k) with equal rows (one window per channel, as
    conv-based libraries hold it), the window along every axis; or of one (k_i,) tensor per
    spatial axis (an anisotropic window: a list of arrays)."""
    if len(taps) > 1:
        return [t.detach().to("cpu", _torch.float64).reshape(-1).numpy() for t in taps]
    rows = taps[0].detach().to("cpu", _torch.float64).reshape(-1, taps[0].shape[-1])
    if not bool((rows == rows[:1]).all()):
        raise ValueError("the window must be the same for every channel: fastssim applies one window to every "
                         "channel")
    return rows[0].numpy()


def _sizes(taps, nd):
    """The window's length along each of ``nd`` axes."""
    return [t.shape[-1] for t in taps] if len(taps) > 1 else [taps[0].shape[-1]] * nd


def _as_list(taps):
    return list(taps) if isinstance(taps, (list, tuple)) else [taps]


def _compute(x, y, taps, data_range, K1, K2, level_weights, convention, cs_only, pad, eps, need_gx, need_gy):
    """(values float64 (P,), grad_x or an empty tensor, grad_y or an empty tensor) on x's device."""
    work = work_dtype(x, y)
    xa, ya = _host(x, work), _host(y, work)
    taps = _window(taps)
    options = dict(spatial_ndim=x.dim() - 1, taps=taps, data_range=data_range, K1=K1, K2=K2)
    if level_weights:
        def fn(a, b, gradient):
            return ms_ssim_planes(a, b, level_weights=level_weights, convention=convention, gradient=gradient,
                                  **options)
    else:
        def fn(a, b, gradient):
            return ssim_planes(a, b, gradient=gradient, cs_only=cs_only, pad=pad, eps=eps, **options)
    values, gy = fn(xa, ya, need_gy)
    gx = fn(ya, xa, True)[1] if need_gx else None  # SSIM and MS-SSIM are symmetric in x and y

    def out(g):  # an operator's outputs are distinct tensors: one empty tensor each
        return x.new_empty(0, dtype=work) if g is None else _torch.from_numpy(np.ascontiguousarray(g)).to(x.device)

    return _torch.from_numpy(values).to(x.device), out(gx), out(gy)


def _fake(x, y, taps, data_range, K1, K2, level_weights, convention, cs_only, pad, eps, need_gx, need_gy):
    work = work_dtype(x, y)

    def out(need):
        return x.new_empty(x.shape if need else (0,), dtype=work)

    return x.new_empty(x.shape[0], dtype=_torch.float64), out(need_gx), out(need_gy)


def _setup_context(ctx, inputs, output):
    ctx.save_for_backward(output[1], output[2], inputs[0], inputs[1], *inputs[2])
    ctx.dtypes = (inputs[0].dtype, inputs[1].dtype)
    ctx.shape = tuple(inputs[0].shape)
    ctx.lists = _lists(inputs)
    ctx.args = tuple(inputs[3:11])  # data_range .. eps, as `torch_reference.planes` takes them
    ctx.needs = tuple(inputs[11:13])


def _lists(inputs):
    """{position: length} of the inputs that an operator's backward answers with a list: lists of
    tensors, and empty lists (PyTorch takes a list of floats as one constant)."""
    return {i: len(v) for i, v in enumerate(inputs) if isinstance(v, (list, tuple))
            and all(isinstance(e, _torch.Tensor) for e in v)}


def _for_the_operator(backward):
    """An operator's backward returns a list of gradients (None) for each list it takes (the
    window tensors, MS-SSIM's exponents), where an autograd function's returns one None."""
    def op_backward(ctx, *grads):
        out = backward(ctx, *grads)
        return tuple([None] * ctx.lists[i] if i in ctx.lists else g for i, g in enumerate(out))
    return op_backward


def _backward(ctx, grad_values, _grad_gx, _grad_gy):
    gx, gy, x, y, *taps = ctx.saved_tensors
    if _torch.is_grad_enabled():  # create_graph=True: gradients that can be differentiated again
        from . import torch_reference as ref

        out = ref.gradients(lambda a, b: ref.planes(a, b, taps, *ctx.args), (x, y), ctx.needs, grad_values)
        return (out[0], out[1]) + (None,) * 11
    scale = grad_values.reshape((-1,) + (1,) * (len(ctx.shape) - 1))
    out = []
    for g, dtype in zip((gx, gy), ctx.dtypes):
        out.append(None if g.numel() == 0 else (g * scale.to(g.dtype)).to(dtype))
    return (out[0], out[1]) + (None,) * 11


def _map_compute(x, y, taps, data_range, K1, K2, eps, pad):
    """Each plane's 'valid' SSIM map, in the work dtype, on x's device."""
    work = work_dtype(x, y)
    smap = ssim_map_planes(_host(x, work), _host(y, work), spatial_ndim=x.dim() - 1, taps=_window(taps),
                           data_range=data_range, K1=K1, K2=K2, eps=eps, pad=pad)
    return _torch.from_numpy(smap).to(x.device)


def _map_fake(x, y, taps, data_range, K1, K2, eps, pad):
    ks = _sizes(taps, x.dim() - 1)
    return x.new_empty((x.shape[0],) + valid_shape(x.shape[1:], ks, pad),
                       dtype=work_dtype(x, y))


def _map_vjp_compute(x, y, taps, data_range, K1, K2, eps, pad, upstream, need_gx, need_gy):
    """The gradients of ``sum(upstream * map)`` with respect to x and y (an empty tensor for one
    not needed), in the work dtype, on x's device."""
    work = work_dtype(x, y)
    xa, ya, up = _host(x, work), _host(y, work), _host(upstream, work)
    options = dict(spatial_ndim=x.dim() - 1, taps=_window(taps), data_range=data_range, K1=K1, K2=K2, eps=eps,
                   pad=pad)

    def out(need, a, b):  # the map is symmetric in x and y: x's gradient is y's with the two swapped
        if not need:
            return x.new_empty(0, dtype=work)
        return _torch.from_numpy(ssim_map_planes_vjp(a, b, up, **options)).to(x.device)

    return out(need_gx, ya, xa), out(need_gy, xa, ya)


def _map_vjp_fake(x, y, taps, data_range, K1, K2, eps, pad, upstream, need_gx, need_gy):
    work = work_dtype(x, y)
    return tuple(x.new_empty(x.shape if need else (0,), dtype=work) for need in (need_gx, need_gy))


def _map_setup_context(ctx, inputs, output):
    x, y, taps = inputs[:3]
    ctx.save_for_backward(x, y, *taps)
    ctx.lists = _lists(inputs)
    ctx.args = tuple(inputs[3:])


def _map_backward_with(vjp):
    def backward(ctx, grad_map):
        x, y, *taps = ctx.saved_tensors
        needs = (bool(ctx.needs_input_grad[0]), bool(ctx.needs_input_grad[1]))
        if _torch.is_grad_enabled():  # create_graph=True: gradients that can be differentiated again
            from . import torch_reference as ref

            out = ref.gradients(lambda a, b: ref.ssim_map(a, b, taps, *ctx.args), (x, y), needs, grad_map)
            return (out[0], out[1]) + (None,) * (len(ctx.args) + 1)
        gx, gy = vjp(x, y, taps, *ctx.args, grad_map.contiguous(), *needs)
        out = [g.to(t.dtype) if need else None for g, t, need in ((gx, x, needs[0]), (gy, y, needs[1]))]
        return (out[0], out[1]) + (None,) * (len(ctx.args) + 1)
    return backward


if _torch is not None and hasattr(_torch, "library") and hasattr(_torch.library, "custom_op"):
    Tensor = _torch.Tensor

    def _planes_op(x: Tensor, y: Tensor, taps: list[Tensor], data_range: float, K1: float, K2: float,
                   level_weights: list[float], convention: str, cs_only: bool, pad: int, eps: float, need_gx: bool,
                   need_gy: bool) -> tuple[Tensor, Tensor, Tensor]:
        return _compute(x, y, taps, data_range, K1, K2, level_weights, convention, cs_only, pad, eps, need_gx,
                        need_gy)

    _op = _torch.library.custom_op(_OP, mutates_args=())(_planes_op)
    _op.register_fake(_fake)
    _op.register_autograd(_for_the_operator(_backward), setup_context=_setup_context)

    def _map_op_impl(x: Tensor, y: Tensor, taps: list[Tensor], data_range: float, K1: float, K2: float,
                     eps: float, pad: int) -> Tensor:
        return _map_compute(x, y, taps, data_range, K1, K2, eps, pad)

    def _map_vjp_impl(x: Tensor, y: Tensor, taps: list[Tensor], data_range: float, K1: float, K2: float, eps: float,
                      pad: int, upstream: Tensor, need_gx: bool, need_gy: bool) -> tuple[Tensor, Tensor]:
        return _map_vjp_compute(x, y, taps, data_range, K1, K2, eps, pad, upstream, need_gx, need_gy)

    _map_vjp_op = _torch.library.custom_op(_MAP_VJP_OP, mutates_args=())(_map_vjp_impl)
    _map_vjp_op.register_fake(_map_vjp_fake)
    _map_op = _torch.library.custom_op(_MAP_OP, mutates_args=())(_map_op_impl)
    _map_op.register_fake(_map_fake)
    _map_op.register_autograd(_for_the_operator(_map_backward_with(_map_vjp_op)), setup_context=_map_setup_context)

    class _EagerMap(_torch.autograd.Function):
        """The map operator's computation and autograd formula for eager calls (see `_Eager`)."""

        @staticmethod
        def forward(ctx, x, y, taps, *args):
            out = _map_compute(x, y, taps, *args)
            _map_setup_context(ctx, (x, y, taps) + args, out)
            return out

        backward = staticmethod(_map_backward_with(_map_vjp_compute))

    class _Eager(_torch.autograd.Function):
        """The operator's computation and autograd formula for eager calls on real tensors.
        A custom operator's first eager call imports ``torch._dynamo`` (about 1.2 s) to
        disable it around the implementation; eager code need not pay that."""

        @staticmethod
        def forward(ctx, x, y, *args):
            values, gx, gy = _compute(x, y, *args)
            _setup_context(ctx, (x, y) + args, (values, gx, gy))
            return values

        @staticmethod
        def backward(ctx, grad_values):
            return _backward(ctx, grad_values, None, None)

    class _Halve(_torch.autograd.Function):
        """`avg_pool2`'s kernel path: forward by `halve_planes`, backward each mean's gradient
        spread over its samples (PyTorch operations, so that it is differentiable again)."""

        @staticmethod
        def forward(ctx, t):
            nd = t.dim() - 2
            planes_ = t.detach().contiguous().numpy().reshape((-1,) + tuple(t.shape[2:]))
            ctx.shape = tuple(t.shape)
            out = halve_planes(planes_, spatial_ndim=nd)
            return _torch.from_numpy(out).reshape(tuple(t.shape[:2]) + out.shape[1:])

        @staticmethod
        def backward(ctx, g):
            nd = len(ctx.shape) - 2
            lead = g.shape[:2]
            spread = g.reshape(lead + sum(((n, 1) for n in g.shape[2:]), ()))
            spread = spread.expand(lead + sum(((n, 2) for n in g.shape[2:]), ()))
            up = spread.reshape(lead + tuple(2 * n for n in g.shape[2:])) * (0.5 ** nd)
            odd = []
            for n in reversed(ctx.shape[2:]):  # F.pad lists the last axis first
                odd += [0, n % 2]
            return _torch.nn.functional.pad(up, odd) if any(odd) else up

    from torch._subclasses.fake_tensor import FakeTensor as _FakeTensor
else:  # pragma: no cover - torch missing or older than 2.4
    _op = _map_op = None  # type: ignore[assignment]


#: Why an operator is missing (both raise it): no PyTorch, or one without ``torch.library.custom_op``.
_NEEDS_TORCH = "fastssim's PyTorch drop-ins need PyTorch 2.4 or later: pip install 'fastssim[torch]'"


def planes(x, y, *, taps, data_range, K1=0.01, K2=0.03, level_weights=(), convention="wang", cs_only=False,
           pad=0, eps=0.0):
    """Each plane's SSIM (MS-SSIM with ``level_weights``), float64, shape (P,), differentiable.

    Parameters
    ----------
    x, y : torch.Tensor
        (P, H, W) or (P, D, H, W), one shape, on one device.
    taps : torch.Tensor, or a sequence of them
        The 1-D window (odd length), along every spatial axis: (k,), or (R, k) with equal rows
        (a tensor, so that a compiled graph does not read its values); or one (k_i,) tensor per
        spatial axis, in their order (an anisotropic window).
    data_range, K1, K2 : float
    level_weights : sequence of float
        MS-SSIM's exponents, one per scale; empty for SSIM.
    convention : {'wang', 'pytorch_msssim'}
        MS-SSIM's halving (see `fastssim.metrics.planes.ms_ssim_planes`).
    cs_only : bool
        SSIM's mean contrast-structure term instead of SSIM (without ``level_weights``).
    pad : int
        Score the planes extended by ``pad`` samples of PyTorch's 'reflect' on each side of
        every spatial axis (without ``level_weights``; read in place by the forward kernel, so
        that a caller need not pad a copy); the gradient is of the planes themselves.
    eps : float
        Added to each window's denominator (kornia's; without ``level_weights``), as in
        `fastssim.metrics.planes.ssim_planes`.

    Returns
    -------
    torch.Tensor, float64, (P,), on ``x``'s device

    Raises
    ------
    ImportError
        Without PyTorch 2.4 or later.
    ValueError
        As `fastssim.metrics.planes.ssim_planes`, and for a window whose rows differ.
    """
    if _op is None:
        raise ImportError(_NEEDS_TORCH)
    if (pad or eps) and level_weights:
        raise ValueError("pad and eps are for SSIM: MS-SSIM's scales are not padded and take no eps")
    grad = _torch.is_grad_enabled()
    need_gx = bool(grad and x.requires_grad)
    need_gy = bool(grad and y.requires_grad)
    args = (float(data_range), float(K1), float(K2), [float(w) for w in level_weights], str(convention),
            bool(cs_only), int(pad), float(eps), need_gx, need_gy)
    taps = _as_list(taps)
    if _eager(x, y, *taps):
        return _Eager.apply(x, y, taps, *args)
    values, _, _ = _op(x, y, taps, *args)
    return values


def ssim_map(x, y, *, taps, data_range, K1=0.01, K2=0.03, eps=0.0, pad=0):
    """Each plane's 'valid' SSIM map, differentiable in ``x`` and ``y``.

    Parameters
    ----------
    x, y : torch.Tensor
        (P, H, W) or (P, D, H, W), one shape, on one device.
    taps : torch.Tensor, or a sequence of them
        The window, as for `planes`.
    data_range, K1, K2 : float
    eps : float
        Added to each window's denominator (kornia's; 0 for Wang et al.'s SSIM).
    pad : int
        The map of the planes extended by ``pad`` samples of PyTorch's 'reflect' (as for
        `planes`): ``pad = k // 2`` gives the map of the planes' size.

    Returns
    -------
    torch.Tensor
        (P, H + 2 pad - k + 1, W + 2 pad - k + 1) or likewise with D, float64 when either
        input is float64, else float32, on ``x``'s device. Its backward weights each window's
        derivatives by the incoming gradient in the fused gradient kernels; a backward that
        builds a graph (``create_graph=True``) differentiates `torch_reference.ssim_map` instead.

    Raises
    ------
    ImportError
        Without PyTorch 2.4 or later.
    ValueError
        As `fastssim.metrics.planes.ssim_map_planes`, and for a window whose rows differ.
    """
    if _map_op is None:
        raise ImportError(_NEEDS_TORCH)
    args = (float(data_range), float(K1), float(K2), float(eps), int(pad))
    taps = _as_list(taps)
    if _eager(x, y, *taps):
        return _EagerMap.apply(x, y, taps, *args)
    return _map_op(x, y, taps, *args)


def avg_pool2(t):
    """PyTorch's ``avg_pool2d(t, 2)`` of (N, C, H, W), ``avg_pool3d(t, 2)`` of (N, C, D, H, W)
    tensors (an odd side's last sample dropped), differentiable. Eager float32 and float64
    tensors on the CPU are halved by fastssim's kernel (`fastssim.metrics.planes.halve_planes`,
    about 8x PyTorch's pooling); others, and traced calls, by PyTorch's pooling."""
    if _torch.is_tensor(t) and t.device.type == "cpu" and t.dtype in (_torch.float32, _torch.float64) \
            and min(t.shape[2:], default=0) >= 2 and _eager(t):
        return _Halve.apply(t)
    pool = _torch.nn.functional.avg_pool2d if t.dim() == 4 else _torch.nn.functional.avg_pool3d
    return pool(t, 2)


def _eager(*tensors):
    """Whether a call runs eagerly on real tensors (not traced by torch.compile, not fake or meta
    tensors), so that `_Eager` may compute it without the operator's dispatch."""
    if _torch.compiler.is_compiling():
        return False
    return not any(isinstance(t, _FakeTensor) or t.device.type == "meta" for t in tensors)
