"""One API vocabulary (issue 35): a function's return type does not change with a flag; the old
flag-typed spellings still work for a release, with a DeprecationWarning naming the new function;
``channel_axis`` names the colour axis in every metric; one list of backends and one error for an
unusable one; ``three_ssim`` honours ``backend``; the old import paths still work."""

import importlib

import numpy as np
import pytest

import fastssim
from images import camera, colour, jpeg, noise


@pytest.fixture(scope="module")
def rgb():
    x = colour()[100:228, 150:294]
    return x, jpeg(x, 25)


def test_distances_return_one_float_and_channels_come_from_their_own_functions(rgb):
    x, y = rgb
    assert type(fastssim.l2(x, y)) is float and type(fastssim.cosine(x, y)) is float
    per = fastssim.l2_channels(x, y, channel_axis=-1)
    assert type(per) is np.ndarray and per.shape == (3,)
    np.testing.assert_allclose(per, [np.sqrt(np.sum((x[..., c].astype(float) - y[..., c]) ** 2)) for c in range(3)],
                               rtol=1e-12)
    # the whole image's L2 is the root of the channels' squared sum: one number, any layout
    assert fastssim.l2(x, y) == pytest.approx(float(np.sqrt(np.sum(per ** 2))), rel=1e-12)
    cos = fastssim.cosine_channels(np.moveaxis(x, -1, 0), np.moveaxis(y, -1, 0), channel_axis=0)
    assert cos.shape == (3,) and (cos <= 1).all()
    with pytest.warns(DeprecationWarning, match=r"call l2_channels\(x, y, channel_axis=...\) for those") as w:
        old = fastssim.l2(x, y, channel_axis=-1)
    assert w[0].filename == __file__  # said at the caller's line, not inside fastssim
    np.testing.assert_array_equal(old, per)
    with pytest.warns(DeprecationWarning, match="cosine_channels"):
        np.testing.assert_array_equal(fastssim.cosine(x, y, channel_axis=-1), fastssim.cosine_channels(x, y, channel_axis=-1))
    with pytest.raises(ValueError, match="l2_channels needs channel_axis"):
        fastssim.l2_channels(x, y, channel_axis=None)


def test_channel_axis_names_the_colour_axis_in_mse_and_psnr(rgb):
    """As in ssim (the mean over channels), MSE and PSNR with channel_axis are over every channel;
    the axis is checked like everywhere else, with or without a mask."""
    x, y = rgb
    assert fastssim.mse(x, y, channel_axis=-1) == fastssim.mse(x, y)
    assert fastssim.mse(x, y, channel_axis=-1) == pytest.approx(
        np.mean([fastssim.mse(x[..., c], y[..., c]) for c in range(3)]), rel=1e-12)
    assert fastssim.psnr(x, y, channel_axis=2) == fastssim.psnr(x, y)
    with pytest.raises(ValueError, match="channel_axis=3 is out of range for an array with 3 axes"):
        fastssim.psnr(x, y, channel_axis=3)
    with pytest.raises(ValueError, match="channel_axis=-4 is out of range"):
        fastssim.mse(x, y, channel_axis=-4)


def test_ssim_slices_returns_an_ndarray_and_regions_their_own_masked_array():
    vol = np.stack([camera()[8 * i:8 * i + 64, :72] for i in range(6)])
    dist = noise(vol, 12)
    plain = fastssim.ssim_slices(vol, dist)
    assert type(plain) is np.ndarray and plain.shape == (6,)
    region = np.zeros(vol.shape, bool)
    region[2:4, 10:50, 10:60] = True
    masked = fastssim.ssim_slices_masked(vol, dist, region)
    assert isinstance(masked, np.ma.MaskedArray) and masked.mask.tolist() == [True, True, False, False, True, True]
    assert masked[2] == fastssim.ssim(vol[2], dist[2], mask=region[2])
    # without a region, the masked function is refused a mask of another shape
    with pytest.raises(ValueError, match="does not match the volumes' spatial shape"):
        fastssim.ssim_slices_masked(vol, dist, region[0])


def test_score_pairs_yields_and_score_dataset_writes(tmp_path):
    import types

    a = camera()[:64, :64]
    assert isinstance(fastssim.score_pairs([(a, a)]), types.GeneratorType)
    with pytest.raises(fastssim.ConfigError, match=r"call score_dataset\(pairs, out, client=client\)"):
        fastssim.score_pairs([(a, a)], client=object())


def test_one_backend_list_and_one_error():
    """The API and the batch scorer check the one list (tests/test_layout.py: it is written once)."""
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'cpu', 'cuda'\), got 'gpu'"):
        fastssim.ssim(camera(), camera(), backend="gpu")
    with pytest.raises(fastssim.ConfigError, match="unknown backend 'gpu'; choose one of auto, cpu, cuda"):
        fastssim.score_pairs([], backend="gpu")


def test_three_ssim_honours_backend(rgb):
    """three_ssim used to compute its map on the CPU for backend='auto' whatever the size; it now
    passes backend through (the simulator stands in for the GPU), and refuses GPU arrays, whose
    pixels it would classify on the host."""
    pytest.importorskip("numba.cuda")
    x, y = camera()[100:130, 120:160], jpeg(camera(), 20)[100:130, 120:160]
    cpu = fastssim.three_ssim(x, y, backend="cpu")
    assert fastssim.three_ssim(x, y, backend="cuda") == pytest.approx(cpu, abs=2e-6)
    assert fastssim.three_ssim(x, y) == cpu  # 'auto': small images on the CPU
    from numba import config

    if config.ENABLE_CUDASIM:
        from fastssim.kernels.cuda.arrays import SimDeviceArray

        with pytest.raises(TypeError, match="three_ssim classifies pixels on the host"):
            fastssim.three_ssim(SimDeviceArray(x), SimDeviceArray(y), backend="cuda")


@pytest.mark.parametrize("old, new, name", [
    ("fastssim.multiscale", "fastssim.metrics.multiscale", "ms_ssim"),
    ("fastssim.gradients", "fastssim.metrics.gradient", "ssim_with_gradient"),
    ("fastssim.distances", "fastssim.metrics.distances", "psnr"),
    ("fastssim.distances", "fastssim.metrics.products", "l2"),
    ("fastssim.cwssim", "fastssim.metrics.cwssim", "cw_ssim"),
    ("fastssim.three_ssim", "fastssim.metrics.three_ssim", "three_ssim_regions"),
    ("fastssim.presets", "fastssim.conventions.presets", "PRESETS"),
    ("fastssim.torch", "fastssim.integrations.torch", "SSIMLoss"),
    ("fastssim.compat.skimage", "fastssim.integrations.skimage", "structural_similarity"),
    ("fastssim.metrics", "fastssim.metrics.multiscale", "ms_ssim"),
])
def test_old_import_paths_still_work(old, new, name):
    assert getattr(importlib.import_module(old), name) is getattr(importlib.import_module(new), name)
    # importing an old module path never hides a function of the same name on the package
    assert callable(fastssim.three_ssim) and fastssim.three_ssim is importlib.import_module(
        "fastssim.metrics.three_ssim").three_ssim
