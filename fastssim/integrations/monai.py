"""A drop-in for MONAI's SSIM: ``from fastssim.compat.monai import SSIMMetric, MultiScaleSSIMMetric,
SSIMLoss, compute_ms_ssim`` in place of ``monai.metrics`` / ``monai.losses``.

The classes are MONAI's own (``SSIMMetric`` and ``MultiScaleSSIMMetric``: the cumulative buffer,
``aggregate`` with every reduction MONAI offers, ``reset``, ``get_not_nans``; ``SSIMLoss``: its
reductions and ``data_range`` property) with the per-image value computed by fastssim. MONAI's
convention (1.2 and later): the windows inside the image ('valid'), population covariance, the
mean over channels and pixels of each image, ``spatial_dims`` 2 and 3, ``kernel_type``
'gaussian' or 'uniform'; MS-SSIM with 2x2 (2x2x2) average pooling that drops an odd last sample,
a ReLU of each scale's term, float32 weights. Values are float32 tensors, as MONAI returns them;
MetaTensor input is read as a tensor.

The windows' values come from the ``fastssim::planes`` operator; the halving and reductions are
PyTorch operations, differentiable in both inputs. What differs, on purpose:

- MONAI computes in float32 with a float32 window; fastssim computes float32 input in float32
  with float64 sums and float64 input in float64, with the window in float64, so its values are
  the float64 result of MONAI's definition to about 1e-6 where MONAI's own are up to 1e-4 away on
  images with flat regions.

Anisotropic windows (a sequence of different ``win_size`` / ``kernel_sigma``, one per spatial
axis in their order, as MONAI takes them) are computed by the same kernels, a window per axis.

For fastMRI's convention (7x7 uniform window, sample covariance, the ground truth's maximum as the
data range, a volume scored slice by slice), which MRI reconstruction papers report, use
``fastssim.ssim(gt, pred, preset="fastmri")``.
"""

from collections.abc import Sequence

from .torch_ops import avg_pool2, planes
from .torch_scales import scale_terms

try:
    import torch as _torch
except ImportError:
    _torch = None  # type: ignore[assignment]

__all__ = ["compute_ms_ssim", "SSIMMetric", "MultiScaleSSIMMetric", "SSIMLoss"]  # noqa: F822 (__getattr__)

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _need_torch():
    if _torch is None:
        raise ImportError("fastssim.compat.monai needs PyTorch: pip install 'fastssim[torch]'")


def _per_axis(value, nd):
    return tuple(value) if isinstance(value, Sequence) else (value,) * nd


def _taps(kernel_type, kernel_size, kernel_sigma, nd):
    """The window, float64 taps: one tensor for every axis, or a list of one per spatial axis in
    their order (MONAI's ``win_size`` and ``kernel_sigma`` sequences: an anisotropic window)."""
    ks, sig = _per_axis(kernel_size, nd), _per_axis(kernel_sigma, nd)
    kind = str(getattr(kernel_type, "value", kernel_type)).lower()
    if kind not in ("gaussian", "uniform"):
        raise ValueError(f"kernel_type must be 'gaussian' or 'uniform', got {kernel_type!r}")
    if len(ks) != nd or (kind == "gaussian" and len(sig) != nd):
        raise ValueError(f"win_size and kernel_sigma need one value or {nd} (one per spatial axis), got {ks} and "
                         f"{sig}")

    def one(k, s):
        k = int(k)
        if kind == "uniform":
            return _torch.full((k,), 1.0 / k, dtype=_torch.float64)
        dist = _torch.arange(start=(1 - k) / 2, end=(1 + k) / 2, step=1, dtype=_torch.float64)
        g = _torch.exp(-_torch.pow(dist / float(s), 2) / 2)
        return g / g.sum()

    if len(set(ks)) == 1 and (kind == "uniform" or len(set(sig)) == 1):
        return one(ks[0], sig[0])
    return [one(k, s) for k, s in zip(ks, sig)]


def _plain(t):
    """A MetaTensor (or any tensor subclass) as a plain tensor, float32 or float64."""
    t = t.as_subclass(_torch.Tensor) if type(t) is not _torch.Tensor else t
    return t if t.dtype in (_torch.float32, _torch.float64) else t.to(_torch.float32)


def _check_dims(y_pred, spatial_dims):
    dims = y_pred.ndimension()
    if spatial_dims == 2 and dims != 4:
        raise ValueError(f"y_pred should have 4 dimensions (batch, channel, height, width) when using {spatial_dims} "
                         f"spatial dimensions, got {dims}.")
    if spatial_dims == 3 and dims != 5:
        raise ValueError(f"y_pred should have 5 dimensions (batch, channel, height, width, depth) when using "
                         f"{spatial_dims} spatial dimensions, got {dims}.")


def _per_image(y_pred, y, taps, data_range, k1, k2, cs_only=False):
    N, C = y_pred.shape[:2]
    values = planes(y_pred.reshape((N * C,) + tuple(y_pred.shape[2:])), y.reshape((N * C,) + tuple(y.shape[2:])),
                    taps=taps, data_range=float(data_range), K1=k1, K2=k2, cs_only=cs_only)
    return values.reshape(N, C).mean(1)


def _ssim(y_pred, y, spatial_dims, kernel_size, kernel_sigma, data_range=1.0, kernel_type="gaussian", k1=0.01,
          k2=0.03):
    """Each image's mean SSIM, shape (B, 1), float32: the mean over channels and pixels of the SSIM
    map of MONAI's ``compute_ssim_and_cs``, which is what its metric and loss take of it (the map
    itself is not reproduced, nor the contrast-structure map, which neither reads).

    Raises
    ------
    ValueError
        For tensors of different shapes, sides shorter than the window and values that are not
        finite.
    """
    _need_torch()
    if y.shape != y_pred.shape:
        raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
    y_pred, y = _plain(y_pred), _plain(y)
    taps = _taps(kernel_type, kernel_size, kernel_sigma, spatial_dims)
    return _per_image(y_pred, y, taps, data_range, k1, k2).to(_torch.float32).view(-1, 1)


def compute_ms_ssim(y_pred, y, spatial_dims, data_range=1.0, kernel_type="gaussian", kernel_size=11,
                    kernel_sigma=1.5, k1=0.01, k2=0.03, weights=WEIGHTS):
    """Each image's MS-SSIM as MONAI's ``compute_ms_ssim``, shape (B, 1), float32.

    Raises
    ------
    ValueError
        As MONAI (wrong rank; images too small for the scales), for sides shorter than the
        window and values that are not finite.
    """
    _need_torch()
    _check_dims(y_pred, spatial_dims)
    if y.shape != y_pred.shape:
        raise ValueError(f"y_pred and y should have same shapes, got {y_pred.shape} and {y.shape}.")
    ks = _per_axis(kernel_size, spatial_dims)
    div = max(1, (len(weights) - 1)) ** 2
    for i, n in enumerate(y_pred.shape[2:]):
        if n // div <= ks[i] - 1:
            raise ValueError(f"For a given number of `weights` parameters {len(weights)} and kernel size {ks[i]}, the "
                             f"image height must be larger than {(ks[i] - 1) * div}.")
    y_pred, y = _plain(y_pred), _plain(y)
    taps = _taps(kernel_type, kernel_size, kernel_sigma, spatial_dims)
    fused = scale_terms(y_pred, y, taps, float(data_range), k1, k2, len(weights), "monai")  # None: the loop
    terms = []
    for level in range(len(weights)):
        last = level == len(weights) - 1
        term = fused[level] if fused is not None else _per_image(y_pred, y, taps, data_range, k1, k2, cs_only=not last)
        terms.append(_torch.relu(term))
        if not last and fused is None:
            y_pred, y = avg_pool2(y_pred), avg_pool2(y)
    exponents = _torch.tensor(weights, device=terms[0].device, dtype=_torch.float).view(-1, 1)  # as MONAI
    value = _torch.prod(_torch.stack(terms) ** exponents.to(terms[0].dtype), dim=0)
    return value.to(_torch.float32).view(-1, 1)


def _classes():
    """MONAI's classes with their per-image value computed by fastssim."""
    from monai.losses import SSIMLoss as _Loss
    from monai.metrics import MultiScaleSSIMMetric as _MS
    from monai.metrics import SSIMMetric as _SSIM

    class SSIMMetric(_SSIM):
        """MONAI's ``SSIMMetric`` (cumulative buffer, ``aggregate``, ``reset``,
        ``get_not_nans``), each image's SSIM computed by fastssim."""

        def _compute_metric(self, y_pred, y):
            _check_dims(y_pred, self.spatial_dims)
            return _ssim(y_pred, y, self.spatial_dims, self.kernel_size, self.kernel_sigma, self.data_range,
                         self.kernel_type, self.k1, self.k2)

    class MultiScaleSSIMMetric(_MS):
        """MONAI's ``MultiScaleSSIMMetric``, each image's MS-SSIM computed by fastssim."""

        def _compute_metric(self, y_pred, y):
            return compute_ms_ssim(y_pred, y, self.spatial_dims, self.data_range, self.kernel_type,
                                   self.kernel_size, self.kernel_sigma, self.k1, self.k2, self.weights)

    class SSIMLoss(_Loss):
        """MONAI's ``SSIMLoss`` (``1 - SSIM`` of each image, reduced), SSIM computed by fastssim."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.ssim_metric = SSIMMetric(spatial_dims=self.spatial_dims, data_range=self._data_range,
                                          kernel_type=self.kernel_type, win_size=self.kernel_size,
                                          kernel_sigma=self.kernel_sigma, k1=self.k1, k2=self.k2)

    out = dict(SSIMMetric=SSIMMetric, MultiScaleSSIMMetric=MultiScaleSSIMMetric, SSIMLoss=SSIMLoss)
    for name, cls in out.items():
        cls.__qualname__ = name  # found by pickle as a module attribute
    return out


def __getattr__(name):
    """The classes, built on first use (they need MONAI installed)."""
    if name in ("SSIMMetric", "MultiScaleSSIMMetric", "SSIMLoss"):
        try:
            classes = _classes()
        except ImportError as exc:
            raise ImportError(f"fastssim.compat.monai.{name} is MONAI's class with fastssim's computation: it needs "
                              f"MONAI installed (pip install monai) ({exc})") from None
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
