"""``fastssim demo --loss``: SSIM as a loss, shown the way SSIM tutorials show it.

Random noise is optimised towards a target image (or volume) by gradient ascent on SSIM
with Adam, written in NumPy (no PyTorch): the gradient is `fastssim.ssim_with_gradient`'s,
exact for the mean SSIM. Every Nth step is drawn as a frame with its SSIM written on it, and
the frames become an animated GIF (imageio).
"""

import os

import numpy as np

from ..metrics.gradient import ssim_with_gradient

#: Adam's hyper-parameters (Kingma & Ba's defaults, with a larger step: SSIM's gradient per
#: pixel is small, and Adam divides its scale out).
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def builtin_target(volume=False, size=128, seed=1):
    """The demo's own target: a generated RGB image (float64 in [0, 1]), or a grey volume."""
    if volume:
        z, yy, xx = np.mgrid[:24, :size // 2, :size // 2] / (size / 2)
        vol = 0.5 + 0.3 * np.sin(2 * np.pi * (2 * xx + yy + 0.7 * z)) * np.cos(2 * np.pi * (xx - 2 * yy))
        ball = (xx - 0.5) ** 2 + (yy - 0.5) ** 2 + (z * 2 - 0.5) ** 2 < 0.09
        vol[ball] = 0.9
        return np.clip(vol, 0, 1)
    from .demo_data import _image

    return _image(np.random.default_rng(seed), size).astype(np.float64) / 255.0


def as_target(img):
    """A user's image as float64 in [0, 1] (integer dtypes by their range, floats by their
    span); RGBA loses its alpha."""
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 4:
        img = img[..., :3]
    if img.dtype.kind in "ui":
        return img.astype(np.float64) / np.iinfo(img.dtype).max
    img = img.astype(np.float64)
    lo, hi = float(img.min()), float(img.max())
    if hi == lo:
        raise ValueError("the target image is flat (one value everywhere): SSIM has nothing to match")
    return (img - lo) / (hi - lo)


def optimise(target, *, steps=500, lr=0.03, goal=0.95, seed=0, channel_axis=None):
    """Adam ascent on ``ssim(target, current)`` from uniform noise, kept in [0, 1].

    Yields
    ------
    (step, ssim, current)
        Step 0 is the starting noise; the last step is the first with SSIM >= ``goal``, or
        ``steps``. ``ssim`` is the SSIM of ``current`` as yielded.
    """
    rng = np.random.default_rng(seed)
    cur = rng.random(target.shape)
    m = np.zeros_like(cur)
    v = np.zeros_like(cur)
    for step in range(steps + 1):
        value, grad = ssim_with_gradient(target, cur, data_range=1.0, channel_axis=channel_axis)
        yield step, value, cur
        if value >= goal or step == steps:
            return
        m = BETA1 * m + (1 - BETA1) * grad
        v = BETA2 * v + (1 - BETA2) * grad * grad
        m_hat = m / (1 - BETA1 ** (step + 1))
        v_hat = v / (1 - BETA2 ** (step + 1))
        cur = np.clip(cur + lr * m_hat / (np.sqrt(v_hat) + EPS), 0.0, 1.0)  # ascent: SSIM up


def frame(target, current, step, value, volume=False):
    """The target and the current image side by side (middle slices of volumes), enlarged to
    at least 256 px high, with the step and SSIM written under them: uint8 RGB."""
    from PIL import Image, ImageDraw, ImageFont

    if volume:
        target, current = target[target.shape[0] // 2], current[current.shape[0] // 2]
    pair = np.concatenate([target, np.ones(target.shape[:1] + (4,) + target.shape[2:]), current], axis=1)
    img = Image.fromarray((np.clip(pair, 0, 1) * 255).round().astype(np.uint8)).convert("RGB")
    scale = max(1, -(-256 // img.height))
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    canvas = Image.new("RGB", (img.width, img.height + 34), "white")
    canvas.paste(img, (0, 0))
    try:
        font = ImageFont.load_default(size=18)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        font = ImageFont.load_default()
    label = "target" + " " * 4 + f"step {step}: SSIM {value:.4f}"
    ImageDraw.Draw(canvas).text((8, img.height + 7), label, fill="black", font=font)
    return np.asarray(canvas)


def run(target, workdir, *, volume=False, steps=500, every=2, lr=0.03, goal=0.95, seed=0, out=print):
    """Optimise, print the SSIM of every step, write every ``every``-th frame (and the last)
    as PNG and all of them as ``progress.gif`` in ``workdir``.

    Returns
    -------
    (reached, steps_taken, final_ssim, gif_path)
    """
    import imageio.v3 as iio

    frames_dir = os.path.join(workdir, "frames")
    os.makedirs(frames_dir, exist_ok=True)
    channel_axis = -1 if (not volume and target.ndim == 3) else None
    frames, last = [], None
    for step, value, cur in optimise(target, steps=steps, lr=lr, goal=goal, seed=seed, channel_axis=channel_axis):
        out(f"step {step:4d}  SSIM {value:.4f}")
        last = (step, value, cur)
        if step % every == 0:
            frames.append(frame(target, cur, step, value, volume))
            iio.imwrite(os.path.join(frames_dir, f"step{step:05d}.png"), frames[-1])
    step, value, cur = last
    if step % every:
        frames.append(frame(target, cur, step, value, volume))
        iio.imwrite(os.path.join(frames_dir, f"step{step:05d}.png"), frames[-1])
    np.save(os.path.join(workdir, "result.npy"), cur)
    gif = os.path.join(workdir, "progress.gif")
    durations = [120] * (len(frames) - 1) + [1500]  # ms; hold the last frame
    iio.imwrite(gif, np.stack(frames), extension=".gif", duration=durations, loop=0)
    return value >= goal, step, value, gif
