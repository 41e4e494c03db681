"""A mutation fuzzer for the readers: real images of every supported format, mutated (bit
flips, bytes, truncation, insertion, splices, and PNG chunk edits with the CRC made valid
again), then read with both PNG decoders and scored.

Promises checked on every input:
- `read_image` returns an array or raises `ReadError`, nothing else, within ``HANG_SECONDS``;
- libspng and Pillow agree on every PNG: both refuse it, or both return the same pixels;
- a decoded array that can be scored against its original gives a row or a ValueError/TypeError.

The pytest entry (``test_fuzz.py``) runs it for ``FASTSSIM_FUZZ_SECONDS`` (default 12). For a
long campaign::

    python tests/fuzz_readers.py --seconds 3600 --seed 7
"""

import argparse
import io
import os
import random
import struct
import sys
import tempfile
import threading
import time
import warnings
import zlib

import numpy as np

HANG_SECONDS = 30.0
MAX_PIXELS = 1 << 20


def corpus(image):
    """``{name: bytes}``: ``image`` (an 8-bit grey array, e.g. a real photo) in every format."""
    import cv2
    import png
    import tifffile
    from PIL import Image

    img = np.ascontiguousarray(image[:48, :40])
    rgb = np.stack([img, img[::-1], img[:, ::-1]], -1)
    out = {}

    def pil(arr, fmt, ext, **kw):
        b = io.BytesIO()
        Image.fromarray(arr).save(b, format=fmt, **kw)
        out[f"{len(out)}{ext}"] = b.getvalue()

    pil(img, "PNG", ".png")
    pil(rgb, "PNG", ".png")
    pil(np.dstack([rgb, img]), "PNG", ".png")
    pil(img.astype(np.uint16) * 257, "PNG", ".png")
    b = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(b, format="PNG")
    out[f"{len(out)}.png"] = b.getvalue()
    b = io.BytesIO()
    Image.fromarray(img > 100).save(b, format="PNG")
    out[f"{len(out)}.png"] = b.getvalue()
    out[f"{len(out)}.png"] = cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes()
    b = io.BytesIO()
    png.Writer(40, 48, greyscale=True, alpha=True, bitdepth=16, interlace=True).write(
        b, (np.dstack([img, img]).astype(np.uint16) * 257).reshape(48, -1).tolist())
    out[f"{len(out)}.png"] = b.getvalue()
    pil(img, "JPEG", ".jpg", quality=80)
    pil(rgb, "JPEG", ".jpg", quality=80)
    pil(rgb, "BMP", ".bmp")
    pil(rgb, "WEBP", ".webp", quality=80)
    for kw in ({}, {"compression": "zlib"}):
        b = io.BytesIO()
        tifffile.imwrite(b, rgb.astype(np.uint16) * 257, photometric="rgb", **kw)
        out[f"{len(out)}.tif"] = b.getvalue()
    pil(rgb, "TIFF", ".tif", compression="tiff_lzw")
    b = io.BytesIO()
    tifffile.imwrite(b, np.stack([img, img[::-1], img]))
    out[f"{len(out)}.tif"] = b.getvalue()
    b = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(b, format="TIFF")
    out[f"{len(out)}.tif"] = b.getvalue()
    b = io.BytesIO()
    np.save(b, rgb.astype(np.float32))
    out[f"{len(out)}.npy"] = b.getvalue()
    b = io.BytesIO()
    np.savez_compressed(b, a=img)
    out[f"{len(out)}.npz"] = b.getvalue()
    return out


def _png_chunks(data):
    pos, chunks = 8, []
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if pos + 12 + length > len(data):
            break
        chunks.append((pos, length))
        pos += 12 + length
    return chunks


def mutate(data, rng, others):
    """One to four random edits of ``data``."""
    d = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        if not d:
            d = bytearray(rng.randbytes(rng.randint(1, 64)))
        i = rng.randrange(len(d))
        if op == 0:
            d[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            d[i] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.randrange(256)))
        elif op == 2:
            del d[rng.randrange(len(d)):]
        elif op == 3:
            d[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op == 4:
            del d[i:i + rng.randint(1, 64)]
        elif op == 5:
            j = rng.randrange(len(d))
            d[j:j] = d[i:i + rng.randint(1, 256)]
        elif op == 6:
            other = rng.choice(others)
            cut = rng.randrange(len(other))
            d = d[:i] + bytearray(other[cut:cut + rng.randint(1, 4096)])
        elif op in (7, 8) and d[:8] == b"\x89PNG\r\n\x1a\n":
            chunks = _png_chunks(bytes(d))
            if chunks:  # edit a chunk's body (IHDR included) and make its CRC valid again
                pos, length = rng.choice(chunks)
                if length:
                    k = pos + 8 + rng.randrange(length)
                    d[k] = rng.randrange(256) if op == 7 else d[k] ^ (1 << rng.randrange(8))
                crc = zlib.crc32(bytes(d[pos + 4:pos + 8 + length]))
                d[pos + 8 + length:pos + 12 + length] = struct.pack(">I", crc)
    return bytes(d)


class Findings:
    """What broke a promise, with the input that did it (kept on disk for replay)."""

    def __init__(self, keep_dir):
        self.keep_dir = keep_dir
        self.problems = []
        self.counts = {"inputs": 0, "decoded": 0, "refused": 0, "scored": 0}

    def add(self, kind, name, data, detail):
        path = os.path.join(self.keep_dir, f"finding-{len(self.problems)}-{name}")
        with open(path, "wb") as f:
            f.write(data)
        self.problems.append(f"{kind}: {detail} (input kept at {path})")


def bounded(read):
    """``read()`` in a daemon thread for at most ``HANG_SECONDS``: ``{'arr': result}``, ``{'err':
    ReadError}``, ``{'bad': any other exception}`` or ``{'hang': True}``."""
    from fastssim.io import ReadError

    box = {}

    def go():
        try:
            box["arr"] = read()
        except ReadError as e:
            box["err"] = e
        except BaseException as e:  # noqa: BLE001 - a broken promise, reported by the caller
            box["bad"] = e

    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(HANG_SECONDS)
    if t.is_alive():
        box["hang"] = True
    return box


def _read(path, png_decoder):
    from fastssim.io import read_image

    return bounded(lambda: read_image(path, alpha="keep", png_decoder=png_decoder, max_pixels=MAX_PIXELS))


def check_one(path, data, name, original, findings):
    from fastssim.batch import score_arrays

    findings.counts["inputs"] += 1
    with open(path, "wb") as f:
        f.write(data)
    outcomes = {}
    from fastssim.io import pyspng

    decoders = ("builtin", "libspng", "pillow") if pyspng is not None else ("builtin", "pillow")
    for dec in (decoders if name.endswith(".png") else ("builtin",)):
        box = _read(path, dec)
        if "hang" in box:
            findings.add("hang", name, data, f"read_image(png_decoder={dec!r}) still running after {HANG_SECONDS} s")
            return
        if "bad" in box:
            e = box["bad"]
            findings.add("exception", name, data, f"read_image(png_decoder={dec!r}) raised {type(e).__name__}: {e}")
            return
        outcomes[dec] = box.get("arr")
    arrays = list(outcomes.values())
    a = arrays[0]
    for dec, b in list(outcomes.items())[1:]:
        same = (a is None and b is None) or (a is not None and b is not None and a.dtype == b.dtype
                                             and a.shape == b.shape
                                             and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
        if not same:
            desc = ", ".join(f"{d} {'refused' if v is None else f'{v.dtype}{v.shape}'}" for d, v in outcomes.items())
            findings.add("decoders disagree", name, data, desc)
            return
    arr = arrays[0]
    if arr is None:
        findings.counts["refused"] += 1
        return
    findings.counts["decoded"] += 1
    if original is not None and arr.shape == original.shape:
        try:
            kw = {"data_range": 1.0} if arr.dtype.kind == "f" or original.dtype.kind == "f" else {}
            score_arrays(original, arr, metrics=("ssim", "psnr", "mse"), **kw)
            findings.counts["scored"] += 1
        except (ValueError, TypeError):
            pass
        except Exception as e:  # noqa: BLE001
            findings.add("scorer", name, data, f"score_arrays raised {type(e).__name__}: {e}")


def run(seconds, seed, image, keep_dir, max_inputs=None):
    """Fuzz for ``seconds``; returns the Findings."""
    from fastssim.io import read_image

    rng = random.Random(seed)
    seeds = corpus(image)
    originals = {}
    work = tempfile.mkdtemp(prefix="fastssim-fuzz-")
    for name, data in seeds.items():
        path = os.path.join(work, "orig-" + name)
        with open(path, "wb") as f:
            f.write(data)
        originals[name] = read_image(path, alpha="keep")
    findings = Findings(keep_dir)
    names = sorted(seeds)
    values = [seeds[n] for n in names]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (max_inputs is None or findings.counts["inputs"] < max_inputs):
        name = rng.choice(names)
        data = mutate(seeds[name], rng, values)
        check_one(os.path.join(work, "in" + os.path.splitext(name)[1]), data, name, originals[name], findings)
    return findings


def main(argv=None):
    import logging

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="Image size .* could be decompression bomb")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", default="fuzz-findings", help="directory for inputs that broke a promise")
    p.add_argument("--formats", choices=("images", "volumes", "all"), default="images",
                   help="images (PNG, JPEG, TIFF, ...: this module), volumes (NIfTI, NRRD, HDF5, MetaImage, zarr, "
                        "DICOM series, MP4: fuzz_volumes.py) or all (the time split between them)")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.dirname(__file__))
    from images import camera

    os.makedirs(args.keep, exist_ok=True)
    runs = {"images": [run], "volumes": [], "all": [run]}[args.formats]
    if args.formats != "images":
        import fuzz_volumes

        runs.append(fuzz_volumes.run)
    problems = 0
    for fuzz in runs:
        f = fuzz(args.seconds / len(runs), args.seed, camera(), args.keep)
        print(f"{fuzz.__module__}: {f.counts['inputs']} inputs: {f.counts['decoded']} decoded, {f.counts['refused']} "
              f"refused, {f.counts['scored']} scored against their original; {len(f.problems)} problems")
        for line in f.problems[:50]:
            print("  " + line)
        problems += len(f.problems)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
