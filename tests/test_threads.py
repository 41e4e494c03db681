"""The kernels' threads: Numba's TBB layer found in a virtual environment, the user's layer
honoured, the thread count per calling thread (`fastssim.set_num_threads`, `fastssim.threads`),
results independent of it, and the data-loader policy (torch's thread count in its workers)."""

import importlib.metadata
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastssim

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYER = """
import json, sys, numba, numpy as np, fastssim
rng = np.random.default_rng(3)
x = rng.integers(0, 256, (300, 280), dtype=np.uint8)
y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255).astype(np.uint8)
v = [fastssim.ssim(x, y), fastssim.ms_ssim(np.tile(x, (2, 2)), np.tile(y, (2, 2)))]
print(json.dumps(dict(layer=numba.threading_layer(), values=v)))
"""


def _layer_run(**env):
    # as on a fresh machine: no layer chosen, and TBB's library found by fastssim, not the loader
    e = {k: v for k, v in os.environ.items() if k not in ("NUMBA_THREADING_LAYER", "LD_LIBRARY_PATH")}
    e.update(PYTHONPATH=ROOT, **env)
    r = subprocess.run([sys.executable, "-c", LAYER], env=e, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.splitlines()[-1])


def _tbb_installed():
    try:
        importlib.metadata.distribution("tbb")
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _tbb_installed(),
                    reason="TBB is a dependency on Linux x86_64 only (pip's tbb wheels); elsewhere Numba's default layer")
def test_tbb_layer_in_a_virtual_environment_and_the_users_layer_honoured():
    """In a fresh process the kernels run on TBB (whose library pip puts where the system's loader
    does not look); NUMBA_THREADING_LAYER=omp is honoured; both give the same values, bit for bit."""
    tbb = _layer_run()
    assert tbb["layer"] == "tbb"
    omp = _layer_run(NUMBA_THREADING_LAYER="omp")
    assert omp["layer"] == "omp"
    assert tbb["values"] == omp["values"]


def test_thread_count_is_per_calling_thread_and_restored():
    limit = fastssim.get_num_threads()
    seen = {}

    def other():
        seen["other"] = fastssim.get_num_threads()

    with fastssim.threads(1):
        assert fastssim.get_num_threads() == 1
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert fastssim.get_num_threads() == limit
    import numba

    assert seen["other"] == numba.config.NUMBA_NUM_THREADS  # another thread keeps its own count


@pytest.mark.parametrize("bad, error, text", [
    (0, ValueError, "between 1 and"), (10 ** 6, ValueError, "NUMBA_NUM_THREADS"),
    (1.5, TypeError, "integer, not float"), (True, TypeError, "integer, not bool"), ("2", TypeError, "not str")])
def test_set_num_threads_refuses_what_cannot_work(bad, error, text):
    before = fastssim.get_num_threads()
    with pytest.raises(error, match=text):
        fastssim.set_num_threads(bad)
    assert fastssim.get_num_threads() == before


def test_values_do_not_depend_on_the_thread_count():
    """SSIM (2-D, colour, a volume), MS-SSIM and the gradient: one thread and all, bit for bit."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 256, (333, 517, 3), dtype=np.uint8)
    y = np.clip(x + rng.normal(0, 15, x.shape), 0, 255).astype(np.uint8)
    v = rng.random((40, 70, 90), dtype=np.float32)
    f = x[..., 0].astype(np.float32) / 255

    def values():
        _, grad = fastssim.ssim_with_gradient(f, f[::-1].copy(), data_range=1.0)
        return [fastssim.ssim(x, y, channel_axis=-1), fastssim.ms_ssim(x[..., 1], y[..., 1]),
                fastssim.ssim(v, v[::-1].copy(), data_range=1.0), grad]

    everything = values()
    with fastssim.threads(1):
        one = values()
    for a, b in zip(everything, one):
        np.testing.assert_array_equal(a, b)


def test_row_bands_are_even_and_never_more_than_before():
    """The 2-D kernel's tasks (`kernels.arrays.band_rows_2d`): as many row bands as ``BAND_H_2D`` rows
    make, never more (each band filters ``win_size - 1`` rows more than it outputs), of heights
    that differ by less than their number (a 182-row map was 128 + 54 rows: one thread did 70%)."""
    from fastssim import config as cfg
    from fastssim.kernels.arrays import band_rows_2d

    B = cfg.BAND_H_2D
    for Ho in range(1, 5 * B + 2):
        band = band_rows_2d(Ho)
        count = -(-Ho // band)
        assert count == -(-Ho // B), Ho
        assert band <= B
        last = Ho - (count - 1) * band
        assert 0 < last and band - last < count, (Ho, band, last)
    assert band_rows_2d(182) == 91 and band_rows_2d(B) == B and band_rows_2d(B + 1) == B // 2 + 1


def test_taps_follow_the_window_values_not_the_array():
    """The kernel's taps are made once per window (`ssim_plan._kernel_taps`, keyed by the window's
    values): a window array changed in place, or another window, gives other values; the same
    values in another array, the same."""
    rng = np.random.default_rng(5)
    x = rng.random((60, 70))
    y = np.clip(x + 0.1 * rng.standard_normal(x.shape), 0, 1)
    from fastssim.kernels import engine
    from fastssim.kernels.math import window_weights

    consts = engine.kernel_constants(1.0, 0.01, 0.03, 1.0, np.dtype(np.float64))
    x5, y5 = x[None, None, None], y[None, None, None]
    w = window_weights(7, 1.5, True)
    first = engine.ssim_means(x5, y5, 2, w, consts)[0]
    np.testing.assert_array_equal(engine.ssim_means(x5, y5, 2, w.copy(), consts)[0], first)
    w[:] = window_weights(7, 1.0, True)  # the same array, other values
    changed = engine.ssim_means(x5, y5, 2, w, consts)[0]
    assert abs(changed[0, 0, 0] - first[0, 0, 0]) > 1e-4
    np.testing.assert_allclose(changed[..., 0], fastssim.ssim(x, y, data_range=1.0, win_size=7, sigma=1.0), rtol=1e-12)
    rows = [window_weights(7, 1.0, True), window_weights(5, 1.0, True)]  # anisotropic: H and W differ
    aniso = engine.ssim_means(x5, y5, 2, rows, consts)[0]
    assert aniso[0, 0, 0] != changed[0, 0, 0]


LOADER = """
import json, numpy as np, fastssim, torch.utils.data as tud

class D(tud.Dataset):
    def __len__(self):
        return 4
    def __getitem__(self, i):
        fastssim.ssim(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8))
        return fastssim.get_num_threads()

def chosen(_):
    fastssim.set_num_threads(2)

fastssim.ssim(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8))  # the parent: all threads
out = dict(parent=fastssim.get_num_threads(),
           default=[int(t) for t in tud.DataLoader(D(), batch_size=1, num_workers=2)],
           chosen=[int(t) for t in tud.DataLoader(D(), batch_size=1, num_workers=2, worker_init_fn=chosen)])
print(json.dumps(out))
"""


def test_dataloader_workers_follow_torch_unless_told_otherwise():
    """In torch's data-loader workers the kernels use torch's thread count (1) unless the worker
    sets its own (here 2 in ``worker_init_fn``); the parent keeps all its threads."""
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-c", LOADER], env=dict(os.environ, PYTHONPATH=ROOT, NUMBA_NUM_THREADS="2"),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.splitlines()[-1])
    assert out == dict(parent=2, default=[1, 1, 1, 1], chosen=[2, 2, 2, 2])


def _cgroup(tmp_path, proc, files):
    (tmp_path / "proc").write_text(proc)
    for rel, text in files.items():
        path = tmp_path / "fs" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return dict(proc_cgroup=str(tmp_path / "proc"), root=str(tmp_path / "fs"))


@pytest.mark.parametrize("proc, files, cpus", [
    ("0::/\n", {"cpu.max": "200000 100000\n"}, 2),  # v2 in a container's namespace: docker --cpus 2
    ("0::/\n", {"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
    ("0::/\n", {"cpu.max": "max 100000\n"}, None),  # no quota
    ("0::/kubepods/pod1/ctr\n", {"kubepods/pod1/cpu.max": "300000 100000\n",  # the tightest of the group
                                  "kubepods/pod1/ctr/cpu.max": "max 100000\n"}, 3),  # and its parents
    ("4:cpu,cpuacct:/docker/abc\n0::/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "50000\n",  # v1, the controller's
                                          "cpu,cpuacct/cpu.cfs_period_us": "100000\n"}, 1),  # root mounted
    ("4:cpu,cpuacct:/\n", {"cpu,cpuacct/cpu.cfs_quota_us": "-1\n", "cpu,cpuacct/cpu.cfs_period_us": "100000\n"},
     None),  # v1 without a quota
    ("", {}, None),  # nothing to read
    ("0::/\n", {"cpu.max": "lots 100000\n"}, None),  # not as documented: no limit, no error
    ("garbage\n0::/\n", {"cpu.max": "100000 100000\n"}, 1),  # a stray line skipped
])
def test_cpu_quota_of_the_control_group(tmp_path, proc, files, cpus):
    from fastssim.kernels.cpu.threads import cpu_quota

    assert cpu_quota(**_cgroup(tmp_path, proc, files)) == cpus


QUOTA = """
import json, threading, numpy as np, fastssim
from fastssim.kernels.cpu import threads
threads._QUOTA.update(pid=__import__("os").getpid(), cpus=1)  # as in a container limited to one CPU
x = np.zeros((32, 32), np.uint8)
got = {}
def call(name, before=None):
    if before:
        fastssim.set_num_threads(before)
    fastssim.ssim(x, x)
    got[name] = fastssim.get_num_threads()
def block():
    with fastssim.threads(2):
        got["in_block"] = fastssim.get_num_threads()
    fastssim.ssim(x, x)
    got["after_block"] = fastssim.get_num_threads()
for name, before in (("default", None), ("chosen", 2)):
    t = threading.Thread(target=call, args=(name, before))
    t.start(); t.join()
t = threading.Thread(target=block)
t.start(); t.join()
print(json.dumps(got))
"""


def test_a_cpu_quota_caps_each_threads_default_unless_it_chose():
    """A thread's first call takes the container's CPU quota as its default (here one CPU of two
    cores); a thread that set its own count keeps it; a block leaves the default as it found it."""
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two cores to tell a cap of one from the default")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    r = subprocess.run([sys.executable, "-c", QUOTA], env=dict(env, PYTHONPATH=ROOT), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.splitlines()[-1]) == dict(default=1, chosen=2, in_block=2, after_block=1)


def test_available_cpus_is_the_affinity_at_most_the_quota(monkeypatch):
    """The default number of workers of a batch run: the CPUs the affinity allows, at most a
    container's CPU quota (before: every core of the host, `os.cpu_count()`)."""
    from fastssim.kernels.cpu import threads

    affinity = len(os.sched_getaffinity(0))
    for quota, want in ((None, affinity), (1, 1), (affinity + 8, affinity)):  # above the cores: the cores
        monkeypatch.setattr(threads, "_QUOTA", {})  # read afresh, as in a new process
        monkeypatch.setattr(threads, "cpu_quota", lambda quota=quota: quota)
        assert threads.available_cpus() == want
