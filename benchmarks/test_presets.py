"""The presets beside the libraries they reproduce, warm, in one run (same inputs, same
numbers; the peers on the CPU):

    python -m pytest benchmarks/test_presets.py -q

ffmpeg: the ``ssim`` filter of the ffmpeg binary on the same frames as raw grey video (one
process per run, its start-up included, about 40 ms here), against ``ssim_batch`` with
``preset="ffmpeg"``.
"""

import shutil
import subprocess

import numpy as np
import pytest

import fastssim


def _noise(img, sigma, seed):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _rgb(size):
    from skimage import data
    img = np.tile(data.astronaut(), (size // 512 + 1, size // 512 + 1, 1))[:size, :size]
    return img, _noise(img, 20.0, 1)


def _frames(n=16, h=1080, w=1920):
    from skimage import data
    img = np.tile(data.astronaut()[..., 1], (3, 4))[:h, :w]
    rng = np.random.default_rng(0)
    ref = np.stack([np.roll(img, 7 * i, axis=1) for i in range(n)])
    dist = np.clip(ref + rng.normal(0, 6, ref.shape), 0, 255).astype(np.uint8)
    return ref, dist


def _ffmpeg_binary(ref_path, dist_path, shape):
    n, h, w = shape
    raw = ["-f", "rawvideo", "-pix_fmt", "gray", "-s", f"{w}x{h}"]
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", *raw, "-i", ref_path, *raw, "-i", dist_path,
                          "-lavfi", "ssim", "-f", "null", "-"], capture_output=True, text=True, check=True)
    return float(out.stderr.rsplit("All:", 1)[1].split()[0])


@pytest.mark.parametrize("impl", ["fastssim", "ffmpeg binary"])
def test_ffmpeg(benchmark, record, tmp_path, impl):
    ref, dist = _frames()
    benchmark.group = "ffmpeg ssim filter, 16 1080p grey frames"
    ours = float(fastssim.ssim_batch(ref, dist, preset="ffmpeg").mean())  # warm-up (compiles)
    if impl == "fastssim":
        benchmark.pedantic(fastssim.ssim_batch, args=(ref, dist), kwargs=dict(preset="ffmpeg", backend="cpu"),
                           rounds=5, iterations=1)
    else:
        if shutil.which("ffmpeg") is None:
            pytest.skip("no ffmpeg binary (Debian package ffmpeg)")
        paths = [str(tmp_path / "ref.gray"), str(tmp_path / "dist.gray")]
        ref.tofile(paths[0])
        dist.tofile(paths[1])
        assert _ffmpeg_binary(*paths, ref.shape) == pytest.approx(ours, abs=1e-6)  # its 'All' line
        benchmark.pedantic(_ffmpeg_binary, args=(*paths, ref.shape), rounds=5, iterations=1)
    record("ffmpeg 16x1080p grey", impl, ref.size)


def _torch_peer(benchmark, record, impl, group, fast, peer, rounds=5):
    """A 1024x1024 RGB float32 pair scored by fastssim (``fast(x, y)``) or by a PyTorch peer
    (``peer(X, Y)`` on (1, 3, H, W) tensors), warm."""
    torch = pytest.importorskip("torch")
    x, y = _rgb(1024)
    x, y = x.astype(np.float32) / 255, y.astype(np.float32) / 255
    X, Y = (torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None])) for a in (x, y))

    def run():
        return fast(x, y) if impl == "fastssim" else float(peer(X, Y))
    benchmark.group = group
    run()
    benchmark.pedantic(run, rounds=rounds, iterations=1)
    record(group, impl, x.size)


@pytest.mark.parametrize("impl", ["fastssim", "kornia"])
def test_kornia(benchmark, record, impl):
    kornia = pytest.importorskip("kornia")
    _torch_peer(benchmark, record, impl, "kornia 1024x1024 RGB f32",
                lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="kornia", data_range=1.0, backend="cpu"),
                lambda X, Y: kornia.metrics.ssim(X, Y, 11, max_val=1.0).mean())


@pytest.mark.parametrize("impl", ["fastssim", "torchmetrics"])
def test_torchmetrics_msssim(benchmark, record, impl):
    tm = pytest.importorskip("torchmetrics.functional.image")
    _torch_peer(benchmark, record, impl, "torchmetrics MS-SSIM 1024 RGB",
                lambda x, y: fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics", backend="cpu"),
                tm.multiscale_structural_similarity_index_measure)


@pytest.mark.parametrize("impl", ["fastssim", "sewar"])
def test_sewar_msssim(benchmark, record, impl):
    sewar = pytest.importorskip("sewar.full_ref")
    x, y = _rgb(512)
    x, y = x[..., 1], y[..., 1]
    if impl == "fastssim":
        def run():
            return fastssim.ms_ssim(x, y, preset="sewar", backend="cpu")
    else:
        def run():
            return sewar.msssim(x, y)
    benchmark.group = "sewar msssim 512x512 grey"
    run()
    benchmark.pedantic(run, rounds=3, iterations=1)
    record("sewar msssim 512x512 grey", impl, x.size)
