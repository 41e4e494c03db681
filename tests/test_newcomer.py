"""What a new user tripped on (issue 34), each through the real command: a dataset of small and
large images in groups with three methods named differently, the by-dataset table and plots,
exit statuses that tell an unreadable pair from a metric undefined for some sizes, one-line usage
errors, interrupts at every stage of a run, and a rate that leaves compiling out."""

import io
import json
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from images import need

import fastssim
from fastssim.batch.progress import CLOCK, Progress

from test_cli import cli


@pytest.fixture(scope="module")
def sr(tmp_path_factory):
    """Crops of a real photo in two groups (Small: 64 px, under MS-SSIM's 161; Big: 176 px), a
    reference tree and three methods: a and b as PNG, c as JPEG named ``{stem}_x4.jpg``."""
    from skimage import data

    root = tmp_path_factory.mktemp("sr")
    img = data.astronaut()
    rng = np.random.default_rng(0)
    for ds, size, n in (("Small", 64, 4), ("Big", 176, 3)):
        for i in range(n):
            ref = img[20 * i:20 * i + size, 15 * i:15 * i + size]
            (root / "hr" / ds).mkdir(parents=True, exist_ok=True)
            iio.imwrite(root / "hr" / ds / f"{i}.png", ref)
            for m, noise in (("a", 6), ("b", 14), ("c", 10)):
                (root / m / ds).mkdir(parents=True, exist_ok=True)
                dist = np.clip(ref + rng.normal(0, noise, ref.shape), 0, 255).astype(np.uint8)
                if m == "c":
                    iio.imwrite(root / m / ds / f"{i}_x4.jpg", dist, quality=95)
                else:
                    iio.imwrite(root / m / ds / f"{i}.png", dist)
    return root


def _methods(sr):
    return ["--dist", f"a={sr / 'a'}", "--dist", f"b={sr / 'b'}", "--dist", f"c={sr / 'c'}:{{stem}}_x4.jpg"]


def test_three_methods_named_differently_in_one_run(sr, tmp_path):
    out = tmp_path / "out"
    r = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "ssim,psnr", "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out)
    assert sorted(df.method.unique()) == ["a", "b", "c"] and len(df) == 21 and (df.status == "ok").all()
    assert set(df[df.method == "c"].dist) == {f"{ds}/{i}_x4.jpg" for ds, n in (("Small", 4), ("Big", 3))
                                              for i in range(n)}
    # how files were found is not a scoring parameter: a resume with another naming rule is accepted
    r = cli("score", sr / "hr", "--dist", f"a={sr / 'a'}", "--template", "{stem}{ext}", "-o", out, "--metrics",
            "ssim,psnr")
    assert r.returncode == 0 and "0 pairs scored, 7 already done" in r.stderr, r.stderr
    # and two runs that differ only in naming are comparable in one report
    other = tmp_path / "other"
    r = cli("score", sr / "hr", "--dist", f"d={sr / 'b'}", "--suffix", "", "-o", other, "--metrics", "ssim,psnr",
            "--quiet")
    assert r.returncode == 0, r.stderr
    rep = cli("report", out, other, "--format", "json")
    assert rep.returncode == 0, rep.stderr
    assert {m["method"] for m in json.loads(rep.stdout)["methods"]} == {"a", "b", "c", "d"}
    bad = cli("score", sr / "hr", "--dist", "c=dir{stem}.jpg", "-o", tmp_path / "x")
    assert bad.returncode == 2 and "a name template follows the directory after ':'" in bad.stderr


def test_unmatched_names_hint_at_a_per_method_template(sr, tmp_path):
    r = cli("score", sr / "hr", "--dist", f"a={sr / 'a'}", "--dist", f"c={sr / 'c'}", "-o", tmp_path / "o",
            "--metrics", "ssim", "--quiet")
    assert f"for this method only: --dist 'c={sr / 'c'}:{{stem}}_x4.jpg'" in r.stderr, r.stderr


@pytest.fixture(scope="module")
def small_run(sr, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "std"
    r = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "psnr,ssim,ms_ssim")
    return out, r


def test_small_images_are_a_normal_dataset_not_a_failure(sr, small_run, tmp_path):
    out, r = small_run
    # 'partial' (MS-SSIM undefined under 161 px) is exit 0 with a line saying so; --strict makes it 1
    assert r.returncode == 0, r.stderr
    assert "12 partial, 0 errors" in r.stderr and "exit status 0, or 1 with --strict" in r.stderr
    strict = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "psnr,ssim,ms_ssim", "--strict")
    assert strict.returncode == 1
    # an unreadable pair is still exit 1 whatever --strict says
    broken = tmp_path / "broken"
    (broken / "Small").mkdir(parents=True)
    (broken / "Small" / "0.png").write_bytes(b"not a png")
    r = cli("score", sr / "hr", broken, "-o", tmp_path / "o2", "--metrics", "ssim", "--quiet")
    assert r.returncode == 1
    # the reason names what score can be given, and the report says it once per metric, with counts
    df = pd.read_parquet(out)
    small = df[df.ref.str.startswith("Small")]
    assert small.ms_ssim.isna().all() and small.ms_ssim_scales.isna().all()
    assert small.ms_ssim_error.str.contains("pass --ms-scales auto").all()
    assert (df[df.ref.str.startswith("Big")].ms_ssim_scales == 5).all()
    rep = cli("report", out)
    assert rep.returncode == 0, rep.stderr
    lines = [ln for ln in rep.stdout.splitlines() if "not computed" in ln]
    assert len(lines) == 1 and lines[0].startswith("ms_ssim: 12 not computed (a 4, b 4, c 4): MS-SSIM with 5 scales")
    assert lines[0].endswith("(x12)")


def test_by_dataset_table_prints_the_n_of_each_cell(small_run, tmp_path):
    out, _ = small_run
    r = cli("report", out, "--by-dataset", "--metrics", "psnr,ssim,ms_ssim")
    assert r.returncode == 0, r.stderr
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines() if ln[:2] in ("a ", "b ", "c ")}
    assert rows["a"].split("/")[4].strip().startswith("-")  # Small's MS-SSIM: empty, not a mean of nothing
    note = next(ln for ln in r.stdout.splitlines() if ln.startswith("mean PSNR / SSIM / MS-SSIM per dataset"))
    assert "Big n=3" in note
    assert "Small PSNR n=4, SSIM n=4, MS-SSIM n=0 (MS-SSIM: images under 161 px)" in note
    assert "all PSNR n=7, SSIM n=7, MS-SSIM n=3" in note
    got = json.loads(cli("report", out, "--by-dataset", "--metrics", "psnr,ms_ssim", "--format", "json").stdout)
    cells = {(x["method"], x["dataset"], x["metric"]): x for x in got["rows"]}
    df = pd.read_parquet(out)
    small = df[df.ref.str.startswith("Small")]
    assert cells[("a", "Small", "psnr")]["n"] == 4
    assert cells[("a", "Small", "psnr")]["mean"] == pytest.approx(small[small.method == "a"].psnr.mean(), rel=1e-12)
    assert cells[("a", "Small", "ms_ssim")]["n"] == 0 and cells[("a", "Small", "ms_ssim")]["mean"] is None


def test_empty_plot_panels_say_why(small_run, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    from fastssim.report.plots import plot

    out, _ = small_run
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text kept as text in the SVG
        paths = plot(str(out), str(tmp_path / "p"), metrics=("ms_ssim",))
    svg = open([p for p in paths if p.endswith("ms_ssim_distribution.svg")][0]).read()
    assert "no pair of Small" in svg and "images under 161 px" in svg


def test_ms_scales_auto_uses_as_many_scales_as_each_image_allows(sr, tmp_path):
    out = tmp_path / "auto"
    r = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "ssim,ms_ssim", "--ms-scales", "auto",
            "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out)
    assert (df.status == "ok").all()
    small = df[df.ref.str.startswith("Small")]
    assert (small.ms_ssim_scales == 3).all() and (df[df.ref.str.startswith("Big")].ms_ssim_scales == 5).all()
    row = small[small.method == "a"].iloc[0]
    x, y = iio.imread(sr / "hr" / row.ref), iio.imread(sr / "a" / row.dist)
    w = np.asarray(fastssim.MS_SSIM_WEIGHTS[:3]) / sum(fastssim.MS_SSIM_WEIGHTS[:3])
    assert row.ms_ssim == pytest.approx(fastssim.ms_ssim(x, y, channel_axis=-1, weights=tuple(w)), abs=1e-12)
    note = cli("report", out, "--by-dataset", "--metrics", "ms_ssim").stdout
    assert "MS-SSIM with as many scales as each image allows (3-5; --ms-scales auto" in note
    mixed = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "ssim,ms_ssim")
    assert mixed.returncode == 2 and "ms_scales" in mixed.stderr  # a resume cannot change the convention


def test_one_pair_into_an_output_directory(sr, tmp_path):
    r = cli("score", sr / "hr" / "Big" / "0.png", sr / "a" / "Big" / "0.png", "-o", tmp_path / "one", "--quiet")
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "one")
    assert len(df) == 1 and df.ref[0] == "0.png" and df.status[0] == "ok"
    x, y = iio.imread(sr / "hr" / "Big" / "0.png"), iio.imread(sr / "a" / "Big" / "0.png")
    assert df.ssim[0] == pytest.approx(fastssim.ssim(x, y, channel_axis=-1), abs=1e-12)
    both = cli("score", sr / "hr" / "Big" / "0.png", sr / "a" / "Big" / "0.png", "-o", tmp_path / "x", "--json")
    assert both.returncode == 2 and "--json prints one pair's metrics, -o writes them to Parquet" in both.stderr


# ---------------------------------------------------------------- interrupts at every stage

#: Stand-ins for the slow stages, patched into the real command in a real subprocess: finding
#: pairs, compiling (the first pair's probe), scoring (each pair), committing a part.
SLOW = {
    "discovery": "import fastssim.batch.pairs as m; f = m.match_dirs; "
                 "m.match_dirs = lambda *a, **k: (time.sleep(60), f(*a, **k))[1]",
    "compiling": "import fastssim.batch.score as m; f = m.Job.probe; "
                 "m.Job.probe = lambda self, it: (time.sleep(60), f(self, it))[1]",
    "scoring": "import fastssim.batch.score as m; f = m.Job.decode; "
               "m.Job.decode = lambda self, it, *a: (time.sleep(0.4), f(self, it, *a))[1]",
    "writing": "import fastssim.batch.writer as m; f = m.write_part; "
               "m.write_part = lambda *a, **k: (time.sleep(2), f(*a, **k))[1]",
}


@pytest.mark.parametrize("stage", sorted(SLOW))
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_the_run_within_a_second_at_every_stage(sr, tmp_path, stage, sig, code):
    out = tmp_path / "out"
    prog = (f"import sys, time; {SLOW[stage]}; from fastssim.cli import main; sys.exit(main(sys.argv[1:]))")
    args = [sys.executable, "-c", prog, "score", str(sr / "hr"), *_methods(sr), "-o", str(out), "--metrics",
            "ssim", "--workers", "1", "--part-rows", "2"]
    if stage == "writing":  # pair by pair (no batches of equal shapes), so pairs are left when it stops
        args += ["--crop-border", "1"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep({"discovery": 2.0, "compiling": 4.0, "scoring": 5.0, "writing": 5.0}[stage])
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    t0 = time.monotonic()
    _, err = proc.communicate(timeout=60)
    waited = time.monotonic() - t0
    assert proc.returncode == code, err
    # promptly, not when the stage would have ended (its stand-in sleeps 60 s): about 0.3-0.8 s here on a
    # quiet machine, bounded at 3 s so that a loaded CI machine does not fail it; with writes slowed to 2 s,
    # the part being written and the rows scored since (one more part) are committed first
    assert waited < (7.0 if stage == "writing" else 3.0), (stage, waited, err)
    assert "Traceback" not in err
    name = signal.Signals(sig).name
    if stage in ("discovery", "compiling"):
        assert f"stopped by {name}" in err and not list(out.glob("part-*.parquet") if out.exists() else [])
    else:
        rows = len(pd.read_parquet(out)) if list(out.glob("part-*.parquet")) else 0
        assert f"stopped by {name}: " in err and f"{rows} rows in {out}" in err, err
        assert 0 < rows < 21  # what was scored is committed, and the run did not go on
        again = cli("score", sr / "hr", *_methods(sr), "-o", out, "--metrics", "ssim", "--quiet",
                    *(["--crop-border", "1"] if stage == "writing" else []))
        assert again.returncode == 0 and len(pd.read_parquet(out)) == 21  # the re-run resumes the rest


# ---------------------------------------------------------------- the rate leaves compiling out

class _Tty(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("stream", [io.StringIO, _Tty])
def test_rate_and_eta_leave_compiling_out_from_the_first_line(stream, monkeypatch):
    out = stream()
    p = Progress(10, stream=out, every=0)
    CLOCK.on_start()  # a kernel compiled during the run (a new dtype, say): 0.6 s that are not scoring
    time.sleep(0.6)
    CLOCK.on_end()
    time.sleep(0.05)
    p.advance(5)
    text = out.getvalue().replace("\r", "\n")
    rate = float(text.split(" pair")[-2].split()[-1].split("|")[-1])
    assert rate > 50, text  # 5 pairs in ~0.05 s of scoring; with the compile counted it would be ~8
    p.close()


# ---------------------------------------------------------------- the APIs say what to pass

def test_torch_losses_have_no_hidden_data_range():
    torch = need("torch")
    from fastssim.integrations.torch import MSSSIMLoss, SSIMLoss, ssim

    for cls in (SSIMLoss, MSSSIMLoss):
        with pytest.raises(ValueError, match=rf"{cls.__name__} needs data_range: the span of the values \(1.0 for "
                                             r"images in \[0, 1\], 255.0 for \[0, 255\]\); there is no default"):
            cls()
    with pytest.raises(ValueError, match="data_range must be a positive finite number, got 0"):
        SSIMLoss(data_range=0)
    x = torch.rand(2, 3, 32, 32)
    y = (x + 0.1 * torch.rand_like(x)).clamp(0, 1)
    assert SSIMLoss(data_range=1.0)(y, x).item() == pytest.approx(1 - ssim(x, y, data_range=1.0).item(), abs=1e-7)
    nhwc = x.permute(0, 2, 3, 1).contiguous()
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\) tensors; \(2, 32, 32, 3\) looks channel-last "
                                         r"\(N, H, W, C\): pass x.permute\(0, 3, 1, 2\)"):
        SSIMLoss(data_range=1.0)(nhwc, nhwc)


def test_batch_of_colour_images_without_channel_axis_names_the_fix():
    a = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match=r"the last axis \(3\) looks like colour channels: pass channel_axis=-1"):
        fastssim.ssim_batch(a, a)
    with pytest.raises(ValueError, match=r"the last axis \(3\) looks like colour channels: pass channel_axis=-1"):
        fastssim.ssim_batch(a, a, data_range="per-pair")
    assert fastssim.ssim_batch(a, a, channel_axis=-1).tolist() == [1.0, 1.0]


def test_skips_say_how_to_run_them():
    """A skipped test names the real way to run it: the peers' install line, or for TID2013 that
    the pairs are not redistributed (the fetch step does not fetch them)."""
    import images

    with pytest.raises(pytest.skip.Exception, match=r"no_such_peer is not installed; to run this test: pip install "
                                                    r"torch==2.13.0 pytorch_msssim torchmetrics kornia"):
        images.need("no_such_peer")
    with pytest.raises(pytest.skip.Exception, match="TID2013 pairs .* may not be redistributed: they are read only "
                                                    "from .*shared/refdata"):
        images.refdata("tid2013-calib", "no-such-file.bmp")
    with pytest.raises(pytest.skip.Exception, match=r"fetch_test_data.py` fetches it"):
        images.refdata("matlab-camera", "no-such-file.png")
