"""fastssim against the native SSIM packages on the package index, each on its own convention, quiet.

    python -m benchmarks.test_native_peers [--seconds 1.0]
    python -m pytest benchmarks/test_native_peers.py -s      # a short run, the table printed

- fast-ssim (C++, AVX2, OpenMP): scikit-image's default convention (7x7 uniform window, sample
  covariance); fastssim with ``win_size=7, gaussian=False, sample_covariance=True``, and with its
  own 11-tap Gaussian beside it.
- blazediff-ssim (Rust, SIMD, one thread): MATLAB's ``ssim.m`` (2009) with its automatic
  downsampling, on raw RGBA buffers of a grey image (R = G = B, so its grey conversion is exact);
  fastssim with ``preset="matlab2009"``.

Throughput is pixels of the full-size image over the median call, warm; every value is printed
beside its time, so that like is compared with like (the pytest test asserts they agree).
"""

import argparse
import sys

import numpy as np

try:
    from benchmarks import results
    from benchmarks.timing import warm_times
except ImportError:  # run by pytest from benchmarks/ (on sys.path there)
    import results  # type: ignore[no-redef]
    from timing import warm_times


def _pair(n, rng):
    x = rng.integers(0, 256, (n, n), dtype=np.uint8)
    # a smooth picture, so that downsampling keeps structure (noise alone averages away)
    yy, xx = np.mgrid[:n, :n] / n
    x = np.clip(0.6 * x + 100 * (1 + np.sin(9 * xx) * np.cos(7 * yy)), 0, 255).astype(np.uint8)
    y = np.clip(x + rng.normal(0, 12, x.shape), 0, 255).astype(np.uint8)
    return x, y


def workloads(sizes=(256, 1024, 4096)):
    """``(workload, implementation, pixels, call)``; ``call()`` returns the value."""
    import fastssim as fs

    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        x, y = _pair(n, rng)
        try:
            import fast_ssim
        except ImportError:
            fast_ssim = None
        if fast_ssim is not None:
            out.append((f"7x7 uniform, sample cov. {n}^2", "fast-ssim", n * n,
                        lambda x=x, y=y: float(fast_ssim.ssim(x, y, data_range=255))))
        out.append((f"7x7 uniform, sample cov. {n}^2", "fastssim", n * n,
                    lambda x=x, y=y: fs.ssim(x, y, win_size=7, gaussian=False, sample_covariance=True)))
        out.append((f"7x7 uniform, sample cov. {n}^2", "fastssim, 11-tap Gaussian", n * n,
                    lambda x=x, y=y: fs.ssim(x, y)))
        try:
            import blazediff_ssim
        except ImportError:
            continue
        rgba = [np.ascontiguousarray(np.repeat(a[..., None], 4, axis=2)) for a in (x, y)]
        for a in rgba:
            a[..., 3] = 255
        out.append((f"MATLAB ssim.m (2009) {n}^2", "blazediff-ssim", n * n,
                    lambda a=rgba[0], b=rgba[1], n=n: float(
                        blazediff_ssim.compare_rgba(a.tobytes(), b.tobytes(), n, n, metric="ssim").score)))
        out.append((f"MATLAB ssim.m (2009) {n}^2", "fastssim preset='matlab2009'", n * n,
                    lambda x=x, y=y: fs.ssim(x, y, preset="matlab2009")))
    return out


def run(seconds=1.0, sizes=(256, 1024, 4096)):
    rows = []
    for name, impl, pixels, call in workloads(sizes):
        t = float(np.median(warm_times(call, seconds)))
        rows.append(dict(workload=name, impl=impl, seconds=t, mpx=pixels / t / 1e6, value=call()))
    return rows


NOTES = ("fast-ssim (C++, AVX2, OpenMP) on scikit-image's convention and blazediff-ssim (Rust, SIMD, one "
         "thread) on MATLAB's ssim.m (2009) with its automatic downsampling, fastssim on the same convention "
         "in the same run; grey uint8, medians of warm calls. Each value is printed beside its time so that "
         "like is compared with like.")


def table(rows):
    lines = ["| workload | implementation | median ms | Mpx/s | value | fastssim speed-up |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        peer = next((p for p in rows if p["workload"] == r["workload"] and not p["impl"].startswith("fastssim")),
                    None)
        ratio = f"{peer['seconds'] / r['seconds']:.2f}x" if peer and r["impl"].startswith("fastssim") else ""
        lines.append(f"| {r['workload']} | {r['impl']} | {r['seconds'] * 1e3:.2f} | {r['mpx']:.0f} | "
                     f"{r['value']:.6f} | {ratio} |")
    return "\n".join(lines)


def test_native_peers_agree_and_table():
    """A short run: the table printed; each peer's value is fastssim's on its convention (fast-ssim
    computes in float32: 1e-6; blazediff-ssim: 1e-4, its own float32 downsampling)."""
    rows = run(seconds=0.2, sizes=(256, 1024))
    print("\n" + table(rows))
    by = {(r["workload"], r["impl"]): r["value"] for r in rows}
    for (w, impl), v in by.items():
        if impl == "fast-ssim":
            assert abs(v - by[(w, "fastssim")]) < 1e-6, (w, v, by[(w, "fastssim")])
        if impl == "blazediff-ssim":
            assert abs(v - by[(w, "fastssim preset='matlab2009'")]) < 1e-4, (w, v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--results", default=str(results.DIRECTORY), help="write the results file there ('' for none)")
    a = ap.parse_args(argv)
    import platform

    import numba

    print(f"{platform.machine()}, numba {numba.__version__}, threading layer after the run below; "
          f"python -m benchmarks.test_native_peers --seconds {a.seconds}", file=sys.stderr)
    rows = run(a.seconds)
    print(f"threading layer: {numba.threading_layer()}")
    text = table(rows)
    print(text)
    results.write("test_native_peers", "Native peers, each on its own convention (quiet)", text,
                  ["--seconds", str(a.seconds)], a.results, peers=("fast-ssim", "blazediff-ssim"), notes=NOTES)


if __name__ == "__main__":
    main()
