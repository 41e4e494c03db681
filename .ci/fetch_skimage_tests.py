"""Fetch scikit-image's own test file for ``structural_similarity`` from the sdist of the
installed version (PyPI), for ``tests/test_skimage_suite.py``, which runs it against
``fastssim.compat.skimage``. Nothing of scikit-image is kept in the repository: the file
lands in ``.cache/skimage/<version>/`` (ignored by git).

Run by ``.ci/run`` after installing; by hand: ``python .ci/fetch_skimage_tests.py``.
Exits 0 without the file when the index cannot be reached (the suite then skips, saying so).
"""

import hashlib
import io
import json
import pathlib
import sys
import tarfile
import urllib.request
from importlib.metadata import version

MEMBER = "skimage/metrics/test_structural_similarity.py"
INDEX = "https://pypi.org/simple/scikit-image/"


def main():
    ver = version("scikit-image")
    dest = pathlib.Path(__file__).resolve().parents[1] / ".cache" / "skimage" / ver
    target = dest / "test_structural_similarity.py"
    if target.exists():
        print(f"scikit-image {ver} test file already at {target}")
        return 0
    try:
        req = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
        name = f"scikit_image-{ver}.tar.gz"
        entry = next(f for f in files if f["filename"] in (name, f"scikit-image-{ver}.tar.gz"))
        data = urllib.request.urlopen(entry["url"], timeout=300).read()
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        print(f"could not fetch scikit-image {ver}'s sdist ({exc}); its test suite will be skipped")
        return 0
    if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
        print(f"scikit-image {ver}'s sdist does not match the index's sha256; not used")
        return 1
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(MEMBER)), None)
        if member is None:
            print(f"scikit-image {ver}'s sdist has no {MEMBER}; its test suite will be skipped")
            return 0
        dest.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tar.extractfile(member).read())
    print(f"scikit-image {ver}: {member.name} -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
