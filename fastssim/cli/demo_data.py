"""A small generated dataset for ``fastssim demo``: procedural images and volumes with
common distortions (blur, noise, JPEG), written as real files."""

import io
import os

import imageio.v3 as iio
import numpy as np

from .signals import raise_if_stopped


def _gaussian_blur(a, sigma, axes):
    r = int(3 * sigma + 0.5)
    t = np.arange(-r, r + 1)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    w /= w.sum()
    out = a.astype(np.float64)
    for ax in axes:
        pad = [(0, 0)] * out.ndim
        pad[ax] = (r, r)
        p = np.pad(out, pad, mode="symmetric")
        out = sum(w[i] * np.take(p, np.arange(i, i + out.shape[ax]), axis=ax) for i in range(len(w)))
    return out


def _image(rng, size):
    yy, xx = np.mgrid[:size, :size] / size
    f = rng.uniform(2, 12, 3)
    base = np.stack([np.sin(2 * np.pi * (f[c] * xx + rng.uniform() * yy) + rng.uniform(0, 6)) for c in range(3)], -1)
    img = 128 + 60 * base
    for _ in range(6):  # a few flat discs: edges and flat regions
        cx, cy, rad = rng.uniform(0, 1, 2).tolist() + [rng.uniform(0.05, 0.2)]
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 < rad ** 2
        img[mask] = rng.uniform(0, 255, 3)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def _jpeg(img, quality):
    return iio.imread(io.BytesIO(iio.imwrite("<bytes>", img, extension=".jpg", quality=quality)))


def make_dataset(root, n_images=24, n_volumes=3, size=256, seed=0):
    """Write ``root/ref`` and ``root/{blur,noise,jpeg}`` (PNG images and .npy volumes).

    Returns
    -------
    dict
        ``{method: directory}`` of the distorted trees.
    """
    rng = np.random.default_rng(seed)
    dirs = {m: os.path.join(root, m) for m in ("ref", "blur", "noise", "jpeg")}
    for d in dirs.values():
        os.makedirs(os.path.join(d, "images"), exist_ok=True)
        os.makedirs(os.path.join(d, "volumes"), exist_ok=True)
    for i in range(n_images):
        raise_if_stopped()  # a stop signal whose exception a writer's destructor swallowed
        img = _image(rng, size)
        name = os.path.join("images", f"img{i:03d}.png")
        iio.imwrite(os.path.join(dirs["ref"], name), img)
        iio.imwrite(os.path.join(dirs["blur"], name),
                    np.clip(_gaussian_blur(img, 1.0 + i % 3, (0, 1)), 0, 255).round().astype(np.uint8))
        iio.imwrite(os.path.join(dirs["noise"], name),
                    np.clip(img + rng.normal(0, 5 + 3 * (i % 4), img.shape), 0, 255).astype(np.uint8))
        iio.imwrite(os.path.join(dirs["jpeg"], name), _jpeg(img, 10 + 10 * (i % 5)))
    for i in range(n_volumes):
        raise_if_stopped()
        z, yy, xx = np.mgrid[:48, :64, :64] / 64.0
        vol = (100 + 80 * np.sin(2 * np.pi * (3 * xx + 2 * yy + (i + 1) * z)) + rng.normal(0, 3, z.shape))
        vol = np.clip(vol, 0, 255).astype(np.uint8)
        name = os.path.join("volumes", f"vol{i:02d}.npy")
        np.save(os.path.join(dirs["ref"], name), vol)
        np.save(os.path.join(dirs["blur"], name), np.clip(_gaussian_blur(vol, 1.5, (0, 1, 2)), 0, 255).astype(np.uint8))
        np.save(os.path.join(dirs["noise"], name), np.clip(vol + rng.normal(0, 10, vol.shape), 0, 255).astype(np.uint8))
        np.save(os.path.join(dirs["jpeg"], name), np.stack([_jpeg(s, 30) for s in vol]))
    raise_if_stopped()
    return {m: d for m, d in dirs.items() if m != "ref"}, dirs["ref"]


def make_samples(root):
    """Write one small pair of each kind the demo scores under ``root``: an RGB PNG pair and a
    uint8 .npy volume pair, as `make_dataset` writes them. Returns ``[(ref, dist), ...]``."""
    rng = np.random.default_rng(1)
    os.makedirs(root, exist_ok=True)
    img = _image(rng, 48)
    vol = np.clip(100 + rng.normal(0, 30, (16, 24, 24)), 0, 255).astype(np.uint8)
    pairs = [(os.path.join(root, "a.png"), os.path.join(root, "b.png")),
             (os.path.join(root, "a.npy"), os.path.join(root, "b.npy"))]
    iio.imwrite(pairs[0][0], img)
    iio.imwrite(pairs[0][1], _jpeg(img, 30))
    np.save(pairs[1][0], vol)
    np.save(pairs[1][1], np.clip(vol + rng.normal(0, 10, vol.shape), 0, 255).astype(np.uint8))
    return pairs
