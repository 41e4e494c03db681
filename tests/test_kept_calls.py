"""Prepared kernel calls kept per thread (`fastssim.kernels.ssim_plan.take` / `give`): a plain SSIM or
MS-SSIM call of a kind and shape seen before runs the kept calls, pointed at its own images. Each
pair must still get its own numbers, bit for bit those of a call that prepares everything anew, on
every kind of call that keeps them; nothing of the caller's may stay alive in the store; threads
keep their own; the store stays within its bounds."""

import gc
import threading
import weakref

import numpy as np
import pytest

import fastssim
from fastssim import config as cfg
from fastssim.kernels import ssim_plan
from images import camera, colour, noise

W3 = (0.3, 0.3, 0.4)


def _pairs(make, count=3):
    """``count`` different pairs of one kind and shape, from ``make(seed)``."""
    return [make(seed) for seed in range(count)]


def _grey(seed, dtype=np.uint8, size=(150, 170)):
    x = camera()[seed * 20:seed * 20 + size[0], :size[1]]
    y = noise(x, 8.0 + 6 * seed, seed=seed)
    if dtype == np.float32:
        return x / np.float32(255), y / np.float32(255)
    return x.astype(dtype), y.astype(dtype)


def _rgb(seed):
    x = colour()[seed * 10:seed * 10 + 120, :140]
    return x, noise(x, 9.0 + 5 * seed, seed=seed)


def _volume(seed):
    rng = np.random.default_rng(seed)
    v = rng.random((24, 30, 28), dtype=np.float32)
    return v, np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1).astype(np.float32)


#: name: (pairs, the call); each kind keeps its calls (plain calls on the CPU)
KINDS = {
    "ssim float32": (lambda: _pairs(lambda s: _grey(s, np.float32)), lambda x, y: fastssim.ssim(x, y, data_range=1.0)),
    "ssim uint8": (lambda: _pairs(_grey), lambda x, y: fastssim.ssim(x, y)),
    "ssim uint16": (lambda: _pairs(lambda s: _grey(s, np.uint16)), lambda x, y: fastssim.ssim(x, y, data_range=255)),
    "ssim uint8 7x7 uniform (exact sums)": (lambda: _pairs(_grey),
                                            lambda x, y: fastssim.ssim(x, y, win_size=7, gaussian=False)),
    "ssim uint8 transposed views": (lambda: [(x.T, y.T) for x, y in _pairs(_grey)], lambda x, y: fastssim.ssim(x, y)),
    "ssim RGB channel-last": (lambda: _pairs(_rgb), lambda x, y: fastssim.ssim(x, y, channel_axis=-1)),
    "ssim 3-D float32": (lambda: _pairs(_volume), lambda x, y: fastssim.ssim(x, y, data_range=1.0)),
    "ssim_batch uint8": (lambda: [(np.stack([a, b]), np.stack([b, a])) for a, b in _pairs(_grey)],
                         lambda x, y: fastssim.ssim_batch(x, y)),
    "ms_ssim float32": (lambda: _pairs(lambda s: _grey(s, np.float32, (181, 203))),
                        lambda x, y: fastssim.ms_ssim(x, y, data_range=1.0, weights=W3)),
    "ms_ssim uint8": (lambda: _pairs(lambda s: _grey(s, np.uint8, (181, 203))),
                      lambda x, y: fastssim.ms_ssim(x, y, weights=W3)),
    "ms_ssim torchmetrics": (lambda: _pairs(lambda s: _grey(s, np.float32, (181, 203))),
                             lambda x, y: fastssim.ms_ssim(x, y, data_range=1.0, weights=W3, preset="torchmetrics")),
    "ms_ssim_batch float32": (lambda: [(np.stack([a, b]), np.stack([b, a]))
                                       for a, b in _pairs(lambda s: _grey(s, np.float32, (181, 203)))],
                              lambda x, y: fastssim.ms_ssim_batch(x, y, data_range=1.0, weights=W3)),
}


@pytest.fixture
def plans(plans_made):
    """The `ssim_plan.Plan` objects made (conftest's ``plans_made``)."""
    return plans_made


@pytest.mark.parametrize("kind", list(KINDS))
def test_kept_calls_score_each_pair_anew(kind, plans, monkeypatch):
    """Pairs of one kind and shape scored in turn, again and again, each get the numbers of a call
    that prepares everything itself (bit for bit), and only the first call prepares."""
    pairs, score = KINDS[kind][0](), KINDS[kind][1]
    monkeypatch.setattr(cfg, "KEPT_CALLS", 0)
    fresh = [score(x, y) for x, y in pairs]
    assert len(plans) >= len(pairs)
    assert len({float(np.mean(v)) for v in fresh}) == len(pairs)  # the pairs differ: a stale image would show
    monkeypatch.setattr(cfg, "KEPT_CALLS", 4)
    plans.clear()
    for i in (0, 1, 2, 1, 0, 2):
        np.testing.assert_array_equal(score(*pairs[i]), fresh[i])
    assert 1 <= len(plans) <= 2  # the first call's plans (MS-SSIM: the first scale and the halved ones)
    assert len(ssim_plan._KEPT.calls) == 1


def test_kept_calls_hold_no_image():
    """The store keeps no reference to a caller's images (nor to copies of them)."""
    ssim_plan.forget()
    x, y = _grey(0, np.float32, (181, 203))
    want = fastssim.ms_ssim(x, y, data_range=1.0), fastssim.ssim(x, y, data_range=1.0)
    got = fastssim.ms_ssim(x, y, data_range=1.0), fastssim.ssim(x, y, data_range=1.0)
    assert got == want and len(ssim_plan._KEPT.calls) == 2
    refs = [weakref.ref(x), weakref.ref(y)]
    del x, y
    gc.collect()
    assert all(r() is None for r in refs)


def test_threads_keep_their_own():
    """Two threads scoring pairs of one kind and shape at once, each pair its own values."""
    pairs = _pairs(lambda s: _grey(s, np.float32, (181, 203)), 4)
    want = [(fastssim.ms_ssim(x, y, data_range=1.0), fastssim.ssim(x, y, data_range=1.0)) for x, y in pairs]
    wrong = []

    def work(mine):
        for _ in range(60):
            for i in mine:
                got = fastssim.ms_ssim(*pairs[i], data_range=1.0), fastssim.ssim(*pairs[i], data_range=1.0)
                if got != want[i]:
                    wrong.append((i, got, want[i]))
    threads = [threading.Thread(target=work, args=(mine,)) for mine in ((0, 1), (2, 3))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_the_store_is_bounded(plans, monkeypatch):
    """At most ``config.KEPT_CALLS`` kinds per thread, the most recent; calls whose outputs pass
    ``config.KEPT_CALL_BYTES`` (MS-SSIM's halves) are not kept, and the oldest are let go to keep
    the thread's outputs within it."""
    monkeypatch.setattr(cfg, "KEPT_CALLS", 2)
    sizes = [(60, 70), (61, 70), (62, 70)]
    for h, w in sizes:
        x, y = _grey(0, np.float32, (h, w))
        fastssim.ssim(x, y, data_range=1.0)
    kept = ssim_plan._KEPT.calls
    assert [k[1] for k in kept] == [(1, 1, 1, 61, 70), (1, 1, 1, 62, 70)]
    x, y = _grey(0, np.float32, (181, 203))
    halves = 2 * 4 * sum(-(-181 // 2 ** s) * -(-203 // 2 ** s) for s in (1, 2, 3))
    monkeypatch.setattr(cfg, "KEPT_CALL_BYTES", halves - 1)  # the chain's halves and sums pass it
    plans.clear()
    want = fastssim.ms_ssim(x, y, data_range=1.0, weights=W3)
    assert fastssim.ms_ssim(x, y, data_range=1.0, weights=W3) == want
    assert len(plans) == 2  # prepared again: not kept
    monkeypatch.setattr(cfg, "KEPT_CALL_BYTES", 10 * halves)
    plans.clear()
    assert fastssim.ms_ssim(x, y, data_range=1.0, weights=W3) == want
    assert fastssim.ms_ssim(x, y, data_range=1.0, weights=W3) == want
    assert len(plans) == 1  # its first call's plans (the halved scales share one); the second prepares none
    # a second chain that does not fit beside the first: the older calls are let go
    monkeypatch.setattr(cfg, "KEPT_CALL_BYTES", 3 * halves // 2)
    x2, y2 = _grey(1, np.float32, (182, 203))
    fastssim.ms_ssim(x2, y2, data_range=1.0, weights=W3)
    assert [k[1] for k in ssim_plan._KEPT.calls] == [(1, 1, 1, 182, 203)]
    assert ssim_plan._KEPT.bytes == sum(size for _, size in ssim_plan._KEPT.calls.values()) > halves
