"""Fetch the test files that are not ours to commit, once, into ``.cache/`` (ignored by git):

- scikit-image's own test file for ``structural_similarity``, from the sdist of the installed
  scikit-image (``tests/test_skimage_suite.py`` runs it against ``fastssim.compat.skimage``);
- the "cameraman" image that MATLAB's reference output (``tests/data/matlab-camera``) was
  computed on, from scikit-image 0.17.2's sdist: scikit-image replaced it in 0.18 because its
  copyright is unclear, so it is not redistributed here.

Both archives are checked against the index's sha256 (the camera against a pinned one).
``.ci/run`` runs this after installing; by hand: ``python .ci/fetch_test_data.py``. Without
the network it says so and exits 0: the tests that need a file then skip, naming this script.
"""

import hashlib
import io
import json
import pathlib
import sys
import tarfile
import urllib.request
from importlib.metadata import version

INDEX = "https://pypi.org/simple/scikit-image/"
CACHE = pathlib.Path(__file__).resolve().parents[1] / ".cache"
CAMERA_SHA256 = "361a6d56d22ee52289cd308d5461d090e06a56cb36007d8dfc3226cbe8aaa5db"


def _sdist(ver):
    """The bytes of scikit-image ``ver``'s sdist, checked against the index's sha256."""
    req = urllib.request.Request(INDEX, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
    names = (f"scikit_image-{ver}.tar.gz", f"scikit-image-{ver}.tar.gz")
    entry = next(f for f in files if f["filename"] in names)
    data = urllib.request.urlopen(entry["url"], timeout=300).read()
    if hashlib.sha256(data).hexdigest() != entry["hashes"]["sha256"]:
        raise ValueError(f"{entry['filename']} does not match the index's sha256")
    return data


def _extract(data, suffix, target, sha256=None):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith(suffix)), None)
        if member is None:
            raise ValueError(f"the sdist has no {suffix}")
        content = tar.extractfile(member).read()
    if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
        raise ValueError(f"{member.name} is not the expected file (sha256 differs)")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    print(f"{member.name} -> {target}")


def fetch(ver, suffix, target, sha256=None):
    if target.exists():
        print(f"already there: {target}")
        return True
    try:
        _extract(_sdist(ver), suffix, target, sha256)
        return True
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        print(f"could not fetch {suffix} from scikit-image {ver}'s sdist ({exc}); "
              "the tests that need it will be skipped")
        return False


def main():
    ver = version("scikit-image")
    fetch(ver, "skimage/metrics/test_structural_similarity.py",
          CACHE / "skimage" / ver / "test_structural_similarity.py")
    fetch("0.17.2", "skimage/data/camera.png", CACHE / "refdata" / "matlab-camera" / "camera.png",
          CAMERA_SHA256)
    return 0


if __name__ == "__main__":
    sys.exit(main())
