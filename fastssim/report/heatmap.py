"""SSIM maps as pictures: a heatmap image with a colour bar and the score in the title.

Drawn with matplotlib where it is installed (``fastssim[plot]``: a colour bar with round
ticks, a readable font, also SVG and PDF), else with Pillow (which imageio brings).
"""

import os
import textwrap

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


def _matplotlib_formats():
    """The file extensions matplotlib writes, or an empty set without it."""
    try:
        import matplotlib
    except ImportError:
        return set()
    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return set(FigureCanvasAgg(Figure()).get_supported_filetypes())


def writable(path):
    """Whether ``path``'s extension names a format a heatmap can be written in."""
    from PIL import Image

    ext = os.path.splitext(path)[1].lower()
    Image.init()
    fmt = Image.registered_extensions().get(ext)
    return (fmt is not None and fmt in Image.SAVE) or ext.lstrip(".") in _matplotlib_formats()


def heatmap_image(smap, path, title, vmin=None, vmax=1.0):
    """Write ``smap`` (2-D) as a heatmap with a colour bar and ``title``, in the format that
    ``path``'s extension names: with matplotlib where installed (PNG, JPEG, TIFF, WebP, SVG,
    PDF, ...), else with Pillow (PNG, JPEG, TIFF, BMP, WebP).

    ``vmin`` defaults to ``min(0, smap.min())``. Returns 'matplotlib' or 'pillow'.
    """
    smap = np.asarray(smap, dtype=np.float64)
    if vmin is None:
        vmin = min(0.0, float(np.nanmin(smap)))
    if os.path.splitext(path)[1].lower().lstrip(".") in _matplotlib_formats():
        _figure(smap, path, title, vmin, vmax)
        return "matplotlib"
    _pillow(smap, path, title, vmin, vmax)
    return "pillow"


def _figure(smap, path, title, vmin, vmax):
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    h, w = smap.shape
    width = 6.0
    fig, ax = plt.subplots(figsize=(width, max(2.5, width * h / w * 0.9 + 0.8)), layout="constrained")
    im = ax.imshow(smap, cmap="viridis", vmin=vmin, vmax=vmax, interpolation="nearest")
    bar = fig.colorbar(im, ax=ax, shrink=0.9)
    bar.locator = MaxNLocator(6)
    bar.update_ticks()
    bar.set_label("SSIM")
    ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=9)
    ax.set_xlabel("x (pixels)")
    ax.set_ylabel("y (pixels)")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def _pillow(smap, path, title, vmin, vmax):
    """The drawing without matplotlib: small maps enlarged by an integer factor (nearest
    neighbour) to at least 256 pixels on their short side."""
    from PIL import Image, ImageDraw, ImageFont

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
