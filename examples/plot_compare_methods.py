"""
Comparing two methods on a dataset
==================================

Score a small dataset with two "methods" into a Parquet dataset, then ask whether one is better
than the other pair by pair, as `fastssim report --baseline` does on the command line.
"""

import tempfile
from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from skimage import data
from skimage.transform import rescale

import fastssim

photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
refs = [np.ascontiguousarray(p[:256, :256]) for p in photos]


def upscale(img, order):
    """2x down, then 2x up by interpolation of the given order (0 nearest, 3 bicubic)."""
    small = rescale(img, 0.5, channel_axis=-1, anti_aliasing=True)
    return (np.clip(rescale(small, 2, order=order, channel_axis=-1), 0, 1) * 255 + 0.5).astype(np.uint8)


work = Path(tempfile.mkdtemp())
pairs = []
for i, ref in enumerate(refs):
    iio.imwrite(work / f"ref{i}.png", ref)
    for method, order in (("nearest", 0), ("bicubic", 3)):
        iio.imwrite(work / f"{method}{i}.png", upscale(ref, order))
        pairs.append((method, str(work / f"ref{i}.png"), str(work / f"{method}{i}.png")))

# %%
# `score_dataset` writes the same resumable Parquet dataset as `fastssim score`, with SSIM and
# PSNR of every pair, and returns a summary of the run.

out = work / "scores"
print(fastssim.score_dataset(pairs, out, metrics="ssim,psnr"))
rows = pd.read_parquet(out)
print(rows.groupby("method")[["ssim", "psnr"]].mean())

# %%
# Pair by pair: the bicubic result against the nearest-neighbour one on the same references.

wide = rows.pivot(index="ref", columns="method", values="ssim")  # one row per reference
diff = wide["bicubic"] - wide["nearest"]
print(f"bicubic - nearest: mean {diff.mean():+.4f}, wins {int((diff > 0).sum())} of {len(diff)}")

fig, ax = plt.subplots(figsize=(4.5, 4), layout="constrained")
ax.scatter(wide["nearest"], wide["bicubic"])
lo, hi = float(wide.min().min()) - 0.02, float(wide.max().max()) + 0.02
ax.plot([lo, hi], [lo, hi], color="gray", lw=1)
ax.set_xlabel("SSIM, nearest neighbour")
ax.set_ylabel("SSIM, bicubic")
ax.set_title("one point per image")
plt.show()
