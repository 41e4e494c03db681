"""Time to the first result: each case in a fresh process, with an empty Numba cache (cold: what a
new machine, container or CI job pays) and again with that cache filled (warm: a later process, or
after ``fastssim compile``), the median of ``--rounds``; scikit-image's first call beside them.

    python -m benchmarks.first_call [--rounds 3] [--json results.json] [--python PATH]

``--python`` times another environment's interpreter, e.g. a core install (``pip install fastssim``
into a fresh virtual environment: no SciPy, whose import Numba's first compilation pays where it is
installed, about 0.2 s here); the cases whose imports that environment lacks say so.

Prints a Markdown table (seconds, wall time of the case's statement in its process, after
``import``, which loads nothing heavy: the first call imports Numba; ``import fastssim`` is its
own row, and the CLI rows time the whole command). Python's bytecode cache is allowed even where
the environment sets ``PYTHONDONTWRITEBYTECODE``, as an installed package has it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    from benchmarks import results
except ImportError:  # run from benchmarks/
    import results  # type: ignore[no-redef]

NOTES = ("Each case in a fresh process: cold with an empty Numba cache (what a new machine, container or "
         "CI job pays; `fastssim compile` pays it ahead), warm with that cache filled (every later process); "
         "the median of the rounds, 512x512 inputs. The statement's wall time after `import`, which loads "
         "nothing heavy (the first call imports Numba); the CLI rows time the whole command.")

SETUP = ("import numpy as np; rng = np.random.default_rng(0); "
         "u8 = rng.integers(0, 256, (512, 512), dtype=np.uint8); u8d = np.clip(u8 + rng.integers(-20, 21, u8.shape), 0, 255).astype(np.uint8); "
         "f32, f32d = (u8 / 255).astype(np.float32), (u8d / 255).astype(np.float32); "
         "rgb = np.stack([u8, u8d, u8], -1); rgbd = np.stack([u8d, u8, u8d], -1); "
         "v = rng.random((64, 64, 64), dtype=np.float32); vd = (v + 0.05 * rng.random(v.shape)).astype(np.float32)")

#: name: (the statement timed, what it imports first)
CASES = {
    "ssim uint8 grey": ("fastssim.ssim(u8, u8d)", "import fastssim"),
    "ssim float32 grey": ("fastssim.ssim(f32, f32d, data_range=1.0)", "import fastssim"),
    "ssim uint8 RGB (channel_axis=-1)": ("fastssim.ssim(rgb, rgbd, channel_axis=-1)", "import fastssim"),
    "ssim uint16 grey, after a uint8 call": ("fastssim.ssim(u8.astype(np.uint16), u8d.astype(np.uint16))",
                                            "import fastssim; fastssim.ssim(u8, u8d)"),
    "ssim float64 grey": ("fastssim.ssim(f32.astype(np.float64), f32d.astype(np.float64), data_range=1.0)",
                          "import fastssim"),
    "ms_ssim uint8": ("fastssim.ms_ssim(u8, u8d)", "import fastssim"),
    "ssim 64^3 float32": ("fastssim.ssim(v, vd, data_range=1.0)", "import fastssim"),
    "torch SSIMLoss forward+backward": (
        "x = torch.rand(1, 1, 256, 256, requires_grad=True); SSIMLoss(data_range=1.0)(x, torch.rand(1, 1, 256, 256))"
        ".backward()", "import torch; from fastssim.torch import SSIMLoss"),
    "scikit-image structural_similarity uint8": ("structural_similarity(u8, u8d)",
                                                 "from skimage.metrics import structural_similarity"),
}
#: Commands timed whole (fresh process), on two PNG files written first ({python}: the interpreter).
COMMANDS = {
    "import fastssim": ["{python}", "-c", "import fastssim"],
    "fastssim score a.png b.png (grey)": ["{python}", "-m", "fastssim.cli", "score", "{a}", "{b}"],
    "fastssim score a.png b.png (RGB)": ["{python}", "-m", "fastssim.cli", "score", "{ar}", "{br}"],
}


class NotInstalled(Exception):
    """A case's imports are not in the environment timed."""


def _statement_seconds(stmt, imports, env, python=sys.executable):
    code = (f"{SETUP}; {imports}; import time; t = time.perf_counter(); {stmt}; "
            "print(time.perf_counter() - t)")
    r = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if r.returncode and "ModuleNotFoundError" in r.stderr:
        raise NotInstalled(r.stderr.strip().splitlines()[-1])
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return float(r.stdout.strip().splitlines()[-1])


def _command_seconds(cmd, env):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", help="comma-separated case names")
    ap.add_argument("--json")
    ap.add_argument("--results", default=str(results.DIRECTORY), help="write the results file there ('' for none)")
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter of the environment to time (default: this one)")
    a = ap.parse_args(argv)
    import imageio.v3 as iio

    work = tempfile.mkdtemp(prefix="fastssim-first-")
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    files = {"a": os.path.join(work, "a.png"), "b": os.path.join(work, "b.png"),
             "ar": os.path.join(work, "ar.png"), "br": os.path.join(work, "br.png")}
    iio.imwrite(files["a"], g)
    iio.imwrite(files["b"], (g // 2).astype(np.uint8))
    iio.imwrite(files["ar"], np.stack([g] * 3, -1))
    iio.imwrite(files["br"], np.stack([g // 2] * 3, -1).astype(np.uint8))
    rows = {}
    todo = list(CASES) + list(COMMANDS)
    if a.only:
        todo = [n for n in todo if n in a.only.split(",")]
    lines = ["| first call | cold (empty cache) | warm (cache filled) |", "|---|---:|---:|"]
    print("\n".join(lines))
    for name in todo:
        cold, warm = [], []
        for r in range(a.rounds):
            cache = tempfile.mkdtemp(prefix="numba-", dir=work)
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an install is: bytecode cached, not recompiled
            try:
                if name in CASES:
                    stmt, imports = CASES[name]
                    cold.append(_statement_seconds(stmt, imports, env, a.python))
                    warm.append(_statement_seconds(stmt, imports, env, a.python))
                else:
                    cmd = [c.format(python=a.python, **files) for c in COMMANDS[name]]
                    cold.append(_command_seconds(cmd, env))
                    warm.append(_command_seconds(cmd, env))
            except NotInstalled as e:
                lines.append(f"| {name} | not installed ({e}) | |")
                break
        else:
            rows[name] = {"cold": statistics.median(cold), "warm": statistics.median(warm), "rounds": a.rounds}
            lines.append(f"| {name} | {rows[name]['cold']:.2f} s | {rows[name]['warm']:.2f} s |")
        print(lines[-1], flush=True)
    if not a.only and a.python == sys.executable:
        results.write("first_call", "Time to the first result", "\n".join(lines), ["--rounds", str(a.rounds)],
                      a.results, peers=("scikit-image",), notes=NOTES)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
