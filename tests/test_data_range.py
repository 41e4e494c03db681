"""One data-range vocabulary (issue 35): a number, 'dtype', 'ref', 'pair' (and the old 'per-pair'
with a DeprecationWarning) mean the same in every function, in ``score_pairs`` and on the command
line; the value a row records is the one its SSIM and PSNR used; the CLI and ``score_pairs(out=)``
write the same run parameters and resume each other's outputs."""

import json
import os

import imageio.v3 as iio
import numpy as np
import pyarrow.parquet as pq
import pytest

import fastssim
import fastssim.dask
from fastssim.batch import ConfigError
from fastssim.conventions import data_range as dr
from fastssim.conventions.resolve import transform
from fastssim.metrics.structural import ssim_transformed
from fastssim.kernels.math import psnr_from_mse

from images import camera, colour, jpeg
from test_cli import cli


@pytest.fixture(scope="module")
def pair():
    x = camera()[100:260, 80:240]
    y = jpeg(x, 15)
    return x, y


def expected(x, y, rule):
    return {"dtype": 255.0, "ref": float(np.ptp(x)), "pair": float(max(np.ptp(x), np.ptp(y)))}.get(rule, rule)


RULES = ["dtype", "ref", "pair", 200.0]


@pytest.mark.parametrize("rule", RULES)
def test_every_function_reads_a_rule_as_its_number(pair, rule):
    x, y = pair
    L = expected(x, y, rule)
    assert L != 255.0 or rule in ("dtype",)  # the rules give other numbers on this pair
    assert fastssim.ssim(x, y, data_range=rule) == fastssim.ssim(x, y, data_range=L)
    assert fastssim.psnr(x, y, data_range=rule) == fastssim.psnr(x, y, data_range=L)
    assert fastssim.dssim(x, y, data_range=rule) == fastssim.dssim(x, y, data_range=L)
    assert fastssim.ms_ssim(x, y, data_range=rule, weights=fastssim.MS_SSIM_WEIGHTS[:3]) == \
        fastssim.ms_ssim(x, y, data_range=L, weights=fastssim.MS_SSIM_WEIGHTS[:3])
    # a batch: a data rule gives each pair its own range
    xs, ys = np.stack([x, y // 2]), np.stack([y, x // 2])
    got = fastssim.ssim_batch(xs, ys, data_range=rule)
    want = [fastssim.ssim(xs[i], ys[i], data_range=expected(xs[i], ys[i], rule)) for i in range(2)]
    np.testing.assert_array_equal(got, want)


def test_rule_names_and_errors(pair):
    x, y = pair
    assert fastssim.ssim(x, y, data_range="PAIR") == fastssim.ssim(x, y, data_range="pair")
    with pytest.warns(DeprecationWarning, match="data_range='per-pair' is now spelled 'pair'"):
        old = fastssim.ssim_batch(x[None], y[None], data_range="per-pair")
    assert old[0] == fastssim.ssim(x, y, data_range="pair")
    with pytest.raises(ValueError, match="data_range must be one of dtype, ref, pair or a positive number, got 'span'"):
        fastssim.ssim(x, y, data_range="span")
    with pytest.raises(TypeError, match="data_range must be a real number or one of dtype, ref, pair, got '255'"):
        fastssim.ssim(x, y, data_range="255")  # a number is a number in the API; text is for the command line
    with pytest.raises(ValueError, match="the reference is constant, so the data range 'ref' .* is 0; pass a number"):
        fastssim.ssim(np.zeros_like(x), y, data_range="ref")
    with pytest.raises(ValueError, match="both images are constant, so the data range 'pair'"):
        fastssim.psnr(np.zeros_like(x), np.ones_like(y), data_range="pair")
    with pytest.raises(ValueError, match="data_range is required for floating-point input.*'ref'.*'pair'"):
        fastssim.ssim(x / 255.0, y / 255.0, data_range="dtype")
    with pytest.raises(ConfigError, match="data range must be a positive finite number, got -1"):
        fastssim.score_pairs([(x, y)], data_range=-1)


def test_presets_rules_are_the_same_rules(pair):
    x, y = pair
    xf, yf = x / 255.0 * 0.8, y / 255.0 * 0.8
    span = float(max(np.ptp(xf), np.ptp(yf)))
    assert fastssim.ssim(xf, yf, preset="torchmetrics") == fastssim.ssim(xf, yf, preset="torchmetrics",
                                                                         data_range="pair")
    assert fastssim.ssim(xf, yf, preset="torchmetrics") == fastssim.ssim(xf, yf, preset="torchmetrics",
                                                                         data_range=span)
    # a number or another rule overrides the preset's own, as everywhere
    assert fastssim.ssim(xf, yf, preset="torchmetrics", data_range="ref") == \
        fastssim.ssim(xf, yf, preset="torchmetrics", data_range=float(np.ptp(xf)))
    assert fastssim.ssim(x, y, preset="sewar") == fastssim.ssim(x, y, preset="sewar", data_range=255.0)
    assert fastssim.ssim(xf, yf, preset="sewar") == fastssim.ssim(xf, yf, preset="sewar", data_range=1.0)


def test_integrations_refuse_what_they_cannot_read(pair):
    x, y = pair
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="data_range='pair' reads the data; for dask arrays pass a number"):
        fastssim.dask.ssim(da.from_array(x, chunks=64), da.from_array(y, chunks=64), data_range="pair")
    assert fastssim.dask.ssim(da.from_array(x, chunks=64), da.from_array(y, chunks=64), data_range="dtype") == \
        pytest.approx(fastssim.ssim(x, y), abs=1e-12)


def test_torch_takes_a_number():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    from fastssim.integrations.torch import SSIMLoss, ssim

    with pytest.raises(ValueError, match="SSIMLoss takes a number for data_range .*got 'pair'"):
        SSIMLoss(data_range="pair")
    x = torch.rand(1, 1, 32, 32)
    with pytest.raises(ValueError, match="ssim takes a number for data_range"):
        ssim(x, x, data_range="dtype")


@pytest.mark.parametrize("preset", [None, "pyiqa", "torchmetrics", "basicsr"])
@pytest.mark.parametrize("rule", [None, "ref", "pair"])
def test_a_row_records_the_range_its_ssim_and_psnr_used(rule, preset):
    """SSIM and PSNR of one pair read one convention: the row's data_range is the L of both (for
    pyiqa, the 255 of its rounded levels; for torchmetrics, the pair's span)."""
    x = colour()[200:296, 150:262]
    y = jpeg(x, 20)
    if preset in ("torchmetrics", "pyiqa") and rule is None:
        x, y = x / 255.0 * 0.9, y / 255.0 * 0.9
        if preset == "pyiqa":
            rule = 0.9
    row = next(iter(fastssim.score_pairs([(x, y)], data_range=rule, preset=preset, metrics=("ssim", "psnr", "mse"),
                                         channel_axis=-1))).to_pylist()[0]
    assert row["status"] == "ok", row
    L = row["data_range"]
    t = transform(x, y, channel_axis=-1, preset=preset, data_range=dr.check(rule))
    value, conv = ssim_transformed(t)
    assert conv.L == L and value == row["ssim"]
    assert row["psnr"] == psnr_from_mse(fastssim.mse(t.x, t.y), L)
    if preset is None and rule is not None:
        assert L == expected(x, y, rule)
        assert row["ssim"] == fastssim.ssim(x, y, data_range=L, channel_axis=-1)
        assert row["psnr"] == fastssim.psnr(x, y, data_range=L)
    if preset == "pyiqa":
        assert L == 255.0
    if preset == "torchmetrics" and rule is None:
        assert L == float(max(np.ptp(x), np.ptp(y)))


def _params(out):
    part = sorted(p for p in os.listdir(out) if p.startswith("part-"))[0]
    return json.loads(pq.read_schema(os.path.join(out, part)).metadata[b"fastssim.params"])


@pytest.mark.parametrize("first", ["cli", "api"])
def test_cli_and_score_pairs_write_the_same_parameters_and_resume_each_other(tmp_path, first, monkeypatch):
    rng = np.random.default_rng(3)
    for sub in ("ref", "dist"):
        os.makedirs(tmp_path / sub)
    rows = []
    for i in range(4):
        img = rng.integers(0, 256, (40, 44), dtype=np.uint8)
        iio.imwrite(tmp_path / "ref" / f"{i}.png", img)
        iio.imwrite(tmp_path / "dist" / f"{i}.png", np.clip(img + rng.normal(0, 9, img.shape), 0, 255).astype(np.uint8))
        rows.append(f"ref/{i}.png,dist/{i}.png")
    (tmp_path / "pairs.csv").write_text("ref,dist\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)  # score_pairs' relative paths are the manifest's, from its root
    pairs = [(f"ref/{i}.png", f"dist/{i}.png") for i in range(4)]

    def by_cli(n):
        r = cli("score", "--manifest", tmp_path / "pairs.csv", "--root", tmp_path, "-o", out, "--data-range", "pair",
                "--metrics", "ssim,psnr")
        assert r.returncode == 0, r.stderr
        assert f"{4 - n} pairs scored, {n} already done" in r.stderr

    def by_api(n):
        got = fastssim.score_dataset(pairs[:n] if n < 4 else pairs, out=str(out), data_range="pair",
                                   metrics=("ssim", "psnr"))
        assert got["scored"] == (n if n < 4 else 4 - got["skipped"])

    if first == "cli":
        by_cli(0)
        params = _params(out)
        by_api(4)  # every pair already there
    else:
        by_api(2)
        params = _params(out)
        by_cli(2)  # the other two are scored by the CLI, into the same output
    assert params["data_range"] == "pair" and params["backend"] == "auto"
    assert params["versions"]["fastssim"] == fastssim.__version__ and "numba" in params["versions"]
    assert {k: v for k, v in _params(out).items() if k not in ("suffix", "template", "names")} == \
        {k: v for k, v in params.items() if k not in ("suffix", "template", "names")}
