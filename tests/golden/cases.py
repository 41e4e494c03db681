"""The calls whose values the golden file records: every public metric, preset, dtype, layout,
mask, batch and slice path, on real photographs (scikit-image's public-domain astronaut and
camera, shipped with scikit-image) and seeded noise.

``python tests/golden/cases.py --write`` records them (before a change); `test_golden.py` recomputes
them and compares (after it). Each case is a name and a function of no arguments that returns an
array or a float (or a tuple of them).
"""

import argparse
import pathlib
import platform

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
FILE = HERE / "values.npz"


def _inputs():
    from skimage import data, util

    rgb = data.astronaut()[128:384, 96:352]  # 256 x 256 x 3 uint8
    grey = data.camera()[100:292, 150:342]  # 192 x 192 uint8
    rng = np.random.default_rng(20261205)
    noisy = np.clip(grey.astype(np.int16) + rng.normal(0, 20, grey.shape).round().astype(np.int16), 0, 255)
    noisy = noisy.astype(np.uint8)
    rgb_j = np.clip(rgb.astype(np.int16) + rng.integers(-30, 31, rgb.shape), 0, 255).astype(np.uint8)
    vol = rng.random((24, 40, 36))
    vol_d = vol + 0.1 * rng.standard_normal(vol.shape)
    return dict(grey=grey, noisy=noisy, rgb=rgb, rgb_j=rgb_j, vol=vol, vol_d=vol_d,
                f32=util.img_as_float32(grey), f32_d=util.img_as_float32(noisy))


def cases():
    import fastssim as fs
    from fastssim.conventions import presets

    d = _inputs()
    g, n, c, cj = d["grey"], d["noisy"], d["rgb"], d["rgb_j"]
    out = {}

    def case(name):
        def put(f):
            out[name] = f
            return f
        return put

    for dt in ("uint8", "uint16", "int16", "int32", "float16", "float32", "float64"):
        scale = {"uint8": 1, "uint16": 257, "int16": 100, "int32": 1000}.get(dt, 1 / 255)
        a, b = (g * np.float64(scale)).astype(dt), (n * np.float64(scale)).astype(dt)
        rng_arg = None if dt in ("uint8", "uint16", "int16") else 255.0 * scale
        out[f"ssim/{dt}"] = lambda a=a, b=b, r=rng_arg: fs.ssim(a, b, data_range=r)
        out[f"ms_ssim/{dt}"] = lambda a=a, b=b, r=rng_arg: fs.ms_ssim(a[:176, :176], b[:176, :176], data_range=r,
                                                                      weights=fs.MS_SSIM_WEIGHTS[:3])
    out["ssim/rgb"] = lambda: fs.ssim(c, cj, channel_axis=-1)
    out["ssim/rgb-planar"] = lambda: fs.ssim(np.moveaxis(c, -1, 0), np.moveaxis(cj, -1, 0), channel_axis=0)
    out["ssim/fortran"] = lambda: fs.ssim(np.asfortranarray(g), np.asfortranarray(n))
    out["ssim/uniform-sample"] = lambda: fs.ssim(g, n, win_size=7, gaussian=False, sample_covariance=True)
    out["ssim/k"] = lambda: fs.ssim(g, n, K1=0.02, K2=0.05, sigma=2.0, win_size=13)
    out["ssim/3d"] = lambda: fs.ssim(d["vol"], d["vol_d"], data_range=1.0, win_size=7)
    out["ssim/mask"] = lambda: fs.ssim(g, n, mask=g > 100)
    gs, ns = g[:48, :56], n[:48, :56]  # full maps and gradients: small, so the file stays small
    fs_, fd_ = d["f32"][:48, :56], d["f32_d"][:48, :56]
    out["ssim_map/same"] = lambda: fs.ssim_map(gs, ns)
    out["ssim_map/valid"] = lambda: fs.ssim_map(gs, ns, mode="valid")
    out["ssim_batch"] = lambda: fs.ssim_batch(np.stack([g, n, g]), np.stack([n, g, g[::-1]]))
    out["ssim_batch/rgb"] = lambda: fs.ssim_batch(np.stack([c, cj]), np.stack([cj, c[::-1]]), channel_axis=-1)
    out["ssim_slices"] = lambda: fs.ssim_slices(d["vol"], d["vol_d"], data_range=1.0, axis=1)
    out["dssim"] = lambda: fs.dssim(g, n)
    out["psnr"] = lambda: fs.psnr(g, n)
    out["psnr/f32"] = lambda: fs.psnr(d["f32"], d["f32_d"], data_range=1.0)
    out["mse"] = lambda: fs.mse(g, n)
    out["mse/mask"] = lambda: fs.mse(g, n, mask=g > 100)
    out["mse_batch"] = lambda: fs.mse_batch(np.stack([g, n]), np.stack([n, n]))
    out["l2"] = lambda: fs.l2_channels(c, cj, channel_axis=-1)
    out["cosine"] = lambda: fs.cosine_channels(c, cj, channel_axis=-1)
    out["l2/grey"] = lambda: fs.l2(g, n)
    out["cosine/grey"] = lambda: fs.cosine(g, n)
    out["ms_ssim/rgb"] = lambda: fs.ms_ssim(c, cj, channel_axis=-1)
    out["ms_ssim/3d"] = lambda: fs.ms_ssim(d["vol"], d["vol_d"], data_range=1.0, win_size=3,
                                           weights=fs.MS_SSIM_WEIGHTS[:2])
    out["ms_ssim_batch"] = lambda: fs.ms_ssim_batch(np.stack([g, n]), np.stack([n, g[::-1]]))
    out["ms_ssim_slices"] = lambda: fs.ms_ssim_slices(np.stack([g, n]), np.stack([n, n]), weights=fs.MS_SSIM_WEIGHTS[:3])
    out["cw_ssim"] = lambda: fs.cw_ssim(g, n)
    out["three_ssim"] = lambda: fs.three_ssim(g, n)
    out["ssim_with_gradient"] = lambda: fs.ssim_with_gradient(fs_, fd_, data_range=1.0)
    out["ssim_batch_with_gradient"] = lambda: fs.ssim_batch_with_gradient(
        np.stack([fs_, fd_]), np.stack([fd_, fd_]), data_range=1.0)
    out["ms_ssim_batch_with_gradient"] = lambda: fs.ms_ssim_batch_with_gradient(
        d["f32"][None, :96, :96], d["f32_d"][None, :96, :96], data_range=1.0, weights=fs.MS_SSIM_WEIGHTS[:3])
    for name, p in presets.PRESETS.items():
        out[f"preset/{name}/grey"] = lambda name=name: fs.ssim(g, n, preset=name)
        out[f"preset/{name}/rgb"] = lambda name=name: fs.ssim(c, cj, channel_axis=-1, preset=name)
        out[f"preset/{name}/float"] = lambda name=name: fs.ssim(d["f32"], d["f32_d"], preset=name, data_range=1.0)
        if p.ms_ssim:
            out[f"preset/{name}/ms"] = lambda name=name: fs.ms_ssim(c, cj, channel_axis=-1, preset=name)
    out["y_channel"] = lambda: fs.ssim(c, cj, channel_axis=-1, y_channel=True, crop_border=4)
    return out


def device_cases(backend):
    """Cases that take ``backend``, on crops small enough for Numba's CUDA simulator: recorded on
    the CPU, compared on the CUDA backend (simulated in CI, real on a GPU) to its tolerance."""
    import fastssim as fs

    d = _inputs()
    g, n = d["grey"][40:70, 60:97], d["noisy"][40:70, 60:97]
    c, cj = d["rgb"][:20, :23], d["rgb_j"][:20, :23]
    v, vd = d["vol"][:9, :10, :12], d["vol_d"][:9, :10, :12]
    f, fd = d["f32"][40:70, 60:97], d["f32_d"][40:70, 60:97]
    kw = dict(backend=backend)
    return {
        "dev/ssim": lambda: fs.ssim(g, n, **kw),
        "dev/ssim/f32": lambda: fs.ssim(f, fd, data_range=1.0, **kw),
        "dev/ssim/rgb": lambda: fs.ssim(c, cj, channel_axis=-1, win_size=7, **kw),
        "dev/ssim/3d": lambda: fs.ssim(v, vd, data_range=1.0, win_size=5, **kw),
        "dev/ssim/mask": lambda: fs.ssim(g, n, mask=g > 100, **kw),
        "dev/ssim_map": lambda: fs.ssim_map(g, n, **kw),
        "dev/ssim_batch": lambda: fs.ssim_batch(np.stack([g, n]), np.stack([n, n]), **kw),
        "dev/ms_ssim": lambda: fs.ms_ssim(g, n, win_size=3, weights=fs.MS_SSIM_WEIGHTS[:3], **kw),
        "dev/psnr": lambda: fs.psnr(g, n, **kw),
        "dev/mse": lambda: fs.mse(g, n, **kw),
        "dev/cosine": lambda: fs.cosine_channels(c, cj, channel_axis=-1, **kw),
        "dev/gradient": lambda: fs.ssim_with_gradient(f, fd, data_range=1.0, win_size=7, **kw),
    }


def flat(value):
    """A case's value as one float64 array (tuples and gradients concatenated, in order)."""
    if isinstance(value, tuple):
        return np.concatenate([flat(v) for v in value])
    a = np.asarray(getattr(value, "filled", lambda v: value)(np.nan), dtype=np.float64)
    return a.ravel()


def compute(names=None, backend=None):
    """Every case's value (``backend``: the device cases only, on that backend)."""
    out = {}
    todo = cases() | device_cases("cpu") if backend is None else device_cases(backend)
    for name, f in todo.items():
        if names is None or name in names:
            out[name] = flat(f())
    return out


def machine():
    import numba

    return f"{platform.machine()} {numba.config.CPU_NAME or __import__('llvmlite.binding').binding.get_host_cpu_name()}"


#: The simulator's settings of tests/conftest.py (small blocks: several blocks, halos, depth chunks).
SIMULATOR = dict(NUMBA_ENABLE_CUDASIM="1", FASTSSIM_CUDA_TILE_H="4", FASTSSIM_CUDA_TILE_W="8",
                 FASTSSIM_CUDA_DEPTH_CHUNK="3", FASTSSIM_CUDA_REDUCE_THREADS="32")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"write {FILE}")
    ap.add_argument("--device-values", help="write the device cases on the CUDA backend to this .npz")
    ap.add_argument("--values", help="write the (CPU) values to this .npz")
    a = ap.parse_args(argv)
    if a.values:
        np.savez(a.values, **compute())
        return
    if a.device_values:
        np.savez(a.device_values, **{f"cuda:{k}": v for k, v in compute(backend="cuda").items()})
        return
    values = compute()
    print(f"{len(values)} cases on {machine()}")
    if a.write:
        import os
        import subprocess
        import sys
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            dev = os.path.join(tmp, "dev.npz")
            subprocess.run([sys.executable, __file__, "--device-values", dev], check=True,
                           env=dict(os.environ, **SIMULATOR))
            values.update(dict(np.load(dev)))
        np.savez_compressed(FILE, __machine__=np.array(machine()), **values)
        print(f"wrote {FILE} ({len(values)} values, the CUDA ones from the simulator)")


if __name__ == "__main__":
    main()
