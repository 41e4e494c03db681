"""SSIM maps as pictures: a heatmap image with a colour bar and the score in the title.

Drawn with Pillow (which imageio brings), no plotting library needed.
"""

import numpy as np

# Anchor colours of matplotlib's 'viridis' (a perceptually uniform map), at 0, 1/8, ..., 1.
_VIRIDIS = np.array([
    (68, 1, 84), (71, 44, 122), (59, 81, 139), (44, 113, 142), (33, 144, 141),
    (39, 173, 129), (92, 200, 99), (170, 220, 50), (253, 231, 37)], dtype=np.float64)


def colourise(values, vmin, vmax):
    """RGB uint8 of ``values`` mapped linearly from [vmin, vmax] onto the colour map."""
    t = np.clip((np.asarray(values, np.float64) - vmin) / (vmax - vmin), 0.0, 1.0)
    pos = t * (len(_VIRIDIS) - 1)
    i = np.minimum(pos.astype(int), len(_VIRIDIS) - 2)
    f = (pos - i)[..., None]
    return np.round(_VIRIDIS[i] * (1 - f) + _VIRIDIS[i + 1] * f).astype(np.uint8)


def heatmap_image(smap, path, title, vmin=None, vmax=1.0):
    """Write ``smap`` (2-D) as a heatmap with a colour bar and ``title``, in the format that
    ``path``'s extension names (PNG, JPEG, TIFF, BMP, WebP: Pillow's writers).

    Small maps are enlarged by an integer factor (nearest neighbour) to at least 256
    pixels on their short side; ``vmin`` defaults to ``min(0, smap.min())``.
    """
    from PIL import Image, ImageDraw, ImageFont

    smap = np.asarray(smap, dtype=np.float64)
    if vmin is None:
        vmin = min(0.0, float(np.nanmin(smap)))
    scale = max(1, int(np.ceil(256 / min(smap.shape))))
    body = colourise(np.kron(smap, np.ones((scale, scale))), vmin, vmax)
    h, w = body.shape[:2]
    font = ImageFont.load_default()
    top, bar_w, right = 28, 16, 64
    canvas = Image.new("RGB", (w + bar_w + right, h + top + 8), "white")
    canvas.paste(Image.fromarray(body), (0, top))
    ramp = colourise(np.linspace(vmax, vmin, h)[:, None].repeat(bar_w, 1), vmin, vmax)
    canvas.paste(Image.fromarray(ramp), (w + 8, top))
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 6), title, fill="black", font=font)
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = top + int(round(frac * (h - 1)))
        value = vmax - frac * (vmax - vmin)
        draw.line([(w + 8 + bar_w, y), (w + 12 + bar_w, y)], fill="black")
        draw.text((w + 14 + bar_w, max(top, y - 6)), f"{value:.2f}", fill="black", font=font)
    canvas.save(path)
