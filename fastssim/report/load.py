"""Reading one or several results directories as one set of columns, and the dataset of each
pair.

Several directories (scored on different days or machines) are joined when they were scored
with the same parameters (or when asked to mix them), and refused when a pair appears in two
of them. Only the columns a report needs are read, part by part, text turned into codes as it
is read.
"""

import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch.params import comparable
from ..batch.writer import SCHEMA, audit, committed_parts, stored_params, stored_warnings


def natural(name):
    """Sort key that puts Set5 before Set14 (digits compared as numbers)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def as_list(outs):
    return [outs] if isinstance(outs, (str, os.PathLike)) else list(outs)


#: Rows of text hashed together before they are merged into a column's dictionary: bounds the
#: text held at once, whatever the size of the output.
ENCODE_ROWS = 1 << 24


class Encoder:
    """Dictionary codes of a text column read in pieces: one dictionary for the whole column,
    the text hashed ``ENCODE_ROWS`` rows at a time (Arrow), so that at most that many rows of
    text, the distinct values and a 32-bit code per row are held. Nulls are a value of their
    own. ``few``: the column has few distinct values (method, status): each piece is hashed
    at once and only its codes kept."""

    def __init__(self, few=False):
        self.few = few
        self.values = pa.array([], pa.string())
        self.pending, self.rows, self.codes = [], 0, []

    def add(self, column):
        self.pending += column.chunks if isinstance(column, pa.ChunkedArray) else [column]
        self.rows += len(column)
        if self.few or self.rows >= ENCODE_ROWS:
            self._merge()

    def _merge(self):
        if not self.rows:
            return
        enc = pc.dictionary_encode(pa.chunked_array(self.pending, pa.string()), null_encoding="encode")
        local = enc.chunk(enc.num_chunks - 1).dictionary  # every chunk indexes this final dictionary
        found = pc.index_in(local, value_set=self.values)  # a null value matches the null value
        known = found.is_valid().to_numpy(zero_copy_only=False)
        where = np.where(known, found.fill_null(0).to_numpy(zero_copy_only=False), 0).astype(np.int32)
        fresh = np.flatnonzero(~known)
        where[fresh] = len(self.values) + np.arange(fresh.size)
        self.values = pa.concat_arrays([self.values, local.take(pa.array(fresh, pa.int64()))])
        self.codes += [where[c.indices.to_numpy(zero_copy_only=False)] for c in enc.chunks]
        self.pending, self.rows = [], 0

    def result(self):
        """``(values, codes)``: the distinct values (Arrow) and each row's index into them."""
        self._merge()
        return self.values, (np.concatenate(self.codes) if self.codes else np.zeros(0, np.int32))


class Results:
    """The columns a report asked for, over every committed row of one or several results
    directories: text columns as ``(values, codes)`` (see `Encoder`; method nulls as '-'),
    number columns as float64 NumPy arrays (NaN for null)."""

    def __init__(self, n, text, numbers, params, warnings):
        self.num_rows, self.text, self.numbers, self.params, self.warnings = n, text, numbers, params, warnings

    def null_count(self, column):
        if column in self.numbers:
            return int(np.isnan(self.numbers[column]).sum())
        values, codes = self.text[column]
        nulls = np.flatnonzero(~values.is_valid().to_numpy(zero_copy_only=False))
        return int(np.isin(codes, nulls).sum())


def load(outs, columns, mixed=False, as_text=()):
    """`Results` of the directories ``outs`` (a path or a list), read part by part: memory
    holds the distinct values of text columns and a few bytes per row and number, never the
    whole output's text. ``as_text``: number columns to read as text (a grouping).

    Raises
    ------
    ValueError
        Directories scored with other parameters (unless ``mixed``), naming them; a pair in
        two directories.
    OutputError
        A damaged part, naming it.
    """
    outs = as_list(outs)
    join = ["method", "ref", "dist"] if len(outs) > 1 else ["method", "ref"]
    need = list(dict.fromkeys([*columns, *as_text, *join]))
    number = [c for c in need if SCHEMA.field(c).type == pa.float64() and c not in as_text]
    text = {c: Encoder(few=c in ("method", "status")) for c in need if c not in number}
    numbers = {c: [] for c in number}
    params, warnings, n = None, [], 0
    for out in outs:
        audit(out)  # a foreign part or a pair in two rows would be counted: refused, naming the part
        p = comparable(stored_params(out))
        if params is None:
            params = p
        elif p != params and not mixed:
            changed = sorted(k for k in set(p) | set(params) if p.get(k) != params.get(k))
            raise ValueError(f"{out} was scored with other parameters than {outs[0]} ({', '.join(changed)}); "
                             "its numbers are not comparable: pass --mixed-params to join them anyway")
        for part in committed_parts(out, need):
            n += part.num_rows
            for c, enc in text.items():
                column = part.column(c)
                enc.add(pc.fill_null(column, "-") if c == "method" else
                        column if pa.types.is_string(column.type) else pc.cast(column, pa.string()))
            for c in number:
                numbers[c].append(part.column(c).to_numpy(zero_copy_only=False).astype(np.float64, copy=False))
        warnings += [w for w in stored_warnings(out) if w not in warnings]
    res = Results(n, {c: enc.result() for c, enc in text.items()},
                  {c: np.concatenate(v) if v else np.zeros(0) for c, v in numbers.items()}, params or {}, warnings)
    if len(outs) > 1:
        _refuse_repeats(res)
    return res


def _refuse_repeats(res):
    """ValueError if a (method, reference, distorted) triple is in the results twice."""
    parts = [res.text[c] for c in ("method", "ref", "dist")]
    key = np.zeros(res.num_rows, dtype=np.int64)
    for values, codes in parts:
        key = key * len(values) + codes
    key.sort()
    twice = np.flatnonzero(key[1:] == key[:-1])
    if twice.size:
        eg, rest = int(key[twice[0]]), []
        for values, _ in reversed(parts):
            eg, code = divmod(eg, len(values))
            rest.insert(0, values[code].as_py() or "")
        raise ValueError(f"{len(np.unique(key[twice]))} pair(s) are in more than one of the directories "
                         f"(e.g. {' '.join(rest).strip()}); join directories that scored different pairs")


#: What ``group_by`` may name besides a column: the manifest's 'dataset' column where the run
#: had one, else the first directory (auto); the first directory of the reference paths; no
#: grouping.
GROUPINGS = ("auto", "dir", "none")


def group_columns(group_by):
    """The extra column a grouping reads (none for 'dir' and 'none'); ValueError for no column."""
    if group_by == "auto":
        return ["dataset"]
    if group_by in GROUPINGS:
        return []
    if group_by not in SCHEMA.names or group_by == "ref":
        raise ValueError(f"cannot group by {group_by!r}: use auto, dir, none or a column of the results "
                         f"({', '.join(n for n in SCHEMA.names if n != 'ref')})")
    return [group_by]


def encode(res, group_by="auto"):
    """Codes of the pairs of `Results` ``res``, for vectorised statistics.

    ``group_by``: 'auto' (the 'dataset' column, which a manifest fills, where the results have
    one, else 'dir'), 'dir' (a reference's dataset is the first directory of its path, '' for
    files at the top), 'none' (one dataset, 'all'), or a column of the results (its value for
    the reference, which must be the same in every row of that reference).

    Returns
    -------
    dict
        ``names`` (methods, null as '-'), ``col`` (each row's method code), ``refs`` (reference
        paths, sorted), ``ref_code`` (each row's index into ``refs``), ``datasets`` (names),
        ``ds_of_ref`` (each reference's dataset code).

    Raises
    ------
    ValueError
        An unknown column, or one whose value differs between the rows of a reference.
    """
    names, col = res.text["method"]
    refs, ref_idx = res.text["ref"]
    order = pc.array_sort_indices(refs).to_numpy()  # references in path order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    sorted_refs = pc.take(refs, pa.array(order))
    ref_code = rank[ref_idx]
    if group_by == "auto":  # the 'dataset' column where a manifest gave one
        values = res.text["dataset"][0]
        group_by = "dataset" if values.null_count < len(values) else "dir"
    if group_by == "none":
        datasets, ds_of_ref = ["all"], np.zeros(order.size, dtype=np.int64)
    elif group_by == "dir":
        first_dir = pc.list_element(pc.split_pattern(sorted_refs, "/", max_splits=1), 0)
        ds = pc.if_else(pc.match_substring(sorted_refs, "/"), first_dir, "").dictionary_encode()
        datasets, ds_of_ref = ds.dictionary.to_pylist(), ds.indices.to_numpy()
    else:
        value_names, value_code = res.text[group_by]
        known = value_names.is_valid().to_numpy(zero_copy_only=False)[value_code]  # error rows hold no shape, say
        datasets = value_names.to_pylist() + ["-"]
        lo = np.full(order.size, np.iinfo(np.int64).max)
        hi = np.full(order.size, -1)
        np.minimum.at(lo, ref_code[known], value_code[known])
        np.maximum.at(hi, ref_code[known], value_code[known])
        if np.any((hi >= 0) & (lo != hi)):
            bad = sorted_refs[int(np.flatnonzero((hi >= 0) & (lo != hi))[0])].as_py()
            raise ValueError(f"cannot group by {group_by!r}: its value differs between the rows of {bad}")
        ds_of_ref = np.where(hi >= 0, hi, len(datasets) - 1)
        used = np.unique(ds_of_ref)  # only the values some reference has
        datasets, ds_of_ref = [datasets[i] for i in used], np.searchsorted(used, ds_of_ref)
    return {"names": names.to_pylist(), "col": col, "refs": sorted_refs,
            "ref_code": ref_code, "datasets": datasets, "ds_of_ref": ds_of_ref}


def matrix(res, metric, enc):
    """The values of ``metric`` as a (reference, method) matrix, NaN where not computed."""
    v = res.numbers[metric]
    table = np.full((len(enc["refs"]), len(enc["names"])), np.nan)
    table[enc["ref_code"], enc["col"]] = v
    return table


def error_columns(metrics):
    """The ``<metric>_error`` columns of ``metrics`` that the schema has (the reasons a metric is
    null), for saying why a cell is empty."""
    return [f"{m}_error" for m in metrics if f"{m}_error" in SCHEMA.names]


def short_reason(text):
    """A metric's reason as a table or a figure can show it: MS-SSIM's size rule as 'images under
    161 px', any other reason its first clause."""
    found = re.search(r"needs every spatial axis to be at least (\d+) long", text)
    if found:
        return f"images under {found.group(1)} px"
    return re.split(r"[;:]\s", text, maxsplit=1)[0][:80]


def missing_reason(res, metric, enc, sel):
    """Why ``metric`` has no value for the references ``sel`` selects: the commonest reason in
    their rows (``<metric>_error``, shortened), or that no method scored it."""
    column = f"{metric}_error"
    if column not in res.text:
        return None
    values, codes = res.text[column]
    rows = sel[enc["ref_code"]]
    found = values.is_valid().to_numpy(zero_copy_only=False)[codes] & rows
    if not found.any():
        return "not scored for these pairs (not asked, or not every method has them)"
    common = np.bincount(codes[found]).argmax()
    return short_reason(values[int(common)].as_py())
