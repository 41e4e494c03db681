"""``fastssim report``, ``map``, ``presets`` and ``demo``."""

import os
import sys

from .codes import EXIT_ERRORS, EXIT_OK, EXIT_OUTPUT, EXIT_USAGE


def report(args, sub):
    from ..batch.writer import OutputError, local_path
    from ..report import check_stats, notes, render, summarise

    try:
        args.out = [local_path(o) for o in args.out]
    except OutputError as e:
        sub.error(str(e))
    for out in args.out:
        if not os.path.isdir(out):
            sub.error(f"not a directory: {out}")
    if args.baseline is not None and args.by_dataset:
        sub.error("--baseline and --by-dataset are two reports: ask for one at a time")
    if args.format == "latex" and not args.by_dataset:
        sub.error("--format latex is for the --by-dataset table")
    if args.baseline is not None:
        return _paired(args, sub)
    if args.by_dataset:
        return _tables(args, sub)
    try:
        stats = check_stats(args.stats)
    except ValueError as e:
        sub.error(f"--stats: {e}")
    rep, code = _run(summarise, args.out, stats=stats, all_pairs=args.all_pairs, mixed=args.mixed_params)
    if code is not None:
        return code
    if not rep.rows:
        print(f"error: no results in {', '.join(args.out)} (score into it with 'fastssim score ... -o "
              f"{args.out[0]}')", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render(rep, args.format))
    if args.format == "csv":
        for line in notes(rep):
            print(line, file=sys.stderr)
    return _plots(args, sub, [m for m in ("psnr", "ssim", "ms_ssim", "mse", "dssim") if m in rep.metrics][:2])


def _plots(args, sub, metrics, paired_rows=None):
    """``--plot DIR``: the report's figures, after its text."""
    if not args.plot:
        return EXIT_OK
    from ..report import plots

    try:
        paths = plots.plot(args.out, args.plot, metrics=metrics, baseline=args.baseline, paired_rows=paired_rows,
                           mixed=args.mixed_params, level=getattr(args, "level", 0.95), group_by=args.group_by)
    except (ImportError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"error: cannot write figures to {args.plot}: {e.strerror or e}", file=sys.stderr)
        return EXIT_OUTPUT
    print(f"wrote {len(paths)} figure files to {args.plot}", file=sys.stderr)
    return EXIT_OK


def _run(func, *a, **kw):
    """``(result, None)``, or ``(None, exit status)`` with the error said: a damaged or unreadable
    output is exit 3; what the user asked that the data cannot give (a baseline that is not a
    method, directories that differ, a missing extra) exit 2."""
    from ..batch.writer import OutputError

    try:
        return func(*a, **kw), None
    except OutputError as e:
        print(f"error: {e}", file=sys.stderr)
        return None, EXIT_OUTPUT
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return None, EXIT_USAGE


def _precision(text, sub):
    out = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, digits = part.partition("=")
        if not digits.strip().isdigit() or int(digits) > 12:
            sub.error(f"--precision: expected METRIC=DIGITS (0-12), e.g. psnr=2,ssim=4; got {part!r}")
        out[name.strip().lower().replace("-", "_")] = int(digits)
    return out


def _tables(args, sub):
    """``report --by-dataset``: the method x dataset table."""
    from ..batch import ConfigError, check_metrics
    from ..report import tables

    try:
        metrics = [m.strip().lower().replace("-", "_") for m in (args.metrics or "psnr,ssim").split(",") if m.strip()]
        check_metrics(metrics)
    except ConfigError as e:
        sub.error(f"--metrics: {e}")
    precision = _precision(args.precision, sub)
    try:
        stats = tables.check_table_stats(args.stats)
    except ValueError as e:
        sub.error(f"--stats: {e}")
    tab, code = _run(tables.dataset_table, args.out, metrics, stat=stats, mixed=args.mixed_params,
                     group_by=args.group_by)
    if code is not None:
        return code
    if not tab["methods"]:
        print(f"error: no results in {', '.join(args.out)}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(tables.render(tab, args.format, precision))
    return _plots(args, sub, metrics)


def _paired(args, sub):
    """``report --baseline``: every other method against the baseline, pair by pair."""
    from ..batch import ConfigError, check_metrics
    from ..report import paired

    if args.resamples < 100:
        sub.error(f"--resamples must be at least 100, got {args.resamples}")
    if not 0.5 <= args.level < 1:
        sub.error(f"--level must be in [0.5, 1), got {args.level}")
    try:
        metrics = check_metrics(args.metrics) if args.metrics else None
    except ConfigError as e:
        sub.error(f"--metrics: {e}")
    rows, code = _run(paired.compare, args.out, args.baseline, metrics=metrics, resamples=args.resamples,
                      seed=args.seed, level=args.level, mixed=args.mixed_params, group_by=args.group_by)
    if code is not None:
        return code
    head = paired.heading(args.baseline, rows, args.resamples, args.seed, args.level)
    sys.stdout.write(paired.render(rows, args.format, "" if args.format == "csv" else head))
    if args.format == "csv":
        print(head, file=sys.stderr)
    shown = metrics or [m for m in paired.HIGHER_IS_BETTER if any(r["metric"] == m for r in rows)]
    return _plots(args, sub, list(shown), rows)


def _convention(args, preset):
    parts = [f"preset {preset}" if preset else "Gaussian 11, sigma 1.5"]
    if args.y_channel:
        parts.append("Y (BT.601)")
    if args.crop_border:
        parts.append(f"crop {args.crop_border}")
    return ", ".join(parts)


def draw_map(args, sub):
    import numpy as np

    from ..metrics import structural as metrics
    from ..conventions.resolve import transform
    from ..batch import ConfigError, check_data_range, check_preset
    from ..batch.score import resolve_axes
    from ..io import ReadError, read_image
    from ..report.heatmap import heatmap_image, writable

    if not writable(args.out):
        sub.error(f"-o {args.out}: its extension names no image format fastssim can write; use .png, .jpg, "
                  ".tif, .bmp or .webp (.svg and .pdf with fastssim[plot])")
    try:
        preset = check_preset(args.preset)
        data_range = check_data_range(args.data_range)
    except ConfigError as e:
        sub.error(str(e))
    if args.crop_border < 0:
        sub.error(f"--crop-border must be >= 0, got {args.crop_border}")
    try:
        ref = read_image(args.ref, alpha=args.alpha)
        dist = read_image(args.dist, alpha=args.alpha)
        if ref.shape != dist.shape:
            raise ValueError(f"shape mismatch: ref {ref.shape}, dist {dist.shape}")
        ca, _ = resolve_axes(ref, args.ref, "auto")
        t = transform(ref, dist, channel_axis=ca, data_range=data_range, preset=preset, y_channel=args.y_channel,
                      crop_border=args.crop_border)  # once: the score and the map read the same images and L
        score, conv = metrics.ssim_transformed(t)
        ca = t.channel_axis
        smap = metrics.ssim_map(t.x, t.y, data_range=conv.L, channel_axis=ca, **t.window)
    except (ReadError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_ERRORS
    if ca is not None:
        smap = smap.mean(axis=ca)  # the mean of the per-channel maps, as the score
    title = (f"SSIM {score:.4f} ({_convention(args, preset)}): {os.path.basename(args.ref)} vs "
             f"{os.path.basename(args.dist)}")
    view = smap
    if smap.ndim == 3:
        axis, index = args.slice if args.slice else (0, smap.shape[0] // 2)
        if not (0 <= axis < 3 and 0 <= index < smap.shape[axis]):
            sub.error(f"--slice {axis} {index} is outside the volume {smap.shape}")
        view = np.take(smap, index, axis=axis)
        title += f" (slice {index} of axis {axis})"
    try:
        for path in (args.out, args.npy):
            if path and os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
        if args.npy:
            np.save(args.npy, smap)
        engine = heatmap_image(view, args.out, title)
    except OSError as e:
        print(f"error: cannot write {e.filename or args.out}: {e.strerror or e}", file=sys.stderr)
        return EXIT_OUTPUT
    print(f"wrote {args.out}" + (f" and {args.npy}" if args.npy else "") + f" ({engine}); {title}", file=sys.stderr)
    return EXIT_OK


def presets(args, sub):
    from ..conventions.presets import PRESETS

    width = max(map(len, PRESETS))
    for name, p in PRESETS.items():
        print(f"{name:<{width}}  {p.describe()}")
    return EXIT_OK


def compile_kernels(args, sub):
    """``fastssim compile``: the kernels into the disk cache, a line per set, where the cache is."""
    from ..metrics.compile import COMMON, EXTRA, compile as run

    if args.workers is not None and args.workers < 1:
        sub.error(f"--workers must be a positive integer, got {args.workers}")
    only = None
    if args.only:
        only = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in only if n not in COMMON + EXTRA]
        if unknown:
            sub.error(f"--only: unknown kernel set(s) {', '.join(unknown)}; choose from {', '.join(COMMON + EXTRA)}")
    got = run("all" if args.all else "common", only=only, workers=args.workers)
    print(f"{len(got['compiled'])} kernel sets cached in {got['cache']}")
    return EXIT_OK


COMMANDS = {"report": report, "map": draw_map, "presets": presets, "compile": compile_kernels}
