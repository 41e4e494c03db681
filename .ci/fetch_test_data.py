"""Fetch the test files that are not ours to commit, once, into ``.cache/`` (ignored by git):

- scikit-image's own test file for ``structural_similarity``, from the sdist of the installed
  scikit-image (``tests/test_skimage_suite.py`` runs it against ``fastssim.compat.skimage``);
- the "cameraman" image that MATLAB's reference output (``tests/data/matlab-camera``) was
  computed on, from scikit-image 0.17.2's sdist: scikit-image replaced it in 0.18 because its
  copyright is unclear, so it is not redistributed here;
- pytorch_msssim 1.0.0's test scripts, from its sdist (``tests/test_pytorch_msssim_suite.py``
  runs them against ``fastssim.compat.pytorch_msssim``).

Every archive is checked against the index's sha256 (the camera against a pinned one too).
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

INDEX = "https://pypi.org/simple/{project}/"
CACHE = pathlib.Path(__file__).resolve().parents[1] / ".cache"
CAMERA_SHA256 = "361a6d56d22ee52289cd308d5461d090e06a56cb36007d8dfc3226cbe8aaa5db"


def _sdist(ver, project="scikit-image"):
    """The bytes of ``project`` ``ver``'s sdist, checked against the index's sha256."""
    req = urllib.request.Request(INDEX.format(project=project),
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
    names = (f"{project.replace('-', '_')}-{ver}.tar.gz", f"{project}-{ver}.tar.gz")
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


def fetch(ver, suffix, target, sha256=None, project="scikit-image"):
    if target.exists():
        print(f"already there: {target}")
        return True
    try:
        _extract(_sdist(ver, project), suffix, target, sha256)
        return True
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        print(f"could not fetch {suffix} from {project} {ver}'s sdist ({exc}); "
              "the tests that need it will be skipped")
        return False


#: pytorch_msssim's test scripts (its sdist ships them; the drop-in reproduces this version)
PYTORCH_MSSSIM = ("1.0.0", ("tests_comparisons_2d3d.py", "tests_comparisons_skimage.py", "tests_loss.py",
                            "tests_comparisons_tf_skimage.py", "tests_cuda.py"))


def main():
    ver = version("scikit-image")
    fetch(ver, "skimage/metrics/test_structural_similarity.py",
          CACHE / "skimage" / ver / "test_structural_similarity.py")
    fetch("0.17.2", "skimage/data/camera.png", CACHE / "refdata" / "matlab-camera" / "camera.png",
          CAMERA_SHA256)
    ver, names = PYTORCH_MSSSIM
    for name in names:
        fetch(ver, f"tests/{name}", CACHE / "pytorch_msssim" / ver / name, project="pytorch-msssim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
