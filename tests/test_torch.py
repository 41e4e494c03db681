"""`fastssim.torch`: SSIM as a PyTorch loss on real images against pytorch_msssim's autograd
gradient (same float64 window), gradcheck, dtypes, reductions, the loss module."""

import numpy as np
import pytest

from images import need

torch = need("torch")

import fastssim  # noqa: E402
from fastssim.kernels.math import window_weights  # noqa: E402
from fastssim.integrations.torch import SSIMLoss, ssim  # noqa: E402
from images import camera  # noqa: E402


def real_batch(n=3, size=(64, 72), channels=1):
    cam = camera()
    x = np.stack([np.stack([cam[40 * i + 7 * c:][:size[0], 30 * i:30 * i + size[1]] for c in range(channels)])
                  for i in range(n)]).astype(np.float64) / 255
    y = np.clip(x + np.random.default_rng(1).normal(0, 0.06, x.shape), 0, 1)
    return x, y


def test_gradient_equals_pytorch_msssim_on_real_images():
    pm = need("pytorch_msssim")
    x, y = real_batch(channels=3)
    win = torch.from_numpy(window_weights(11, 1.5, True).copy()).reshape(1, 1, 1, 11).repeat(3, 1, 1, 1)  # float64
    X = torch.from_numpy(x)
    Y1 = torch.from_numpy(y).requires_grad_()
    Y2 = torch.from_numpy(y).requires_grad_()
    ours = ssim(X, Y1, data_range=1.0)
    theirs = pm.ssim(X, Y2, data_range=1.0, win=win, size_average=True)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-12)
    ours.backward()
    theirs.backward()
    assert torch.allclose(Y1.grad, Y2.grad, rtol=0, atol=1e-10 * Y2.grad.abs().max().item())


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck_2d_and_3d(reduction):
    torch.manual_seed(0)
    for shape, win in (((2, 2, 12, 13), 5), ((2, 1, 7, 8, 9), 3)):
        x = torch.rand(*shape, dtype=torch.float64)
        y = (x + 0.2 * torch.rand_like(x)).requires_grad_()
        x.requires_grad_()
        assert torch.autograd.gradcheck(lambda a, b: ssim(a, b, data_range=1.0, win_size=win, reduction=reduction),
                                        (x, y), eps=1e-6, atol=1e-7)


def test_reduction_none_is_each_images_ssim():
    x, y = real_batch(n=4)
    X, Y = torch.from_numpy(x), torch.from_numpy(y).requires_grad_()
    values = ssim(X, Y, data_range=1.0, reduction="none")
    assert values.shape == (4,)
    np.testing.assert_allclose(values.detach().numpy(), fastssim.ssim_batch(x[:, 0], y[:, 0], data_range=1.0),
                               rtol=1e-12)
    (values * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()  # per-image weights reach each image
    for i in range(4):
        _, g = fastssim.ssim_with_gradient(x[i, 0], y[i, 0], data_range=1.0)
        np.testing.assert_allclose(Y.grad[i, 0].numpy(), (i + 1) * g, rtol=1e-10, atol=1e-18)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_low_precision_tensors_work_in_float32(dtype):
    x, y = real_batch(n=2)
    want, want_g = fastssim.ssim_batch_with_gradient(x[:, 0], y[:, 0], data_range=1.0)
    X = torch.from_numpy(x).to(dtype)
    Y = torch.from_numpy(y).to(dtype).requires_grad_()
    value = ssim(X, Y, data_range=1.0)
    value.backward()
    assert value.dtype == dtype and Y.grad.dtype == dtype
    tol = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 2e-2}[dtype]  # the inputs' own rounding
    assert value.item() == pytest.approx(want.mean(), rel=tol)
    g = Y.grad.float().numpy()[:, 0]
    assert np.abs(g - want_g / 2).max() <= 20 * tol * np.abs(want_g / 2).max()


def test_loss_module_trains():
    x, _ = real_batch(n=2, size=(40, 40))
    target = torch.from_numpy(x).float()
    pred = torch.rand_like(target).requires_grad_()
    loss_fn = SSIMLoss(data_range=1.0)
    opt = torch.optim.Adam([pred], lr=0.05)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = loss_fn(pred, target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 0.8 and losses[-1] < 0.5 * losses[0]
    assert loss_fn(target, target).item() == 0.0
    per_image = SSIMLoss(data_range=1.0, reduction="none")(pred.detach(), target)
    assert per_image.shape == (2,)


def test_mistakes():
    with pytest.raises(ValueError, match=r"expected two \(N, C, H, W\)"):
        ssim(torch.zeros(8, 8), torch.zeros(8, 8), data_range=1.0)
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'none'"):
        ssim(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16), data_range=1.0, reduction="sum")
    with pytest.raises(ValueError, match="reduction"):
        SSIMLoss(data_range=1.0, reduction="max")
    with pytest.raises(ValueError, match="win_size=11 exceeds the image extent"):
        ssim(torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8), data_range=1.0)
    from fastssim.autograd import ssim as old

    x, y = real_batch(n=1)
    assert old(torch.from_numpy(x), torch.from_numpy(y), 1.0).item() == \
        ssim(torch.from_numpy(x), torch.from_numpy(y), data_range=1.0).item()  # the alias


def test_ms_ssim_and_its_loss_module():
    pm = need("pytorch_msssim")
    from fastssim.integrations.torch import MSSSIMLoss, ms_ssim

    cam = camera().astype(np.float64) / 255
    x = np.stack([cam[:192, :176], cam[200:392, 300:476]])[:, None]  # even sizes: pytorch_msssim's pyramid
    y = np.clip(x + np.random.default_rng(3).normal(0, 0.05, x.shape), 0, 1)
    win = torch.from_numpy(window_weights(11, 1.5, True).copy()).reshape(1, 1, 1, 11)
    Y1, Y2 = torch.from_numpy(y).requires_grad_(), torch.from_numpy(y).requires_grad_()
    ours = ms_ssim(torch.from_numpy(x), Y1, data_range=1.0)
    theirs = pm.ms_ssim(torch.from_numpy(x), Y2, data_range=1.0, win=win)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-12)
    ours.backward()
    theirs.backward()
    assert torch.allclose(Y1.grad, Y2.grad, rtol=0, atol=1e-10 * Y2.grad.abs().max().item())
    per = ms_ssim(torch.from_numpy(x), torch.from_numpy(y), data_range=1.0, reduction="none")
    np.testing.assert_allclose(per.numpy(), fastssim.ms_ssim_batch(x[:, 0], y[:, 0], data_range=1.0), rtol=1e-12)
    pred = torch.from_numpy(y).float().requires_grad_()
    loss = MSSSIMLoss(data_range=1.0)(pred, torch.from_numpy(x).float())
    loss.backward()
    assert pred.grad.dtype == torch.float32 and loss.item() == pytest.approx(1 - ours.item(), abs=1e-5)
    vol = np.stack([x[0, 0, i:i + 40, :50] for i in range(0, 110, 5)])[None]  # 22 x 40 x 50: two scales
    noisy = np.clip(vol + np.random.default_rng(3).normal(0, 0.05, vol.shape), 0, 1)
    V = torch.from_numpy(noisy).requires_grad_()
    value = ms_ssim(torch.from_numpy(vol)[None], V[None], data_range=1.0, weights=(0.5, 0.5))
    value.backward()
    ref, grad = fastssim.ms_ssim_batch_with_gradient(vol, noisy, spatial_ndim=3, data_range=1.0, weights=(0.5, 0.5))
    assert value.item() == pytest.approx(ref[0], abs=1e-13)
    assert torch.allclose(V.grad, torch.from_numpy(grad), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="exceeds the image extent"):
        ms_ssim(torch.zeros(1, 1, 4, 170, 170), torch.zeros(1, 1, 4, 170, 170), data_range=1.0)
    with pytest.raises(ValueError, match="161"):
        ms_ssim(torch.rand(1, 1, 100, 100), torch.rand(1, 1, 100, 100), data_range=1.0)
