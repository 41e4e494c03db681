"""A bounded pool of daemon worker threads with a per-item time limit, and a stop signal.

Workers run the engine single-threaded (Numba's thread count is per thread), so the pool
keeps every core busy without oversubscription. At most ``2 * workers`` items (or what the
caller's ``limit`` says) are in flight, so memory does not grow with the dataset. An item still
running after ``timeout`` seconds is given up: the caller gets ``on_timeout(item)`` as its result,
and a fresh thread takes the stuck one's place (a Python thread cannot be killed; the stuck one exits when, if ever, its
call returns, and being a daemon it never holds up the process's exit). When ``stop`` is set,
no more items start and the results already finished are returned.
"""

import itertools
import queue
import threading
import time

import numba

from ..kernels.cpu.threads import available_cpus

#: How often the caller's thread looks at the clock and the stop signal while it waits.
POLL_SECONDS = 0.2


def _worker(func, inbox, outbox, running, lock):
    numba.set_num_threads(1)
    while True:
        task = inbox.get()
        if task is None:
            return
        key, item = task
        with lock:
            running[key] = (item, time.monotonic())
        try:
            result, error = func(item), None
        except BaseException as e:  # handed to the caller's thread, which re-raises it
            result, error = None, e
        with lock:
            if running.pop(key, None) is None:
                return  # given up on: its place was taken by a fresh thread
        outbox.put((result, error))


def run_rows(func, items, workers=None, *, timeout=None, on_timeout=None, stop=None, limit=None):
    """Apply ``func`` to ``items`` in a bounded pool; yield results as they complete.

    Parameters
    ----------
    func : callable
        Should not raise; an exception it raises is re-raised here.
    items : iterable
    workers : int, optional
        Threads; default the number of cores.
    timeout : float, optional
        Seconds after which a running item is given up (None: never).
    on_timeout : callable, optional
        ``on_timeout(item, seconds)``: the result to yield for an item given up on.
    stop : threading.Event, optional
        When set, start nothing more and return.
    limit : callable, optional
        ``limit()``: how many items may be in flight (started and not yet yielded); asked
        before each start. Default ``2 * workers``.
    """
    workers = workers or available_cpus()  # the affinity, at most a container's CPU quota
    inbox, outbox = queue.SimpleQueue(), queue.SimpleQueue()
    running, lock = {}, threading.Lock()
    threads = []

    def spawn():
        t = threading.Thread(target=_worker, args=(func, inbox, outbox, running, lock), daemon=True,
                             name="fastssim-worker")
        t.start()
        threads.append(t)

    for _ in range(workers):
        spawn()
    items = iter(items)
    keys = itertools.count()
    in_flight = 0
    exhausted = False
    try:
        while True:
            cap = limit() if limit is not None else 2 * workers
            while not exhausted and in_flight < cap and not (stop is not None and stop.is_set()):
                item = next(items, _END)
                if item is _END:
                    exhausted = True
                    break
                inbox.put((next(keys), item))
                in_flight += 1
            if stop is not None and stop.is_set():
                while True:  # what has finished is kept; what runs is left to end by itself
                    try:
                        result, error = outbox.get_nowait()
                    except queue.Empty:
                        return
                    if error is None:
                        yield result
            if in_flight == 0:
                return
            try:
                result, error = outbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                pass
            else:
                in_flight -= 1
                if error is not None:
                    raise error
                yield result
            if timeout is not None:
                now = time.monotonic()
                with lock:
                    late = [(k, item, now - t0) for k, (item, t0) in running.items() if now - t0 > timeout]
                    for k, _, _ in late:
                        del running[k]
                for _, item, seconds in late:
                    in_flight -= 1
                    spawn()
                    yield on_timeout(item, seconds)
    finally:
        for _ in threads:
            inbox.put(None)  # idle workers end; busy ones end after their item


_END = object()
