"""Shared fixtures."""

import pytest

from images import BACKENDS, camera, read


@pytest.fixture(scope="session")
def cam():
    return camera()


@pytest.fixture(scope="session")
def lena_rgb():
    return read("lena", "lena512color.tiff")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
