"""A pair of 1080p H.264 videos scored end to end (decode + SSIM/PSNR of every frame), fastssim
beside the ffmpeg binary's ``ssim`` and ``psnr`` filters on the same files, and beside PyAV's
decoding alone (the floor: what reading the two streams costs):

    python -m pytest benchmarks/test_video.py -q

The clips are 30 frames of a real photograph panning, encoded by PyAV's libx264 at CRF 12 and 32.
ffmpeg is Debian's binary (a different build of the same decoder); its start-up is included.
"""

import shutil
import subprocess

import numpy as np
import pytest

av = pytest.importorskip("av")

N, H, W = 30, 1080, 1920


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from skimage import data

    d = tmp_path_factory.mktemp("clips")
    img = np.tile(data.astronaut(), (3, 4, 1))[:H, :W + 8 * N]
    for name, crf in (("ref.mp4", "12"), ("dist.mp4", "32")):
        with av.open(str(d / name), "w") as c:
            s = c.add_stream("libx264", rate=30, options={"crf": crf, "preset": "veryfast"})
            s.width, s.height, s.pix_fmt = W, H, "yuv420p"
            for i in range(N):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:, 8 * i:8 * i + W]), format="rgb24")
                for pkt in s.encode(frame):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)
    return str(d / "ref.mp4"), str(d / "dist.mp4")


def _fastssim(ref, dist, planes):
    from fastssim.batch.video import score_video
    from fastssim.batch.video import check_video

    scoring = dict(data_range=None, slices=None, metrics=("ssim", "psnr", "mse"), preset="ffmpeg", y_channel=False,
                   crop_border=0, backend="cpu")
    return score_video(ref, dist, scoring, check_video(dict(planes=planes)), 1 << 28)


def _ffmpeg(ref, dist):
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-nostdin", "-i", dist, "-i", ref, "-lavfi",
                          "[0:v][1:v]ssim;[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True,
                         check=True)
    return float(out.stderr.rsplit("All:", 1)[1].split()[0])


def _decode_only(ref, dist):
    n = 0
    for path in (ref, dist):
        with av.open(path) as c:
            c.streams.video[0].thread_type = "AUTO"
            for frame in c.decode(video=0):
                np.frombuffer(frame.planes[0], np.uint8)
                n += 1
    return n


@pytest.mark.parametrize("impl", ["fastssim", "ffmpeg binary", "PyAV decode only"])
def test_video_pair_yuv(benchmark, record, clips, impl):
    ref, dist = clips
    benchmark.group = "video pair 30x1080p H.264, Y+U+V SSIM+PSNR"
    ours = _fastssim(ref, dist, "yuv")  # warm-up (compiles)
    if impl == "fastssim":
        benchmark.pedantic(_fastssim, args=(ref, dist, "yuv"), rounds=3, iterations=1)
    elif impl == "ffmpeg binary":
        if shutil.which("ffmpeg") is None:
            pytest.skip("no ffmpeg binary (Debian package ffmpeg)")
        assert _ffmpeg(ref, dist) == pytest.approx(ours["ssim"], abs=1e-6)
        benchmark.pedantic(_ffmpeg, args=(ref, dist), rounds=3, iterations=1)
    else:
        benchmark.pedantic(_decode_only, args=(ref, dist), rounds=3, iterations=1)
    record("video 30x1080p yuv", impl, N * H * W)
