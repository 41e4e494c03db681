"""
The first SSIM, and where it is lost
====================================

SSIM compares two images window by window; its mean is the score and its map shows where the
distorted image departs from the reference. Here one photograph is distorted three ways; PSNR ranks them
in one order and SSIM in another.
"""

import io

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage import data

import fastssim

ref = data.astronaut()[100:356, 120:376, 1]  # 256x256 grey uint8, public domain (NASA)
rng = np.random.default_rng(0)


def jpeg(img, quality):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf))


distorted = {
    "noise": np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255).astype(np.uint8),
    "JPEG, quality 10": jpeg(ref, 10),
    "brighter by 30": np.clip(ref.astype(int) + 30, 0, 255).astype(np.uint8),
}

# %%
# The scores: uint8 images take L = 255 from their dtype.

for name, dist in distorted.items():
    print(f"{name:18} SSIM {fastssim.ssim(ref, dist):.4f}   PSNR {fastssim.psnr(ref, dist):5.2f} dB   "
          f"MS-SSIM {fastssim.ms_ssim(ref, dist):.4f}")

# %%
# The maps: `ssim_map` returns one value per pixel (the input's shape; the border, where the
# window overhangs, is computed on the reflected image as scikit-image does, and left out of the
# mean).

fig, axes = plt.subplots(2, 4, figsize=(11, 5.8), layout="constrained")
axes[0, 0].imshow(ref, cmap="gray", vmin=0, vmax=255)
axes[0, 0].set_title("reference")
axes[1, 0].axis("off")
for col, (name, dist) in enumerate(distorted.items(), start=1):
    axes[0, col].imshow(dist, cmap="gray", vmin=0, vmax=255)
    axes[0, col].set_title(name)
    im = axes[1, col].imshow(fastssim.ssim_map(ref, dist), cmap="magma", vmin=0, vmax=1)
    axes[1, col].set_title(f"SSIM map, mean {fastssim.ssim(ref, dist):.3f}")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(im, ax=axes[1, 1:], shrink=0.8, label="SSIM")
plt.show()

# %%
# Noise is lost everywhere, most in flat regions; JPEG's loss follows its 8x8 blocks and the
# edges. The uniform change of brightness has the lowest PSNR of the three and the highest SSIM:
# SSIM's luminance term compares the local means relative to their size, so the change costs
# little where the image is bright and much in the dark suit, where 30 levels is a large step.
