"""Compiling ahead of time (issue 36): ``fastssim compile`` fills Numba's disk cache so that a fresh
process compiles nothing (counted by Numba's compile-event listener); a read-only install caches in
the per-user directory and says so; a cache made stale by another version of the sources is rebuilt
without errors. Real subprocesses, each with its own empty cache directory."""

import json
import os
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

import fastssim

PACKAGE = os.path.dirname(os.path.abspath(fastssim.__file__))

COUNT = ("import json, sys; from fastssim.metrics.compile import _work; "
         "print(json.dumps({n: c for n, _, c in _work(sys.argv[1:])}))")


def run(args, env, cwd=None):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=600)


def compiles(names, env, cwd=None):
    """How many specialisations a fresh process compiles for each kernel set in ``names`` (``cwd``
    outside the repository, for a copied package: ``python -c`` puts the working directory first
    on the path)."""
    r = run(["-c", COUNT, *names], env, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_compile_fills_the_cache_so_a_fresh_process_compiles_nothing(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    r = run(["-m", "fastssim.cli", "compile", "--only", "ssim-uint8,psnr-uint8", "--workers", "2"], env)
    assert r.returncode == 0, r.stderr
    assert f"compiling 2 kernel sets in 2 processes into {tmp_path / 'cache'}" in r.stderr
    assert "[2/2]" in r.stderr and "2 kernel sets cached in" in r.stdout
    got = compiles(["ssim-uint8", "psnr-uint8", "ssim-uint16"], env)
    assert got["ssim-uint8"] == 0 and got["psnr-uint8"] == 0
    assert got["ssim-uint16"] > 0  # not prepared: the counter sees compiles (it is not blind)
    r = run(["-m", "fastssim.cli", "compile", "--only", "ssim-uint9"], env)
    assert r.returncode == 2 and "--only: unknown kernel set(s) ssim-uint9; choose from ssim-uint8" in r.stderr


def test_compile_prepares_the_png_decoder(tmp_path):
    """``fastssim compile`` prepares the built-in PNG decoder's kernel too (a run's first PNG files are
    otherwise read by another decoder while it compiles): a fresh process then compiles nothing for it."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    assert compiles(["png-decoder"], env) == {"png-decoder": 1}
    assert compiles(["png-decoder"], env) == {"png-decoder": 0}
    from fastssim.metrics.compile import COMMON

    assert "png-decoder" in COMMON


def _copy_package(dest):
    """The package's sources (no caches) under ``dest``, as a separate install."""
    shutil.copytree(PACKAGE, dest / "fastssim", ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    return dest


def test_read_only_install_caches_per_user_and_says_so(tmp_path):
    """Where the package directory cannot hold a cache (a system or container install), Numba's
    per-user cache directory is used, and the first compile says where. The tests run as root,
    whom file modes do not stop, so the copy's ``__pycache__`` entries are made plain files: a
    directory that cannot be created, as on a read-only mount."""
    site = _copy_package(tmp_path / "site")
    for dirpath, dirnames, filenames in os.walk(site / "fastssim"):
        open(os.path.join(dirpath, "__pycache__"), "w").close()
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "user-cache"), HOME=str(tmp_path / "home"),
               PYTHONDONTWRITEBYTECODE="1")
    r = run(["-m", "fastssim.cli", "compile", "--only", "psnr-uint8"], env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "(the package directory is not writable: Numba's per-user cache)" in r.stderr
    assert f"into {tmp_path / 'user-cache'}" in r.stderr  # the copy ran, from the working directory tmp_path
    assert str(tmp_path / "user-cache") in r.stderr
    assert compiles(["psnr-uint8"], env, cwd=tmp_path) == {"psnr-uint8": 0}
    # the scoring command's compile notice says it once, with the place
    a = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", a)
    iio.imwrite(tmp_path / "b.png", (a // 2).astype(np.uint8))
    r = run(["-m", "fastssim.cli", "score", "a.png", "b.png", "--metrics", "psnr,mse"], env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run(["-m", "fastssim.cli", "score", "a.png", "b.png", "--metrics", "ssim"], env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("compiling SSIM kernels") == 1
    assert f"the package directory is not writable, so they are cached in {tmp_path / 'user-cache'}" in r.stderr


def test_a_cache_made_stale_by_other_sources_is_rebuilt(tmp_path):
    """An upgrade replaces the sources the cache was compiled from: the next process recompiles what
    changed, without errors, and the one after it loads the new entries."""
    site = _copy_package(tmp_path / "site")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(site))
    assert compiles(["psnr-uint8"], env, cwd=tmp_path)["psnr-uint8"] > 0
    assert compiles(["psnr-uint8"], env, cwd=tmp_path) == {"psnr-uint8": 0}
    reduce = site / "fastssim" / "kernels" / "cpu" / "reduce.py"  # "the next version": other sources
    reduce.write_text(reduce.read_text() + "\n# another version\n")
    os.utime(reduce, (1e9, 2e9))
    again = compiles(["psnr-uint8"], env, cwd=tmp_path)
    assert again["psnr-uint8"] > 0
    assert compiles(["psnr-uint8"], env, cwd=tmp_path) == {"psnr-uint8": 0}
    r = run(["-c", "import fastssim, numpy as np; x = np.arange(64, dtype=np.uint8).reshape(8, 8); "
                   "print(fastssim.__file__); print(fastssim.psnr(x, x // 2))"], env, cwd=tmp_path)
    assert r.stdout.splitlines()[0].startswith(str(site))  # the copy ran, not the repository's package
    assert r.returncode == 0 and float(r.stdout.splitlines()[1]) == pytest.approx(fastssim.psnr(
        np.arange(64, dtype=np.uint8).reshape(8, 8), np.arange(64, dtype=np.uint8).reshape(8, 8) // 2))


SPECIALISATIONS = """
import json
import numpy as np
import fastssim
from fastssim.kernels.cpu import load, ssim as kernel
rng = np.random.default_rng(5)
x = rng.integers(0, 200, (70, 90))
y = np.clip(x + rng.integers(-30, 31, x.shape), 0, 255)
from fastssim.metrics.compile import _Counter
got = {}
counter = _Counter().__enter__()
for dt in ("uint8", "uint16", "int16", "int32", "float16", "float32"):
    got[dt] = [fastssim.ssim(x.astype(dt), y.astype(dt), data_range=255),
               fastssim.ms_ssim(np.tile(x, (3, 2)).astype(dt), np.tile(y, (3, 2)).astype(dt), data_range=255),
               fastssim.ssim(x.astype(dt).T, y.astype(dt)[:, ::-1].T[:, ::-1], data_range=255)]
print(json.dumps(dict(values=got, signatures=len(kernel.ssim_sums.signatures), compiled=counter.count,
                      readers=sorted(str(k[0]) for k in load._COMPILED if k[1] == np.float32))))
"""


def test_one_kernel_specialisation_for_every_input_dtype(tmp_path):
    """The SSIM kernel reads every input dtype and layout through row readers chosen at run time:
    scoring six dtypes (SSIM, MS-SSIM, a transposed and a flipped view) adds a row reader each, not
    a kernel specialisation (counted from the dispatcher's signatures in a fresh process: SSIM's and
    MS-SSIM's, which halves as it reads), and each
    dtype scores exactly as its float32 copy. A second process loads the readers from the disk
    cache and scores the same: the readers, made by one factory, have cache entries of their own."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = []
    for _ in range(2):
        r = run(["-c", SPECIALISATIONS], env)
        assert r.returncode == 0, r.stderr
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    for out in runs:
        # one float32-work kernel for SSIM and one for MS-SSIM (whose kernel also halves the images
        # for the next scale), whatever the input dtype
        assert out["signatures"] == 2
        assert out["readers"] == ["float16", "float32", "int16", "int32", "uint16", "uint8"]
        for dt, values in out["values"].items():
            assert values == out["values"]["float32"], dt  # integers below 2^24 and float16 are exact in float32
            assert 0.3 < values[0] < 1
    assert runs[1]["values"] == runs[0]["values"]
    assert runs[1]["compiled"] == 0 < runs[0]["compiled"]  # the second process compiled nothing


#: The start of a script that lists what its process compiles (Numba's compile events), in ``compiled``.
SEEN = """
import json, sys
from numba.core import event

compiled = []


class Seen(event.Listener):
    def on_start(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__name__)

    def on_end(self, ev):
        pass


event.register("numba:compile", Seen())
"""

AHEAD = SEEN + """
import numpy as np
import fastssim

x, y = np.load(sys.argv[1]), np.load(sys.argv[2])
xf, yf = x / np.float32(255), y / np.float32(255)
if sys.argv[4] == "score":  # a scored pair first, in a process of its own: SSIM's kernel cold
    from fastssim.batch.pair_metrics import score_arrays

    row = score_arrays(x, y, metrics=("ssim", "psnr", "mse"))
    print(json.dumps(dict(compiled=compiled, row=[row["ssim"], row["psnr"], row["mse"]])))
    sys.exit()
ms_values, ms_grad = fastssim.ms_ssim_batch_with_gradient(xf[None], yf[None], data_range=1.0)
value, grad = fastssim.ssim_with_gradient(xf, yf, data_range=1.0)
ms = fastssim.ms_ssim(x, y)
np.save(sys.argv[3], np.stack([grad, ms_grad[0]]))
print(json.dumps(dict(compiled=compiled, value=value, ms=ms, ms_values=ms_values.tolist())))
"""


def test_a_cold_call_compiles_its_second_kernel_in_a_helper_process(tmp_path):
    """On a cold cache, the gradient's backward pass, MS-SSIM's halving and a scored pair's MSE
    are compiled by helper processes while the call compiles its first kernel
    (`fastssim.kernels.ahead`), as are the parallel kernels whose tasks the process compiles
    (`ssim_sums`, beside `_ssim_task`): the process itself compiles only the first kernels' tasks
    (the MS-SSIM loss's forward pass, then the uint8 MS-SSIM's SSIM) and loads the others from
    the cache, and
    its numbers are those of a process that compiled all of them itself
    (``FASTSSIM_COMPILE_AHEAD=0``, the control, where the listener sees them compiled). A real
    photograph and its JPEG copy, float32 work."""
    from images import grey, jpeg

    x = grey()[:176, :200]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", jpeg(x, quality=20))
    got, scored = {}, {}
    for ahead in ("1", "0"):
        for kind, into in (("calls", got), ("score", scored)):
            env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / f"cache-{ahead}-{kind}"), FASTSSIM_COMPILE_AHEAD=ahead)
            r = run(["-c", AHEAD, str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), str(tmp_path / f"g{ahead}.npy"),
                     kind], env)
            assert r.returncode == 0, r.stderr
            into[ahead] = json.loads(r.stdout.strip().splitlines()[-1])
    for first in ("grad_maps_2d", "_maps_task", "_ssim_task"):
        assert first in got["1"]["compiled"] and first in got["0"]["compiled"]
    # the SSIM task's last pass, `_combine_ssim4`, met while the task compiles here: the process
    # waits for the helper that is compiling it (`ahead._Progress._meet`) rather than compile it too
    for second in ("grad_back_2d", "_back_task", "downsample2", "_halve_task", "ssim_sums", "_combine_ssim4"):
        assert second not in got["1"]["compiled"], got["1"]["compiled"]
        assert second in got["0"]["compiled"]
    assert "_ssim_task" in scored["1"]["compiled"]
    for second in ("ssim_sums", "squared_error_sums", "_combine_ssim4"):
        assert second not in scored["1"]["compiled"] and second in scored["0"]["compiled"]
    assert scored["1"]["row"] == scored["0"]["row"]
    for key in ("value", "ms", "ms_values"):
        assert got["1"][key] == got["0"][key], key
    assert 0.3 < got["1"]["value"] < 0.99 and 0.3 < got["1"]["ms"] < 0.99 and 0.3 < got["1"]["ms_values"][0] < 0.99
    assert scored["1"]["row"][0] == fastssim.ssim(x, jpeg(x, quality=20))
    assert scored["1"]["row"][2] == fastssim.mse(x, jpeg(x, quality=20)) > 0
    g1, g0 = np.load(tmp_path / "g1.npy"), np.load(tmp_path / "g0.npy")
    assert g1.dtype == np.float32 and np.array_equal(g1, g0) and np.abs(g1).max(axis=(1, 2)).min() > 0


SCORE_CLI = SEEN + """
from fastssim.cli import main
from fastssim.kernels import ahead

helpers = []
popen = ahead.subprocess.Popen
ahead.subprocess.Popen = lambda *a, **k: helpers.append(popen(*a, **k)) or helpers[-1]
status = main(["score", *sys.argv[1:], "--json"])
for h in helpers:  # what they compile is in the cache for the next process
    h.wait()
print(json.dumps(dict(status=status, compiled=compiled, helpers=len(helpers))))
"""


def test_a_cold_score_of_two_png_files_starts_one_helper_for_its_later_kernels(tmp_path):
    """A first ``fastssim score`` of two PNG files on a cold cache starts one helper process
    (`ahead.start`), which compiles SSIM's parallel kernel, then the MSE kernel and the built-in PNG
    decoder's (put aside for it: `ahead.later`), while the command compiles SSIM's task; the first
    pair's PNG files are read by the other decoder meanwhile (`Job.first_png_decoder`). Its row is
    that of a process that compiled everything itself (the control: ``FASTSSIM_COMPILE_AHEAD=0``),
    the next process decodes with the built-in decoder from the cache, compiling nothing, and an
    explicit ``--png-decoder builtin`` is honoured on a cold cache too. A real photograph and its
    JPEG copy, grey and colour."""
    from images import colour, grey, jpeg

    for name, img in (("grey", grey()[:150, :170]), ("rgb", colour()[:150, :170])):
        iio.imwrite(tmp_path / f"{name}-a.png", img)
        iio.imwrite(tmp_path / f"{name}-b.png", jpeg(img, quality=20))

    def score(name, ahead, cache, *extra):
        env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / cache), FASTSSIM_COMPILE_AHEAD=ahead)
        r = run(["-c", SCORE_CLI, str(tmp_path / f"{name}-a.png"), str(tmp_path / f"{name}-b.png"), *extra], env)
        assert r.returncode == 0, r.stderr
        row, seen = (json.loads(line) for line in r.stdout.strip().splitlines()[-2:])
        assert seen["status"] == 0
        return row, seen

    helpers = 1 if ahead_cores() >= 2 else 0  # (one core: no helper, by design)
    for name in ("grey", "rgb"):
        row, seen = score(name, "1", f"cache-{name}")
        control, alone = score(name, "0", f"cache-{name}-alone")
        assert row == control and 0.3 < row["ssim"] < 0.99 and row["mse"] > 0
        assert alone["helpers"] == 0
        assert {"unfilter", "squared_error_sums", "ssim_sums", "_ssim_task"} <= set(alone["compiled"])
        assert seen["helpers"] == helpers and "_ssim_task" in seen["compiled"]
        if helpers:
            assert not {"unfilter", "squared_error_sums", "ssim_sums"} & set(seen["compiled"]), seen["compiled"]
        again, warm = score(name, "1", f"cache-{name}", "--png-decoder", "builtin")
        assert again == row and warm == dict(status=0, compiled=[], helpers=0)
        asked, builtin = score(name, "1", f"cache-{name}-builtin", "--png-decoder", "builtin")
        assert asked == row and "unfilter" in builtin["compiled"]


def test_a_helpers_progress_ends_each_wait_when_its_entries_are_compiled():
    """`ahead._Progress` reads a helper's progress (a byte per specialisation): a wait for the first
    ends when it is reported, a wait for more times out while the helper is busy, and every wait
    ends once the helper has ended (what it did not compile then compiles in the caller); the
    helper is reaped by the reading thread."""
    import time

    from fastssim.kernels import ahead

    busy = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.stdout.write('.'); sys.stdout.flush(); "
                             "time.sleep(60)"], stdout=subprocess.PIPE)
    progress = ahead._Progress(busy, [])
    progress.until(1, 30)
    assert progress.compiled == 1 and not progress.ended
    t = time.perf_counter()
    with pytest.raises(subprocess.TimeoutExpired):
        progress.until(2, 0.3)
    assert time.perf_counter() - t < 10
    busy.kill()
    progress.until(2, 30)  # ended: nothing more to wait for
    assert progress.ended and busy.returncode is not None and progress.compiled == 1


def ahead_cores():
    from fastssim.kernels import ahead

    return ahead._cores()


def test_later_joins_the_next_helper_its_thread_starts(monkeypatch):
    """`ahead.later` puts a specialisation aside (its Pending has nothing to wait for yet, and
    never will if no helper starts: the call then compiles here); the next `ahead.start` in the
    same thread compiles it after its own, and its Pending waits for that helper's first two;
    another thread's `later` does not join it."""
    import threading

    from fastssim import config as cfg
    from fastssim.io.png_filters import unfilter_call
    from fastssim.kernels import ahead
    from fastssim.kernels.cpu import reduce

    if ahead._cores() < 2:
        pytest.skip("helpers start only with two usable cores")
    monkeypatch.setattr(cfg, "COMPILE_AHEAD", True)
    monkeypatch.setattr(ahead, "_cached", lambda d, s: False)  # as if cold
    decoder, args = unfilter_call()
    monkeypatch.setattr(decoder, "overloads", {})
    monkeypatch.setattr(reduce.squared_error_sums, "overloads", {})
    monkeypatch.setattr(ahead, "_waiting", threading.local())
    put = ahead.later((decoder, args))
    assert put.deferred and put.proc is None
    put.wait()  # no helper yet: nothing to wait for
    elsewhere = []
    t = threading.Thread(target=lambda: elsewhere.append(ahead.later((reduce.squared_error_sums, (0,)))))
    t.start()
    t.join()
    assert elsewhere[0].deferred
    x5 = np.zeros((1, 1, 1, 4, 4))
    own = (reduce.squared_error_sums, (x5, x5, np.zeros((1, 2))))
    started = ahead.start(own)
    try:
        assert started.proc is not None and put.proc is started.proc and (started.upto, put.upto) == (1, 2)
        assert elsewhere[0].proc is None
    finally:
        started.proc.kill()
        started.wait()
    assert ahead.start().proc is None


def test_no_helper_where_it_cannot_save_time_and_a_late_one_is_stopped(monkeypatch):
    """`ahead.start` starts nothing for a specialisation this process has compiled already, when
    turned off, inside a helper, or beside a kernel compiled already; `Pending.wait` stops a helper that outlives
    ``COMPILE_AHEAD_WAIT_S`` and returns (the call then compiles the kernel itself)."""
    import time

    from fastssim import config as cfg
    from fastssim.kernels import ahead
    from fastssim.kernels.cpu.calls import address
    from fastssim.kernels.cpu.reduce import halving_task
    from fastssim.kernels.engine_ms import halving_call

    x5 = np.arange(2 * 6 * 8, dtype=np.float32).reshape(1, 2, 1, 6, 8)
    kernel, args, held = halving_call(x5, 2, np.dtype(np.float32))
    at = address(*halving_task(*args))
    args = (at,) + args
    kernel(*args)  # compiled (or loaded) in this process now
    assert ahead.start((kernel, args)).proc is None
    monkeypatch.setattr(kernel, "overloads", {})  # as if cold: only the switches below stop it
    monkeypatch.setattr(ahead, "_cached", lambda d, s: False)
    monkeypatch.setattr(cfg, "COMPILE_AHEAD", False)
    assert ahead.start((kernel, args)).proc is None
    monkeypatch.setattr(cfg, "COMPILE_AHEAD", True)
    monkeypatch.setenv("FASTSSIM_AHEAD_HELPER", "1")
    assert ahead.start((kernel, args)).proc is None
    monkeypatch.delenv("FASTSSIM_AHEAD_HELPER")
    started = ahead.start((kernel, args))  # the control: with every switch on, a helper starts
    assert (started.proc is not None) == (ahead._cores() >= 2)  # (one core: none, by design)
    if started.proc is not None:
        started.proc.kill()
        started.proc.wait()
    # nor when the kernel this process compiles meanwhile is compiled already: nothing would
    # overlap the helper (a first PSNR after an SSIM call took 0.98 s with one, 0.42 s without)
    from fastssim.kernels.cpu import reduce

    fastssim.mse(np.zeros((4, 4)), np.ones((4, 4)))
    assert reduce.squared_error_sums.overloads
    assert ahead.start((kernel, args), beside=reduce.squared_error_sums).proc is None
    slow = ahead.Pending(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
    monkeypatch.setattr(cfg, "COMPILE_AHEAD_WAIT_S", 0.5)
    proc, t = slow.proc, time.perf_counter()
    slow.wait()
    assert time.perf_counter() - t < 30 and proc.poll() is not None and slow.proc is None
    slow.wait()  # a second wait has nothing to wait for
