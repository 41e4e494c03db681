"""Ending a run on SIGINT and SIGTERM, and the exit status a run ends with.

Before a run has anything to commit, a signal ends the command at once (`stop_at_once`,
`Interrupted`); while it scores, the signal asks it to stop after committing what it scored
(`StopOnSignal`). `exit_status` states which outcomes of a run are failures.
"""

import os
import signal
import threading

from .codes import EXIT_ERRORS, EXIT_OK


def exit_status(errors, partial, strict=False):
    """The principle: exit 1 when a pair could not be scored at all (an 'error' row: unreadable,
    shapes that differ); a 'partial' row (a metric undefined for that pair, e.g. MS-SSIM of an
    image under 161 px) is a normal outcome of a dataset, exit 0, unless ``--strict``."""
    return EXIT_ERRORS if errors or (partial and strict) else EXIT_OK


#: The stop signals `stop_at_once`'s handler received since it was installed (their names).
_RECEIVED: list = []


def stop_at_once():
    """SIGINT and SIGTERM raise `Interrupted` (in the main thread): for the moments before a run
    has anything to commit. Returns the handlers replaced. The signal is also recorded, for
    `raise_if_stopped`."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    _RECEIVED.clear()

    def handle(signum, frame):
        name = signal.Signals(signum).name
        _RECEIVED.append(name)
        raise Interrupted(name)

    return {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}


def raise_if_stopped():
    """Raise `Interrupted` if `stop_at_once`'s handler received a stop signal: its exception is
    lost when the signal arrives while a destructor runs (``__del__``, e.g. an image writer's,
    called by the garbage collector), where Python prints it and carries on; seen once in CI,
    the demo then wrote its 200 images and scored them. Called where a command that writes or
    reads for a while may stop at once (each image the demo writes)."""
    if _RECEIVED:
        raise Interrupted(_RECEIVED[-1])


class Interrupted(BaseException):
    """A stop signal before the run scored anything: nothing to commit, so it ends at once."""

    def __init__(self, name):
        super().__init__(name)
        self.name = name


class StopOnSignal:
    """While active, SIGINT and SIGTERM stop the run: at once while nothing is scored yet
    (``immediate``: finding pairs, checking options; ``Interrupted`` is raised), then by asking
    the run to stop after committing what it has scored (``event``); a second signal exits at
    once (committed parts are complete, so nothing is lost)."""

    def __init__(self):
        self.event = threading.Event()
        self.name = None
        self.immediate = True
        self._old = {}

    def _handle(self, signum, frame):
        if self.event.is_set():
            os._exit(128 + signum)
        self.name = signal.Signals(signum).name
        self.event.set()
        if self.immediate:
            raise Interrupted(self.name)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False
