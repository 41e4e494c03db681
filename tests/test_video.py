"""Pairs of video files (PyAV, fastssim[video]): frames decoded and scored one by one, pooled as
ffmpeg's filters pool them. Videos are written here by PyAV: lossless FFV1 (so the frames read
back are the arrays written, and every value can be recomputed from them) and H.264 at a low
quality (against Debian's ffmpeg binary where it is installed)."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastssim
from fastssim.kernels.math import psnr_from_mse
from fastssim.batch import Job, score_arrays

av = pytest.importorskip("av", reason="the [video] extra (PyAV) is not installed")
pd = pytest.importorskip("pandas")

H, W = 176, 192


def _picture():
    from skimage import data

    return data.astronaut()[60:60 + 2 * H, 100:100 + 2 * W]


def _yuv_frames(n, seed=0, noise=0.0, bits=8):
    """``n`` yuv420p frames (Y, U, V planes) cut from a real photograph moving right, with noise."""
    rng = np.random.default_rng(seed)
    rgb = _picture().astype(float)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = (rgb[..., 2] - y) * 0.564 + 128
    v = (rgb[..., 0] - y) * 0.713 + 128
    top = 2 ** bits - 1
    frames = []
    for i in range(n):
        planes = []
        for p, sub in ((y, 1), (u, 2), (v, 2)):
            crop = p[::sub, ::sub][:H // sub, 2 * i:2 * i + W // sub] * (top / 255)
            crop = crop + rng.normal(0, noise * top / 255, crop.shape)
            planes.append(np.clip(np.rint(crop), 0, top).astype(np.uint8 if bits == 8 else np.uint16))
        frames.append(planes)
    return frames


def _write(path, frames, pix_fmt="yuv420p", codec="ffv1", options=None):
    """Write ``frames`` (lists of planes) to ``path`` with PyAV."""
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=25, options=options or {})
        s.width, s.height, s.pix_fmt = W, H, pix_fmt
        for planes in frames:
            stacked = np.concatenate([planes[0], np.concatenate([planes[1].ravel(), planes[2].ravel()]).reshape(-1, W)])
            f = av.VideoFrame.from_ndarray(stacked, format=pix_fmt)
            for pkt in s.encode(f):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastssim.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def lossless(tmp_path_factory):
    """A reference and a noisy copy (8 frames each, FFV1), and their planes."""
    d = tmp_path_factory.mktemp("videos")
    ref, dist = _yuv_frames(8), _yuv_frames(8, seed=1, noise=12)
    _write(d / "ref.mkv", ref)
    _write(d / "dist.mkv", dist)
    return d, ref, dist


def _score(ref, dist, tmp, metrics="ssim,psnr,mse,dssim", preset=None, **video):
    job = Job(os.fspath(tmp), {None: os.fspath(tmp)}, metrics=metrics, video=video, preset=preset)
    from fastssim.batch.pairs import Pair

    return job(Pair(None, ref, dist))


def test_lossless_frames_read_back_and_every_value_recomputed(lossless):
    d, ref, dist = lossless
    row = _score("ref.mkv", "dist.mkv", d, metrics="ssim,ms_ssim,psnr,mse,dssim")
    assert row["status"] == "ok", row["error"]
    assert row["frames"] == 8 and row["planes"] == "Y" and row["shape"] == f"{H}x{W}"
    want = [fastssim.ssim(r[0], t[0], data_range=255) for r, t in zip(ref, dist)]
    np.testing.assert_allclose(row["ssim_frames"], want, rtol=0, atol=1e-12)
    assert row["ssim"] == pytest.approx(np.mean(want), abs=1e-12)
    assert row["dssim"] == pytest.approx((1 - np.mean(want)) / 2, abs=1e-12)
    mses = [fastssim.mse(r[0], t[0]) for r, t in zip(ref, dist)]
    np.testing.assert_allclose(row["mse_frames"], mses, rtol=1e-12)
    assert row["psnr"] == pytest.approx(psnr_from_mse(np.mean(mses), 255), abs=1e-10)  # ffmpeg's pooling
    np.testing.assert_allclose(row["psnr_frames"], [psnr_from_mse(m, 255) for m in mses], rtol=1e-12)
    ms = [score_arrays(r[0], t[0], metrics=("ms_ssim",), data_range=255)["ms_ssim"]
          for r, t in zip(ref, dist)]
    np.testing.assert_allclose(row["ms_ssim_frames"], ms, rtol=0, atol=1e-12)


def test_yuv_planes_weighted_as_ffmpeg_all(lossless):
    d, ref, dist = lossless
    row = _score("ref.mkv", "dist.mkv", d, planes="yuv")
    assert row["status"] == "ok" and row["planes"] == "Y,U,V", row["error"]
    w = np.array([H * W, H * W / 4, H * W / 4]) / (1.5 * H * W)  # 4:1:1
    per = np.array([[fastssim.ssim(a, b, data_range=255) for a, b in zip(r, t)] for r, t in zip(ref, dist)])
    np.testing.assert_allclose(row["ssim_frames"], per @ w, rtol=0, atol=1e-12)
    np.testing.assert_allclose(row["ssim_planes"], per.mean(axis=0), rtol=0, atol=1e-12)
    mse = np.array([[fastssim.mse(a, b) for a, b in zip(r, t)] for r, t in zip(ref, dist)])
    np.testing.assert_allclose(row["mse_planes"], mse.mean(axis=0), rtol=1e-12)
    assert row["psnr"] == pytest.approx(psnr_from_mse((mse @ w).mean(), 255), abs=1e-10)
    np.testing.assert_allclose(row["psnr_planes"], [psnr_from_mse(m, 255) for m in mse.mean(axis=0)], rtol=1e-12)


def test_ten_bit_video_keeps_stored_values_and_range(tmp_path):
    ref, dist = _yuv_frames(3, bits=10), _yuv_frames(3, seed=2, noise=20, bits=10)
    _write(tmp_path / "a.mkv", ref, pix_fmt="yuv420p10le")
    _write(tmp_path / "b.mkv", dist, pix_fmt="yuv420p10le")
    row = _score("a.mkv", "b.mkv", tmp_path)
    assert row["status"] == "ok" and row["data_range"] == 1023
    want = [fastssim.ssim(r[0], t[0], data_range=1023) for r, t in zip(ref, dist)]
    np.testing.assert_allclose(row["ssim_frames"], want, rtol=0, atol=1e-12)
    assert max(int(p.max()) for p in ref[0]) > 255  # really 10-bit samples


def test_offset_frames_and_count_mismatch(tmp_path):
    frames = _yuv_frames(8)
    _write(tmp_path / "ref.mkv", frames[:6])
    _write(tmp_path / "late.mkv", _yuv_frames(2, seed=5, noise=40) + frames[:6])  # 2 frames too early
    off = _score("ref.mkv", "late.mkv", tmp_path, offset=2, sync="index")
    assert off["status"] == "ok" and off["frames"] == 6 and off["ssim_frames"] == [1.0] * 6
    assert off["warning"] is None
    plain = _score("ref.mkv", "late.mkv", tmp_path, sync="index")
    assert plain["frames"] == 6 and plain["ssim"] < 0.9
    assert "frame count differs: ref has 6 frames, dist 8; scored the 6 frame pairs both have" in plain["warning"]
    window = _score("ref.mkv", "late.mkv", tmp_path, start=1, end=4, offset=2, sync="index")
    assert window["frames"] == 3 and window["ssim_frames"] == [1.0] * 3 and window["warning"] is None
    full = _score("ref.mkv", "late.mkv", tmp_path, sync="index")
    part = _score("ref.mkv", "late.mkv", tmp_path, start=2, end=5, sync="index")
    assert part["ssim_frames"] == full["ssim_frames"][2:5]
    for sync in ("time", "index"):  # by time the same: both streams have one frame per 1/25 s
        timed = _score("ref.mkv", "late.mkv", tmp_path, start=2, end=5, sync=sync)
        assert timed["ssim_frames"] == full["ssim_frames"][2:5]
    with pytest.raises(ValueError, match="--frame-offset pairs frames by their index: add --frame-sync index"):
        _score("ref.mkv", "late.mkv", tmp_path, offset=2)
    none = _score("ref.mkv", "late.mkv", tmp_path, start=7, sync="index")
    assert none["status"] == "error" and "no frame pairs to score: ref has 6 frames, dist 8, and the first pair asked for is ref frame 7 with dist frame 7" == none["error"]


def test_pixel_format_and_size_mismatches(tmp_path):
    frames = _yuv_frames(2)
    _write(tmp_path / "ref.mkv", frames)
    with av.open(str(tmp_path / "nv.mkv"), "w") as c:  # the same frames stored as yuv444p
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = W, H, "yuv444p"
        for y, u, v in frames:
            up = [np.repeat(np.repeat(p, 2, 0), 2, 1) for p in (u, v)]
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.stack([y, *up]), format="yuv444p")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    row = _score("ref.mkv", "nv.mkv", tmp_path)
    assert row["status"] == "ok" and row["ssim_frames"] == [1.0, 1.0]  # luma moved unchanged
    assert row["warning"] == "dist frames (yuv444p) converted to the reference's pixel format (yuv420p)"
    with av.open(str(tmp_path / "small.mkv"), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = W // 2, H // 2, "gray"
        for pkt in s.encode(av.VideoFrame.from_ndarray(frames[0][1], format="gray")):
            c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    row = _score("ref.mkv", "small.mkv", tmp_path)
    assert row["status"] == "error"
    assert row["error"] == f"frame size differs: ref {W}x{H}, dist {W // 2}x{H // 2}; scale one to the other's size first"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg binary is not installed")
def test_h264_pair_equals_ffmpeg_ssim_and_psnr_filters(tmp_path):
    """Two H.264 encodes (x264 at two qualities) of the same real frames; ffmpeg's ssim and psnr
    filters (the ffmpeg binary, its own decoder) against `--preset ffmpeg --video-planes yuv`."""
    frames = _yuv_frames(6)
    _write(tmp_path / "hq.mp4", frames, codec="libx264", options={"crf": "18"})
    _write(tmp_path / "lq.mp4", frames, codec="libx264", options={"crf": "40"})
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(tmp_path / "lq.mp4"), "-i",
                           str(tmp_path / "hq.mp4"), "-lavfi",
                           f"[0:v][1:v]ssim=stats_file={tmp_path / 's.log'};[0:v][1:v]psnr=stats_file={tmp_path / 'p.log'}",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    summary_ssim = re.search(r"SSIM Y:([\d.]+) .*U:([\d.]+) .*V:([\d.]+) .*All:([\d.]+)", proc.stderr).groups()
    summary_psnr = re.search(r"PSNR y:([\d.]+) u:([\d.]+) v:([\d.]+) average:([\d.]+)", proc.stderr).groups()
    per_frame = [dict(kv.split(":") for kv in line.split() if ":" in kv) for line in open(tmp_path / "s.log")]
    out = _run("score", tmp_path / "hq.mp4", tmp_path / "lq.mp4", "--preset", "ffmpeg", "--video-planes", "yuv",
               "--json")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["frames"] == len(per_frame) == 6
    np.testing.assert_allclose(got["ssim_frames"], [float(f["All"]) for f in per_frame], rtol=0, atol=5.1e-7)
    np.testing.assert_allclose(got["ssim_planes"] + [got["ssim"]], [float(v) for v in summary_ssim], atol=5.1e-7)
    np.testing.assert_allclose(got["psnr_planes"] + [got["psnr"]], [float(v) for v in summary_psnr], atol=5.1e-7)
    mse_log = [dict(kv.split(":") for kv in line.split()) for line in open(tmp_path / "p.log")]
    np.testing.assert_allclose(got["mse_frames"], [float(f["mse_avg"]) for f in mse_log], atol=0.0051)
    # the default convention (Gaussian window, valid windows) differs from ffmpeg's 8x8 grid
    wang = json.loads(_run("score", tmp_path / "hq.mp4", tmp_path / "lq.mp4", "--json").stdout)
    assert abs(wang["ssim"] - float(summary_ssim[0])) > 1e-3


def test_command_scores_video_trees_into_parquet(tmp_path, lossless):
    d, ref, dist = lossless
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    for name in ("a", "b"):
        shutil.copy(d / "ref.mkv", tmp_path / "ref" / f"{name}.mkv")
    shutil.copy(d / "dist.mkv", tmp_path / "dist" / "a.mkv")
    (tmp_path / "dist" / "b.mkv").write_bytes((d / "dist.mkv").read_bytes()[:300])  # truncated
    out = _run("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "out", "--quiet",
               "--metrics", "ssim,psnr")
    assert out.returncode == 1, out.stderr  # one pair is an error row
    df = pd.read_parquet(tmp_path / "out").set_index("ref")
    assert df.loc["a.mkv", "status"] == "ok" and df.loc["a.mkv", "frames"] == 8
    assert list(df.loc["a.mkv", "ssim_frames"]) == _score("ref.mkv", "dist.mkv", d)["ssim_frames"]
    assert len(df.loc["a.mkv", "psnr_frames"]) == 8
    assert df.loc["b.mkv", "status"] == "error" and "b.mkv" in df.loc["b.mkv", "error"]
    rep = _run("report", tmp_path / "out", "--format", "json")
    assert rep.returncode == 0, rep.stderr
    # options that cannot work for videos are refused before anything is scored
    bad = _run("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "o2", "--video-planes", "yuv",
               "--metrics", "ssim,l2")
    assert bad.returncode == 2 and "l2 and cosine are not defined per plane" in bad.stderr
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").glob("*.parquet"))
    bad = _run("score", d / "ref.mkv", d / "dist.mkv", "--frames", "5")
    assert bad.returncode == 2 and "--frames takes START:END" in bad.stderr
    bad = _run("score", d / "ref.mkv", d / "dist.mkv", "--y-channel")
    assert bad.returncode == 2 and "--video-planes rgb" in bad.stderr


def test_video_against_an_image_and_without_pyav(tmp_path, lossless, monkeypatch):
    d, ref, _ = lossless
    np.save(tmp_path / "x.npy", ref[0][0])
    shutil.copy(d / "ref.mkv", tmp_path / "y.mkv")
    row = _score("y.mkv", "x.npy", tmp_path)
    assert row["status"] == "error"
    assert row["error"] == ("ref is a video and the other file is not: a video is scored frame by frame against "
                            "another video")
    import importlib.util

    from fastssim.io import missing_extras

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a))
    assert missing_extras([tmp_path / "y.mkv"]) == {"video": "video files need PyAV: pip install 'fastssim[video]'"}


def test_score_pairs_takes_video_options(lossless):
    d, _, _ = lossless
    got = pa_rows(fastssim.score_pairs([(d / "ref.mkv", d / "dist.mkv")], video=dict(planes="yuv", end=2),
                                       metrics="ssim"))
    assert got[0]["frames"] == 2 and got[0]["planes"] == "Y,U,V" and len(got[0]["ssim_planes"]) == 3
    with pytest.raises(ValueError, match="video planes must be one of y, yuv, rgb"):
        fastssim.score_pairs([(d / "ref.mkv", d / "dist.mkv")], video=dict(planes="uv"))


def pa_rows(batches):
    return [r for b in batches for r in b.to_pylist()]


def test_rgb_planes_are_pyav_rgb_frames(lossless):
    d, ref, dist = lossless
    row = _score("ref.mkv", "dist.mkv", d, planes="rgb", end=3)
    with av.open(str(d / "ref.mkv")) as a, av.open(str(d / "dist.mkv")) as b:
        pairs = list(zip(a.decode(video=0), b.decode(video=0)))[:3]
        want = [fastssim.ssim(x.to_ndarray(format="rgb24"), y.to_ndarray(format="rgb24"), channel_axis=-1)
                for x, y in pairs]
    assert row["planes"] == "RGB" and row["shape"] == f"{H}x{W}x3"
    np.testing.assert_allclose(row["ssim_frames"], want, rtol=0, atol=1e-12)


def _write_timed(path, frames, pts, rate=25, codec="ffv1"):
    """Grey ``frames`` written with presentation times ``pts`` (in 1/rate s): gaps are dropped
    frames, as a stream that skips frames and keeps its clock stores them."""
    from fractions import Fraction

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=rate)
        s.width, s.height, s.pix_fmt = W, H, "gray"
        s.time_base = Fraction(1, rate)
        for f, t in zip(frames, pts):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="gray")
            vf.pts, vf.time_base = t, Fraction(1, rate)
            for pkt in s.encode(vf):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)


def _luma(n, seed, noise):
    return [f[0] for f in _yuv_frames(n, seed=seed, noise=noise)]


#: name -> (distorted frames as indices of the noisy copy, their times, rate): a distorted stream
#: that drops frame 4 (keeping its clock), one that shows frame 4 twice, one at irregular times,
#: one at twice the rate, one that starts three frames late, one that ends two frames early.
STREAMS = {
    "dropped": ([0, 1, 2, 3, 5, 6, 7, 8, 9], [0, 1, 2, 3, 5, 6, 7, 8, 9], 25),
    "duplicated": ([0, 1, 2, 3, 4, 4, 6, 7, 8, 9], list(range(10)), 25),
    "variable": ([0, 1, 3, 4, 7, 8, 9], [0, 1, 3, 4, 7, 8, 9], 25),
    "double-rate": (list(range(20)), list(range(20)), 50),
    "late-start": ([3, 4, 5, 6, 7, 8, 9], [3, 4, 5, 6, 7, 8, 9], 25),
    "early-end": (list(range(8)), list(range(8)), 25),
}


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg binary is not installed")
@pytest.mark.parametrize("kind", sorted(STREAMS))
def test_frames_paired_by_time_as_ffmpeg_filters_pair_them(tmp_path, kind):
    """Streams that drop, repeat or re-time frames: every per-frame SSIM and the pooled SSIM and
    PSNR equal those of the ffmpeg binary's ssim and psnr filters (framesync), frame for frame."""
    index, pts, rate = STREAMS[kind]
    ref = _luma(10, 0, 0)
    noisy = _luma(20, 1, 14)
    _write_timed(tmp_path / "ref.mkv", ref, range(10))
    _write_timed(tmp_path / "dist.mkv", [noisy[i] for i in index], pts, rate)
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", str(tmp_path / "dist.mkv"), "-i",
                           str(tmp_path / "ref.mkv"), "-lavfi",
                           f"[0:v][1:v]ssim=stats_file={tmp_path / 's.log'};[0:v][1:v]psnr",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    per_frame = [float(dict(kv.split(":") for kv in line.split() if ":" in kv)["Y"]) for line in open(tmp_path / "s.log")]
    ssim_all = float(re.search(r"SSIM Y:([\d.]+)", proc.stderr).group(1))
    psnr_all = float(re.search(r"PSNR y:([\d.]+)", proc.stderr).group(1))
    got = _score("ref.mkv", "dist.mkv", tmp_path, metrics="ssim,psnr", preset="ffmpeg")
    assert got["status"] == "ok", got["error"]
    assert got["frames"] == len(per_frame)
    np.testing.assert_allclose(got["ssim_frames"], per_frame, rtol=0, atol=5.1e-7)
    assert got["ssim"] == pytest.approx(ssim_all, abs=5.1e-7) and got["psnr"] == pytest.approx(psnr_all, abs=5.1e-3)
    by_index = _score("ref.mkv", "dist.mkv", tmp_path, metrics="ssim", preset="ffmpeg", sync="index")
    if kind in ("dropped", "variable", "late-start", "double-rate"):  # what index pairing got wrong
        assert abs(by_index["ssim"] - ssim_all) > 1e-3
    if kind != "duplicated":  # the duplicated stream keeps one frame per tick: nothing to say
        assert "paired by presentation time" in got["warning"]


def test_time_pairing_on_its_own(tmp_path):
    """Without ffmpeg: a dropped frame pairs the rest with their own reference frames (SSIM 1 for
    a lossless copy that skips one), said in the warning; a window of reference frames."""
    ref = _luma(8, 0, 0)
    keep = [0, 1, 2, 4, 5, 6, 7]
    _write_timed(tmp_path / "ref.mkv", ref, range(8))
    _write_timed(tmp_path / "skip.mkv", [ref[i] for i in keep], keep)
    row = _score("ref.mkv", "skip.mkv", tmp_path, metrics="ssim")
    assert row["frames"] == 7 and row["ssim_frames"] == [1.0] * 7
    assert ("frame count differs: ref has 8 frames, dist 7; paired by presentation time (as ffmpeg's filters): 7 "
            "frame pairs, 1 reference frame(s) with no distorted frame at their time") in row["warning"]
    shifted = _score("ref.mkv", "skip.mkv", tmp_path, metrics="ssim", sync="index")
    assert shifted["ssim_frames"][:3] == [1.0] * 3 and max(shifted["ssim_frames"][3:]) < 1
    window = _score("ref.mkv", "skip.mkv", tmp_path, metrics="ssim", start=2, end=6)
    assert window["frames"] == 3 and window["ssim_frames"] == [1.0] * 3  # reference frames 2, 4, 5
    # each file's clock starts at its first frame (ffmpeg's command line subtracts its start time); once
    # the distorted stream ends, its last frame is held against the later reference frames (framesync)
    _write_timed(tmp_path / "short.mkv", ref[:2], [20, 21])
    tail = _score("ref.mkv", "short.mkv", tmp_path, metrics="ssim")
    assert tail["status"] == "ok" and tail["frames"] == 8 and tail["ssim_frames"][:2] == [1.0, 1.0]
    assert max(tail["ssim_frames"][2:]) < 1
    assert "6 reference frame(s) after the distorted stream's end, paired with its last frame" in tail["warning"]


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="Debian's ffmpeg binary is not installed")
def test_chroma_widths_8_to_11_mod_16_equal_ffmpegs_c_code(tmp_path):
    """A 720-px video has 360-px chroma planes (8 mod 16), where ffmpeg 5.1's SIMD path prints other
    SSIM than its C path: fastssim equals the C path (``-cpuflags 0``), plane by plane."""
    rng = np.random.default_rng(4)
    base = np.tile(_picture(), (1, 4, 1))[:32, :720].astype(float)
    for name, noise in (("r.mkv", 0), ("d.mkv", 25)):
        with av.open(str(tmp_path / name), "w") as c:
            s = c.add_stream("ffv1", rate=25)
            s.width, s.height, s.pix_fmt = 720, 32, "yuv420p"
            for _ in range(2):
                rgb = np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)
                for pkt in s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-cpuflags", "0", "-i", str(tmp_path / "d.mkv"),
                           "-i", str(tmp_path / "r.mkv"), "-lavfi", "ssim", "-f", "null", "-"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    want = [float(v) for v in re.search(r"SSIM Y:([\d.]+) .*U:([\d.]+) .*V:([\d.]+) .*All:([\d.]+)",
                                        proc.stderr).groups()]
    got = _score("r.mkv", "d.mkv", tmp_path, metrics="ssim", preset="ffmpeg", planes="yuv")
    np.testing.assert_allclose(got["ssim_planes"] + [got["ssim"]], want, rtol=0, atol=5.1e-7)
