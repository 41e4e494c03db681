"""`fastssim demo --loss`: noise optimised to a target by SSIM ascent, as a user runs it (a real
subprocess), its frames and GIF read back, its printed SSIM checked against fastssim.ssim of
what it saved, and its mistakes."""

import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import fastssim
from fastssim.cli import loss_demo
from images import camera


def demo(*args):
    return subprocess.run([sys.executable, "-m", "fastssim.cli", "demo", "--loss", *map(str, args)],
                          capture_output=True, text=True, timeout=600)


def steps_printed(stdout):
    return [(int(a), float(b)) for a, b in re.findall(r"step\s+(\d+)\s+SSIM (-?[\d.]+)", stdout)]


def test_builtin_image_reaches_the_goal(tmp_path):
    r = demo("--workdir", tmp_path, "--every", 5)
    assert r.returncode == 0, r.stderr
    steps = steps_printed(r.stdout)
    assert [s for s, _ in steps] == list(range(len(steps)))  # every step printed, in order
    assert steps[0][1] < 0.1 and steps[-1][1] >= 0.95 > steps[-2][1]  # stops at the first step over the goal
    assert f"reached SSIM {steps[-1][1]:.4f} >= 0.95 at step {steps[-1][0]}" in r.stderr
    result = np.load(tmp_path / "result.npy")
    target = loss_demo.builtin_target()
    assert fastssim.ssim(target, result, data_range=1.0, channel_axis=-1) == pytest.approx(steps[-1][1], abs=5e-5)
    frames = sorted((tmp_path / "frames").glob("*.png"))
    last = steps[-1][0]
    assert [f.name for f in frames] == [f"step{s:05d}.png" for s in sorted(set(range(0, last + 1, 5)) | {last})]
    gif = iio.imread(tmp_path / "progress.gif")
    assert gif.shape[0] == len(frames) and gif.shape[1] >= 256 and gif.shape[-1] == 3
    assert np.abs(gif[-1].astype(int) - iio.imread(frames[-1]).astype(int)).mean() < 8  # GIF palette


def test_user_image_and_the_step_limit(tmp_path):
    target = camera()[200:264, 200:280]
    iio.imwrite(tmp_path / "t.png", target)
    r = demo(tmp_path / "t.png", "--workdir", tmp_path / "w", "--steps", 6, "--every", 4, "--seed", 3)
    assert r.returncode == 0, r.stderr
    steps = steps_printed(r.stdout)
    assert [s for s, _ in steps] == list(range(7)) and steps[-1][1] > steps[0][1]
    assert "stopped at the step limit (6)" in r.stderr
    result = np.load(tmp_path / "w" / "result.npy")
    assert result.shape == target.shape
    assert fastssim.ssim(target / 255.0, result, data_range=1.0) == pytest.approx(steps[-1][1], abs=5e-5)
    assert sorted(f.name for f in (tmp_path / "w" / "frames").glob("*.png")) == \
        ["step00000.png", "step00004.png", "step00006.png"]


def test_volume(tmp_path):
    r = demo("--volume", "--workdir", tmp_path, "--steps", 8, "--every", 4)
    assert r.returncode == 0, r.stderr
    steps = steps_printed(r.stdout)
    vol = loss_demo.builtin_target(volume=True)
    assert vol.ndim == 3 and len(steps) == 9 and steps[-1][1] > steps[0][1]
    assert fastssim.ssim(vol, np.load(tmp_path / "result.npy"), data_range=1.0) == \
        pytest.approx(steps[-1][1], abs=5e-5)  # 3-D SSIM is the loss
    assert iio.imread(tmp_path / "progress.gif").shape[0] == 3


def test_adam_ascent_raises_ssim_monotonically_at_first():
    target = camera()[:48, :48] / 255.0
    values = [v for _, v, _ in loss_demo.optimise(target, steps=15)]
    assert len(values) == 16 and all(b > a for a, b in zip(values, values[1:]))


def test_mistakes(tmp_path):
    r = demo(tmp_path / "missing.png", "--workdir", tmp_path)
    assert r.returncode == 2 and "cannot use" in r.stderr and "Traceback" not in r.stderr
    iio.imwrite(tmp_path / "tiny.png", np.zeros((8, 8), np.uint8) + 3)
    r = demo(tmp_path / "tiny.png", "--workdir", tmp_path)
    assert r.returncode == 2 and "smaller than SSIM's 11-pixel window" in r.stderr
    iio.imwrite(tmp_path / "flat.png", np.full((32, 32), 7, np.float32).astype(np.uint8))
    assert demo("--steps", 0).returncode == 2
    assert "--goal" in demo("--goal", 1.5).stderr
    r = demo(tmp_path / "flat.png", "--volume")
    assert r.returncode == 2 and "not both" in r.stderr
    with pytest.raises(ValueError, match="flat"):
        loss_demo.as_target(np.full((32, 32), 0.5))
    (tmp_path / "file").write_text("x")
    r = demo("--workdir", tmp_path / "file" / "sub", "--steps", 1)
    assert r.returncode == 3 and "cannot write to" in r.stderr
