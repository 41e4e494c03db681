"""Finding (reference, distorted) pairs: directory trees, name mapping, manifests.

A pair is a ``Pair(method, ref, dist)`` of paths relative to the roots; the
scorer resolves them. Unmatched files are counted and reported, never dropped
silently.
"""

import bisect
import collections
import dataclasses
import os

from ..io import IMAGE_EXTS
from ..io.dicom import DICOM_EXT


@dataclasses.dataclass(frozen=True)
class Pair:
    method: str | None
    ref: str
    dist: str
    #: Why the pair cannot be scored, known before reading (e.g. a path outside the root).
    problem: str | None = None
    #: The dataset the pair belongs to, from a manifest's 'dataset' column.
    dataset: str | None = None
    #: The mask file of the pair's region, from a manifest's 'mask' column (relative to its root).
    mask: str | None = None


@dataclasses.dataclass
class Unmatched:
    """Files present on one side only."""
    ref_only: int = 0
    dist_only: int = 0
    ref_examples: list = dataclasses.field(default_factory=list)
    dist_examples: list = dataclasses.field(default_factory=list)
    #: A --suffix or --template that would match unmatched files, and how many (or None).
    hint: tuple | None = None

    def add(self, side, rel):
        if side == "ref":
            self.ref_only += 1
            if len(self.ref_examples) < 5:
                self.ref_examples.append(rel)
        else:
            self.dist_only += 1
            if len(self.dist_examples) < 5:
                self.dist_examples.append(rel)


class NameMap:
    """Maps a reference's relative path to the distorted file's relative path.

    Parameters
    ----------
    suffix : str, optional
        Appended to the stem: ``baboon.png`` -> ``baboon_x4_SR.png`` with
        ``suffix="_x4_SR"``.
    template : str, optional
        A name template with ``{stem}`` and ``{ext}``, e.g. ``"{stem}_x4_SR.png"``;
        the directory part of the path is kept.
    """

    def __init__(self, suffix=None, template=None):
        if suffix and template:
            raise ValueError("give a suffix or a template, not both")
        if template is not None and "{stem}" not in template:
            raise ValueError(f"the name template must contain {{stem}}, got {template!r}")
        self.suffix = suffix or ""
        self.template = template or "{stem}" + self.suffix + "{ext}"

    def dist_name(self, ref_rel):
        d, name = os.path.split(ref_rel)
        stem, ext = os.path.splitext(name)
        return os.path.join(d, self.template.format(stem=stem, ext=ext))


def dist_spec(spec):
    """``(method, directory, template or None)`` of ``--dist NAME=DIR`` or ``NAME=DIR:TEMPLATE``
    (the template holds ``{stem}``, e.g. ``jpeg=out/jpeg:{stem}.jpg``); ValueError otherwise."""
    method, sep, rest = spec.partition("=")
    if not sep or not method or not rest:
        raise ValueError(f"--dist takes NAME=DIR or NAME=DIR:TEMPLATE, got {spec!r}")
    directory, colon, template = rest.rpartition(":")
    if colon and "{stem}" in template and directory:
        return method, directory, template
    if "{stem}" in rest:
        raise ValueError(f"--dist {spec!r}: a name template follows the directory after ':', as in "
                         f"{method}=DIR:{{stem}}.jpg")
    return method, rest, None


def _ext(name):
    """A file's extension as users name it (``.nii.gz``, not ``.gz``), lower case."""
    lower = name.lower()
    stem, ext = os.path.splitext(lower)
    if ext in (".gz", ".bz2", ".xz", ".zst") and os.path.splitext(stem)[1]:
        return os.path.splitext(stem)[1] + ext
    return ext or "(no extension)"


def _walk(root, skipped=None):
    """Relative paths of the image files under ``root``, sorted, recursively; the other files'
    extensions are counted into ``skipped`` (a Counter)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if dirpath != root and (dirpath.lower().endswith(".zarr") or any(f.lower().endswith(DICOM_EXT)
                                                                          for f in filenames)):
            out.append(os.path.relpath(dirpath, root))  # a DICOM series or a zarr store: one volume
            dirnames[:] = []
            continue
        for f in sorted(filenames):
            if f.startswith("."):
                continue
            if not f.lower().endswith(IMAGE_EXTS):
                if skipped is not None:
                    skipped[_ext(f)] += 1
                continue
            out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def _split(rel):
    d, name = os.path.split(rel)
    stem, ext = os.path.splitext(name)
    return d, stem, ext


def suggest_names(refs, dists, sample=2000):
    """The name mapping that would match the most of ``refs`` (unmatched reference paths)
    to ``dists`` (unmatched distorted paths), and how many it matches.

    Looks for distorted names that extend a reference's stem at the end (``baboon`` ->
    ``baboon_x4_SR``) or at the start (``SR_baboon``), in the same directory, possibly
    with another extension.

    Returns
    -------
    (option, matches) or None
        ``option`` is the command-line option to pass, e.g. ``--suffix _x4_SR`` or
        ``--template '{stem}.jpg'``.
    """
    by_dir = collections.defaultdict(list)
    for rel in dists:
        d, stem, ext = _split(rel)
        by_dir[d].append((stem, ext))
    fwd = {d: sorted(v) for d, v in by_dir.items()}
    rev = {d: sorted((stem[::-1], ext) for stem, ext in v) for d, v in by_dir.items()}
    votes = collections.Counter()
    for rel in refs[:sample]:
        d, stem, ext = _split(rel)
        found = set()
        for table, key, side in ((fwd, stem, "suffix"), (rev, stem[::-1], "prefix")):
            cands = table.get(d, [])
            i = bisect.bisect_left(cands, (key, ""))
            while i < len(cands) and cands[i][0].startswith(key):
                extra = cands[i][0][len(key):]
                extra = extra[::-1] if side == "prefix" else extra
                found.add((side, extra, cands[i][1] if cands[i][1] != ext else None))
                i += 1
        for f in found:
            votes[f] += 1
    if not votes:
        return None
    (side, extra, ext), n = votes.most_common(1)[0]
    if not extra and ext is None:
        option = "neither --suffix nor --template (the names are equal)"
    elif side == "suffix" and ext is None:
        option = f"--suffix {extra}"
    else:
        template = f"{extra}{{stem}}" if side == "prefix" else f"{{stem}}{extra}"
        option = f"--template '{template}{ext or '{ext}'}'"
    return option, n


def match_dirs(ref_root, dists, namemap=None):
    """Pairs from a reference tree and one or more distorted trees.

    Parameters
    ----------
    ref_root : str
    dists : list of (method or None, dir)
    namemap : NameMap or dict, optional
        How a reference's name becomes a distorted file's: one for every method, or
        ``{method: NameMap}`` (a method not in it takes ``NameMap()``, the same name).

    Returns
    -------
    pairs : list of Pair
        Paths relative to ``ref_root`` and to each distorted root.
    unmatched : dict
        ``{method: Unmatched}``, with a hint where a suffix or template would match.
    skipped : collections.Counter
        Extensions of the files that were not read (not images fastssim knows), over all trees.
    """
    maps = namemap if isinstance(namemap, dict) else {}
    default = NameMap() if isinstance(namemap, dict) or namemap is None else namemap
    skipped = collections.Counter()
    refs = _walk(ref_root, skipped)
    pairs, unmatched = [], {}
    for method, droot in dists:
        namemap = maps.get(method, default)
        um = unmatched.setdefault(method, Unmatched())
        dist_files = set(_walk(droot, skipped))
        used, lonely = set(), []
        for r in refs:
            d = namemap.dist_name(r)
            if d in dist_files:
                pairs.append(Pair(method, r, d))
                used.add(d)
            else:
                um.add("ref", r)
                lonely.append(r)
        rest = sorted(dist_files - used)
        for d in rest:
            um.add("dist", d)
        if lonely and rest:
            um.hint = suggest_names(lonely, rest)
    return pairs, unmatched, skipped


def contained(root, rel):
    """Why ``rel`` may not be used under ``root`` (None when it is safe)."""
    if not rel:
        return "empty path"
    if "\x00" in rel:
        return f"path {rel!r} holds a NUL byte, which no file name can"
    if ".." in rel.replace("\\", "/").split("/"):
        return f"path {rel!r} escapes the root with '..'"
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(root, rel))
    if os.path.commonpath([real_root, real]) != real_root:
        if os.path.isabs(rel):
            return f"absolute path {rel!r} is outside the root {root}; pass a --root that holds it"
        return f"path {rel!r} resolves outside the root (symlink)"
    return None


def read_manifest(path, root):
    """Pairs from a CSV or Parquet manifest with ``ref`` and ``dist`` columns (and optionally
    ``method``, ``dataset`` (the report's grouping) and ``mask`` (a region's mask file)), paths
    relative to ``root``."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if path.lower().endswith(".parquet") and os.path.isfile(path):
        with pq.ParquetFile(path, pre_buffer=False) as pf:  # no read-ahead thread left behind (see writer.read_part)
            table = pf.read(use_threads=False)
    elif path.lower().endswith(".parquet"):
        table = pq.read_table(path)
    else:
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={"ref": "string", "dist": "string", "method": "string", "dataset": "string",
                          "mask": "string"}))
    missing = {"ref", "dist"} - set(table.column_names)
    if missing:
        raise ValueError(f"manifest {path} lacks column(s) {sorted(missing)}; it needs 'ref' and 'dist'")
    import pyarrow as pa

    for col in ("ref", "dist", "method", "dataset", "mask"):
        if col in table.column_names:
            t = table.schema.field(col).type
            if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
                raise ValueError(f"manifest {path}: column {col!r} holds {t}, not text; store paths "
                                 "(and method and dataset names) as strings")
    refs = table.column("ref").to_pylist()
    dists = table.column("dist").to_pylist()
    methods = table.column("method").to_pylist() if "method" in table.column_names else [None] * len(refs)
    datasets = table.column("dataset").to_pylist() if "dataset" in table.column_names else [None] * len(refs)
    masks = table.column("mask").to_pylist() if "mask" in table.column_names else [None] * len(refs)
    pairs = []
    for m, r, d, ds, mk in zip(methods, refs, dists, datasets, masks):
        r = r or ""
        d = d or ""
        problem = contained(root, r) or contained(root, d) or (contained(root, mk) if mk else None)
        pairs.append(Pair(m, r, d, problem, ds, mk or None))
    return pairs
