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
import math
import operator
import os
import sys
import threading

import numba
from numba.np.ufunc import parallel as _parallel

#: Per thread: the process in which `thread_policy` was applied to this thread, or the thread
#: count was set by `set_num_threads` (a forked child applies it again).
_LOCAL = threading.local()
#: The CPU quota of this process's control group (`cpu_quota`), read once per process
#: (`_process_quota`).
_QUOTA: dict = {}

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
    if not sys.platform.startswith("linux") or _started():
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


def _started():
    """Whether Numba has started its threads (and chosen its layer); True when this Numba does not
    say (a private name of Numba's: then nothing is loaded behind its back)."""
    return getattr(_parallel, "_is_initialized", True)


def layer():
    """The threading layer the kernels run on ('tbb', 'omp' or 'workqueue'), starting Numba's
    threads if they are not yet started."""
    if not _started():
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
    _LOCAL.pid = os.getpid()  # the thread's own choice: `thread_policy` leaves it alone
    numba.set_num_threads(n)


def _read(path, lines=False):
    """The words (or the lines) of a small file, or None when it cannot be read."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return text.splitlines() if lines else text.split()


def cpu_quota(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """The number of CPUs this process's control group may use, by its CFS quota (a container's
    ``--cpus``, a Kubernetes CPU limit), rounded up; None when no quota is set or none can be read.

    cgroup v2 (``cpu.max``, the tightest of the group and its parents) and v1 (``cpu.cfs_quota_us``
    over ``cpu.cfs_period_us``). CPU affinity (``taskset``, cpusets) is Numba's default already.
    """
    limits = []
    for line in _read(proc_cgroup, lines=True) or ():
        try:
            _, controllers, rel = line.split(":", 2)
            limits += _group_limits(controllers, rel, root)
        except ValueError:  # a line or a file not as documented: no limit read from it
            continue
    return max(1, math.ceil(min(limits) - 1e-9)) if limits else None


def available_cpus():
    """The CPUs this process may use: those its affinity allows (``taskset``, cpusets), at most its
    control group's CPU quota (`cpu_quota`). The default number of workers of a batch run."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = _process_quota()
    return max(1, min(n, quota) if quota else n)


def _process_quota():
    """`cpu_quota` of this process, read at its first use (again in a forked child)."""
    if _QUOTA.get("pid") != os.getpid():
        _QUOTA.update(pid=os.getpid(), cpus=cpu_quota())
    return _QUOTA["cpus"]


def _group_limits(controllers, rel, root):
    """The CPU limits (quota / period) one line of ``/proc/self/cgroup`` leads to."""
    limits = []
    if controllers == "":  # v2: the unified hierarchy; the group and each of its parents
        parts = [p for p in rel.split("/") if p]
        for i in range(len(parts), -1, -1):
            got = _read(os.path.join(root, *parts[:i], "cpu.max"))
            if got and len(got) == 2 and got[0] != "max" and int(got[1]) > 0:
                limits.append(int(got[0]) / int(got[1]))
    elif "cpu" in controllers.split(","):  # v1
        for base in (os.path.join(root, controllers, rel.strip("/")), os.path.join(root, controllers)):
            quota, period = _read(os.path.join(base, "cpu.cfs_quota_us")), _read(
                os.path.join(base, "cpu.cfs_period_us"))
            if quota and period and int(quota[0]) > 0 and int(period[0]) > 0:
                limits.append(int(quota[0]) / int(period[0]))
                break
    return limits


def thread_policy():
    """The default number of threads of a thread's calls, set at its first call (per thread).

    - In a CPU-limited container (a control group's CPU quota, e.g. ``docker --cpus 2`` on a
      64-core host), at most the quota: Numba starts a thread per core it can see, and more
      threads than the quota allows wait for each other's time slices. Unless
      ``NUMBA_NUM_THREADS`` is set, which is then the user's choice.
    - In a worker process of a PyTorch ``DataLoader``, torch's thread count (1 unless the
      worker's ``worker_init_fn`` sets more): the workers run side by side on the cores, and each
      worker's kernels on every core as well oversubscribed them (measured with 4 workers on 2
      cores: 0.86-0.89x the pairs per second of one thread each).

    It only ever lowers the count; a count set with `set_num_threads` in the thread, or lower
    already (a pool's worker set to 1), is left alone. Called by every public metric: after the
    first call of a thread it costs a fraction of a microsecond.
    """
    pid = os.getpid()
    if getattr(_LOCAL, "pid", 0) == pid:
        return
    _LOCAL.pid = pid
    quota = None if "NUMBA_NUM_THREADS" in os.environ else _process_quota()
    cap = quota or numba.config.NUMBA_NUM_THREADS
    worker = sys.modules.get("torch.utils.data._utils.worker")
    if worker is not None and getattr(worker, "_worker_info", None) is not None:
        import torch

        cap = min(cap, torch.get_num_threads())
    cap = max(1, min(cap, numba.config.NUMBA_NUM_THREADS))
    if cap < numba.get_num_threads():
        numba.set_num_threads(cap)


@contextlib.contextmanager
def threads(n):
    """A block in which fastssim's CPU kernels, called from this thread, use ``n`` threads.

    Parameters
    ----------
    n : int
        As for `set_num_threads`.

    Examples
    --------
    >>> import fastssim
    >>> with fastssim.threads(1):
    ...     fastssim.get_num_threads()
    1
    """
    thread_policy()  # the thread's default first, so that leaving the block restores it
    before = get_num_threads()
    set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)
