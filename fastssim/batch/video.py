"""A pair of videos, scored frame by frame into one row.

Frames are decoded and scored one at a time (memory does not grow with the length); each frame's
planes go through `score.score_arrays` with the run's options, so every metric, preset and error
rule of images holds per frame. The row keeps each metric's per-frame values (``<metric>_frames``)
and pools them as ffmpeg's ``ssim`` and ``psnr`` filters summarise a video:

- SSIM (and MS-SSIM, CW-SSIM, 3-SSIM, L2, cosine, MSE): the mean over frames;
- PSNR: from the mean MSE over frames (ffmpeg's summary line), so one identical frame does not
  make the whole video infinite; the per-frame PSNRs are in ``psnr_frames``;
- DSSIM: (1 - SSIM) / 2 of the pooled SSIM.

With ``planes='yuv'`` each plane (Y, U, V at their stored sizes) is scored on its own and a
frame's value is ffmpeg's "All": the planes' values weighted by their pixel counts (4:1:1 for
4:2:0), MSE likewise and PSNR from that MSE; the per-plane means are in ``ssim_planes``,
``psnr_planes`` and ``mse_planes``.
"""

import numbers
import queue
import threading

import numpy as np

from .. import config as cfg
from ..kernels.math import psnr_from_mse
from ..io.video import PLANES, Video
from .options import ConfigError
from .pair_metrics import empty_row, score_arrays
from .video_sync import pair_by_index, pair_by_time

#: How frames are paired: by presentation time (ffmpeg's framesync), or by index.
SYNCS = ("time", "index")
#: Metrics pooled as the mean of their per-frame values.
MEAN_POOLED = ("ssim", "ms_ssim", "mse", "l2", "cosine", "cw_ssim", "three_ssim")
#: Metrics whose per-plane values are kept with --video-planes yuv (those ffmpeg reports).
PLANE_METRICS = ("ssim", "psnr", "mse")


def parse_frames(text):
    """``'START:END'`` (either side may be empty) as ``(start, end)``; END is exclusive."""
    if text is None:
        return 0, None
    start, sep, end = str(text).partition(":")
    try:
        if not sep:
            raise ValueError
        start = int(start) if start.strip() else 0
        end = int(end) if end.strip() else None
    except ValueError:
        raise ConfigError(f"--frames takes START:END (frame numbers from 0, END excluded, either may be "
                          f"left out), got {text!r}") from None
    return start, end


def check_video(options):
    """The video options (``planes``, ``start``, ``end``, ``offset``), checked, with defaults.

    Raises
    ------
    ConfigError
        An option that cannot work for any video pair.
    """
    opts = dict(planes="y", start=0, end=None, offset=0, sync="time")
    unknown = set(options) - set(opts)
    if unknown:
        raise ConfigError(f"unknown video option(s) {', '.join(sorted(unknown))}; known: {', '.join(opts)}")
    opts.update(options)
    if opts["planes"] not in PLANES:
        raise ConfigError(f"video planes must be one of {', '.join(PLANES)}, got {opts['planes']!r}")
    for key in ("start", "offset"):
        if not isinstance(opts[key], numbers.Integral) or isinstance(opts[key], bool):
            raise ConfigError(f"the video {key} must be an integer, got {opts[key]!r}")
    if opts["sync"] not in SYNCS:
        raise ConfigError(f"--frame-sync must be one of {', '.join(SYNCS)}, got {opts['sync']!r}")
    if opts["offset"] and opts["sync"] == "time":
        raise ConfigError("--frame-offset pairs frames by their index: add --frame-sync index (frames are paired "
                          "by presentation time otherwise, as ffmpeg's filters pair them)")
    if opts["start"] < 0:
        raise ConfigError(f"--frames: the first frame must be >= 0, got {opts['start']}")
    if opts["end"] is not None and (not isinstance(opts["end"], numbers.Integral) or opts["end"] <= opts["start"]):
        raise ConfigError(f"--frames: the end ({opts['end']}) must come after the start ({opts['start']})")
    return opts


def video_conflicts(opts, metrics, scoring):
    """Raise ConfigError when the run's other options cannot work for video pairs."""
    if opts["planes"] == "yuv" and ({"l2", "cosine"} & set(metrics)):
        raise ConfigError("l2 and cosine are not defined per plane: drop them, or score --video-planes y or rgb")
    if opts["planes"] != "rgb" and scoring["y_channel"]:
        raise ConfigError("--y-channel converts RGB frames to luma: use it with --video-planes rgb (or score "
                          "the stored luma with --video-planes y)")
    if scoring["slices"] is not None:
        raise ConfigError("--slices scores volumes; a video is scored frame by frame already")


class _Ahead:
    """An iterator run in a thread, at most ``depth`` items ahead of its reader, so that decoding
    the next frames overlaps scoring this one (PyAV decodes without the GIL)."""

    def __init__(self, it, depth=None):
        depth = cfg.VIDEO_FRAMES_AHEAD if depth is None else depth
        self.inline = it if depth == 0 else None  # 0: decode in the reader's thread
        self.queue = queue.Queue(max(depth, 1))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(it,), daemon=True, name="fastssim-video-decode")
        if self.inline is None:
            self.thread.start()

    def _put(self, item):
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, it):
        try:
            for item in it:
                if not self._put(("item", item)):
                    return
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the reader, raised there
            self._put(("error", e))

    def __iter__(self):
        if self.inline is not None:
            yield from self.inline
            return
        while True:
            kind, value = self.queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value

    def close(self):
        self.stop.set()
        if self.inline is None:
            self.thread.join()


class _Pool:
    """Each metric's per-frame values (and per-plane sums), pooled at the end."""

    def __init__(self, asked, n_planes):
        self.asked = asked
        self.values = {m: [] for m in MEAN_POOLED}
        self.planes = {m: np.zeros(n_planes) for m in ("ssim", "mse")}
        self.errors = {}
        self.data_range = None
        self.ms_scales = None

    def add(self, index, rows, weights):
        """One frame: the rows of its planes (``score_arrays``), weighted by their sizes."""
        for m in MEAN_POOLED:
            if m in self.errors or not any(m in r and r[m] is not None or r.get(f"{m}_error") for r in rows):
                continue
            failed = next((r[f"{m}_error"] for r in rows if r.get(f"{m}_error")), None)
            if failed:
                self.errors[m] = f"frame {index}: {failed}"
                continue
            self.values[m].append(float(sum(w * r[m] for w, r in zip(weights, rows))))
            if m in self.planes:
                self.planes[m] += [r[m] for r in rows]
        if rows[0].get("data_range") is not None:
            self.data_range = rows[0]["data_range"]
        elif "psnr" in self.asked and "psnr" not in self.errors:
            self.errors["psnr"] = f"frame {index}: " + (rows[0].get("psnr_error") or "no data range")
        if rows[0].get("ms_ssim_scales") is not None:
            self.ms_scales = rows[0]["ms_ssim_scales"]

    def put(self, row, n, plane_names):
        asked, L = self.asked, self.data_range
        for m in MEAN_POOLED:
            if m in asked and m not in self.errors and len(self.values[m]) == n:
                row[m] = float(np.mean(self.values[m]))
                row[f"{m}_frames"] = self.values[m]
        mse_ok = "mse" not in self.errors and len(self.values["mse"]) == n
        if "psnr" in asked:
            if "psnr" in self.errors or not mse_ok:
                row["psnr_error"] = self.errors.get("psnr") or self.errors.get("mse")
            else:
                row["psnr"] = psnr_from_mse(float(np.mean(self.values["mse"])), L)
                row["psnr_frames"] = [psnr_from_mse(v, L) for v in self.values["mse"]]
        if "dssim" in asked:
            if "ssim" in self.errors:
                row["dssim_error"] = self.errors["ssim"]
            else:
                row["dssim"] = (1.0 - float(np.mean(self.values["ssim"]))) / 2.0
                row["dssim_frames"] = [(1.0 - v) / 2.0 for v in self.values["ssim"]]
        for m, e in self.errors.items():
            if m in asked:
                row[f"{m}_error"] = e
        if len(plane_names) > 1:
            if "ssim" in asked and "ssim" not in self.errors:
                row["ssim_planes"] = (self.planes["ssim"] / n).tolist()
            if mse_ok:
                means = self.planes["mse"] / n
                if "mse" in asked:
                    row["mse_planes"] = means.tolist()
                if "psnr" in asked and "psnr" not in self.errors:
                    row["psnr_planes"] = [psnr_from_mse(v, L) for v in means]
        row["data_range"] = L
        if row.get("ms_ssim") is not None:
            row["ms_ssim_scales"] = self.ms_scales


def _nothing_paired(video, counts):
    if video["sync"] == "time":
        if counts is not None and counts["dist"] == counts["early"]:
            return (f"no frame pairs to score: every distorted frame ({counts['dist']}) comes before the "
                    "reference's first, by presentation time")
        held = f" (ref has {counts['ref']} frames, dist {counts['dist']})" if counts else ""
        return (f"no frame pairs to score: no distorted frame is shown at the times of reference frames "
                f"{video['start']} to {'its end' if video['end'] is None else video['end'] - 1}{held}")
    first = max(video["start"], -video["offset"])
    return (f"no frame pairs to score: ref has {counts['ref']} frames, dist {counts['dist']}, and "
            f"the first pair asked for is ref frame {first} with dist frame {first + video['offset']}")


def _count_note(video, counts, n):
    """What the row's warning says about frames that were not paired one to one (or None)."""
    if counts is None:
        return None
    if video["sync"] == "time":
        odd = [f"{counts[k]} {what}" for k, what in (
            ("held", "reference frame(s) paired with more than one distorted frame (the distorted stream has frames "
                     "between the reference's)"),
            ("unpaired", "reference frame(s) with no distorted frame at their time (the distorted stream skips "
                         "them)"),
            ("early", "distorted frame(s) before the reference's first, not scored"),
            ("tail", "reference frame(s) after the distorted stream's end, paired with its last frame")) if counts[k]]
        if counts["ref"] == counts["dist"] and not odd:
            return None
        return (f"frame count differs: ref has {counts['ref']} frames, dist {counts['dist']}; paired by presentation "
                f"time (as ffmpeg's filters): {n} frame pairs" + (f", {'; '.join(odd)}" if odd else ""))
    if counts["ref"] - max(0, -video["offset"]) != counts["dist"] - max(0, video["offset"]):
        offset = f" (offset {video['offset']})" if video["offset"] else ""
        return (f"frame count differs: ref has {counts['ref']} frames, dist {counts['dist']}{offset}; scored "
                f"the {n} frame pairs both have")
    return None


def score_video(ref_path, dist_path, scoring, video, max_pixels, where="dist"):
    """The row (without the pair's identity) of a pair of video files.

    Raises
    ------
    ReadError
        A file that cannot be opened or decoded.
    ValueError
        Frames of different sizes; no frame pair within the asked range.
    """
    planes = video["planes"]
    asked = scoring["metrics"]
    # PSNR and DSSIM are pooled from the frames' MSE and SSIM
    inner = set(asked) - {"psnr", "dssim"} | ({"mse"} if "psnr" in asked else set()) | (
        {"ssim"} if "dssim" in asked else set())
    inner = tuple(m for m in MEAN_POOLED if m in inner)
    with Video(ref_path, max_pixels) as R, Video(dist_path, max_pixels) as D:
        if (R.width, R.height) != (D.width, D.height):
            raise ValueError(f"frame size differs: ref {R.width}x{R.height}, dist {D.width}x{D.height}; scale one "
                             "to the other's size first")
        notes = []
        as_format = None
        if D.planar != R.planar:
            as_format = R.planar
            notes.append(f"dist frames ({D.pix_fmt}) converted to the reference's pixel format ({R.pix_fmt})")
        L = scoring["data_range"]
        if L is None:
            L = R.data_range(planes)
        opts = dict(scoring, data_range=L, metrics=inner, channel_axis=-1 if planes == "rgb" else None)
        names = R.plane_names(planes)
        pool = _Pool(asked, len(names))
        weights = None
        n = 0
        shape = None
        if video["sync"] == "time":
            pairs = pair_by_time(R.frames(planes, timed=True), D.frames(planes, as_format, timed=True),
                                  video["start"], video["end"], where)
        else:
            pairs = pair_by_index(R.frames(planes), D.frames(planes, as_format), video["start"], video["end"],
                                 video["offset"])
        ahead = _Ahead(pairs)
        try:
            for index, r, d in ahead:
                if index is None:
                    counts = r
                    break
                if weights is None:
                    sizes = np.array([p.shape[0] * p.shape[1] for p in r], float)
                    weights = sizes / sizes.sum()
                    shape = r[0].shape
                rows = [score_arrays(np.ascontiguousarray(a), np.ascontiguousarray(b), where=where, **opts)
                        for a, b in zip(r, d)]
                pool.add(index, rows, weights)
                n += 1
        finally:
            ahead.close()  # the decoding thread ends before the files are closed
    if n == 0:
        raise ValueError(_nothing_paired(video, counts))
    note = _count_note(video, counts, n)
    if note:
        notes.append(note)
    row = empty_row(shape)
    pool.put(row, n, names)
    row.update(frames=n, planes=",".join(names), warning="; ".join(notes) or None)
    row["shape"] = "x".join(map(str, shape))
    if notes:
        row["_warning"] = f"{where}: {notes[-1]}"
    return row
