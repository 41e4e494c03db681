"""The fixed schema of the results' Parquet parts: one row per (method, reference, distorted)
pair, every metric and its reason, and the columns a kind of input adds (volumes, videos, masks).
"""

import pyarrow as pa

SCHEMA = pa.schema([
    ("method", pa.string()),
    ("ref", pa.string()),
    ("dist", pa.string()),
    # the manifest's 'dataset' column (the report's grouping), null without one
    ("dataset", pa.string()),
    ("ssim", pa.float64()),
    ("ms_ssim", pa.float64()),
    ("psnr", pa.float64()),
    ("mse", pa.float64()),
    ("dssim", pa.float64()),
    ("l2", pa.float64()),
    ("cosine", pa.float64()),
    ("cw_ssim", pa.float64()),
    ("three_ssim", pa.float64()),
    # over the region of the pair's mask (--mask DIR or a manifest's 'mask' column)
    ("ssim_masked", pa.float64()),
    ("psnr_masked", pa.float64()),
    ("mse_masked", pa.float64()),
    ("ssim_slices", pa.list_(pa.float64())),
    # the scales MS-SSIM used (5; fewer with --ms-scales auto on small images), null without it
    ("ms_ssim_scales", pa.int64()),
    ("shape", pa.string()),
    # the voxel spacing the files record (NIfTI, NRRD, HDF5 'spacing'), null when they record none
    ("spacing", pa.list_(pa.float64())),
    ("data_range", pa.float64()),
    # videos (null for other pairs): the frame pairs scored, the planes ('Y', 'Y,U,V', 'RGB'),
    # each metric per frame, and per plane with --video-planes yuv
    ("frames", pa.int64()),
    ("planes", pa.string()),
    *[(f"{m}_frames", pa.list_(pa.float64())) for m in ("ssim", "ms_ssim", "psnr", "mse", "dssim", "l2", "cosine",
                                                         "cw_ssim", "three_ssim")],
    *[(f"{m}_planes", pa.list_(pa.float64())) for m in ("ssim", "psnr", "mse")],
    # a note about the pair that did not stop it being scored (e.g. video frame counts that differ)
    ("warning", pa.string()),
    # 'ok' (every asked metric computed), 'partial' (some), 'error' (none: the pair is unreadable)
    ("status", pa.string()),
    # why: the read error, or '<metric>: <reason>; ...' for the metrics that failed
    ("error", pa.string()),
    ("ssim_error", pa.string()),
    ("ms_ssim_error", pa.string()),
    ("psnr_error", pa.string()),
    ("mse_error", pa.string()),
    ("dssim_error", pa.string()),
    ("l2_error", pa.string()),
    ("cosine_error", pa.string()),
    ("cw_ssim_error", pa.string()),
    ("three_ssim_error", pa.string()),
    ("ssim_masked_error", pa.string()),
    ("psnr_masked_error", pa.string()),
    ("mse_masked_error", pa.string()),
])

#: Bumped when the meaning of a column changes; recorded with the run's parameters.
SCHEMA_VERSION = 2
