"""The ``fastssim`` command: score, report, demo."""

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import warnings

from ._version import __version__

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_OUTPUT = 0, 1, 2, 3
#: Interrupted runs exit with 128 + the signal's number, as shells report them.
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

SCORE_EPILOG = """examples:
  fastssim score ref/ dist/ -o scores/
  fastssim score hr/ sr/ --suffix _x4_SR -o scores/          (baboon.png -> baboon_x4_SR.png)
  fastssim score hr/ --dist edsr=out/edsr --dist rcan=out/rcan -o scores/
  fastssim score --manifest pairs.csv --root data/ -o scores/
  fastssim score vols/ recon/ --slices 0 -o scores/          (2-D SSIM of every slice)
  fastssim score hr/ sr/ --preset basicsr --crop-border 4 --metrics ssim,psnr -o scores/

Re-running the same command resumes: pairs already written are skipped.
Exit status: 0 every pair scored; 1 some rows are errors (all rows written); 2 usage error
(nothing scored); 3 the output cannot be written or read (path, permissions, disk full, a
damaged part; committed rows are intact); 130/143 stopped by SIGINT/SIGTERM after committing
the rows scored so far (re-run to resume).
"""


def _parser():
    p = argparse.ArgumentParser(prog="fastssim", description="Fast SSIM, PSNR and MSE of image and volume pairs.")
    p.add_argument("--version", action="version", version=f"fastssim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("score", help="score pairs of files into a Parquet dataset",
                       epilog=SCORE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("ref", nargs="?", help="directory of reference files")
    s.add_argument("dist_dir", nargs="?", metavar="dist", help="directory of distorted files, matched by relative path")
    s.add_argument("-o", "--out", required=True, help="output directory (a Parquet dataset)")
    s.add_argument("--dist", action="append", default=[], metavar="NAME=DIR",
                   help="a method's distorted files; repeat for several methods (gives a 'method' column)")
    s.add_argument("--manifest", help="CSV or Parquet with 'ref' and 'dist' (and optional 'method') columns")
    s.add_argument("--root", help="directory the manifest's paths are relative to (default: the manifest's)")
    names = s.add_mutually_exclusive_group()
    names.add_argument("--suffix", help="distorted name = reference stem + SUFFIX + extension")
    names.add_argument("--template", help="distorted name template with {stem} and {ext}, e.g. '{stem}_SR.png'")
    s.add_argument("--metrics", default="ssim,psnr,mse",
                   help="comma-separated, from ssim, ms_ssim, psnr, mse, dssim (default ssim,psnr,mse)")
    s.add_argument("--preset", help="reproduce another implementation's convention (see 'fastssim presets')")
    s.add_argument("--y-channel", action="store_true", help="score the BT.601 luma of RGB images (SR convention)")
    s.add_argument("--crop-border", type=int, default=0, help="drop N pixels at each border first (SR convention)")
    s.add_argument("--data-range", type=float, help="the data range L (default: from the integer dtype)")
    s.add_argument("--slices", type=int, metavar="AXIS", help="score volumes as 2-D slices along AXIS (list column)")
    s.add_argument("--alpha", choices=("drop", "keep", "error"), default="drop",
                   help="RGBA images: drop alpha (default), keep it as a channel, or make an error row")
    s.add_argument("--max-pixels", type=int, default=None, help="refuse files with more pixels (default 2^28)")
    s.add_argument("--workers", type=int, default=None, help="decode/score threads (default: all cores)")
    s.add_argument("--pair-timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on a pair still being read or scored after this long: it becomes an error "
                        "row and the run goes on (default 600)")
    s.add_argument("--png-decoder", choices=("auto", "pillow", "libspng", "imageio"), default="auto",
                   help="8-bit PNG decoder: libspng (pyspng, fastssim[fast]) is faster per image but holds "
                        "the GIL; 'auto' uses it for up to 2 workers (default)")
    s.add_argument("--overwrite", action="store_true", help="discard previous results in --out")
    s.add_argument("--part-rows", type=int, default=2000,
                   help="rows per committed Parquet part (default 2000); parts are also committed every 10 s")
    s.add_argument("--quiet", action="store_true", help="no progress output")

    r = sub.add_parser("report", help="per-method statistics of a results directory",
                       epilog="examples:\n  fastssim report scores/\n  fastssim report scores/ --format markdown",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("out", help="a directory written by 'fastssim score'")
    r.add_argument("--format", choices=("table", "markdown", "csv"), default="table")

    mp = sub.add_parser("map", help="the SSIM map of one pair as a heatmap PNG (and raw .npy)",
                        epilog="examples:\n  fastssim map ref.png dist.png -o map.png\n"
                               "  fastssim map vol.npy recon.npy -o map.png --slice 0 40 --npy map.npy",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    mp.add_argument("ref")
    mp.add_argument("dist")
    mp.add_argument("-o", "--out", required=True, help="PNG file to write")
    mp.add_argument("--npy", help="also save the raw map (float32/float64, the input's spatial shape)")
    mp.add_argument("--slice", nargs=2, type=int, metavar=("AXIS", "INDEX"),
                    help="volumes: the slice to draw (default: the middle one along axis 0)")
    mp.add_argument("--data-range", type=float)
    mp.add_argument("--preset", help="window and colour convention (see 'fastssim presets')")
    mp.add_argument("--alpha", choices=("drop", "keep", "error"), default="drop")

    sub.add_parser("presets", help="list the presets and what each fixes",
                   epilog="examples:\n  fastssim presets", formatter_class=argparse.RawDescriptionHelpFormatter)

    d = sub.add_parser("demo", help="generate a small dataset, score it and print the report",
                       epilog="examples:\n  fastssim demo\n  fastssim demo --workdir /tmp/fastssim-demo",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--workdir", help="where to write the dataset and scores (default: a temporary directory)")
    d.add_argument("--images", type=int, default=24, help="number of generated images (default 24)")
    d.add_argument("--format", choices=("table", "markdown", "csv"), default="table")
    return p


def _usage(parser, msg):
    parser.error(msg)  # prints usage and exits with status 2


def _score(args, parser):
    from .batch import PAIR_TIMEOUT, Job, score_files
    from .batch.pairs import NameMap, match_dirs, read_manifest
    from .batch.writer import OutputBusy, OutputError, ParamsMismatch, check_output
    from .io import MAX_PIXELS

    for flag, value in (("--max-pixels", args.max_pixels), ("--workers", args.workers),
                        ("--part-rows", args.part_rows)):
        if value is not None and value < 1:
            _usage(parser, f"{flag} must be a positive integer, got {value}")
    if args.pair_timeout is not None and not (0 < args.pair_timeout < float("inf")):
        _usage(parser, f"--pair-timeout must be a positive number of seconds, got {args.pair_timeout}")
    if args.data_range is not None and not (0 < args.data_range < 1e150):
        _usage(parser, f"--data-range must be a positive finite number (the max - min your data can take), "
                       f"got {args.data_range}")
    try:
        check_output(args.out)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_OUTPUT

    dists = []
    for spec in args.dist:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            _usage(parser, f"--dist takes NAME=DIR, got {spec!r}")
        dists.append((name, path))
    if args.manifest:
        if args.ref or args.dist_dir or dists:
            _usage(parser, "--manifest replaces the REF and DIST directories; give one or the other")
        root = args.root or os.path.dirname(os.path.abspath(args.manifest))
        try:
            pairs = read_manifest(args.manifest, root)
        except (OSError, ValueError) as e:
            _usage(parser, f"cannot read manifest: {e}")
        ref_root, dist_roots = root, {m: root for m in {p.method for p in pairs}}
        unmatched = {}
    else:
        if not args.ref:
            _usage(parser, "give a REF directory (and DIST or --dist NAME=DIR), or --manifest")
        if args.dist_dir and dists:
            _usage(parser, "give DIST or --dist NAME=DIR, not both")
        if args.dist_dir:
            dists = [(None, args.dist_dir)]
        if not dists:
            _usage(parser, "missing the distorted files: give DIST or --dist NAME=DIR")
        for _, d in [(None, args.ref)] + dists:
            if not os.path.isdir(d):
                _usage(parser, f"not a directory: {d}")
        try:
            namemap = NameMap(args.suffix, args.template)
        except ValueError as e:
            _usage(parser, str(e))
        pairs, unmatched = match_dirs(args.ref, dists, namemap)
        ref_root, dist_roots = args.ref, dict(dists)
    from .batch import check_metrics
    from .presets import PRESETS

    try:
        metric_names = check_metrics(args.metrics.split(","))
    except ValueError as e:
        _usage(parser, f"--metrics: {e}")
    if args.preset is not None and args.preset not in PRESETS:
        _usage(parser, f"unknown preset {args.preset!r}; choose one of {', '.join(PRESETS)}")
    if args.crop_border < 0:
        _usage(parser, f"--crop-border must be >= 0, got {args.crop_border}")

    for method, um in unmatched.items():
        label = f" ({method})" if method else ""
        if um.ref_only:
            print(f"warning{label}: {um.ref_only} reference file(s) have no distorted counterpart, e.g. "
                  + ", ".join(um.ref_examples), file=sys.stderr)
        if um.dist_only:
            print(f"warning{label}: {um.dist_only} distorted file(s) have no reference, e.g. "
                  + ", ".join(um.dist_examples), file=sys.stderr)
    if not pairs:
        print("error: no pairs to score", file=sys.stderr)
        return EXIT_USAGE

    max_pixels = args.max_pixels or MAX_PIXELS
    params = {"data_range": args.data_range if args.data_range is not None else "dtype",
              "slices": args.slices, "alpha": args.alpha, "max_pixels": max_pixels,
              "window": "gaussian 11 sigma=1.5", "K": [0.01, 0.03], "covariance": "population",
              "colour": "mean of per-channel SSIM", "suffix": args.suffix, "template": args.template,
              "metrics": list(metric_names), "preset": args.preset, "y_channel": args.y_channel,
              "crop_border": args.crop_border}
    if args.preset:
        params["window"] = params["K"] = params["covariance"] = params["colour"] = f"preset {args.preset}"
    job = Job(ref_root, dist_roots, data_range=args.data_range, slices=args.slices, alpha=args.alpha,
              max_pixels=max_pixels, metrics_=metric_names, preset=args.preset, y_channel=args.y_channel,
              crop_border=args.crop_border)
    t0 = time.monotonic()
    stop = _StopOnSignal()
    try:
        with stop:
            summary = score_files(pairs, args.out, job, params, workers=args.workers,
                                  overwrite=args.overwrite, quiet=args.quiet, rows_per_part=args.part_rows,
                                  png_decoder=args.png_decoder, timeout=args.pair_timeout or PAIR_TIMEOUT,
                                  stop=stop.event)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_OUTPUT
    except (OutputBusy, ParamsMismatch, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if summary["duplicates"]:
        eg = "; ".join(" ".join(str(v) for v in key if v is not None) for key in summary["duplicate_examples"])
        print(f"warning: {summary['duplicates']} repeated pair(s) scored once, e.g. {eg}", file=sys.stderr)
    if summary["interrupted"]:
        print(f"stopped by {stop.name}: {summary['scored']} pairs scored and committed this run, "
              f"{summary['rows']} rows in {args.out}; re-run the same command to resume", file=sys.stderr)
        return EXIT_SIGINT if stop.name == "SIGINT" else EXIT_SIGTERM
    if not args.quiet:
        print(f"{summary['scored']} pairs scored, {summary['skipped']} already done, "
              f"{summary['errors']} error rows of {summary['rows']} in {args.out} "
              f"({time.monotonic() - t0:.1f}s)", file=sys.stderr)
    return EXIT_ERRORS if summary["errors"] else EXIT_OK


class _StopOnSignal:
    """While active, SIGINT and SIGTERM ask the run to stop after committing what it has
    scored; a second signal exits at once (committed parts are complete, so nothing is lost)."""

    def __init__(self):
        self.event = threading.Event()
        self.name = None
        self._old = {}

    def _handle(self, signum, frame):
        if self.event.is_set():
            os._exit(128 + signum)
        self.name = signal.Signals(signum).name
        self.event.set()

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


def _report(args, parser):
    from .batch.writer import OutputError
    from .report import render, summarise

    if not os.path.isdir(args.out):
        _usage(parser, f"not a directory: {args.out}")
    try:
        rows = summarise(args.out)
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_OUTPUT
    if not rows:
        print(f"error: no results in {args.out}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render(rows, args.format))
    return EXIT_OK


def _map(args, parser):
    import numpy as np

    from . import metrics, presets
    from .batch import layout as _layout
    from .io import ReadError, read_image
    from .render import heatmap_png

    try:
        ref = read_image(args.ref, alpha=args.alpha)
        dist = read_image(args.dist, alpha=args.alpha)
        kind = _layout(ref, args.ref)
        ca = -1 if kind.startswith("colour") else None
        window = dict(presets.WINDOW_DEFAULTS)
        x, y, ca, L, window, _ = presets.apply(ref, dist, preset=args.preset, y_channel=False, crop_border=0,
                                               channel_axis=ca, data_range=args.data_range, batch=False,
                                               window=window) if args.preset else (ref, dist, ca, args.data_range,
                                                                                    window, None)
        smap = metrics.ssim_map(x, y, data_range=L, channel_axis=ca, **window)
        score = metrics.ssim(x, y, data_range=L, channel_axis=ca, **window)
    except (ReadError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERRORS
    if ca is not None:
        smap = smap.mean(axis=ca)  # the mean of the per-channel maps, as the score
    if args.npy:
        np.save(args.npy, smap)
    title = f"SSIM {score:.4f}: {os.path.basename(args.ref)} vs {os.path.basename(args.dist)}"
    view = smap
    if smap.ndim == 3:
        axis, index = args.slice if args.slice else (0, smap.shape[0] // 2)
        if not (0 <= axis < 3 and 0 <= index < smap.shape[axis]):
            _usage(parser, f"--slice {axis} {index} is outside the volume {smap.shape}")
        view = np.take(smap, index, axis=axis)
        title += f" (slice {index} of axis {axis})"
    heatmap_png(view, args.out, title)
    print(f"wrote {args.out}" + (f" and {args.npy}" if args.npy else ""), file=sys.stderr)
    return EXIT_OK


def _presets(args, parser):
    from .presets import PRESETS

    width = max(map(len, PRESETS))
    for name, p in PRESETS.items():
        print(f"{name:<{width}}  {p.describe()}")
    return EXIT_OK


def _demo(args, parser):
    from .demo import make_dataset

    work = args.workdir or tempfile.mkdtemp(prefix="fastssim-demo-")
    print(f"generating {args.images} images and 3 volumes with blur, noise and JPEG in {work}", file=sys.stderr)
    dists, ref = make_dataset(os.path.join(work, "data"), n_images=args.images)
    out = os.path.join(work, "scores")
    argv = ["score", ref, "-o", out, "--overwrite"] + [f"--dist={m}={d}" for m, d in sorted(dists.items())]
    code = main(argv)
    if code == EXIT_USAGE:
        return code
    print(f"\nscores: {out} (read with pandas.read_parquet)\n", file=sys.stderr)
    rc = main(["report", out, "--format", args.format])
    return code or rc


def main(argv=None):
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # its warnings about damaged files become rows
    warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")  # --max-pixels rules
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {"score": _score, "report": _report, "map": _map, "presets": _presets,
               "demo": _demo}[args.command]
    return handler(args, parser)


if __name__ == "__main__":
    sys.exit(main())
