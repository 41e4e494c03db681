"""The one-shot GPU check (``benchmarks/gpu_check.py``, issue 40) rehearsed end to end under
Numba's CUDA simulator with tiny sizes, so that on a lent GPU only the hardware can fail: every
stage leaves a record in the results file, and a failing stage does not stop the others."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(out, *extra, budget=300):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    carried = out.parent / "carried"  # no .whl/ or .gpu/ here: the setup stage has nothing to do
    carried.mkdir(exist_ok=True)
    r = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--tiny", "--budget", str(budget), "--out",
                        str(out), "--carried", str(carried), *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=budget + 60)
    assert r.returncode == 0, r.stdout + r.stderr
    return json.load(open(out / "gpu_check.json")), r.stdout


@pytest.mark.slow
def test_the_check_runs_end_to_end_under_the_simulator(tmp_path):
    pytest.importorskip("torch", reason="the check's benchmarks compare PyTorch implementations; "
                                        "pip install torch==2.13.0 pytorch_msssim torchmetrics (as .ci/run does)")
    res, log = _check(tmp_path)
    stages = res["stages"]
    assert list(stages) == ["env", "setup", "tests", "bench", "score"], log
    assert stages["env"]["status"] == "ok" and stages["env"]["data"]["simulator"] is True
    assert stages["setup"]["status"] == "skipped" and "nothing to install" in stages["setup"]["why"]
    assert stages["tests"]["status"] == "ok" and " passed" in stages["tests"]["data"]["summary"]
    bench = stages["bench"]
    assert bench["status"] == "ok", bench
    rows = bench["data"]["rows"]
    workloads = {r["workload"] for r in rows}
    assert len(workloads) == 4
    for w in workloads:  # fastssim measured both ways on every workload; each peer measured or said why not
        ours = {r["mode"]: r for r in rows if r["workload"] == w and r["impl"] == "fastssim"}
        assert set(ours) == {"forward", "forward+backward"} and all(r["ms"] > 0 for r in ours.values()), ours
        for peer in ("pytorch_msssim", "torchmetrics"):
            got = [r for r in rows if r["workload"] == w and r["impl"] == peer]
            assert got and all("ms" in r or r.get("error") for r in got), got
    assert any(r["impl"] == "torchmetrics" and "fastssim_speedup" in r for r in rows)
    score = stages["score"]
    assert score["status"] == "ok", score
    row, = score["data"]["rows"]
    assert row["rows_ok"] == row["pairs"] and row["score_cuda_pairs_s"] > 0 and row["decode_pairs_s"] > 0
    md = (tmp_path / "gpu_check.md").read_text()
    assert "## bench: ok" in md and "workload=SSIM 2 x 16x16 float32" in md


def test_carried_wheels_are_installed_and_fused_ssims_source_found(tmp_path):
    """The setup stage installs what ``.whl/`` holds (a real wheel, built here) and finds fused-ssim's
    source; under the simulator it does not build it (no GPU to build for)."""
    carried = tmp_path / "carried"
    pkg = tmp_path / "pkg"
    (pkg / "fastssim_probe").mkdir(parents=True)
    (pkg / "fastssim_probe" / "__init__.py").write_text("VALUE = 7\n")
    (pkg / "pyproject.toml").write_text('[project]\nname = "fastssim-probe"\nversion = "1.0"\n'
                                        '[build-system]\nrequires = ["setuptools"]\n'
                                        'build-backend = "setuptools.build_meta"\n')
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                        str(carried / ".whl"), str(pkg)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (carried / ".gpu" / "fused-ssim").mkdir(parents=True)
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--tiny", "--stages", "setup", "--out", str(out),
                        "--carried", str(carried), "--budget", "60"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    setup = json.load(open(out / "gpu_check.json"))["stages"]["setup"]
    assert setup["status"] == "ok", setup
    assert setup["data"]["wheels"] == ["fastssim_probe-1.0-py3-none-any.whl"]
    assert "not built under the simulator" in setup["data"]["fused_ssim"]


def test_a_failing_stage_is_recorded_and_the_check_goes_on(tmp_path):
    res, log = _check(tmp_path, "--stages", "env,setup", "--inject-failure", "env", budget=60)
    env, setup = res["stages"]["env"], res["stages"]["setup"]
    assert env["status"] == "failed" and "failure injected into stage env" in env["error"]
    assert "Traceback" in env["traceback"]
    assert setup["status"] == "skipped"  # the stage after the failure still ran
    assert "env: failed" in log and "setup: skipped" in log
