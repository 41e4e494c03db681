"""Speed on a busy machine: each workload quiet and beside a CPU-bound neighbour process, on all
threads and on one, for each of Numba's threading layers, with fast-ssim (C, OpenMP) in the same run.

    python -m benchmarks.test_under_load [--seconds 1.5] [--layers tbb,omp] [--out under_load.json]
    python -m pytest benchmarks/test_under_load.py -s      # a short run, the table printed

Each (layer, thread count) runs in a fresh process (the layer and fast-ssim's OpenMP threads are
chosen when a process starts): it times every workload warm for ``--seconds``, first quiet, then
with ``python -c "while True: pass"`` running beside it (started and stopped here). Throughput is
pixels over the **mean** time of a call: a call that waits a scheduler time slice for a stalled
thread counts in full (the median hides such tails). The values are printed beside the times: every
layer and thread count gives the same number, bit for bit (the pytest test asserts it). The
DataLoader case: a ``torch`` DataLoader with 4 worker processes each scoring 512^2 pairs, with
fastssim's default in a worker (torch's thread count), every worker on all threads, and on one.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

try:
    from benchmarks import results
    from benchmarks.timing import warm_times
except ImportError:  # run by pytest from benchmarks/ (on sys.path there)
    import results  # type: ignore[no-redef]
    from timing import warm_times

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pairs(rng):
    g = {n: rng.integers(0, 256, (n, n), dtype=np.uint8) for n in (256, 1024, 4096)}
    d = {n: np.clip(g[n] + rng.normal(0, 12, g[n].shape), 0, 255).astype(np.uint8) for n in g}
    f = (g[1024] / 255).astype(np.float32)
    fd = (d[1024] / 255).astype(np.float32)
    f5 = np.ascontiguousarray(f[:512, :512])
    f5d = np.ascontiguousarray(fd[:512, :512])
    b64 = rng.integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    b64d = np.clip(b64 + rng.normal(0, 12, b64.shape), 0, 255).astype(np.uint8)
    b512 = rng.integers(0, 256, (8, 512, 512, 3), dtype=np.uint8)
    b512d = np.clip(b512 + rng.normal(0, 12, b512.shape), 0, 255).astype(np.uint8)
    v = rng.random((128, 128, 128), dtype=np.float32)
    vd = (v + 0.05 * rng.standard_normal(v.shape)).astype(np.float32)
    return g, d, f, fd, f5, f5d, b64, b64d, b512, b512d, v, vd


def workloads():
    """``(name, implementation, pixels, call)``; ``call()`` returns the value (a float)."""
    import fastssim as fs

    g, d, f, fd, f5, f5d, b64, b64d, b512, b512d, v, vd = _pairs(np.random.default_rng(0))
    out = []
    for n in (256, 1024, 4096):
        out.append((f"ssim {n}^2 uint8", "fastssim", n * n, lambda n=n: fs.ssim(g[n], d[n])))
    out += [
        ("ms_ssim 1024^2 uint8", "fastssim", 1024 ** 2, lambda: fs.ms_ssim(g[1024], d[1024])),
        ("ssim_with_gradient 512^2 float32", "fastssim", 512 ** 2,
         lambda: fs.ssim_with_gradient(f5, f5d, data_range=1.0)[0]),
        ("ssim_batch 256 x 64^2 RGB uint8", "fastssim", b64.size // 3,
         lambda: float(fs.ssim_batch(b64, b64d, channel_axis=-1).mean())),
        ("ssim_batch 8 x 512^2 RGB uint8", "fastssim", b512.size // 3,
         lambda: float(fs.ssim_batch(b512, b512d, channel_axis=-1).mean())),
        ("ssim 128^3 float32", "fastssim", v.size, lambda: fs.ssim(v, vd, data_range=1.0)),
    ]
    try:
        import fast_ssim
    except ImportError:
        return out
    for n in (256, 1024, 4096):  # fast-ssim's convention (scikit-image's default: 7x7 uniform, sample covariance), both sides
        out.append((f"ssim 7x7 uniform {n}^2 uint8", "fast-ssim", n * n,
                    lambda n=n: float(fast_ssim.ssim(g[n], d[n], data_range=255))))
        out.append((f"ssim 7x7 uniform {n}^2 uint8", "fastssim", n * n,
                    lambda n=n: fs.ssim(g[n], d[n], win_size=7, gaussian=False, sample_covariance=True)))
    return out


def _neighbour():
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def child(seconds):
    """One process's rows (one layer, one thread count): JSON lines on stdout."""
    import numba

    from fastssim.kernels.cpu.threads import layer as threading_layer

    rows = workloads()
    for _, _, _, call in rows:
        call()  # compile everything before the clock starts
    layer = threading_layer()
    for mode in ("quiet", "busy"):
        proc = _neighbour() if mode == "busy" else None
        try:
            time.sleep(0.2)
            for name, impl, pixels, call in rows:
                times = warm_times(call, seconds)
                mean, median, n = float(times.mean()), float(np.median(times)), len(times)
                print(json.dumps(dict(layer=layer, threads=numba.get_num_threads(), mode=mode, workload=name,
                                      impl=impl, mpx_mean=pixels / mean / 1e6, mpx_median=pixels / median / 1e6,
                                      calls=n, value=call())), flush=True)
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()


def _score_item(i):
    import fastssim

    rng = np.random.default_rng(i)
    x = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    return fastssim.ssim(x, np.clip(x + rng.normal(0, 12, x.shape), 0, 255).astype(np.uint8))


def dataloader(seconds, threads):
    """Pairs per second through a torch DataLoader of 4 workers that each score 512^2 pairs, the
    kernels in each worker on ``threads``: 'default' (fastssim's policy: torch's count, 1), 'all'
    or 'one' (set in each worker by ``fastssim.set_num_threads``)."""
    import torch.utils.data as tud

    import fastssim

    class Pairs(tud.Dataset):
        def __len__(self):
            return 1 << 20

        def __getitem__(self, i):
            return _score_item(i % 64)

    def init(_):
        import numba

        if threads != "default":
            fastssim.set_num_threads(1 if threads == "one" else numba.config.NUMBA_NUM_THREADS)

    fastssim.ssim(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8))  # compile in the parent
    loader = tud.DataLoader(Pairs(), batch_size=8, num_workers=4, worker_init_fn=init)
    it = iter(loader)
    next(it)
    n, t = 0, time.perf_counter()
    while time.perf_counter() - t < seconds:
        n += len(next(it))
    return n / (time.perf_counter() - t)


def run(seconds=1.5, layers=("tbb", "omp"), torch_case=True, stream=sys.stderr):
    """Every layer's and thread count's rows (dicts), each from a fresh process."""
    rows = []
    for layer in layers:
        for threads in (None, 1):
            env = dict(os.environ, NUMBA_THREADING_LAYER=layer, PYTHONPATH=ROOT)
            if threads:
                env.update(NUMBA_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
            print(f"layer {layer}, {threads or 'all'} thread(s) ...", file=stream, flush=True)
            r = subprocess.run([sys.executable, "-m", "benchmarks.test_under_load", "--child",
                                "--seconds", str(seconds)], env=env, cwd=ROOT, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"layer {layer}: {r.stderr[-2000:]}")
            rows += [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    if torch_case:
        try:
            import torch  # noqa: F401
        except ImportError:
            return rows
        for mode in ("quiet", "busy"):
            proc = _neighbour() if mode == "busy" else None
            try:
                for threads in ("default", "all", "one"):
                    rows.append(dict(layer=rows[0]["layer"] if rows else "", threads=threads,
                                     mode=mode, workload="DataLoader, 4 workers, 512^2 uint8 pairs",
                                     impl="fastssim", pairs_per_s=dataloader(seconds * 2, threads)))
            finally:
                if proc is not None:
                    proc.kill()
                    proc.wait()
    return rows


NOTES = ("Every workload quiet and beside a busy process (``python -c 'while True: pass'``), on all threads "
         "and on one, for each of Numba's threading layers, each in a fresh process; Mpx/s of the mean call "
         "(a call that waits for a stalled thread counts in full). The last column, busy on all threads "
         "against quiet on one thread, is the one to read: 1.0 means the busy neighbour costs no more than "
         "its core's share. fast-ssim uses its own OpenMP threads whatever the layer.")


def table(rows):
    """The rows as a markdown table: a line per workload, implementation and layer; Mpx/s (mean
    call) quiet and busy, on all threads and on one; busy all threads over quiet one thread."""
    cells = {}
    for r in rows:
        if "mpx_mean" not in r:
            continue
        key = (r["workload"], r["impl"], r["layer"])
        cells.setdefault(key, {})[(r["mode"], "1" if r["threads"] == 1 else "all")] = r["mpx_mean"]
    lines = ["| workload | implementation | layer | quiet, all threads | quiet, 1 thread | busy, all threads "
             "| busy, 1 thread | busy all / quiet 1 |", "|---|---|---|---:|---:|---:|---:|---:|"]
    for (w, impl, layer), c in cells.items():
        get = [c.get(k, float("nan")) for k in (("quiet", "all"), ("quiet", "1"), ("busy", "all"), ("busy", "1"))]
        lines.append(f"| {w} | {impl} | {layer} | " + " | ".join(f"{v:.0f}" for v in get)
                     + f" | {get[2] / get[1]:.2f} |")
    loader = [r for r in rows if "pairs_per_s" in r]
    if loader:
        lines += ["", "| DataLoader, 4 workers, 512^2 uint8 | quiet | busy |", "|---|---:|---:|"]
        said = dict(default="the default (torch's thread count: 1)", all="all threads (set in each worker)",
                    one="one thread (set in each worker)")
        for threads in ("default", "all", "one"):
            got = {r["mode"]: r["pairs_per_s"] for r in loader if r["threads"] == threads}
            lines.append(f"| fastssim in each worker on {said[threads]} | {got.get('quiet', float('nan')):.0f} "
                         f"pairs/s | {got.get('busy', float('nan')):.0f} pairs/s |")
    return "\n".join(lines)


def test_under_load_same_values_and_table():
    """A short run: the table printed; every layer and thread count, quiet or busy, gives each
    workload the same value, bit for bit."""
    rows = run(seconds=0.3, torch_case=False)
    print("\n" + table(rows))
    values = {}
    for r in rows:
        values.setdefault((r["workload"], r["impl"]), set()).add(r["value"])
    assert values and all(len(v) == 1 for v in values.values()), {k: v for k, v in values.items() if len(v) > 1}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.5, help="timing per workload and mode")
    ap.add_argument("--layers", default="tbb,omp", help="Numba threading layers to compare")
    ap.add_argument("--no-torch", action="store_true", help="leave out the DataLoader case")
    ap.add_argument("--out", help="also write the rows here (JSON)")
    ap.add_argument("--results", default=str(results.DIRECTORY), help="write the results file there ('' for none)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.seconds)
        return
    rows = run(a.seconds, tuple(a.layers.split(",")), not a.no_torch)
    import platform

    import numba

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; numba {numba.__version__}; "
          f"python -m benchmarks.test_under_load --seconds {a.seconds} --layers {a.layers}")
    text = table(rows)
    print(text)
    results.write("test_under_load", "Beside a busy process", text,
                  ["--seconds", str(a.seconds), "--layers", a.layers] + (["--no-torch"] if a.no_torch else []),
                  a.results, peers=("tbb", "fast-ssim", "torch"), notes=NOTES)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
