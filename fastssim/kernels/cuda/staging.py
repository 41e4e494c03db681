"""Page-locked (pinned) host buffers and device buffers for the batch scorer's GPU batches,
reused from batch to batch."""

from collections import OrderedDict

import numpy as np

from .arrays import api


class Staging:
    """Page-locked host buffers and device buffers for GPU batches, reused from batch to batch.

    One pair of buffers per (shape, dtype, side) in use, the ``keep`` most recent kept
    (so pinned memory stays bounded when a dataset has many shapes).
    """

    def __init__(self, keep=2):
        self.keep = keep
        self.buffers = OrderedDict()

    def upload(self, arrays, side):
        """A device array holding ``np.stack(arrays)``."""
        n, shape, dtype = len(arrays), arrays[0].shape, arrays[0].dtype
        key = (shape, dtype.str, side)
        host, dev = self.buffers.pop(key, (None, None))
        if host is None or host.shape[0] < n:
            host = api().pinned_array((n,) + shape, dtype)
            dev = api().device_array((n,) + shape, dtype)
        self.buffers[key] = (host, dev)
        while len(self.buffers) > 2 * self.keep:
            self.buffers.popitem(last=False)
        np.stack(arrays, out=host[:n])
        view = dev[:n]
        view.copy_to_device(host[:n])
        return view
