"""The reader fuzzers, briefly: ``FASTSSIM_FUZZ_SECONDS`` (default 12) of mutated real images
through both PNG decoders and the scorer (``fuzz_readers.py``), and ``FASTSSIM_FUZZ_VOLUME_SECONDS``
(default 12) of mutated volumes and videos (``fuzz_volumes.py``: NIfTI, NRRD, HDF5, MetaImage,
zarr, DICOM series, MP4), with a seed that varies from run to run unless ``FASTSSIM_FUZZ_SEED``
fixes it (the seed is printed, to replay a failure)."""

import os
import random

import pytest

import fuzz_readers
import fuzz_volumes


@pytest.mark.filterwarnings("ignore:Image size")
def test_mutated_files_read_or_refused_never_anything_else(cam, tmp_path):
    seconds = float(os.environ.get("FASTSSIM_FUZZ_SECONDS", "12"))
    seed = int(os.environ.get("FASTSSIM_FUZZ_SEED", random.randrange(2 ** 32)))
    print(f"fuzz seed {seed} ({seconds:.0f} s)")
    findings = fuzz_readers.run(seconds, seed, cam, str(tmp_path))
    c = findings.counts
    print(f"{c['inputs']} inputs: {c['decoded']} decoded, {c['refused']} refused, {c['scored']} scored")
    assert c["inputs"] > 0 and c["decoded"] > 0 and c["refused"] > 0  # the mutations reach both outcomes
    assert not findings.problems, f"seed {seed}:\n" + "\n".join(findings.problems[:20])


def test_mutated_volumes_and_videos_read_or_refused_never_anything_else(cam, tmp_path):
    seconds = float(os.environ.get("FASTSSIM_FUZZ_VOLUME_SECONDS", "12"))
    seed = int(os.environ.get("FASTSSIM_FUZZ_SEED", random.randrange(2 ** 32)))
    print(f"fuzz seed {seed} ({seconds:.0f} s)")
    findings = fuzz_volumes.run(seconds, seed, cam, str(tmp_path))
    c = findings.counts
    print(f"{c['formats']} formats, {c['inputs']} inputs: {c['decoded']} decoded, {c['refused']} refused, "
          f"{c['scored']} scored")
    assert c["formats"] >= 8  # the test extra installs every format's library
    assert c["inputs"] > 0 and c["decoded"] > 0 and c["refused"] > 0
    assert not findings.problems, f"seed {seed}:\n" + "\n".join(findings.problems[:20])
