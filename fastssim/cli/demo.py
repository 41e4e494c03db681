"""``fastssim demo``: a generated dataset scored and reported (``demo_data``), or SSIM as a loss
(``--loss``: noise optimised to a target, ``loss_demo``)."""

import os
import shutil
import subprocess
import sys
import tempfile

from .codes import EXIT_OK, EXIT_OUTPUT, EXIT_USAGE
from .demo_data import make_dataset, make_samples


def _main(argv):
    """Run one of the commands the demo chains (``score``, ``report``) on parsed ``argv``."""
    from .parser import build

    parser, subs = build()
    args = parser.parse_args(argv)
    if args.command == "score":
        from .score import run
    else:
        from .commands import report as run
    return run(args, subs[args.command])


class _Warming:
    """Helper processes compiling the demo's kernels (`_warm_up_elsewhere`), and their samples."""

    def __init__(self, procs, root=None):
        self.procs = procs
        self.root = root

    def wait(self):
        """Wait for the helpers (saying so when they are still at work), then remove their samples;
        stop them on an interrupt."""
        if any(p.poll() is None for p in self.procs):
            print("compiling the kernels in the background (once per machine: they are cached on disk)...",
                  file=sys.stderr, flush=True)
        try:
            for p in self.procs:
                p.wait()
        except BaseException:
            self.stop()
            raise
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)

    def stop(self):
        """Stop the helpers at once and remove their samples (an interrupt, or a failure)."""
        for p in self.procs:
            p.kill()
            p.wait()
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)


def _warm_up_elsewhere():
    """Compile the demo's two kinds of kernels (colour images, volumes) at once, each in a helper
    process scoring a small pair of that kind with ``fastssim score`` (the demo's own reading and
    scoring path, so the same specialisations, into the disk cache), while this process writes
    the data; Numba compiles one function at a time per process, so in one process they would
    follow each other (about 4.5 and 5 s cold here). Nothing is started where helpers may not
    compile (`fastssim.kernels.ahead.enabled`); a helper that fails costs nothing: scoring
    compiles what the cache lacks."""
    from ..kernels import ahead

    if not ahead.enabled():
        return _Warming([])
    root = tempfile.mkdtemp(prefix="fastssim-demo-samples-")
    procs = []
    try:
        for a, b in make_samples(root):
            procs.append(subprocess.Popen([sys.executable, "-m", "fastssim.cli", "score", a, b, "--quiet"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          env=ahead.helper_env()))
    except OSError:  # no helper: scoring compiles as it would have
        for p in procs:
            p.kill()
        shutil.rmtree(root, ignore_errors=True)
        return _Warming([])
    return _Warming(procs, root)


def _reading_hint(out):
    import importlib.util

    if importlib.util.find_spec("pandas") is None:
        return (f"read them with pyarrow.parquet.read_table({out!r}) (or pandas.read_parquet after "
                "'pip install pandas')")
    return f"read them with pandas.read_parquet({out!r})"


def demo(args, sub):
    if args.loss is not None:
        return _loss_demo(args, sub)
    if args.volume:
        sub.error("--volume is for --loss")
    if args.images < 1:
        sub.error(f"--images must be a positive integer, got {args.images}")
    work = args.workdir or tempfile.mkdtemp(prefix="fastssim-demo-")
    try:
        print(f"generating {args.images} images and 3 volumes with blur, noise and JPEG in {work}", file=sys.stderr)
        warming = _warm_up_elsewhere()
        try:
            dists, ref = make_dataset(os.path.join(work, "data"), n_images=args.images)
        except BaseException:  # an interrupt is honoured at once: the helpers are stopped, not awaited
            warming.stop()
            raise
        warming.wait()
        out = os.path.join(work, "scores")
        code = _main(["score", ref, "-o", out, "--overwrite"] + [f"--dist={m}={d}" for m, d in sorted(dists.items())])
        if code == EXIT_USAGE:
            return code
        if args.workdir:
            print(f"\nscores: {out}; {_reading_hint(out)}\n", file=sys.stderr)
        else:
            print("\n(the data and scores are removed at the end; pass --workdir DIR to keep them)\n",
                  file=sys.stderr)
        rc = _main(["report", out, "--format", args.format])
        return code or rc
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


def _loss_demo(args, sub):
    """``fastssim demo --loss [TARGET]``: noise optimised to a target by SSIM ascent."""
    from . import loss_demo
    from ..io import ReadError, read_image

    if args.steps < 1 or args.every < 1:
        sub.error(f"--steps and --every must be positive integers, got {args.steps} and {args.every}")
    if not 0 < args.goal <= 1:
        sub.error(f"--goal is an SSIM to reach, in (0, 1], got {args.goal}")
    if args.volume and args.loss:
        sub.error("--volume uses a built-in volume; give TARGET or --volume, not both")
    if args.loss:
        try:
            target = loss_demo.as_target(read_image(args.loss))
        except (OSError, ReadError, ValueError) as e:
            sub.error(f"cannot use {args.loss} as the target: {e}")
        if target.ndim not in (2, 3) or (target.ndim == 3 and target.shape[-1] != 3):
            sub.error(f"the target must be a grey or RGB image, got shape {target.shape}")
        if min(target.shape[:2]) < 11:
            sub.error(f"the target is smaller than SSIM's 11-pixel window: {target.shape}")
    else:
        target = loss_demo.builtin_target(volume=args.volume)
    work = args.workdir or "fastssim-loss-demo"
    what = args.loss or ("a built-in volume" if args.volume else "a built-in image")
    print(f"optimising random noise to {what} {target.shape} by gradient ascent on SSIM (Adam), up to "
          f"{args.steps} steps or SSIM {args.goal}", file=sys.stderr)
    try:
        reached, steps, value, gif = loss_demo.run(target, work, volume=args.volume, steps=args.steps,
                                                   every=args.every, goal=args.goal, seed=args.seed)
    except OSError as e:
        print(f"error: cannot write to {work}: {e.strerror or e}", file=sys.stderr)
        return EXIT_OUTPUT
    how = f"reached SSIM {value:.4f} >= {args.goal} at step {steps}" if reached else \
        f"stopped at the step limit ({steps}) with SSIM {value:.4f}; raise --steps to go on"
    print(f"{how}; frames in {os.path.join(work, 'frames')}, animation {gif}", file=sys.stderr)
    return EXIT_OK
