"""``fastssim score``: one pair printed, or a dataset scored into Parquet.

Everything that can be checked from the arguments is checked first, then what the first
readable pair shows (in ``score_files``); a configuration that cannot work ends with exit
status 2 and nothing written.
"""

import json
import os
import sys
import threading
import time

from .codes import EXIT_OUTPUT, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from .signals import Interrupted, StopOnSignal, exit_status


def _fail(message, code):
    print(f"error: {message}", file=sys.stderr)
    return code


def _checked(args, sub):
    """The conversion options, checked and normalised (a usage error otherwise)."""
    from ..batch import ConfigError, check_data_range, check_metrics, check_options, check_preset
    from ..batch.options import check_backend
    from ..io import MAX_PIXELS, is_video

    for flag, value in (("--max-pixels", args.max_pixels), ("--workers", args.workers),
                        ("--part-rows", args.part_rows), ("--chunk-pairs", args.chunk_pairs)):
        if value is not None and value < 1:
            sub.error(f"{flag} must be a positive integer, got {value}")
    if args.chunk_pairs is not None and args.scheduler is None:
        sub.error("--chunk-pairs sets the pairs per Dask task: it needs --scheduler")
    if args.pair_timeout is not None and not (0 < args.pair_timeout < float("inf")):
        sub.error(f"--pair-timeout must be a positive number of seconds, got {args.pair_timeout}")
    try:
        metrics = check_metrics(args.metrics)
    except ConfigError as e:
        sub.error(f"--metrics: {e}")
    try:
        data_range = check_data_range(args.data_range)
    except ConfigError as e:
        sub.error(f"--data-range: {e}")
    try:
        backend = check_backend(args.backend)
    except ConfigError as e:
        sub.error(f"--backend: {e}")
    from ..batch.video import check_video, parse_frames, video_conflicts

    try:
        start, end = parse_frames(args.frames)
        video = check_video(dict(planes=args.video_planes, start=start, end=end, offset=args.frame_offset,
                                 sync=args.frame_sync))
    except ConfigError as e:
        sub.error(str(e))
    if args.ref and args.dist_dir and all(os.path.isfile(p) for p in (args.ref, args.dist_dir)) and all(
            is_video(p) for p in (args.ref, args.dist_dir)):
        try:
            video_conflicts(video, metrics, dict(y_channel=args.y_channel, slices=args.slices))
        except ConfigError as e:
            sub.error(str(e))
    try:
        preset = check_preset(args.preset)
        check_options(data_range=data_range, slices=args.slices, alpha=args.alpha,
                      max_pixels=args.max_pixels or MAX_PIXELS, preset=preset, crop_border=args.crop_border,
                      metrics=metrics)
    except ConfigError as e:
        sub.error(str(e))
    return dict(data_range=data_range, slices=args.slices, alpha=args.alpha, max_pixels=args.max_pixels or MAX_PIXELS,
                metrics=metrics, preset=preset, y_channel=args.y_channel, crop_border=args.crop_border,
                backend=backend, video=video, missing_chunks=args.missing_chunks, ms_scales=args.ms_scales)


def _two_items(args):
    """Whether REF and DIST name two items (files, DICOM series, zarr stores), not directories."""
    from ..io.dicom import is_series

    return bool(args.ref and args.dist_dir and all(
        os.path.isfile(p) or is_series(p) or p.rstrip("/").lower().endswith(".zarr")
        for p in (args.ref, args.dist_dir)))


def _single(args, sub, options):
    """Two files: score them, print the metrics, write nothing."""
    from ..batch import ConfigError, Job
    from ..batch.pairs import Pair

    for flag in ("manifest", "suffix", "template", "scheduler"):
        if getattr(args, flag) is not None:
            sub.error(f"--{flag.replace('_', '-')} is for datasets; two files are scored and their metrics printed "
                      "(add -o DIR to write them to Parquet)")
    if args.dist:
        sub.error("--dist is for datasets; two files are scored and printed")
    from ..batch import PAIR_TIMEOUT
    from ..batch.progress import CompileNotice
    from ..batch.rows import probe_one

    from ..io import png_decoder_for

    try:
        png_decoder_for(args.png_decoder)
    except ValueError as e:
        sub.error(f"--png-decoder: {e}")
    job = Job("", {}, **options)
    job.png_decoder = args.png_decoder
    pair = Pair(None, args.ref, args.dist_dir)
    try:  # under --pair-timeout as in a dataset run: a file that blocks (a FIFO it names) ends in time
        with CompileNotice(quiet=args.quiet):  # a first call compiles for seconds: say so
            row, readable = probe_one(job, pair, args.pair_timeout or PAIR_TIMEOUT)
    except ConfigError as e:
        return _fail(e, EXIT_USAGE)
    warning = row.pop("_warning", None) or row.get("warning")
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    keep = [m for m in job.metrics]
    if args.json:
        out = {k: row[k] for k in ("ref", "dist", "status", "error", "shape", "data_range", *keep)}
        out.update({f"{m}_error": row[f"{m}_error"] for m in keep if row[f"{m}_error"]})
        if row["ssim_slices"] is not None:
            out["ssim_slices"] = row["ssim_slices"]
        if row.get("ms_ssim_scales") is not None:
            out["ms_ssim_scales"] = row["ms_ssim_scales"]
        if row.get("frames") is not None:  # a pair of videos: per frame (and per plane)
            out.update(frames=row["frames"], planes=row["planes"])
            out.update({k: row[k] for m in keep for k in (f"{m}_frames", f"{m}_planes") if row.get(k) is not None})
        print(json.dumps(out, allow_nan=True))
    else:
        cells = [f"{m} {row[m]:.6g}" for m in keep if row[m] is not None]
        if row.get("frames") is not None:
            cells.append(f"({row['frames']} frames, {row['planes']})")
            cells += [f"{m}[{','.join(row['planes'].split(','))}] " + " ".join(f"{v:.6g}" for v in row[f"{m}_planes"])
                      for m in keep if row.get(f"{m}_planes") is not None]
        if cells:
            print("  ".join(cells))
        if row["error"]:
            print(f"{'error' if row['status'] == 'error' else 'not computed'}: {row['error']}", file=sys.stderr)
    return exit_status(errors=row["status"] == "error", partial=row["status"] == "partial", strict=args.strict)


def _first_image(root):
    """The first image file under ``root`` (for compiling kernels while the rest is found)."""
    from ..io import IMAGE_EXTS

    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            if not f.startswith(".") and f.lower().endswith(IMAGE_EXTS):
                return os.path.join(dirpath, f)
    return None


def _prefetch(job, path):
    """Compile (or load from the disk cache) the kernels a run will need, in the background,
    from a small piece of its first file; any problem is left for the run to report."""
    def work():
        try:
            from ..batch.prefetch import warm_kernels

            warm_kernels(job, path)
        except Exception:  # noqa: BLE001 - a guess only; the run itself reports problems
            pass
    threading.Thread(target=work, daemon=True, name="fastssim-prefetch").start()


def _discover(args, sub, job_options):
    """``(pairs, ref_root, dist_roots)``, after saying what did not match and why."""
    from ..batch.pairs import NameMap, Pair, dist_spec, match_dirs, read_manifest

    dists, templates = [], {}
    for spec in args.dist:
        try:
            name, path, template = dist_spec(spec)
        except ValueError as e:
            sub.error(str(e))
        dists.append((name, path))
        if template is not None:
            templates[name] = template
    if args.manifest:
        if args.ref or args.dist_dir or dists:
            sub.error("--manifest replaces the REF and DIST directories; give one or the other")
        if not os.path.isfile(args.manifest):
            sub.error(f"--manifest: no such file: {args.manifest}")
        root = args.root or os.path.dirname(os.path.abspath(args.manifest))
        if not os.path.isdir(root):
            sub.error(f"--root: not a directory: {root}")
        try:
            pairs = read_manifest(args.manifest, root)
        except (OSError, ValueError) as e:
            sub.error(f"cannot read the manifest: {e}")
        if pairs and not pairs[0].problem:
            job_options.confine = root  # the files it names must be inside --root too
            _prefetch(job_options, os.path.join(root, pairs[0].ref))
        return pairs, root, {m: root for m in {p.method for p in pairs}}
    if args.root:
        sub.error("--root goes with --manifest; directories are matched by their relative paths")
    if _two_items(args):  # one pair into -o: a dataset of one row
        for flag in ("suffix", "template"):
            if getattr(args, flag) is not None:
                sub.error(f"--{flag} maps names between directories; two files are paired as given")
        if dists:
            sub.error("--dist NAME=DIR is for directories; give REF and DIST files, or directories")
        ref_dir, dist_dir = (os.path.dirname(os.path.abspath(p.rstrip("/"))) for p in (args.ref, args.dist_dir))
        pair = Pair(None, os.path.basename(args.ref.rstrip("/")), os.path.basename(args.dist_dir.rstrip("/")))
        return [pair], ref_dir, {None: dist_dir}
    if not args.ref:
        sub.error("give a REF directory (and DIST or --dist NAME=DIR), two files, or --manifest")
    if args.dist_dir and dists:
        sub.error("give DIST or --dist NAME=DIR, not both")
    if args.dist_dir:
        dists = [(None, args.dist_dir)]
    if not dists:
        sub.error("missing the distorted files: give DIST or --dist NAME=DIR")
    for _, d in [(None, args.ref)] + dists:
        if not os.path.isdir(d):
            sub.error(f"not a directory: {d}" + (" (two files are scored as one pair; a file and a directory "
                                                   "cannot be)" if os.path.isfile(d) else ""))
    try:
        namemap = NameMap(args.suffix, args.template)
        if templates:  # a method's own template (NAME=DIR:TEMPLATE); the others take --suffix/--template
            namemap = {**{m: namemap for m, _ in dists}, **{m: NameMap(template=t) for m, t in templates.items()}}
    except ValueError as e:
        sub.error(str(e))
    first = _first_image(args.ref)
    if first is not None:
        _prefetch(job_options, first)
    pairs, unmatched, skipped = match_dirs(args.ref, dists, namemap)
    _say_unmatched(unmatched, skipped, n_pairs=len(pairs), dirs=dict(dists) if len(dists) > 1 else None)
    return pairs, args.ref, dict(dists)


def _per_method(option, method, directory):
    """The ``--dist NAME=DIR:TEMPLATE`` form of a suggested ``--suffix``/``--template``."""
    if option.startswith("--suffix "):
        template = "{stem}" + option[len("--suffix "):] + "{ext}"
    elif option.startswith("--template "):
        template = option[len("--template "):].strip("'")
    else:
        return None
    return f"--dist '{method}={directory}:{template}'"


def _say_unmatched(unmatched, skipped, n_pairs, dirs=None):
    from ..io import IMAGE_EXTS

    for method, um in unmatched.items():
        label = f" ({method})" if method else ""
        if um.ref_only:
            print(f"warning{label}: {um.ref_only} reference file(s) have no distorted counterpart, e.g. "
                  + ", ".join(um.ref_examples), file=sys.stderr)
        if um.dist_only:
            print(f"warning{label}: {um.dist_only} distorted file(s) have no reference, e.g. "
                  + ", ".join(um.dist_examples), file=sys.stderr)
        if um.hint:
            option, n = um.hint
            own = _per_method(option, method, dirs[method]) if dirs and method in dirs else None
            print(f"hint{label}: {n} of the unmatched reference files have a distorted file whose name differs "
                  f"in a regular way; to pair them, pass {option}"
                  + (f" (for this method only: {own})" if own else ""), file=sys.stderr)
    if skipped and (n_pairs == 0 or any(um.ref_only or um.dist_only for um in unmatched.values())):
        kinds = ", ".join(f"{ext} ({n})" for ext, n in skipped.most_common(8))
        print(f"note: {sum(skipped.values())} file(s) not read for their extension: {kinds}; fastssim reads "
              + " ".join(IMAGE_EXTS), file=sys.stderr)


def run(args, sub):
    from ..io import split_key

    for path in (args.ref, args.dist_dir):  # before any other rule: a mistyped path is named as such
        if path and not os.path.lexists(split_key(path)[0]):
            sub.error(f"no such file or directory: {path}")
    options = _checked(args, sub)

    if _two_items(args):
        if args.out is None:
            return _single(args, sub, options)  # two files, two DICOM series, two zarr stores: printed
        if args.json:
            sub.error("--json prints one pair's metrics, -o writes them to Parquet: give one of the two")
    from ..batch.progress import CompileNotice
    from ..batch.writer import OutputError, check_output, local_path

    if args.json:
        sub.error("--json prints the metrics of one pair: give two files")
    if args.out is None:
        sub.error("-o/--out DIR is required to score directories or a manifest (two files need none)")
    try:
        args.out = local_path(args.out)
        check_output(args.out)
    except OutputError as e:
        sub.error(str(e))
    notice = CompileNotice(quiet=args.quiet).__enter__()  # said once, whichever thread compiles first
    stop = StopOnSignal()
    try:
        with stop:  # from here a signal ends the run at once: before scoring with nothing written
            return _dataset(args, sub, options, stop)
    finally:
        notice.__exit__(None, None, None)


def _dataset(args, sub, options, stop):
    from ..batch import PAIR_TIMEOUT, ConfigError, Job, score_files
    from ..batch.writer import OutputBusy, OutputError, ParamsMismatch

    pairs, ref_root, dist_roots = _discover(args, sub, Job("", {}, **options))
    if not pairs:
        return _fail("no pairs to score (see the warnings above)", EXIT_USAGE)
    from ..io import missing_extras

    missing = missing_extras([p for pair in pairs for p in (os.path.join(ref_root, pair.ref),
                                                            os.path.join(dist_roots.get(pair.method, ""), pair.dist))])
    if missing:  # refused before anything is scored, rather than every such pair an error row
        return _fail("; ".join(missing.values()), EXIT_USAGE)
    job = Job(ref_root, dist_roots, **options)
    if args.manifest:  # every file read, and every file those name, must be inside --root
        job.confine = ref_root
    if args.mask is not None:
        if not os.path.isdir(args.mask):
            return _fail(f"--mask {args.mask} is not a directory (masks sit at the references' relative paths)",
                         EXIT_USAGE)
        job.mask_root = args.mask
    from ..io import is_video

    video = any(is_video(p.ref) for p in pairs)
    if video:
        from ..batch.video import video_conflicts

        try:
            video_conflicts(options["video"], options["metrics"], options)
        except ConfigError as e:
            return _fail(e, EXIT_USAGE)
    metrics = list(job.metrics)
    if args.mask is not None or any(p.mask for p in pairs):  # the region's columns, for the report
        from ..batch.score import masked_names

        metrics += masked_names(options["metrics"])
    from ..batch.params import run_params

    params = run_params(job, metrics=metrics, video=video,
                        mask=os.path.abspath(args.mask) if args.mask is not None else None,
                        finding={"suffix": args.suffix, "template": args.template,
                                 "names": {spec.partition("=")[0]: spec for spec in args.dist} or None})
    t0 = time.monotonic()
    client = None
    try:
        stop.immediate = False  # scoring: a signal asks the run to stop after committing what it scored
        if stop.event.is_set():
            raise Interrupted(stop.name)
        client = _client(args, options)
        summary = score_files(pairs, args.out, job, params, workers=args.workers,
                              overwrite=args.overwrite, quiet=args.quiet, rows_per_part=args.part_rows,
                              png_decoder=args.png_decoder, timeout=args.pair_timeout or PAIR_TIMEOUT,
                              stop=stop.event, client=client, chunk_pairs=args.chunk_pairs)
    except OutputError as e:
        return _fail(e, EXIT_OUTPUT)
    except (ConfigError, OutputBusy, ParamsMismatch, ValueError, ImportError) as e:
        return _fail(e, EXIT_USAGE)
    finally:
        if client is not None:
            from ..batch.cluster import disconnect

            disconnect(client)
    if summary.get("failed"):
        print(f"error: {len(summary['failed'])} chunk(s) of pairs could not be committed (first: "
              f"{summary['failed'][0]}); their pairs are not in {args.out}: fix the cause and re-run the same "
              "command to score them", file=sys.stderr)
        return EXIT_OUTPUT
    if summary["duplicates"]:
        eg = "; ".join(" ".join(str(v) for v in key if v is not None) for key in summary["duplicate_examples"])
        print(f"warning: {summary['duplicates']} repeated pair(s) scored once, e.g. {eg}", file=sys.stderr)
    if summary["low_range"] > 1:
        print(f"warning: {summary['low_range']} pairs use a small part of their dtype's range (see above)",
              file=sys.stderr)
    if summary["interrupted"]:
        print(f"stopped by {stop.name}: {summary['scored']} pairs scored and committed this run, "
              f"{summary['rows']} rows in {args.out}; re-run the same command to resume", file=sys.stderr)
        return EXIT_SIGINT if stop.name == "SIGINT" else EXIT_SIGTERM
    if not args.quiet:
        print(f"{summary['scored']} pairs scored, {summary['skipped']} already done; {summary['rows']} rows in "
              f"{args.out}: {summary['partial']} partial, {summary['errors']} errors "
              f"({time.monotonic() - t0:.1f}s)", file=sys.stderr)
        if summary["partial"] and not summary["errors"] and not args.strict:
            print("partial rows are pairs for which some metric is undefined (their reasons: fastssim report "
                  f"{args.out}); exit status 0, or 1 with --strict", file=sys.stderr)
    return exit_status(errors=summary["errors"], partial=summary["partial"], strict=args.strict)


def _client(args, options):
    """The Dask client of ``--scheduler`` (None without it)."""
    if args.scheduler is None:
        return None
    from ..batch.cluster import connect

    client = connect(args.scheduler, options["backend"])
    if not args.quiet:
        n = len(client.scheduler_info().get("workers", {}))
        print(f"Dask: {n} worker(s) at {client.scheduler.address}", file=sys.stderr)
    return client
