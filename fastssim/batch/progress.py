"""What a run tells the user while it works, on stderr: that kernels are compiling (once per
machine), then pairs/s and an ETA computed from warm pairs only (time spent compiling, at
the start or when a new data type appears, is left out).

On a terminal the bar is tqdm's (it fits the terminal's width and redraws cleanly); when
stderr is not a terminal, a plain line every few seconds.
"""

import os
import shutil
import sys
import threading
import time

from .. import config as cfg



class _CompileClock:
    """Numba's compile events, counted once per process: the seconds spent compiling (so that
    rates leave them out) and whether the user has been told."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = 0
        self.started = 0.0
        self.total = 0.0
        self.users = 0
        self.loud = []  # the streams of the active notices that may speak
        self.said = False
        self.listener = None

    def on_start(self):
        with self.lock:
            if self.active == 0:
                self.started = time.monotonic()
            self.active += 1
            if self.loud and not self.said:
                self.said = True
                self.loud[-1].write(CompileNotice.message() + "\n")
                self.loud[-1].flush()

    def on_end(self):
        with self.lock:
            self.active = max(0, self.active - 1)
            if self.active == 0:
                self.total += time.monotonic() - self.started

    def seconds(self):
        """Seconds spent compiling so far in this process, the one under way included."""
        with self.lock:
            return self.total + (time.monotonic() - self.started if self.active else 0.0)


CLOCK = _CompileClock()


class CompileNotice:
    """While active, say once on ``stream`` when Numba starts compiling a kernel, and keep
    ``CLOCK`` counting the seconds spent compiling.

    Numba reports every compilation through its event API; kernels loaded from the disk
    cache raise no event, so a cached run stays silent. The message is said at most once
    per process, however many notices are active.
    """

    MESSAGE = ("compiling SSIM kernels for this kind of input (once per machine: they are cached on disk; "
               "this takes a few seconds; 'fastssim compile' prepares them ahead)...")

    @staticmethod
    def message():
        """`MESSAGE`, and where the cache is when it is not beside the package (a read-only
        install: Numba's per-user cache), said once with it."""
        try:
            from ..metrics.compile import cache_dir

            path, fallback = cache_dir()
        except Exception:  # noqa: BLE001 - the notice never fails a run
            return CompileNotice.MESSAGE
        if not fallback:
            return CompileNotice.MESSAGE
        return (CompileNotice.MESSAGE[:-3] + f"; the package directory is not writable, so they are cached in "
                f"{path})...")

    def __init__(self, stream=None, quiet=False):
        self.stream = stream or sys.stderr
        self.quiet = quiet

    def __enter__(self):
        from numba.core import event

        with CLOCK.lock:
            if CLOCK.users == 0:
                class _Listener(event.Listener):
                    def on_start(self, ev):
                        CLOCK.on_start()

                    def on_end(self, ev):
                        CLOCK.on_end()

                CLOCK.listener = _Listener()
                event.register("numba:compile", CLOCK.listener)
            CLOCK.users += 1
            if not self.quiet:
                CLOCK.loud.append(self.stream)
        return self

    def __exit__(self, *exc):
        from numba.core import event

        with CLOCK.lock:
            if not self.quiet:
                CLOCK.loud.remove(self.stream)
            CLOCK.users -= 1
            if CLOCK.users == 0:
                event.unregister("numba:compile", CLOCK.listener)
                CLOCK.listener = None
        return False


def _width(stream):
    """tqdm's width options: follow the terminal, or COLUMNS (else 80) where it reports no size."""
    try:
        if os.get_terminal_size(stream.fileno()).columns > 0:
            return {"dynamic_ncols": True}
    except (OSError, ValueError, AttributeError):
        pass
    return {"ncols": shutil.get_terminal_size().columns}


def _eta(seconds):
    return "?" if seconds == float("inf") else f"{seconds:.0f}s"


class Progress:
    """Pairs/s and ETA of a run whose clock starts when it is created (after the warm-up).

    Parameters
    ----------
    total : int
        Pairs this run will score.
    warm : sequence of dict
        The rows already scored (the warm-up pairs): counted, but not in the rate.
    quiet : bool
        Say nothing.
    stream : file, optional
        Default stderr.
    every : float
        Seconds between plain lines when ``stream`` is not a terminal.
    """

    def __init__(self, total, quiet=False, stream=None, every=cfg.PROGRESS_EVERY, warm=()):
        self.total = total
        self.done = done = len(warm)
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every
        self.n = self._drawn = done
        self.errors = sum(r["status"] == "error" for r in warm)
        self.partial = sum(r["status"] == "partial" for r in warm)
        self.t0 = self._last = time.monotonic()
        self._compiled0 = CLOCK.seconds()
        self._bar = None
        if self.tty and not quiet:
            from tqdm import tqdm

            # the rate and ETA are this class's (compiling left out), not tqdm's own clock
            self._bar = tqdm(total=total, initial=done, unit="pair", file=self.stream, mininterval=0.2, leave=True,
                             bar_format="{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} {postfix}",
                             **_width(self.stream))

    def update(self, row):
        """One more row."""
        self.advance(1, row["status"] == "error", row["status"] == "partial")

    def advance(self, n, errors=0, partial=0):
        """``n`` more rows, of which ``errors`` and ``partial`` are such (a chunk's summary)."""
        self.n += n
        self.errors += errors
        self.partial += partial
        if self.quiet:
            return
        if self._bar is not None:
            rate, eta = self._rate(time.monotonic())
            counts = f", {self._counts()}" if self.errors or self.partial else ""
            self._bar.set_postfix_str(f"{rate:.1f} pair/s, ETA {_eta(eta)}{counts}", refresh=False)
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last >= self.every or self.n == self.total:
            self._last = now
            self._line(now)

    def _counts(self):
        return f"errors {self.errors}, partial {self.partial}"

    def _rate(self, now):
        """``(pairs/s, seconds left)`` over the time spent scoring: compiling is not scoring."""
        warm = now - self.t0 - (CLOCK.seconds() - self._compiled0)
        rate = (self.n - self.done) / max(warm, 1e-9)
        return rate, (self.total - self.n) / rate if rate > 0 else float("inf")

    def _line(self, now):
        self._drawn = self.n
        rate, eta = self._rate(now)
        self.stream.write(f"scored {self.n}/{self.total} pairs, {rate:.1f} pairs/s, ETA {_eta(eta)}, "
                          f"{self._counts()}\n")
        self.stream.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        elif not self.quiet and self.n and self._drawn != self.n:
            self._line(time.monotonic())
