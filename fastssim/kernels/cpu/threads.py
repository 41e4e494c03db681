"""The threads of the parallel CPU kernels: Numba's TBB threading layer where TBB is installed, and
the number of threads a calling thread lets the kernels use.

Why TBB. Numba runs a ``prange`` loop on one of three threading layers. With OpenMP (``omp``) or
its own ``workqueue``, each thread is handed a fixed share of the loop and the call ends when the
slowest share ends: on a machine where another process is running, a thread whose core is taken
waits a scheduler time slice (milliseconds) before it starts, and the whole call waits with it
(measured here beside one CPU-bound process: SSIM at 256^2 fell from 0.2 ms to 0.6-7 ms a call,
below the speed of one thread). TBB's scheduler lets a free thread take the work of a stalled one
(work stealing), so a busy neighbour costs a core's share, no more (`benchmarks/test_under_load.py`).

Numba prefers TBB when it can load it, but ``pip install tbb`` puts ``libtbb.so.12`` in the
environment's ``lib`` directory, where the system's loader does not look, so in a virtual
environment Numba silently falls back to OpenMP. `prefer_tbb` loads the library from there by its
path, before Numba starts its threads, so that Numba's own choice finds it. A threading layer the
user chose (``NUMBA_THREADING_LAYER=omp`` or ``workqueue``) is left alone, as are threads Numba
already started.
"""

import contextlib
import ctypes
import glob
import operator
import os
import sys

import numba
from numba.np.ufunc import parallel as _parallel

#: The process in which the user set the thread count (`set_num_threads`): the torch data-loader
#: policy (`follow_torch_workers`) then leaves it alone; the process it last applied to.
_CHOSEN_PID = _FOLLOWED_PID = 0

#: The TBB runtime Numba's TBB layer links to (Linux; the other systems are left to Numba).
_LIBTBB = "libtbb.so.12"


def _tbb_candidates():
    """Where ``pip install tbb`` (or conda) puts the TBB runtime: the environment's ``lib``."""
    for prefix in dict.fromkeys((sys.prefix, sys.exec_prefix, sys.base_prefix)):
        yield os.path.join(prefix, "lib", _LIBTBB)
    for site in sys.path:  # a --user or --target install: <base>/lib/python3.X/site-packages
        if site.endswith("site-packages"):
            yield from glob.glob(os.path.join(site, "..", "..", _LIBTBB))


def prefer_tbb():
    """Make the TBB runtime loadable, so that Numba's default choice of threading layer is TBB.

    Returns
    -------
    str or None
        The path of the library loaded, or None: not Linux, another layer chosen by the user,
        Numba's threads already started, TBB already loadable or not installed.
    """
    if not sys.platform.startswith("linux") or _parallel._is_initialized:
        return None
    if os.environ.get("NUMBA_THREADING_LAYER", "default").lower() in ("omp", "workqueue"):
        return None
    try:
        ctypes.CDLL(_LIBTBB)
        return None  # found by the loader: nothing to do
    except OSError:
        pass
    for path in _tbb_candidates():
        if os.path.exists(path):
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # then found by its name, as Numba asks
            except OSError:
                continue
            return os.path.abspath(path)
    return None


def layer():
    """The threading layer the kernels run on ('tbb', 'omp' or 'workqueue'), starting Numba's
    threads if they are not yet started."""
    if not _parallel._is_initialized:
        _parallel._launch_threads()
    return numba.threading_layer()


def get_num_threads():
    """The number of threads fastssim's CPU kernels use when called from this thread.

    Returns
    -------
    int
        Between 1 and ``NUMBA_NUM_THREADS`` (default: the cores this process may run on).
    """
    return numba.get_num_threads()


def set_num_threads(n):
    """Set the number of threads fastssim's CPU kernels use when called from this thread.

    The setting belongs to the calling thread (as Numba's does): a thread of a pool, a data
    loader's worker or a web server's request handler sets its own. Results do not depend on it:
    the work is cut by the shape of the data, never by the number of threads.

    Parameters
    ----------
    n : int
        Between 1 and ``NUMBA_NUM_THREADS`` (the threads started, by default the cores this
        process may run on; the environment variable sets it before the first call).

    Raises
    ------
    ValueError
        ``n`` out of that range.
    TypeError
        ``n`` not an integer.
    """
    limit = numba.config.NUMBA_NUM_THREADS
    try:
        if isinstance(n, bool):
            raise TypeError
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"the number of threads must be an integer, not {type(n).__name__}") from None
    if not 1 <= n <= limit:
        raise ValueError(f"the number of threads must be between 1 and {limit} (NUMBA_NUM_THREADS, the "
                         f"threads started; set that environment variable before the first call for more); "
                         f"got {n}")
    global _CHOSEN_PID
    _CHOSEN_PID = os.getpid()
    numba.set_num_threads(n)


def follow_torch_workers():
    """In a worker process of a PyTorch ``DataLoader``, let the kernels use torch's thread count.

    PyTorch sets one thread in its data-loader workers, which run side by side on the cores; each
    worker's kernels on every core as well would oversubscribe them (measured with 4 workers on 2
    cores: 0.86-0.89x the pairs per second of one thread each). So in such a worker the kernels
    follow ``torch.get_num_threads()`` (1 unless the worker's ``worker_init_fn`` sets more), unless
    `set_num_threads` was called in that process. Applied once per worker process, at its first
    call; elsewhere nothing changes. Called by every public metric (it costs well under a
    microsecond when there is nothing to do).
    """
    global _FOLLOWED_PID
    worker = sys.modules.get("torch.utils.data._utils.worker")
    if worker is None or getattr(worker, "_worker_info", None) is None:
        return
    pid = os.getpid()
    if pid in (_FOLLOWED_PID, _CHOSEN_PID):
        return
    _FOLLOWED_PID = pid
    import torch

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


@contextlib.contextmanager
def threads(n):
    """A block in which fastssim's CPU kernels, called from this thread, use ``n`` threads.

    Parameters
    ----------
    n : int
        As for `set_num_threads`.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.zeros((64, 64), np.uint8)
    >>> with fastssim.threads(1):
    ...     fastssim.get_num_threads()
    1
    """
    before = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)
