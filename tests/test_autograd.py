"""The PyTorch wrapper: value and gradients equal fastssim's, gradcheck passes."""

import numpy as np
import pytest

from images import need

torch = need("torch")

import fastssim  # noqa: E402
from fastssim.autograd import ssim  # noqa: E402
from images import camera  # noqa: E402


def test_value_and_gradients():
    x = camera()[None, None, :48, :56].astype(np.float64) / 255
    rng = np.random.default_rng(0)
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    X = torch.from_numpy(x).requires_grad_()
    Y = torch.from_numpy(y).requires_grad_()
    loss = ssim(X, Y, data_range=1.0)
    assert loss.detach().item() == pytest.approx(fastssim.ssim(x[0, 0], y[0, 0], data_range=1.0), abs=1e-12)
    loss.backward()
    _, gy = fastssim.ssim_with_gradient(x[0, 0], y[0, 0], data_range=1.0)
    _, gx = fastssim.ssim_with_gradient(y[0, 0], x[0, 0], data_range=1.0)
    np.testing.assert_allclose(Y.grad.numpy()[0, 0], gy, atol=1e-15)
    np.testing.assert_allclose(X.grad.numpy()[0, 0], gx, atol=1e-15)


def test_gradcheck_batch_channels():
    torch.manual_seed(0)
    x = torch.rand(2, 2, 12, 13, dtype=torch.float64)
    y = (x + 0.2 * torch.rand_like(x)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a: ssim(x, a, 1.0, 5), (y,), eps=1e-6, atol=1e-7)


def test_shape_error():
    with pytest.raises(ValueError, match=r"expected two \(N, C, H, W\)"):
        ssim(torch.zeros(8, 8), torch.zeros(8, 8), 1.0)
