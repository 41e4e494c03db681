"""Calls between compiled kernels by address (`fastssim.kernels.cpu.calls`): the parallel kernel's
modules hold no copy of its task's code, the results are the task's, and a call whose types differ
from the address taken is refused when compiling. And the tasks' scratch arrays, allocated by code
lowered in place (`fastssim.kernels.cpu.scratch`)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit, prange
from numba.core import errors

from fastssim.kernels.cpu import calls, scratch


@njit
def _row_sum_task(i, a, out, scale):
    s = 0.0
    for j in range(a.shape[1]):
        s += a[i, j]
    out[i] = s * scale


@njit(parallel=True)
def _row_sums(at, a, out, scale):
    for i in prange(a.shape[0]):
        calls.call_at(_row_sum_task, at, (np.int64(i), a, out, scale))


def test_a_parallel_loop_calls_its_task_by_address_without_a_copy_of_its_code():
    a = np.random.default_rng(0).integers(0, 100, (37, 11)).astype(np.float64)  # exact sums
    out = np.full(37, np.nan)
    at = calls.address(_row_sum_task, (0, a, out, 0.5))
    assert at == calls.address(_row_sum_task, (7, a, out, 2.0))  # the same types: the same code
    _row_sums(at, a, out, 0.5)
    np.testing.assert_array_equal(out, a.sum(axis=1) * 0.5)
    task = _row_sum_task.overloads[_row_sum_task.signatures[0]]
    assert task.fndesc.mangled_name not in _row_sums.inspect_llvm(_row_sums.signatures[0])


def test_a_call_with_other_types_than_its_address_was_taken_for_is_refused_when_compiling():
    @njit
    def task(i, a):
        a[i] = i

    @njit
    def run(at, a):
        calls.call_at(task, at, (np.int64(0), a))

    calls.address(task, (0, np.zeros(3)))
    with pytest.raises(errors.TypingError, match="internal error: task is called with types"):
        run(0, np.zeros(3, np.float32))


def test_the_ssim_kernel_compiles_its_task_once_and_a_helper_is_given_the_types_it_uses(tmp_path):
    # compiled in a fresh process without the disk cache (whose code cannot be inspected): the
    # kernel holds no copy of its task; the types `ahead_calls` gives a helper process to compile
    # (the task's last pass, the kernel) are those the call compiled, for the exact sums of 8-bit
    # images, a Gaussian window, interleaved colour channels and MS-SSIM (whose kernel halves the
    # images as it reads them); the value is scikit-image's
    code = textwrap.dedent("""
        import numpy as np, fastssim
        from numba import typeof
        from fastssim.kernels.cpu import ssim as k
        seen = []
        task_call = k.task_call
        k.task_call = lambda *a: (seen.append(a), task_call(*a))[1]
        rng = np.random.default_rng(1)
        x = rng.integers(0, 256, (70, 90), dtype=np.uint8)
        y = np.clip(x + rng.integers(-30, 31, x.shape), 0, 255).astype(np.uint8)
        print(repr(fastssim.ssim(x, y, preset="skimage")))
        fastssim.ssim(x / np.float32(255), y / np.float32(255), data_range=1.0)
        fastssim.ssim(np.stack([x, y, x], -1), np.stack([y, x, y], -1), channel_axis=-1)
        fastssim.ms_ssim(np.tile(x, (3, 2)), np.tile(y, (3, 2)))  # five scales, each halving as it reads
        task = k._ssim_task.overloads[k._ssim_task.signatures[0]].fndesc.mangled_name
        print(task in k.ssim_sums.inspect_llvm(k.ssim_sums.signatures[0]), len(seen), len(k._ssim_task.signatures))
        for args in seen:
            calls = k.ahead_calls(*args)
            for dispatcher, types in calls[:-1]:
                assert tuple(types) in dispatcher.overloads, (dispatcher.__name__, types, dispatcher.signatures)
            kernel, values = calls[-1]
            assert kernel is k.ssim_sums and tuple(map(typeof, values)) in kernel.overloads
        print(sorted(d.__name__ for args in seen for d, _ in k.ahead_calls(*args)[:-1]))
    """)
    env = dict(os.environ, FASTSSIM_NO_CACHE="1", FASTSSIM_COMPILE_AHEAD="0")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    value, inlined, passes = out.stdout.split("\n")[:3]
    assert inlined == "False 8 4"  # MS-SSIM's kernel (SSIM's, with the halving) a fourth task
    assert passes == str(["_combine_ssim4"] * 7 + ["combine_box4"])
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (70, 90), dtype=np.uint8)
    y = np.clip(x + rng.integers(-30, 31, x.shape), 0, 255).astype(np.uint8)
    assert abs(float(value) - structural_similarity(x, y)) < 1e-12


@njit
def _scratch_arrays(like, n):
    a = scratch.empty(n, like.dtype)
    b = scratch.zeros((2, n), like.dtype)
    c = scratch.zeros((n, 1, 3), np.float64)
    a[:] = 7
    b[1, :] += 1
    return a, b, c


def test_scratch_arrays_are_numpys_own():
    """`scratch.empty` and `scratch.zeros` give what ``np.empty`` and ``np.zeros`` give in a
    compiled function: C-contiguous arrays of the shape (an integer or a tuple) and dtype asked,
    zeros zeroed, each a fresh array; an unsupported dtype argument is a typing error."""
    for dt in (np.float32, np.float64, np.int64):
        a, b, c = _scratch_arrays(np.ones(1, dt), 5)
        assert a.dtype == b.dtype == dt and c.dtype == np.float64
        assert (a.shape, b.shape, c.shape) == ((5,), (2, 5), (5, 1, 3))
        assert all(x.flags.c_contiguous and x.flags.writeable for x in (a, b, c))
        assert not np.shares_memory(a, _scratch_arrays(np.ones(1, dt), 5)[0])
        assert np.array_equal(a, np.full(5, 7, dt)) and np.array_equal(b, [[0] * 5, [1] * 5]) and not c.any()
    a2, b2, _ = _scratch_arrays(np.ones(1, np.float32), 0)
    assert a2.shape == (0,) and b2.shape == (2, 0)

    @njit
    def wrong(n):
        return scratch.empty(n, 3)

    with pytest.raises(errors.TypingError):
        wrong(3)

