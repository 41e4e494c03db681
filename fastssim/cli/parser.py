"""The command line's grammar: one sub-parser per command, each with its own usage and examples."""

import argparse

from .._version import __version__
from ..config import BACKENDS

SCORE_EPILOG = """examples:
  fastssim score ref.png dist.png                          (one pair: prints the metrics; --json)
  fastssim score ref/ dist/ -o scores/
  fastssim score hr/ sr/ --suffix _x4_SR -o scores/          (baboon.png -> baboon_x4_SR.png)
  fastssim score hr/ --dist edsr=out/edsr --dist rcan=out/rcan -o scores/
  fastssim score hr/ --dist edsr=out/edsr --dist jpeg=out/jpeg:{stem}.jpg -o scores/  (own names)
  fastssim score --manifest pairs.csv --root data/ -o scores/
  fastssim score vols/ recon/ --slices 0 -o scores/          (2-D SSIM of every slice)
  fastssim score ct/ recon/ --data-range ref -o scores/      (L = each reference's max - min)
  fastssim score hr/ sr/ --preset basicsr --crop-border 4 --metrics ssim,psnr -o scores/

Re-running the same command resumes: pairs already written are skipped.
A metric that cannot be computed for a pair is null with its reason (<metric>_error) and the
pair's other metrics are kept (status 'partial').
Exit status: 0 every pair scored ('partial' rows included: a metric undefined for some pairs,
e.g. MS-SSIM under 161 px); 1 some rows are 'error' (a pair not scored at all), or with --strict
any 'partial' row; 2 usage or configuration error (nothing scored, nothing written); 3 the output
cannot be written or read during the run (disk full, a damaged part; committed rows are intact);
130/143 stopped by SIGINT/SIGTERM after committing the rows scored so far (re-run to resume).
"""


class Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes are one line saying what is wrong, then where the usage
    is (as git and cargo do): the full usage only with ``--help``."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\nsee '{self.prog} --help'\n")


def _raw(sub, name, help_, epilog):
    return sub.add_parser(name, help=help_, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)


def _conversions(p):
    """The options that decide what is compared, shared by ``score`` and ``map``."""
    p.add_argument("--preset", help="reproduce another implementation's convention, any letter case "
                                    "(see 'fastssim presets')")
    p.add_argument("--y-channel", action="store_true", help="score the BT.601 luma of RGB images (SR convention)")
    p.add_argument("--crop-border", type=int, default=0, help="drop N pixels at each border first (SR convention)")
    p.add_argument("--data-range", metavar="dtype|ref|pair|NUMBER",
                   help="the data range L: the dtype's range (default; integers only), 'ref' (each "
                        "reference's max - min), 'pair' (the larger span of the two, as torchmetrics), or a "
                        "number (1.0 for [0, 1] floats)")
    p.add_argument("--alpha", choices=("drop", "keep", "error"), default="drop",
                   help="RGBA images: drop alpha (default), keep it as a channel, or make an error row")


def build():
    """``(parser, {command: sub-parser})``."""
    p = Parser(prog="fastssim", description="Fast SSIM, PSNR and MSE of image and volume pairs.")
    p.add_argument("--version", action="version", version=f"fastssim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = _raw(sub, "score", "score pairs of files into a Parquet dataset (or one pair, printed)", SCORE_EPILOG)
    s.add_argument("ref", nargs="?", help="directory of reference files (or one reference file)")
    s.add_argument("dist_dir", nargs="?", metavar="dist",
                   help="directory of distorted files, matched by relative path (or one distorted file)")
    s.add_argument("-o", "--out", help="output directory (a Parquet dataset); not used for one pair")
    s.add_argument("--json", action="store_true", help="one pair: print the result as JSON")
    s.add_argument("--dist", action="append", default=[], metavar="NAME=DIR[:TEMPLATE]",
                   help="a method's distorted files; repeat for several methods (gives a 'method' column); "
                        "':TEMPLATE' names this method's files ({stem}, {ext}), e.g. jpeg=out/jpeg:{stem}.jpg")
    s.add_argument("--manifest", help="CSV or Parquet with 'ref' and 'dist' columns (and optional 'method', and "
                                      "'dataset': the report's grouping)")
    s.add_argument("--root", help="directory the manifest's paths are relative to (default: the manifest's)")
    names = s.add_mutually_exclusive_group()
    names.add_argument("--suffix", help="distorted name = reference stem + SUFFIX + extension")
    names.add_argument("--template", help="distorted name template with {stem} and {ext}, e.g. '{stem}_SR.png'")
    s.add_argument("--metrics", default="ssim,psnr,mse",
                   help="comma-separated, any case, from ssim, ms_ssim, psnr, mse, dssim, l2, cosine, cw_ssim, "
                        "three_ssim (default ssim,psnr,mse)")
    _conversions(s)
    s.add_argument("--slices", type=int, metavar="AXIS", help="score volumes as 2-D slices along AXIS (list column)")
    s.add_argument("--mask", metavar="DIR", help="also score each pair's region: the mask image at the reference's "
                                                 "relative path under DIR (nonzero = in the region), into "
                                                 "ssim_masked, psnr_masked, mse_masked (a manifest's 'mask' "
                                                 "column works too)")
    v = s.add_argument_group("videos (pairs of video files, fastssim[video]: scored frame by frame)")
    v.add_argument("--video-planes", choices=("y", "yuv", "rgb"), default="y",
                   help="'y' (default): the luma plane; 'yuv': Y, U and V each at its stored size, pooled as "
                        "ffmpeg's 'All' (weighted by plane size: 4:1:1 for 4:2:0); 'rgb': frames converted to RGB")
    v.add_argument("--frames", metavar="START:END",
                   help="score reference frames START to END-1 only (either may be left out)")
    v.add_argument("--frame-sync", choices=("time", "index"), default="time",
                   help="pair frames by presentation time (default: each distorted frame with the reference frame "
                        "shown at its time, as ffmpeg's ssim and psnr filters do, so a dropped frame does not shift "
                        "the rest) or by index (frame i with frame i + --frame-offset)")
    v.add_argument("--frame-offset", type=int, default=0, metavar="N",
                   help="with --frame-sync index: pair reference frame i with distorted frame i+N (N < 0: the "
                        "reference starts later), for streams that are not aligned")
    s.add_argument("--max-pixels", type=int, default=None, help="refuse files with more pixels (default 2^28)")
    s.add_argument("--workers", type=int, default=None,
                   help="decode/score threads (default: the cores this process may use, at most the CPU quota)")
    s.add_argument("--pair-timeout", type=float, default=None, metavar="SECONDS",
                   help="give up on a pair still being read or scored after this long: it becomes an error "
                        "row and the run goes on (default 600)")
    s.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="where the kernels run: 'cuda' (an NVIDIA GPU: batches of equal-shaped pairs go to it "
                        "in one copy and one launch), 'cpu', or 'auto' (default: the GPU when one is present "
                        "and a batch is large enough)")
    s.add_argument("--ms-scales", choices=("standard", "auto"), default="standard", type=str.lower,
                   help="MS-SSIM's scales: Wang's five ('standard', default: null with its reason on images under "
                        "161 px), or 'auto': as many as each image allows (the first weights renormalised to sum to "
                        "1; the number used in the column ms_ssim_scales)")
    s.add_argument("--strict", action="store_true",
                   help="exit 1 when any row is 'partial' (a metric undefined for some pairs), not only when a "
                        "pair could not be scored at all")
    s.add_argument("--missing-chunks", choices=("error", "fill"), default="error",
                   help="a chunk a zarr array needs that its store lacks: an error row naming it (default), or "
                        "the array's fill value (zarr writes no chunk that holds only the fill value)")
    s.add_argument("--png-decoder", choices=("auto", "builtin", "libspng", "pillow", "imageio"), default="auto",
                   help="PNG decoder: 'auto' (default: fastssim's own, inflating once and without the GIL; "
                        "libspng or Pillow for palette, low-bit and interlaced files, and for a run's first "
                        "files while its kernel compiles on a fresh machine), 'builtin' (fastssim's own "
                        "always), 'libspng' (pyspng, fastssim[fast]) or 'pillow' (old name 'imageio')")
    s.add_argument("--scheduler", metavar="ADDRESS|local:N",
                   help="score on a Dask cluster (fastssim[dask]): a running scheduler's address "
                        "(tcp://host:8786), or local:N for N worker processes on this machine. Workers must "
                        "see the files and --out at the same paths")
    s.add_argument("--chunk-pairs", type=int, default=None, metavar="N",
                   help="with --scheduler: pairs per task and per committed part (default 500)")
    s.add_argument("--overwrite", action="store_true", help="discard previous results in --out")
    s.add_argument("--part-rows", type=int, default=2000,
                   help="rows per committed Parquet part (default 2000); parts are also committed every 10 s")
    s.add_argument("--quiet", action="store_true", help="no progress output")

    r = _raw(sub, "report", "per-method statistics of a results directory",
             "examples:\n  fastssim report scores/\n  fastssim report scores/ --format markdown\n"
             "  fastssim report scores/ --stats mean,std,median --all-pairs\n"
             "  fastssim report scores/ --baseline bicubic --metrics psnr,ssim\n"
             "  fastssim report runA/ runB/ --by-dataset --metrics psnr,ssim --format latex\n\n"
             "Methods are compared on the pairs that every method scored (per metric); --all-pairs\n"
             "reports each method over all the pairs it scored instead. --baseline compares every other\n"
             "method with one, pair by pair: mean difference, bootstrap CI, Wilcoxon p, wins/ties/losses,\n"
             "overall and per dataset (see --group-by).")
    r.add_argument("out", nargs="+", help="directories written by 'fastssim score' (several are joined)")
    r.add_argument("--format", choices=("table", "markdown", "latex", "csv", "json"), default="table",
                   help="latex: with --by-dataset (booktabs)")
    r.add_argument("--by-dataset", action="store_true",
                   help="the paper table: methods x datasets (see --group-by), each cell "
                        "the --metrics (default psnr,ssim) in that order, best per column marked")
    r.add_argument("--precision", metavar="METRIC=DIGITS,...",
                   help="with --by-dataset: decimals per metric (default psnr=2, ssim=4)")
    r.add_argument("--group-by", default="auto", metavar="auto|dir|none|COLUMN",
                   help="what a dataset is, for --by-dataset, --baseline and --plot: auto (default: the manifest's "
                        "'dataset' column where the run had one, else dir), dir (the first directory of the "
                        "reference paths), none, or a column of the results (e.g. shape)")
    r.add_argument("--plot", metavar="DIR",
                   help="also write figures (PNG and SVG) to DIR: distributions per method and dataset; with "
                        "--baseline the paired differences and per-image scatters (needs fastssim[plot])")
    r.add_argument("--mixed-params", action="store_true",
                   help="join directories scored with other parameters (refused by default)")
    r.add_argument("--stats", default="mean",
                   help="comma-separated, from n, mean, std, median, min, max (default mean); with --by-dataset: "
                        "mean or median, then std and/or ci (95%% interval of the mean)")
    r.add_argument("--all-pairs", action="store_true",
                   help="each method over all its own pairs, not only the pairs every method scored")
    r.add_argument("--baseline", metavar="METHOD",
                   help="paired statistics of every other method against METHOD (needs fastssim[stats])")
    r.add_argument("--metrics", help="with --baseline or --by-dataset: the metrics, in order (default: those "
                                     "scored / psnr,ssim)")
    r.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default 10000)")
    r.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    r.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")

    mp = _raw(sub, "map", "the SSIM map of one pair as a heatmap image (and raw .npy)",
              "examples:\n  fastssim map ref.png dist.png -o map.png\n"
              "  fastssim map hr.png sr.png --preset basicsr --crop-border 4 -o map.png\n"
              "  fastssim map vol.npy recon.npy -o map.png --slice 0 40 --npy map.npy")
    mp.add_argument("ref")
    mp.add_argument("dist")
    mp.add_argument("-o", "--out", required=True,
                    help="image to write; its extension picks the format (.png, .jpg, .tif, .bmp, .webp)")
    mp.add_argument("--npy", help="also save the raw map (float32/float64, the input's spatial shape)")
    mp.add_argument("--slice", nargs=2, type=int, metavar=("AXIS", "INDEX"),
                    help="volumes: the slice to draw (default: the middle one along axis 0)")
    _conversions(mp)

    pr = _raw(sub, "presets", "list the presets and what each fixes", "examples:\n  fastssim presets")

    c = _raw(sub, "compile", "compile the kernels into Numba's disk cache ahead of time (a container image, a "
             "cluster node)", "examples:\n  fastssim compile\n  fastssim compile --all --workers 8\n"
             "  RUN fastssim compile        # a Dockerfile line: the image's first call loads, not compiles")
    c.add_argument("--all", action="store_true", help="every dtype and layout (default: the common ones)")
    c.add_argument("--only", help="comma-separated kernel sets instead (the names it prints)")
    c.add_argument("--workers", type=int, help="processes (default: the cores)")

    d = _raw(sub, "demo", "generate a small dataset, score it and print the report",
             "examples:\n  fastssim demo\n  fastssim demo --workdir /tmp/fastssim-demo\n"
             "  fastssim demo --loss                  # SSIM as a loss: noise optimised to a built-in image\n"
             "  fastssim demo --loss photo.png --steps 300 --workdir out/\n  fastssim demo --loss --volume")
    d.add_argument("--workdir", help="keep the dataset and scores there (default: a temporary directory, removed "
                                     "at the end)")
    d.add_argument("--images", type=int, default=24, help="number of generated images (default 24)")
    d.add_argument("--format", choices=("table", "markdown", "csv", "json"), default="table")
    d.add_argument("--loss", nargs="?", const="", metavar="TARGET",
                   help="instead: optimise random noise to TARGET (an image file; default a built-in one) by "
                        "gradient ascent on SSIM (Adam), print the SSIM per step, write frames and progress.gif "
                        "to --workdir (default ./fastssim-loss-demo)")
    d.add_argument("--volume", action="store_true", help="with --loss: a built-in 3-D volume and 3-D SSIM")
    d.add_argument("--steps", type=int, default=500, help="with --loss: the most steps (default 500; it stops "
                                                          "once SSIM reaches --goal)")
    d.add_argument("--goal", type=float, default=0.95, help="with --loss: the SSIM to reach (default 0.95)")
    d.add_argument("--every", type=int, default=2, help="with --loss: draw every Nth step (default 2)")
    d.add_argument("--seed", type=int, default=0, help="with --loss: the starting noise's seed (default 0)")
    return p, {"score": s, "report": r, "map": mp, "presets": pr, "demo": d, "compile": c}


def parser():
    """The ``fastssim`` command's parser alone (what the docs' CLI reference is generated from)."""
    return build()[0]
