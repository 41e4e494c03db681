"""Video files as streams of frames (PyAV, the ``[video]`` extra).

A video is never decoded whole: `Video.frames` yields one frame's planes at a time, so memory
does not grow with its length. Each frame comes out as the planes a run scores:

- ``'y'``: the luma plane (a grey frame's only plane; an RGB video's BT.601 luma, by swscale);
- ``'yuv'``: every colour plane in the stored layout (Y, U, V at their own, possibly subsampled,
  sizes; R, G, B for an RGB video), alpha left out;
- ``'rgb'``: one H x W x 3 array converted by swscale (8-bit RGB, 16-bit above 8 bits a sample).

Samples keep their stored values: 8-bit planes as uint8, deeper ones (10, 12, 16 bits) as
uint16 holding the stored integers, with ``data_range`` = 2**bits - 1 as ffmpeg's filters take
it. Layouts that interleave planes (NV12, P010, YUYV) are split into their planar equivalent,
which moves samples without changing them.
"""

import os
from fractions import Fraction

import numpy as np

from .base import ReadError, name

#: Extensions read as videos (any container ffmpeg demuxes; these are the ones looked for).
VIDEO_EXTS = (".mp4", ".m4v", ".mkv", ".mov", ".avi", ".webm", ".y4m", ".mpg", ".mpeg")
PLANES = ("y", "yuv", "rgb")
#: The unit of a container's start time (ffmpeg's AV_TIME_BASE).
AV_TIME_BASE = 1_000_000


def is_video(path):
    return os.fspath(path).lower().endswith(VIDEO_EXTS)


def _av():
    try:
        import av
    except ImportError:
        raise ReadError("video files need PyAV: pip install 'fastssim[video]'") from None
    return av


def _planar(fmt):
    """The name of the planar layout holding ``fmt``'s samples unchanged (``fmt`` itself when it
    is planar already), and its bits per sample."""
    comps = [c for c in fmt.components if not c.is_alpha]
    bits = max(c.bits for c in comps)
    if len({c.plane for c in comps}) == len(comps):
        return fmt.name, bits
    deep = "" if bits <= 8 else f"{bits}le"
    if fmt.is_rgb:
        return ("gbrp" + deep), bits
    if len(comps) == 1:
        return ("gray" if bits <= 8 else f"gray{bits}le"), bits
    av = _av()
    probe = av.VideoFormat(fmt.name, 16, 16).components
    sub = {(8, 8): "420", (8, 16): "422", (16, 16): "444", (4, 16): "411"}.get((probe[1].width, probe[1].height))
    if sub is None:
        raise ValueError(f"pixel format {fmt.name} has a chroma layout not read here")
    return f"yuv{sub}p{deep}", bits


def _plane_array(plane, itemsize):
    dtype = np.uint8 if itemsize == 1 else np.dtype("<u2")
    rows = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // itemsize)
    return rows[:, :plane.width]


class Video:
    """One video stream of a file, opened for reading frame by frame.

    Parameters
    ----------
    path : str
    max_pixels : int
        Frames with more pixels are refused before any is decoded.

    Attributes
    ----------
    width, height : int
    pix_fmt : str
        The decoder's pixel format.
    bits : int
        Bits per sample.

    Raises
    ------
    ReadError
        Not a file PyAV opens, no video stream, frames over the cap.
    """

    def __init__(self, path, max_pixels):
        av = _av()
        self.path = path
        try:
            self.container = av.open(path)
        except Exception as e:  # noqa: BLE001 - any failure to open is the file's
            raise ReadError(f"cannot open {name(path)} as a video: {_why(e)}") from None
        try:
            self._stream(av, max_pixels)
        except ReadError:
            self.close()
            raise
        except Exception as e:  # noqa: BLE001 - a damaged header (no codec, no format) is the file's
            self.close()
            raise ReadError(f"cannot read the video stream of {name(path)}: {_why(e)}") from None

    def _stream(self, av, max_pixels):
        path = self.path
        if not self.container.streams.video:
            raise ReadError(f"{name(path)} holds no video stream")
        self.stream = self.container.streams.video[0]
        ctx = self.stream.codec_context
        if ctx is None:
            raise ReadError(f"{name(path)}: no decoder for its video stream; the file is damaged (its codec tag) or "
                            "its codec is not one this ffmpeg decodes")
        self.stream.thread_type = "AUTO"  # ffmpeg's own decoding threads
        self.width, self.height, self.pix_fmt = ctx.width, ctx.height, ctx.pix_fmt
        if not self.pix_fmt or not self.width or not self.height:
            raise ReadError(f"{name(path)}: the video stream declares no frame size or pixel format")
        if self.width * self.height > max_pixels:
            raise ReadError(f"{name(path)}: frames of {self.width}x{self.height} exceed the pixel cap "
                            f"({max_pixels}); raise --max-pixels to read them")
        try:
            self.planar, self.bits = _planar(av.VideoFormat(self.pix_fmt))
        except ValueError as e:
            raise ReadError(f"{name(path)}: {e}") from None
        self.rgb = av.VideoFormat(self.pix_fmt).is_rgb
        # ffmpeg's command line starts every input at 0 (its start time subtracted): times alike
        start = self.container.start_time
        self.start = Fraction(start, AV_TIME_BASE) if start is not None else None

    def data_range(self, planes):
        """The largest sample value of the planes a mode gives: 2**bits - 1 (255 or 65535 for
        swscale's RGB)."""
        if planes == "rgb":
            return 255.0 if self.bits <= 8 else 65535.0
        return float(2 ** self.bits - 1)

    def plane_names(self, planes):
        if planes == "yuv":
            return ["R", "G", "B"] if self.rgb else ["Y", "U", "V"][:self._colour_planes()]
        return ["Y"] if planes == "y" else ["RGB"]

    def _colour_planes(self):
        av = _av()
        return len([c for c in av.VideoFormat(self.planar).components if not c.is_alpha])

    def frames(self, planes="y", as_format=None, timed=False):
        """The frames one by one, each a list of arrays (the planes ``planes`` asks for).

        ``as_format`` converts every frame to another decoder's planar layout first (a pair whose
        two files were stored differently: the distorted frames take the reference's layout).
        ``timed``: yield ``(time, planes)``, the frame's presentation time in seconds (exact, a
        Fraction) from the file's start, as ffmpeg's command line times it; None for a frame
        without a timestamp.

        Raises
        ------
        ReadError
            A frame that cannot be decoded (naming its index).
        """
        target, bits = (self.planar, self.bits) if as_format is None else _planar(_av().VideoFormat(as_format))
        deep = bits > 8
        index = 0
        try:
            for frame in self.container.decode(self.stream):
                got = self._planes(frame, planes, target, deep)
                yield (self._time(frame), got) if timed else got
                index += 1
        except ReadError:
            raise
        except Exception as e:  # noqa: BLE001 - a damaged stream is the file's
            raise ReadError(f"cannot decode frame {index} of {name(self.path)}: {_why(e)}") from None

    def _time(self, frame):
        if frame.pts is None:
            return None
        tb = frame.time_base or self.stream.time_base
        t = frame.pts * Fraction(tb.numerator, tb.denominator)
        if self.start is None:
            self.start = t  # no container start time: the first frame's
        return t - self.start

    def _planes(self, frame, planes, target, deep):
        if planes == "rgb":
            return [frame.to_ndarray(format="rgb48le" if deep else "rgb24")]
        if planes == "y" and _av().VideoFormat(target).is_rgb:
            frame = frame.reformat(format="gray16le" if deep else "gray")
            return [_plane_array(frame.planes[0], 2 if deep else 1)]
        if frame.format.name != target:
            frame = frame.reformat(format=target)
        av = _av()
        comps = [c for c in av.VideoFormat(target).components if not c.is_alpha]
        order = [c.plane for c in comps] if planes == "yuv" else [comps[0].plane]
        size = 2 if deep else 1
        return [_plane_array(frame.planes[k], size) for k in order]

    def close(self):
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a damaged file must not hide why it failed
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _why(e):
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}" + (f": {msg}" if msg else "")
