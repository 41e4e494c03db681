"""Compiling a kernel's specialisation in a helper process while this process compiles another.

A cold call that needs two kernels (the gradient's forward and backward passes, MS-SSIM's SSIM
and its halving) would compile them one after the other: Numba compiles one function at a time
per process. `start` hands the later kernels' specialisations, their argument types, to a helper
Python process (``python -m fastssim.kernels.ahead``), which compiles them into Numba's disk
cache while this process compiles the first; `Pending.wait` waits for the helper, and the call then
loads the specialisation from the cache (a miss simply compiles it here, as before).

A process's first call often needs more kernels after that one (a first ``fastssim score``: the
MSE kernel after SSIM's; the PNG decoder's, whose first images another decoder reads): `later`
puts them aside for the next helper this thread starts, which compiles them after its own, so one
helper, not two, competes with this process for the cores. The helper reports each specialisation
it has compiled, so a wait ends when those it needs are in the cache; and this process, coming to
compile one the helper is compiling (a callee met while compiling another), waits for the helper
and loads it, rather than compile it a second time (`_Progress._meet`).

Nothing is started when the kernel has a specialisation in this process already (checked first
and cheaply, since every call asks), when the one asked for is in the cache, when caching is off,
with fewer than two usable cores, in a frozen application or a helper, or with
``FASTSSIM_COMPILE_AHEAD=0`` (`config.COMPILE_AHEAD`). A helper that fails or outlives
``config.COMPILE_AHEAD_WAIT_S`` is stopped and costs nothing else.
"""

import os
import pickle
import subprocess
import sys
import threading

from numba import typeof, types
from numba.core import sigutils
from numba.core.typing.typeof import Purpose

from .. import config as cfg

__all__ = ["start", "later", "Pending", "cold", "enabled", "helper_env"]

#: Set in a helper's environment: a helper starts no helpers of its own.
_IN_HELPER = "FASTSSIM_AHEAD_HELPER"

#: Per thread: ``later``'s specialisations and their Pending, waiting for this thread's next helper.
_waiting = threading.local()


class Pending:
    """Specialisations being compiled elsewhere (or nothing: ``proc`` None): the first ``upto``
    of a helper's (``helper``, a `_Progress`; without one, all of them: the process's end)."""

    def __init__(self, proc=None, upto=None, helper=None):
        self.proc = proc
        self.upto = upto
        self.helper = helper
        self.deferred = False

    def wait(self):
        """Wait for the helper to have compiled them (at most ``config.COMPILE_AHEAD_WAIT_S``;
        then it is stopped)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        try:
            if self.helper is None:
                proc.wait(timeout=cfg.COMPILE_AHEAD_WAIT_S)
            else:
                self.helper.until(self.upto, cfg.COMPILE_AHEAD_WAIT_S)
        except BaseException:  # the timeout, or an interrupt: the caller compiles or stops
            proc.kill()
            proc.wait()
            if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
                raise


class _Progress:
    """A helper's progress, read by a thread of its own: one byte per specialisation compiled
    (`_helper`), so that a wait ends when those it needs are in the cache, not the helper's later
    ones; the thread reaps the helper when it ends (nobody need wait for its last ones)."""

    def __init__(self, proc, todo):
        self.proc = proc
        self.compiled = 0
        self.ended = False
        self.changed = threading.Condition()
        self.met = [self._meet(i, *entry) for i, entry in enumerate(todo)]
        threading.Thread(target=self._read, daemon=True, name="fastssim-ahead").start()

    def _read(self):
        try:
            while got := os.read(self.proc.stdout.fileno(), 64):
                with self.changed:
                    self.compiled += len(got)
                    self.changed.notify_all()
        finally:
            self.proc.stdout.close()
            self.proc.wait()
            with self.changed:
                self.ended = True
                self.changed.notify_all()
            for cache, load in self.met:  # Numba's own loader again
                if cache.__dict__.get("load_overload") is load:
                    del cache.load_overload

    def _meet(self, index, module, name, sig):
        """Have this process, when it comes to compile ``sig`` of the function (a callee met while
        compiling another, say), wait for the helper instead, while the helper is compiling it
        (its ``index``-th): then load it from the cache. A cold ``ssim``'s task meets its last pass
        0.1 s before the helper has it, and compiled it again (1.3 s, on cores the helper shared)."""
        import importlib

        cache = getattr(importlib.import_module(module), name)._cache
        own = cache.load_overload

        def load_overload(asked, target_context):
            cres = own(asked, target_context)
            if cres is None and not self.ended and self.compiled == index \
                    and tuple(sigutils.normalize_signature(asked)[0]) == sig:
                try:
                    self.until(index + 1, cfg.COMPILE_AHEAD_WAIT_S)
                except subprocess.TimeoutExpired:
                    self.proc.kill()  # then compiled here
                cres = own(asked, target_context)
            return cres

        cache.load_overload = load_overload
        return cache, load_overload

    def until(self, count, timeout):
        """Wait until ``count`` are compiled or the helper ended (what it did not compile then
        compiles in the caller); TimeoutExpired after ``timeout`` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.ended or self.compiled >= count, timeout):
                raise subprocess.TimeoutExpired(self.proc.args, timeout)


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def enabled():
    """Whether helper processes may compile here: caching on, ``FASTSSIM_COMPILE_AHEAD`` not 0, not
    in a helper or a frozen application, and at least two usable cores."""
    return bool(cfg.COMPILE_AHEAD and cfg.CACHE and not os.environ.get(_IN_HELPER)
                and not getattr(sys, "frozen", False) and sys.executable and _cores() >= 2)


def cold(dispatcher):
    """Whether a helper may compile for ``dispatcher``: it has no specialisation in this process
    yet (a cheap test, made on every call: the helpers are for a process's first call of a
    kernel; a later new specialisation compiles here) and helpers are `enabled`."""
    return not dispatcher.overloads and enabled()


def _cached(dispatcher, sig):
    """Whether Numba's disk cache holds ``sig`` for ``dispatcher`` (its index, as a call reads it)."""
    cache = dispatcher._cache
    key = cache._index_key(sig, dispatcher.targetctx.codegen())
    return key in cache._cache_file._load_index()


def helper_env():
    """This process's environment, marked as a helper's, with the directory this fastssim was
    imported from first on the path: the helper compiles these sources (a cache entry is keyed by
    them), even where this process found the package through a path it set itself."""
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **{_IN_HELPER: "1"})


def start(*calls, beside=None, then=()):
    """Compile each ``(dispatcher, args)`` of ``calls`` (the arguments it will be called with, or
    their Numba types: only the types are used) in one helper process, in order, when that can
    save time: those this process has compiled, or the cache holds, are left out; and nothing
    starts when ``beside``, the kernel this process compiles meanwhile, has been compiled here
    already (then nothing overlaps the helper, whose start-up costs more than compiling here: a
    first PSNR after an SSIM call 0.42 -> 0.98 s with a helper, a first MS-SSIM 1.74 -> 2.31 s).
    Then those put aside by `later` for a caller to wait on, then ``then`` (calls as ``calls``),
    then the other ones put aside.

    Returns
    -------
    Pending
        Call its ``wait()`` before calling the first of ``calls``. Nothing need wait for
        ``then``: this process, coming to compile one of them, waits for the helper if the helper
        is compiling it, and otherwise compiles it itself (`_Progress._meet`).
    """
    if beside is not None and beside.overloads:
        return Pending()
    calls = [(dispatcher, args) for dispatcher, args in calls if cold(dispatcher)]
    then = [(dispatcher, args) for dispatcher, args in then if cold(dispatcher)]
    if not calls and not then:  # the common case, every call after a process's first: no typing, no syscall
        return Pending()
    try:
        todo, after = _todo(calls), _todo(then)
        if not todo and not after:
            return Pending()
        own = len(todo)
        joined = getattr(_waiting, "queue", [])
        for group in ([t for t, waited, _ in joined if waited], after, [t for t, waited, _ in joined if not waited]):
            todo += [t for t in dict.fromkeys(group) if t not in todo]  # each once
        payload = pickle.dumps(todo)
        proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=helper_env())
    except (OSError, AttributeError, TypeError, ValueError, pickle.PicklingError):
        # no process to start, or a Numba whose cache is laid out otherwise: compile here
        return Pending()
    _waiting.queue = []
    try:
        proc.stdin.write(payload)
        proc.stdin.close()
    except OSError:  # the helper is gone already
        proc.kill()
        proc.wait()
        return Pending()
    helper = _Progress(proc, todo)
    for t, _, pending in joined:
        pending.proc, pending.helper = proc, helper
        pending.upto = max(pending.upto or 0, todo.index(t) + 1)
    return Pending(proc, own, helper)


def later(*calls, waited=True):
    """Compile each ``(dispatcher, args)`` of ``calls`` in the next helper this thread starts
    (`start`), after that helper's own: for a kernel a process needs after one whose helper starts
    next (a first MSE after SSIM's kernels; one helper rather than two competing for the cores: a
    first ``fastssim score`` of two PNG files 3.6 -> 3.0 s). Those a caller does not wait on
    (``waited=False``) come last. Nothing is put aside when `start` would start nothing for them.

    Returns
    -------
    Pending
        Its ``wait()`` waits for that helper; it returns at once while none has started (nor
        ever will: the call then compiles here). ``deferred``: whether anything was put aside.
    """
    pending = Pending()
    calls = [(dispatcher, args) for dispatcher, args in calls if cold(dispatcher)]
    try:
        todo = _todo(calls) if calls else []
    except (OSError, AttributeError, TypeError, ValueError):
        todo = []
    if todo:
        queue = [q for q in getattr(_waiting, "queue", []) if q[0] not in todo]  # the latest ask of each
        _waiting.queue = queue + [(t, waited, pending) for t in todo]
        pending.deferred = True
    return pending


def _todo(calls):
    """``(module, name, signature)`` of each call neither compiled here nor cached."""
    todo = []
    for dispatcher, args in calls:
        sig = tuple(a if isinstance(a, types.Type) else typeof(a, Purpose.argument) for a in args)
        if sig not in dispatcher.overloads and not _cached(dispatcher, sig):
            todo.append((dispatcher.py_func.__module__, dispatcher.py_func.__name__, sig))
    return todo


def _helper():
    """The helper: compile the specialisations read from stdin into the disk cache, in order."""
    import importlib

    for module, name, sig in pickle.loads(sys.stdin.buffer.read()):
        getattr(importlib.import_module(module), name).compile(sig)
        try:  # one byte per specialisation: `Pending.wait` waits for those it needs, not for all
            sys.stdout.buffer.write(b".")
            sys.stdout.buffer.flush()
        except OSError:  # nobody reads any more: compile the rest into the cache all the same
            pass


if __name__ == "__main__":
    _helper()
