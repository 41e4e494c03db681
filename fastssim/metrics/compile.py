"""Compiling the kernels ahead of time into Numba's disk cache (``fastssim compile``,
`fastssim.compile`), so that a container image, a cluster node or a CI job is prepared once and
its first real call loads instead of compiling.

Each specialisation is compiled by calling the public function that uses it on a small input, in
worker processes (Numba compiles one function at a time per process). Numba's cache index of a
function is rewritten whole by each process that adds to it, so two processes compiling
specialisations of one function at once can lose an entry; a last pass in one fresh process loads
every specialisation and compiles what was lost, so the cache ends complete (the summary says how
many it had to redo).
"""

import concurrent.futures
import multiprocessing
import os
import sys
import time

import numpy as np

#: What ``fastssim compile`` prepares: a name and the call that compiles it (on a small input).
#: COMMON: the dtypes and layouts most data come in; the rest with ``--all``.
COMMON = ("ssim-uint8", "ssim-uint8-rgb", "ssim-uint16", "ssim-float32", "ssim-float64", "ssim-float32-volume",
          "ms_ssim-uint8", "ssim_map-float32", "psnr-uint8", "gradient-float32", "png-decoder")
EXTRA = ("ssim-int16", "ssim-int32", "ssim-float16", "ssim-uint8-volume", "ssim-uint8-mask", "ssim-uint8-uniform",
         "ms_ssim-float32", "ms_ssim-uint8-rgb", "l2-cosine-uint8", "ssim-ffmpeg", "gradient-float32-volume")


def _pair(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 200, shape)
    y = np.clip(x + rng.integers(-20, 21, shape), 0, 255)
    if np.dtype(dtype).kind == "f":
        return (x / 255).astype(dtype), (y / 255).astype(dtype)
    return x.astype(dtype), y.astype(dtype)


def _call(name):
    """Run the call named ``name`` (in a worker process)."""
    from .. import metrics as fs

    img, rgb, vol, ms = (48, 48), (48, 48, 3), (16, 16, 16), (176, 176)
    kind, _, rest = name.partition("-")
    dtype = rest.split("-")[0]
    f = dict(data_range=1.0) if dtype.startswith("float") else {}
    if name == "ssim-uint8-rgb":
        fs.ssim(*_pair("uint8", rgb), channel_axis=-1)
    elif name.endswith("-volume") and kind == "ssim":
        fs.ssim(*_pair(dtype, vol), **f)
    elif name == "ssim-uint8-mask":
        x, y = _pair("uint8", img)
        fs.ssim(x, y, mask=x > 100)
    elif name == "ssim-uint8-uniform":  # scikit-image's, in float64: exact integer sums (`kernels.exact`)
        fs.ssim(*_pair("uint8", img), preset="skimage")
    elif name == "ssim-ffmpeg":
        fs.ssim(*_pair("uint8", img), preset="ffmpeg")
    elif kind == "ssim":
        fs.ssim(*_pair(dtype, img), **f)
    elif name == "ms_ssim-uint8-rgb":
        fs.ms_ssim(*_pair("uint8", ms + (3,)), channel_axis=-1)
    elif kind == "ms_ssim":
        fs.ms_ssim(*_pair(dtype, ms), **f)
    elif kind == "ssim_map":
        fs.ssim_map(*_pair(dtype, img), **f)
    elif kind == "psnr":
        x, y = _pair(dtype, img)
        fs.psnr(x, y), fs.mse_batch(x[None], y[None])
    elif kind == "l2":
        fs.l2(*_pair(dtype, img)), fs.cosine(*_pair(dtype, img))
    elif name == "gradient-float32-volume":
        fs.ssim_with_gradient(*_pair(dtype, vol), data_range=1.0)
    elif name == "png-decoder":  # the built-in PNG decoder's kernel (``fastssim score`` reads PNG files with it)
        from ..io.png_filters import unfilter_call

        function, args = unfilter_call()
        function(*args)
    elif kind == "gradient":
        x, y = _pair(dtype, img)
        fs.ssim_with_gradient(x, y, data_range=1.0), fs.ssim_batch_with_gradient(x[None], y[None], data_range=1.0)
    else:
        raise ValueError(f"unknown kernel set {name!r}; choose from {', '.join(COMMON + EXTRA)}")


class _Counter:
    """Counts Numba's compile events (a compiled specialisation), not loads from the cache."""

    def __init__(self):
        from numba.core import event

        class Listener(event.Listener):
            count = 0

            def on_start(self, ev):
                pass

            def on_end(self, ev):
                Listener.count += 1

        self.listener = Listener()
        self.event = event

    def __enter__(self):
        self.event.register("numba:compile", self.listener)
        return self

    def __exit__(self, *exc):
        self.event.unregister("numba:compile", self.listener)

    @property
    def count(self):
        return self.listener.count


def _work(names):
    """In a worker: compile ``names``; ``[(name, seconds, compiled specialisations)]``. The workers
    are the parallelism here: each compiles its sets itself, with no helper processes of its own
    (`kernels.ahead`), so that every specialisation is counted where it is compiled."""
    from .. import config as cfg

    out = []
    before, cfg.COMPILE_AHEAD = cfg.COMPILE_AHEAD, False
    try:
        for name in names:
            t = time.perf_counter()
            with _Counter() as c:
                _call(name)
            out.append((name, time.perf_counter() - t, c.count))
    finally:
        cfg.COMPILE_AHEAD = before
    return out


def cache_dir():
    """Where Numba caches fastssim's kernels: ``__pycache__`` beside the sources, ``NUMBA_CACHE_DIR``,
    or, where the package directory cannot be written (a system or container install), Numba's
    per-user cache directory; and whether it is that fallback."""
    from ..kernels.cpu import ssim as kernel

    path = kernel.ssim_sums._cache._cache_path
    in_tree = os.path.join(os.path.dirname(os.path.abspath(kernel.__file__)), "__pycache__")
    from numba.core import config

    return path, not config.CACHE_DIR and os.path.abspath(path) != in_tree


def compile(which="common", *, only=None, workers=None, progress=sys.stderr):  # noqa: A001 - the verb users know
    """Compile fastssim's kernels into Numba's disk cache, in ``workers`` processes (default: the
    cores), so that later processes load them (about 0.2 s) instead of compiling (seconds each).

    Parameters
    ----------
    which : {'common', 'all'}
        'common': the dtypes and layouts most data come in (uint8, uint16, float32, float64 grey,
        uint8 RGB, float32 volumes, MS-SSIM, maps, PSNR/MSE, the gradient); 'all' adds int16,
        int32, float16, uint8 volumes, masks, L2/cosine, ffmpeg's grid, RGB MS-SSIM and the 3-D
        gradient.
    only : sequence of str, optional
        These kernel sets (names from `COMMON` and `EXTRA`) instead.
    workers : int, optional
        Processes compiling at once (default: the cores, at most one per kernel set).
    progress : file or None
        Where a line per compiled set is written (None: silent).

    Returns
    -------
    dict
        ``cache`` (the directory), ``fallback`` (True when the package directory is not
        writable and the per-user cache is used), ``compiled`` (``{name: seconds}``),
        ``recompiled`` (specialisations the last pass had to compile again).
    """
    names = list(only) if only is not None else list(COMMON + (EXTRA if which == "all" else ()))
    for name in names:
        if name not in COMMON + EXTRA:
            raise ValueError(f"unknown kernel set {name!r}; choose from {', '.join(COMMON + EXTRA)}")
    if which not in ("common", "all"):
        raise ValueError(f"which must be 'common' or 'all', got {which!r}")
    path, fallback = cache_dir()
    say = (lambda s: (progress.write(s + "\n"), progress.flush())) if progress is not None else (lambda s: None)
    workers = max(1, min(workers or os.cpu_count() or 1, len(names)))
    say(f"compiling {len(names)} kernel sets in {workers} processes into {path}"
        + (" (the package directory is not writable: Numba's per-user cache)" if fallback else ""))
    done = {}
    t0 = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as ex:
        # one task per set, largest first: a free process takes the next (compile times differ 10x)
        for fut in concurrent.futures.as_completed([ex.submit(_work, [n]) for n in names]):
            for name, seconds, _ in fut.result():
                done[name] = seconds
                say(f"[{len(done)}/{len(names)}] {name}: {seconds:.1f} s")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as ex:  # every set loads, or is redone
        redo = sum(n for _, _, n in ex.submit(_work, names).result())
    say(f"done in {time.perf_counter() - t0:.1f} s" + (f"; {redo} specialisations compiled again (lost by "
                                                         "concurrent cache writes)" if redo else ""))
    return {"cache": path, "fallback": fallback, "compiled": done, "recompiled": redo}
