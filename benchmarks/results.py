"""The results file a benchmark script writes, from which the docs' benchmarks page is built.

One JSON file per script in ``benchmarks/results/`` (``--results DIR`` to write elsewhere, ``--results
''`` for none): the table the script printed (Markdown), the command that made it, when, at which
commit, and on what (CPU model, cores, threading layer, library versions). ``docs/_ext`` renders every
file there as one section of the page, so the page shows the last run of each script and nothing
older: the history of experiments is in git.
"""

import datetime
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

#: where the scripts write by default, and where the docs read
DIRECTORY = Path(__file__).resolve().parent / "results"


def _cpu():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def versions(*names):
    """The installed version of each distribution named (those not installed left out)."""
    got = {}
    for name in ("fastssim", "numba", "numpy", *names):
        try:
            got[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return got


def write(name, title, table, argv, directory=DIRECTORY, peers=(), notes="", command=None):
    """Write ``directory/name.json``; returns its path (None when ``directory`` is empty).

    ``table`` is the Markdown table the script printed, ``argv`` the script's arguments (the command
    recorded is ``python -m benchmarks.<name> ARGV``), ``peers`` the distributions whose versions
    matter, ``notes`` one paragraph on how to read the table; ``command`` replaces the command
    recorded (a pytest run).
    """
    if not directory:
        return None
    import numba

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    record = dict(
        name=name, title=title, notes=notes,
        command=command or " ".join(["python", "-m", f"benchmarks.{name}", *argv]),
        date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        commit=_commit(),
        machine=dict(cpu=_cpu(), cores=os.cpu_count(), system=f"{platform.system()} {platform.release()}",
                     python=sys.version.split()[0], threading_layer=_layer(numba)),
        versions=versions(*peers),
        table=table,
    )
    path = directory / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(tmp, path)
    print(f"results written to {path}", file=sys.stderr)
    return path


def _layer(numba):
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel kernel has run in this process
        return None
