"""Writing per-pair scores to a Parquet dataset directory, atomically and resumably.

The output is a directory of ``part-*.parquet`` files with one fixed schema.
Each part is written under a hidden temporary name (``.part-*.tmp``,
which pyarrow's and pandas' dataset readers skip) and renamed into place only
when complete, so a reader never sees half a file, whatever kills the writer.
A lock (``.fastssim.lock``, held with ``flock``, released by the kernel when
the process dies) refuses a second concurrent run into the same directory.
"""

import fcntl
import glob
import json
import os
import tempfile
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._version import __version__

from .params import ROOTS, comparable
from .schema import SCHEMA, SCHEMA_VERSION

LOCK_NAME = ".fastssim.lock"


class OutputError(OSError):
    """The output directory cannot be written, or its parts cannot be read; the message says
    why and what to do."""


class OutputBusy(RuntimeError):
    """Another run holds the output directory."""


class ParamsMismatch(RuntimeError):
    """The output holds results made with other parameters."""


def _parts(out):
    return sorted(glob.glob(os.path.join(out, "part-*.parquet")))


def read_part(path, columns=None):
    """One part as a table of ``columns`` (default all) in `SCHEMA`'s types and order (a column
    the part lacks is null); OutputError naming a part that cannot be read, and the fix. Read on
    this thread, not by ``pq.read_table``, whose read-ahead threads may outlive a short command
    and abort it at exit (Arrow issues 39862, 45017; seen once in CI)."""
    fields = [SCHEMA.field(c) for c in (SCHEMA.names if columns is None else columns)]
    try:
        with pq.ParquetFile(path, pre_buffer=False) as pf:
            t = pf.read(columns=[f.name for f in fields if f.name in pf.schema_arrow.names], use_threads=False)
        return pa.table([t.column(f.name).cast(f.type) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
                         for f in fields], schema=pa.schema(fields))
    except (OSError, pa.ArrowException, ValueError) as e:
        raise OutputError(f"cannot read {path}: {str(e).strip().splitlines()[0] if str(e).strip() else e!r}; "
                          "the part is damaged: move it out of the directory and re-run the score command "
                          "to score its pairs again") from None


def committed(out, columns=None):
    """The table of all committed rows in ``out`` (empty table if none); only ``columns`` if given.

    Raises
    ------
    OutputError
        If a part cannot be read.
    """
    tables = list(committed_parts(out, columns))
    if not tables:
        empty = SCHEMA.empty_table()
        return empty if columns is None else empty.select(columns)
    return pa.concat_tables(tables)


def committed_parts(out, columns=None):
    """The committed parts of ``out`` one table at a time (in name order), for readers whose
    memory should not grow with the whole output; only ``columns`` if given.

    Raises
    ------
    OutputError
        If a part cannot be read.
    """
    for path in _parts(out):
        yield read_part(path, columns)


def local_path(out):
    """The directory an output location names: a path, or a ``file://`` URL.

    Other URL schemes (object stores) are refused with the way round: fastssim commits parts
    by an atomic rename, which object stores do not offer.
    """
    out = os.fspath(out)
    if "://" not in out:
        return out
    from urllib.parse import unquote, urlparse

    url = urlparse(out)
    if url.scheme == "file" and url.netloc in ("", "localhost"):
        return unquote(url.path)
    raise OutputError(f"{out}: results are committed by atomic renames, which {url.scheme}:// stores do not "
                      "offer; write to a local or shared file system (a mounted bucket: s3fs, gcsfuse) and copy "
                      "the directory afterwards")


def check_output(out):
    """Refuse an output path that cannot become a results directory, before anything runs."""
    if not out:
        raise OutputError("the output path is empty; pass -o DIR")
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputError(f"{out} exists and is not a directory; pass -o a directory (new or from an "
                          "earlier run)")
    parent = out
    while not os.path.exists(parent):
        parent = os.path.dirname(os.path.abspath(parent))
    if not os.path.isdir(parent):
        raise OutputError(f"cannot create {out}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write under {parent}: permission denied; pass -o somewhere writable")
    try:  # what access() cannot tell (read-only mounts, pseudo file systems, root's rights): try it
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as e:
        raise OutputError(f"cannot write under {parent}: {e.strerror or e}; pass -o somewhere writable") from None


def stored_warnings(out):
    """The run warnings recorded in the committed parts (each once, in order)."""
    seen = []
    for part in _parts(out):
        for w in json.loads(_metadata(part).get(b"fastssim.warnings", b"[]")):
            if w not in seen:
                seen.append(w)
    return seen


def stored_params(out):
    """The run parameters recorded in the first committed part, or None."""
    parts = _parts(out)
    return _metadata_params(parts[0]) if parts else None


def stored_roots(out, parts=None):
    """``[(part name, roots)]`` of the committed parts that record their input roots (``parts``:
    `_all_params` already read)."""
    parts = _all_params(out) if parts is None else parts
    return [(os.path.basename(part), p[ROOTS]) for part, p in parts if p and p.get(ROOTS)]


def check_roots(out, roots, parts=None):
    """Refuse to resume ``out`` from other files than its committed rows were scored from.

    A row is identified by its paths relative to the roots; the same relative paths under another
    directory are other files, whose scores the committed rows are not. Methods the output does
    not hold yet may be added (their roots are new).

    Raises
    ------
    ParamsMismatch
        Naming the side, the directory the output was scored from and the one given now.
    """
    if not roots:
        return
    for part, old in stored_roots(out, parts):
        clashes = []
        if old.get("ref") != roots["ref"]:
            clashes.append(("references", old.get("ref"), roots["ref"]))
        for method, root in roots["dist"].items():
            before = (old.get("dist") or {}).get(method)
            if before is not None and before != root:
                clashes.append((f"distorted files{f' of {method}' if method else ''}", before, root))
        if clashes:
            what, before, now = clashes[0]
            raise ParamsMismatch(
                f"{out} holds scores of other files: its {what} were read from {before} ({part}), this run reads "
                f"{now}; the rows there are not this run's pairs. Use --overwrite to score these files into it "
                "anew, or another -o")


def _metadata(part):
    """The key-value metadata of one part (its footer only); OutputError naming a damaged part."""
    try:
        return pq.read_schema(part).metadata or {}
    except (OSError, pa.ArrowException, ValueError):
        read_part(part)  # raises OutputError naming the damaged part
        raise


def _metadata_params(part):
    raw = _metadata(part).get(b"fastssim.params")
    return json.loads(raw) if raw else None


def _all_params(out):
    """``[(part path, run parameters or None)]`` of every committed part, each footer read once."""
    return [(part, _metadata_params(part)) for part in _parts(out)]


def audit(out, parts=None):
    """Refuse an output whose rows are not those of fastssim runs, each pair once: a part without
    fastssim's metadata (a foreign file named ``part-*.parquet``), rows without paths, or a pair
    in more than one row (a part copied under another name, outputs merged by hand). Without
    this, a report would count such rows and a resume would take them for done work.

    Raises
    ------
    OutputError
        Naming the part(s) and what to do.
    """
    tables, names = [], []
    for i, (part, run) in enumerate(_all_params(out) if parts is None else parts):
        name = os.path.basename(part)
        if run is None:
            raise OutputError(f"{part} was not written by fastssim (its metadata records no run parameters); "
                              f"move it out of {out}: its rows would be counted as scores")
        t = read_part(part, ["method", "ref", "dist"])
        nulls = t.column("ref").null_count + t.column("dist").null_count
        if nulls:
            raise OutputError(f"{part} has {nulls} row(s) without ref or dist paths, which fastssim never writes; "
                              f"move it out of {out}")
        tables.append(t.append_column("part", pa.array(np.full(t.num_rows, i, np.int32))))
        names.append(name)
    if not tables:
        return
    keys = pa.concat_tables(tables).group_by(["method", "ref", "dist"], use_threads=False).aggregate(
        [("part", "count"), ("part", "min"), ("part", "max")])
    twice = keys.filter(pc.greater(keys.column("part_count"), 1))
    if twice.num_rows:
        eg = twice.slice(0, 1).to_pylist()[0]
        where = (f"in {names[eg['part_min']]} and {names[eg['part_max']]}" if eg["part_min"] != eg["part_max"]
                 else f"{eg['part_count']} times in {names[eg['part_min']]}")
        pair = " ".join(str(v) for v in (eg["method"], eg["ref"], eg["dist"]) if v is not None)
        raise OutputError(f"{twice.num_rows} pair(s) have more than one row in {out} (e.g. {pair}, {where}): a "
                          "part was copied or outputs merged by hand, so counts and means would be wrong; move the "
                          "extra part(s) out of the directory (or score again with --overwrite)")


def write_part(out, rows, params, warnings=(), name=None):
    """Commit ``rows`` as one Parquet part of ``out``: written under a hidden temporary name,
    flushed to disk and renamed into place, so it appears whole or not at all.

    ``name`` (default: time and a random suffix) decides what a second commit of the same
    rows does: a chunk of a distributed run is named after its identity, so committing it
    twice (a retried task) replaces the part with an identical one instead of adding one.
    ``params`` must already carry the schema version. Raises OSError.
    """
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    meta = {b"fastssim.version": __version__.encode(),
            b"fastssim.params": json.dumps(params, sort_keys=True).encode(),
            b"fastssim.warnings": json.dumps(list(warnings)).encode()}
    table = table.replace_schema_metadata(meta)
    name = name or f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"
    tmp = os.path.join(out, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(out, name))
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return name


def check_resume(out, params, rows=True):
    """Refuse to add ``params``' rows to ``out`` when its committed rows cannot be this run's:
    other parameters, other input files (`check_roots`), or rows that are not one run's
    (`audit`; ``rows=False`` leaves it out). Read-only, so a run calls it before scoring anything;
    the writer checks the parameters again under its lock.

    Raises
    ------
    ParamsMismatch, OutputError
    """
    if not os.path.isdir(out):
        return
    parts = _all_params(out)  # every footer read once for all three checks
    old = parts[0][1] if parts else None
    if old is not None:
        new = dict(params, schema=params.get("schema", SCHEMA_VERSION))
        a, b = comparable(old), comparable(new)
        if a != b:
            changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            raise ParamsMismatch(f"{out} holds results made with other parameters ({', '.join(changed)}); "
                                 "use --overwrite to start over, or another -o")
        check_roots(out, params.get(ROOTS), parts)
    if rows:
        audit(out, parts)


class ResultWriter:
    """Buffers result rows and commits them as atomic Parquet parts.

    Use as a context manager::

        with ResultWriter(out, params) as w:
            w.add(row); ...

    Parameters
    ----------
    out : str
        Output directory (created if missing).
    params : dict
        The run's parameters, stored as JSON in every part's metadata with the
        fastssim version; resuming with other parameters raises ParamsMismatch.
    overwrite : bool
        Delete previous results first.
    rows_per_part : int
        Rows buffered before a part is committed.
    seconds_per_part : float
        Commit at least this often while rows arrive.
    """

    def __init__(self, out, params, *, overwrite=False, rows_per_part=2000, seconds_per_part=10.0):
        self.out = out
        self.params = dict(params, schema=SCHEMA_VERSION)
        #: Messages about the run's data (e.g. a data range far wider than the values), kept in
        #: every part's metadata from the moment they are raised.
        self.warnings = []
        self.overwrite = overwrite
        self.rows_per_part = rows_per_part
        self.seconds_per_part = seconds_per_part
        self._rows = []
        self._lock_fd = None
        self._last = time.monotonic()
        self.n_written = 0

    def __enter__(self):
        check_output(self.out)
        try:
            os.makedirs(self.out, exist_ok=True)
            fd = os.open(os.path.join(self.out, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise OutputError(f"cannot write to {self.out}: {e.strerror or e}; pass -o somewhere writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OutputBusy(f"{self.out} is in use by another fastssim run; wait for it or pick another -o") from None
        self._lock_fd = fd
        try:
            for tmp in glob.glob(os.path.join(self.out, ".part-*.tmp")):
                os.remove(tmp)  # left by a run that was killed mid-write: never visible
            if self.overwrite:
                for p in _parts(self.out):
                    os.remove(p)
            else:
                check_resume(self.out, self.params, rows=False)  # the rows were audited before the run
        except BaseException:
            self._release()
            raise
        return self

    def add(self, row):
        self._rows.append(row)
        if len(self._rows) >= self.rows_per_part or time.monotonic() - self._last >= self.seconds_per_part:
            self.flush()

    def flush(self):
        """Commit the buffered rows as one part."""
        self._last = time.monotonic()
        if not self._rows:
            return
        try:
            write_part(self.out, self._rows, self.params, self.warnings)
        except OSError as e:
            raise OutputError(f"cannot write a part to {self.out}: {e.strerror or e}; the {self.n_written} rows "
                              "committed before are intact: fix the cause (free space, permissions) and re-run "
                              "the same command to resume") from None
        self.n_written += len(self._rows)
        self._rows = []

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.flush()
            else:  # keep what was scored; the original error is the one to report
                try:
                    self.flush()
                except OSError:
                    pass
        finally:
            self._release()
        return False

    def _release(self):
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
