"""The one-shot GPU check (issue 40): everything fastssim needs to learn from a GPU machine that
is lent for a few minutes, as one command that writes one results file.

On a bare GPU machine, with the repository copied in (the device tool's working tree)::

    PYTHONUNBUFFERED=1 python3 -m benchmarks.gpu_check --out "$OUT" --budget 480

Stages, each in its own process with its own share of ``--budget`` seconds, each recorded
(ok, failed with its traceback, timed out, skipped with why) and the check going on past it:

``env``    the GPU, driver and versions (nvidia-smi, numba-cuda, torch, the peers);
``setup``  wheels the machine lacks, from ``.whl/`` (e.g. pytorch_msssim), and fused-ssim built
           with PyTorch's extension builder from ``.gpu/fused-ssim`` when its source is there;
``tests``  the CUDA test bodies on the hardware (``NUMBA_ENABLE_CUDASIM`` unset);
``bench``  SSIM forward and forward+backward of a batch of 16 float32 1024x1024 images and of
           1080p RGB batches, a 256^3 volume, MS-SSIM 1024^2: fastssim beside pytorch_msssim,
           torchmetrics and fused-ssim, medians of synchronised warm rounds;
``score``  ``fastssim score --backend cuda`` over 2,000 PNG pairs against decoding them alone.

Everything goes to ``OUT/gpu_check.json`` (and a readable ``OUT/gpu_check.md``).

What the machine lacks travels with the working tree (the device tool's ``carry``): wheels in
``.whl/`` (both folders are in .gitignore), and fused-ssim's source in ``.gpu/fused-ssim``,
fetched with the search tool's ``fetch`` and checked out there, never committed. Prepared here,
in the repository's root, before the one call::

    python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux2014_x86_64 -d .whl pytorch_msssim      # the GPU image has torch, torchmetrics
    # fetch github:rahul-goel/fused-ssim (the search tool), then:
    mkdir -p .gpu/fused-ssim && git --git-dir=/work/.mirror/rahul-goel+fused-ssim/repo archive HEAD -- . \
        ':!images' | tar -x -C .gpu/fused-ssim
    # device run: command "PYTHONUNBUFFERED=1 python3 -m benchmarks.gpu_check --out $OUT --budget 480",
    #             carry [".whl", ".gpu"], timeout_s 560; then read $OUT/gpu_check.md

Rehearsed here, under Numba's CUDA simulator with tiny sizes (``tests/test_gpu_check.py``)::

    NUMBA_ENABLE_CUDASIM=1 python -m benchmarks.gpu_check --tiny --budget 300 --out /tmp/gpu
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Each stage's share of the budget.
SHARES = {"env": 0.05, "setup": 0.22, "tests": 0.3, "bench": 0.3, "score": 0.13}  # setup: fused-ssim's nvcc build
SITE = os.path.join(tempfile.gettempdir(), "fastssim-gpu-site")
#: The CUDA test bodies (on the hardware), and the rehearsal's one quick test.
CUDA_TESTS = ["tests/test_cuda_backend.py", "tests/test_cuda_ptx.py", "tests/test_batching.py",
              "tests/test_gradient.py", "tests/test_masks.py", "tests/test_l2_cosine.py", "tests/test_errors.py"]
TINY_TESTS = ["tests/test_cuda_backend.py", "-k", "identity_and_nan"]


def _simulated():
    return os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def _version(module):
    try:
        mod = __import__(module)
        return getattr(mod, "__version__", "installed")
    except Exception as e:  # noqa: BLE001 - reported, never fatal
        return f"not importable ({type(e).__name__}: {str(e)[:80]})"


def stage_env(args):
    out = {"python": sys.version.split()[0], "simulator": _simulated()}
    for m in ("numpy", "numba", "numba_cuda", "torch", "torchmetrics", "pytorch_msssim", "fused_ssim", "fastssim"):
        out[m] = _version(m)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20)
        out["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        out["nvidia_smi"] = f"not run: {e}"
    from numba import cuda

    out["cuda_available"] = bool(cuda.is_available())
    if out["cuda_available"]:
        dev = cuda.get_current_device()
        name = getattr(dev, "name", "Numba's CUDA simulator" if _simulated() else "unknown")
        out["device"] = name.decode() if isinstance(name, bytes) else str(name)
        out["compute_capability"] = list(getattr(dev, "compute_capability", ()))
    return out


def stage_setup(args):
    done = {}
    carried = args.carried
    wheels = [os.path.join(carried, ".whl", f) for f in sorted(os.listdir(os.path.join(carried, ".whl")))
              if f.endswith(".whl")] if os.path.isdir(os.path.join(carried, ".whl")) else []
    if wheels:
        _pip(["install", "-q", "--no-index", "--no-deps", "--no-compile", "--upgrade", "--target", SITE, *wheels])
        done["wheels"] = [os.path.basename(w) for w in wheels]
    source = os.path.join(carried, ".gpu", "fused-ssim")
    if os.path.isdir(source):
        if _simulated():
            done["fused_ssim"] = "source present; not built under the simulator (no nvcc target)"
        else:
            _pip(["install", "-q", "--no-index", "--no-deps", "--no-build-isolation", "--target", SITE, source])
            done["fused_ssim"] = "built from .gpu/fused-ssim"
    if not done:
        raise Skipped("nothing to install: no .whl/*.whl and no .gpu/fused-ssim (see this module's text)")
    return done


def _pip(argv):
    r = subprocess.run([sys.executable, "-m", "pip", *argv], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"pip {' '.join(argv[:3])} failed: {r.stderr.strip()[-2000:]}")


def stage_tests(args):
    env = dict(os.environ)
    if not args.tiny:
        env.pop("NUMBA_ENABLE_CUDASIM", None)  # the hardware, never the simulator
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
           *(TINY_TESTS if args.tiny else [*CUDA_TESTS, "-k", "cuda"])]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    tail = (r.stdout + r.stderr).strip().splitlines()
    summary = next((ln for ln in reversed(tail) if " passed" in ln or " failed" in ln or " error" in ln), "")
    result = {"command": " ".join(cmd[2:]), "exit": r.returncode, "summary": summary, "tail": tail[-60:]}
    if r.returncode:
        raise StageFailed(f"pytest exited {r.returncode}: {summary}", result)
    return result


def stage_bench(args):
    from benchmarks import gpu_bench

    return gpu_bench.run(tiny=args.tiny, seconds=args.stage_seconds, progress=_partial(args))


def stage_score(args):
    from benchmarks import gpu_bench

    return gpu_bench.score_run(tiny=args.tiny)


def _partial(args):
    """A callback that keeps what a stage has measured so far in its record, so that a stage
    stopped at its time limit still reports the rows it finished."""
    def save(data):
        with open(os.path.join(args.out, f"stage-{args.stage}.json"), "w") as f:
            json.dump({"stage": args.stage, "status": "running", "data": data}, f, indent=1, default=str)
    return save


STAGES = {"env": stage_env, "setup": stage_setup, "tests": stage_tests, "bench": stage_bench, "score": stage_score}


class Skipped(Exception):
    """The stage has nothing to do here; the message says why."""


class StageFailed(Exception):
    """The stage ran and failed; ``data`` is what it found."""

    def __init__(self, message, data):
        super().__init__(message)
        self.data = data


def _child(args):
    """Run one stage in this process and write its record to ``OUT/stage-NAME.json``."""
    t0 = time.monotonic()
    record = {"stage": args.stage}
    try:
        if args.inject_failure == args.stage:
            raise RuntimeError(f"failure injected into stage {args.stage} (--inject-failure)")
        record.update(status="ok", data=STAGES[args.stage](args))
    except Skipped as e:
        record.update(status="skipped", why=str(e))
    except StageFailed as e:
        record.update(status="failed", error=str(e), data=e.data)
    except BaseException as e:  # noqa: BLE001 - every failure is a record, never the end of the check
        record.update(status="failed", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    record["seconds"] = round(time.monotonic() - t0, 2)
    with open(os.path.join(args.out, f"stage-{args.stage}.json"), "w") as f:
        json.dump(record, f, indent=1, default=str)
    return 0


#: Under the simulator, small thread blocks (as tests/conftest.py sets them): each simulated
#: thread is a Python thread, so the default blocks would take minutes per call.
SIMULATOR_TILES = {"FASTSSIM_CUDA_TILE_H": "4", "FASTSSIM_CUDA_TILE_W": "8", "FASTSSIM_CUDA_DEPTH_CHUNK": "3",
                   "FASTSSIM_CUDA_REDUCE_THREADS": "32"}


def _env_for_children():
    env = dict(os.environ)
    if _simulated():
        for k, v in SIMULATOR_TILES.items():
            env.setdefault(k, v)
    paths = [p for p in (SITE if os.path.isdir(SITE) else None, ROOT, env.get("PYTHONPATH")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="directory of the results file (the device tool's $OUT)")
    p.add_argument("--budget", type=float, default=480.0, help="seconds for all stages together (default 480)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes and one quick test: the rehearsal")
    p.add_argument("--stages", default=",".join(STAGES), help="comma-separated stages to run (default all)")
    p.add_argument("--stage", help=argparse.SUPPRESS)  # a child process runs one stage
    p.add_argument("--stage-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    p.add_argument("--inject-failure", default=None, help="make this stage fail (to check that the rest goes on)")
    p.add_argument("--carried", default=ROOT, help="where .whl/ and .gpu/ are (default: the repository's root)")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.stage:
        return _child(args)
    wanted = [s for s in args.stages.split(",") if s]
    unknown = sorted(set(wanted) - set(STAGES))
    if unknown:
        p.error(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(STAGES)}")
    results = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "budget_s": args.budget,
               "tiny": args.tiny, "stages": {}}
    share = sum(SHARES[s] for s in wanted)
    for name in wanted:
        seconds = max(args.budget * SHARES[name] / share, 5.0)
        cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--stage", name, "--out", args.out, "--carried",
               args.carried, "--stage-seconds", str(seconds * 0.8)] + (["--tiny"] if args.tiny else []) + (
            ["--inject-failure", args.inject_failure] if args.inject_failure else [])
        path = os.path.join(args.out, f"stage-{name}.json")
        if os.path.exists(path):
            os.remove(path)
        t0 = time.monotonic()
        print(f"[gpu_check] {name}: up to {seconds:.0f} s", flush=True)
        try:
            proc = subprocess.run(cmd, cwd=ROOT, env=_env_for_children(), capture_output=True, text=True,
                                  timeout=seconds)
            log = (proc.stdout + proc.stderr)[-4000:]
            record = json.load(open(path)) if os.path.exists(path) else {
                "stage": name, "status": "failed", "error": f"the stage's process exited {proc.returncode} "
                                                             "without a record (crashed)"}
        except subprocess.TimeoutExpired as e:
            log = ((e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace"))[-4000:]
            record = {"stage": name, "status": "timeout", "error": f"stopped after its {seconds:.0f} s"}
            if os.path.exists(path):  # the rows it finished before
                record["data"] = json.load(open(path)).get("data")
        record.setdefault("seconds", round(time.monotonic() - t0, 2))
        record["log_tail"] = log
        results["stages"][name] = record
        print(f"[gpu_check] {name}: {record['status']} in {record['seconds']} s"
              + (f" ({record.get('error') or record.get('why')})" if record["status"] != "ok" else ""), flush=True)
        _write(args.out, results)
    return 0


def _write(out, results):
    with open(os.path.join(out, "gpu_check.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    lines = [f"# fastssim GPU check, {results['started']}", ""]
    env = results["stages"].get("env", {}).get("data") or {}
    if env:
        lines += [f"- device: {env.get('device')} ({env.get('nvidia_smi')}), simulator {env.get('simulator')}",
                  "- versions: " + ", ".join(f"{k} {env[k]}" for k in ("python", "numba", "numba_cuda", "torch",
                                                                       "torchmetrics", "pytorch_msssim", "fused_ssim")
                                             if k in env), ""]
    for name, rec in results["stages"].items():
        lines.append(f"## {name}: {rec['status']} ({rec.get('seconds')} s)")
        if rec.get("error") or rec.get("why"):
            lines.append(f"    {rec.get('error') or rec.get('why')}")
        for row in (rec.get("data") or {}).get("rows", []):
            lines.append("    " + "  ".join(f"{k}={v}" for k, v in row.items()))
        lines.append("")
    with open(os.path.join(out, "gpu_check.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
