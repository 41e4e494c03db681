"""
SSIM as a loss, without PyTorch
===============================

`fastssim.ssim_with_gradient` returns SSIM and its exact gradient with respect to the second
image. Starting from noise and climbing that gradient with Adam (a dozen lines of NumPy) turns the
noise into the target; `fastssim demo --loss` does the same and writes an animated GIF.
"""

import matplotlib.pyplot as plt
import numpy as np
from skimage import data
from skimage.transform import resize

import fastssim

target = resize(data.astronaut()[30:290, 110:370], (96, 96), anti_aliasing=True)  # RGB floats in [0, 1]
rng = np.random.default_rng(0)
current = rng.random(target.shape)

m = np.zeros_like(current)
v = np.zeros_like(current)
lr, beta1, beta2 = 0.03, 0.9, 0.999
snapshots, history = {}, []
for step in range(1, 121):
    value, grad = fastssim.ssim_with_gradient(target, current, data_range=1.0, channel_axis=-1)
    history.append(value)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    current = np.clip(current + lr * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8), 0, 1)
    if step in (1, 10, 30, 120):
        snapshots[step] = (current.copy(), value)
print(f"SSIM: step 1 {history[0]:.3f}, step 30 {history[29]:.3f}, step 120 {history[-1]:.3f}")

# %%
fig, axes = plt.subplots(1, 6, figsize=(13, 2.8), layout="constrained",
                         gridspec_kw=dict(width_ratios=[1, 1, 1, 1, 1, 1.6]))
for ax, (step, (img, value)) in zip(axes, snapshots.items()):
    ax.imshow(img)
    ax.set_title(f"step {step}: {value:.3f}")
axes[4].imshow(target)
axes[4].set_title("target")
for ax in axes[:5]:
    ax.axis("off")
axes[5].plot(range(1, len(history) + 1), history)
axes[5].set_xlabel("step")
axes[5].set_ylabel("SSIM")
axes[5].grid(alpha=0.4)
plt.show()
