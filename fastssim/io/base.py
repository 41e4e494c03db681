"""What every reader shares: the error type, the size caps, and the checks made before a
file is opened or a buffer allocated."""

import contextlib
import logging
import os
import stat
import threading
import warnings

import numpy as np

#: Default cap on the pixels (voxels; channels not counted) of one file.
MAX_PIXELS = 1 << 28  # 268 million: a 16384x16384 image

#: Bytes a file may hold beyond the largest raw image its pixel cap allows (headers,
#: metadata, profiles).
SLACK_BYTES = 64 << 20

#: The most bytes one pixel may take in any supported format (4 channels of float64).
MAX_PIXEL_BYTES = 32


class ReadError(Exception):
    """A file could not be turned into an image; the message says why."""


def name(path):
    return os.path.basename(path)


def check_file(path, max_pixels):
    """The size of the regular file at ``path``; refuse anything else before opening it.

    A FIFO or a device would block or never end, a directory cannot be decoded; a file
    larger than any image within the pixel cap can be is refused without reading it.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ReadError(f"file not found: {path}") from None
    except OSError as e:
        raise ReadError(f"cannot open {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        what = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        link = f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else ""
        raise ReadError(f"{path} is {what}{link}, not an image file")
    limit = max_pixels * MAX_PIXEL_BYTES + SLACK_BYTES
    if st.st_size > limit:
        raise ReadError(f"{name(path)} is {st.st_size} bytes, more than an image of --max-pixels {max_pixels} "
                        "can take; raise --max-pixels if the file is trusted")
    if st.st_size == 0:
        raise ReadError(f"{name(path)} is empty (0 bytes)")
    return st.st_size


def check_inside(path, root, by=None):
    """Refuse ``path`` when it resolves (links followed) outside ``root``; nothing when root is None.

    ``by``: the file that names ``path`` (an NRRD header naming its data file, a DICOM series'
    slice), said in the message.
    """
    if root is None:
        return
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        whose = f"{name(by)} refers to {path}, which" if by is not None else f"{path}"
        raise ReadError(f"{whose} resolves to {real}, outside the root {root}; files outside --root are not "
                        "read: copy or link the data inside it (or pass a --root that holds it)")


def check_referenced(path, by, max_pixels, root=None):
    """Check a file that the file ``by`` names (a detached data file, a slice, an external
    dataset) as a file named by the user is checked: inside ``root``, a regular file (not a FIFO
    or a device, which would block or never end) within the size cap. Returns its size."""
    check_inside(path, root, by)
    try:
        return check_file(path, max_pixels)
    except ReadError as e:
        raise ReadError(f"{name(by)} refers to a file that cannot be read: {e}") from None


def check_pixels(shape, max_pixels, path):
    """Refuse a declared shape over the pixel cap (a trailing axis of 2-4 is channels)."""
    spatial = shape[:-1] if len(shape) >= 3 and shape[-1] in (2, 3, 4) else shape
    n = int(np.prod([int(s) for s in spatial], dtype=object)) if len(spatial) else 1
    if n > max_pixels:
        raise ReadError(
            f"{name(path)} has {n} pixels ({'x'.join(map(str, shape))}), over the cap of "
            f"{max_pixels}; raise --max-pixels if the file is trusted"
        )


def check_dtype(dtype, path):
    """Refuse data that has no intensity scale before it is read."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "uifb":
        raise ReadError(f"{name(path)} holds dtype {dtype}, not real numbers; store a numeric image")
    return dtype


def as_intensity(arr):
    """Bilevel images (bool) as uint8 0/255, as decoders expand 1-bit PNG and TIFF."""
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * np.uint8(255)
    return arr


class _Notes(logging.Filter):
    """What libraries say while a reader runs (``warnings`` and log records), kept for the thread
    that reads the file, to go into its row's ``warning``, instead of printed on stderr. Readers
    run in a pool of threads, so this is per thread (``warnings.catch_warnings`` is not)."""

    local = threading.local()
    installed: set[str] = set()
    lock = threading.Lock()

    def filter(self, record):
        kept = getattr(self.local, "kept", None)
        if kept is None:
            return True
        kept.append(record.getMessage())
        return False

    def show(self, message, category, filename, lineno, file=None, line=None):
        kept = getattr(self.local, "kept", None)
        if kept is None:
            return self.shown(message, category, filename, lineno, file, line)
        kept.append(str(message))
        return None


_NOTES = _Notes()


@contextlib.contextmanager
def library_notes(*modules):
    """Collect, in a list it yields, what the ``modules`` (package names: their ``warnings``, and
    records of their loggers) say in this thread while the block runs."""
    with _NOTES.lock:
        for module in modules:
            if module not in _NOTES.installed:
                _NOTES.installed.add(module)
                warnings.filterwarnings("always", module=rf"{module}(\.|$)")  # each said, not only once
                logging.getLogger(module).addFilter(_NOTES)
                logging.getLogger(f"{module}.global").addFilter(_NOTES)
        if warnings.showwarning is not _NOTES.show:
            _NOTES.shown = warnings.showwarning
            warnings.showwarning = _NOTES.show
    outer = getattr(_NOTES.local, "kept", None)
    _NOTES.local.kept = kept = []
    try:
        yield kept
    finally:
        _NOTES.local.kept = outer
