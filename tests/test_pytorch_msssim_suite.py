"""pytorch_msssim's own test scripts, run against ``fastssim.compat.pytorch_msssim``.

The scripts come from pytorch_msssim 1.0.0's sdist (``python .ci/fetch_test_data.py`` puts them
in ``.cache/pytorch_msssim/1.0.0/``; ``.ci/run`` does so). Each is a program with assertions
(``if __name__ == "__main__":``), so each runs in a subprocess, from a copy whose one import line
``from pytorch_msssim import ...`` reads ``from fastssim.compat.pytorch_msssim import ...``; a
``pytorch_msssim`` package that refuses to import is first on the path, so the original cannot
be used by accident. The harness adapts two things and no assertion:

- the images: the scripts download Kodak's ``kodim10.png`` and read ``einstein.png`` (not in
  the sdist); no network is used in the tests, so scikit-image's ``astronaut`` (512x512 RGB)
  and its ``camera`` halved (256x256 grey) are written under those names;
- ``N_repeat = 100``, a timing loop around calls whose result is the same each time, is 1.

``tests_comparisons_tf_skimage.py`` needs TensorFlow and ``tests_cuda.py`` a GPU: they are run
where those are present and skipped, saying so, elsewhere. The same harness runs the original
pytorch_msssim (where installed), to show that the adapted scripts pass with it too.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="the pytorch_msssim drop-in needs PyTorch")

ROOT = pathlib.Path(__file__).resolve().parents[1]
VERSION = "1.0.0"
SUITE = pathlib.Path(os.environ.get("FASTSSIM_PYTORCH_MSSSIM_SUITE", ROOT / ".cache" / "pytorch_msssim" / VERSION))
IMPORT = re.compile(r"^from pytorch_msssim import (.+)$", re.M)
#: each script and the number of "Pass" lines it prints when every assertion held
PASSES = {"tests_comparisons_2d3d.py": 1, "tests_comparisons_skimage.py": 2, "tests_loss.py": 0,
          "tests_comparisons_tf_skimage.py": 4, "tests_cuda.py": 0}


def _needs(name):
    if name == "tests_comparisons_tf_skimage.py":
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            return "needs TensorFlow (tf.image.ssim is its oracle), which is not installed"
    if name == "tests_cuda.py" and not torch.cuda.is_available():
        return "needs a CUDA GPU"
    return None


def _prepare(tmp_path, name, target):
    """The adapted copy of ``name`` in ``tmp_path``, its images beside it."""
    from PIL import Image
    from skimage import data

    source = (SUITE / name).read_text()
    assert len(IMPORT.findall(source)) == 1, f"{name}: expected one 'from pytorch_msssim import' line"
    if target == "fastssim":
        source = IMPORT.sub(r"from fastssim.compat.pytorch_msssim import \1", source)
        blocker = tmp_path / "blocked" / "pytorch_msssim"
        blocker.mkdir(parents=True)
        (blocker / "__init__.py").write_text("raise ImportError('the drop-in test must not use pytorch_msssim')\n")
    source = source.replace("N_repeat = 100", "N_repeat = 1")
    (tmp_path / name).write_text(source)
    Image.fromarray(data.astronaut()).save(tmp_path / "kodim10.png")
    Image.fromarray(data.camera()[::2, ::2]).save(tmp_path / "einstein.png")
    return tmp_path / name


def _run(tmp_path, name, target):
    if not (SUITE / name).exists():
        pytest.skip(f"pytorch_msssim {VERSION}'s {name} is not at {SUITE}: run `python .ci/fetch_test_data.py` "
                    "(needs the network once) or set FASTSSIM_PYTORCH_MSSSIM_SUITE to its folder")
    reason = _needs(name)
    if reason:
        pytest.skip(f"{name} {reason}")
    script = _prepare(tmp_path, name, target)
    env = dict(os.environ)
    path = [str(ROOT)] + ([str(tmp_path / "blocked")] if target == "fastssim" else [])
    env["PYTHONPATH"] = os.pathsep.join(path[::-1] + [env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, f"{name} failed against {target}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize("name", sorted(PASSES))
def test_pytorch_msssim_script_passes_with_the_drop_in(tmp_path, name):
    out = _run(tmp_path, name, "fastssim")
    assert out.count("Pass") == PASSES[name], out[-2000:]
    if name == "tests_loss.py":  # it optimises a random image until SSIM reaches 0.9999
        values = [float(v) for v in re.findall(r"^(0\.\d+)$", out, re.M)]
        assert len(values) > 10 and values[-1] >= 0.9999 and all(v < 0.9999 for v in values[:-1])


@pytest.mark.parametrize("name", ["tests_comparisons_2d3d.py", "tests_comparisons_skimage.py"])
def test_the_adapted_scripts_pass_with_pytorch_msssim_itself(tmp_path, name):
    """The harness's images and repeat count are not what makes the scripts pass: the original
    library passes them too."""
    pytest.importorskip("pytorch_msssim", reason="the control needs pytorch_msssim installed")
    out = _run(tmp_path, name, "pytorch_msssim")
    assert out.count("Pass") == PASSES[name]


def test_the_blocker_stops_the_original(tmp_path):
    """A script that still imports pytorch_msssim fails in the drop-in's harness."""
    if not (SUITE / "tests_comparisons_2d3d.py").exists():
        pytest.skip(f"pytorch_msssim {VERSION}'s scripts are not at {SUITE}: run `python .ci/fetch_test_data.py`")
    _prepare(tmp_path, "tests_comparisons_2d3d.py", "fastssim")
    probe = tmp_path / "probe.py"
    probe.write_text("import pytorch_msssim\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "blocked"))
    done = subprocess.run([sys.executable, probe.name], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "must not use pytorch_msssim" in done.stderr
