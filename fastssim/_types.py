"""Type aliases of the public API's annotations (checked by mypy in CI)."""

from typing import Any, Literal, Union

#: What the metric functions take as an image: a NumPy array or anything ``np.asarray`` takes, a
#: GPU array (``__cuda_array_interface__``: CuPy, Numba, a CUDA tensor) or a PyTorch tensor. Wider
#: than ``numpy.typing.ArrayLike``, which has no GPU arrays, so it is Any to the type checker.
ArrayLike = Any
#: A data range: a number, or a rule of `fastssim.conventions.data_range` ('dtype', 'ref', 'pair').
DataRange = Union[float, str, None]
#: Where the kernels run (`fastssim.config.BACKENDS`).
Backend = Literal["auto", "cpu", "cuda"]

__all__ = ["ArrayLike", "DataRange", "Backend"]
