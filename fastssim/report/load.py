"""Reading one or several results directories as one table, and the dataset of each pair.

Several directories (scored on different days or machines) are joined when they were scored
with the same parameters (or when asked to mix them), and refused when a pair appears in two
of them. Only the columns a report needs are read.
"""

import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..batch.writer import SCHEMA, committed, stored_params, stored_warnings


def natural(name):
    """Sort key that puts Set5 before Set14 (digits compared as numbers)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def as_list(outs):
    return [outs] if isinstance(outs, (str, os.PathLike)) else list(outs)


def load(outs, columns=None, mixed=False):
    """``(table, params, warnings)`` of the results directories ``outs`` (a path or a list).

    Raises
    ------
    ValueError
        Directories scored with other parameters (unless ``mixed``), naming them; a pair in
        two directories.
    """
    outs = as_list(outs)
    need = None if columns is None else list(dict.fromkeys([*columns, "method", "ref", "dist"]))
    tables, params, warnings = [], None, []
    for out in outs:
        p = stored_params(out) or {}
        if params is None:
            params = p
        elif p != params and not mixed:
            changed = sorted(k for k in set(p) | set(params) if p.get(k) != params.get(k))
            raise ValueError(f"{out} was scored with other parameters than {outs[0]} ({', '.join(changed)}); "
                             "its numbers are not comparable: pass --mixed-params to join them anyway")
        tables.append(committed(out, need))
        warnings += [w for w in stored_warnings(out) if w not in warnings]
    t = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if len(outs) > 1:
        key = pc.binary_join_element_wise(pc.fill_null(t.column("method"), ""), t.column("ref"), t.column("dist"),
                                          "\x00")
        counts = pc.value_counts(key)
        twice = counts.filter(pc.greater(counts.field("counts"), 1))
        if len(twice):
            eg = twice.field("values")[0].as_py().replace("\x00", " ").strip()
            raise ValueError(f"{len(twice)} pair(s) are in more than one of the directories (e.g. {eg}); "
                             "join directories that scored different pairs")
    return (t if columns is None else t.select(columns)), params, warnings


#: What ``group_by`` may name besides a column: the first directory of the reference paths, or
#: no grouping.
GROUPINGS = ("dir", "none")


def group_columns(group_by):
    """The extra column a grouping reads (none for 'dir' and 'none'); ValueError for no column."""
    if group_by in GROUPINGS:
        return []
    if group_by not in SCHEMA.names or group_by == "ref":
        raise ValueError(f"cannot group by {group_by!r}: use dir, none or a column of the results "
                         f"({', '.join(n for n in SCHEMA.names if n != 'ref')})")
    return [group_by]


def encode(t, group_by="dir"):
    """Dictionary codes of a table's pairs, for vectorised statistics.

    ``group_by``: 'dir' (a reference's dataset is the first directory of its path, '' for files
    at the top), 'none' (one dataset, 'all'), or a column of the table (its value for the
    reference, which must be the same in every row of that reference).

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
    methods = pc.fill_null(t.column("method"), "-").combine_chunks().dictionary_encode()
    refs = t.column("ref").combine_chunks().dictionary_encode()
    order = pc.array_sort_indices(refs.dictionary).to_numpy()  # references in path order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    sorted_refs = pc.take(refs.dictionary, pa.array(order))
    ref_code = rank[refs.indices.to_numpy()]
    if group_by == "none":
        datasets, ds_of_ref = ["all"], np.zeros(order.size, dtype=np.int64)
    elif group_by == "dir":
        first_dir = pc.list_element(pc.split_pattern(sorted_refs, "/", max_splits=1), 0)
        ds = pc.if_else(pc.match_substring(sorted_refs, "/"), first_dir, "").dictionary_encode()
        datasets, ds_of_ref = ds.dictionary.to_pylist(), ds.indices.to_numpy()
    else:
        values = pc.cast(t.column(group_by), pa.string()).combine_chunks()
        known = values.is_valid().to_numpy(zero_copy_only=False)  # error rows hold no shape, say
        ds = pc.fill_null(values, "-").dictionary_encode()
        datasets = ds.dictionary.to_pylist() + ["-"]
        codes = ds.indices.to_numpy()
        lo = np.full(order.size, np.iinfo(np.int64).max)
        hi = np.full(order.size, -1)
        np.minimum.at(lo, ref_code[known], codes[known])
        np.maximum.at(hi, ref_code[known], codes[known])
        if np.any((hi >= 0) & (lo != hi)):
            bad = sorted_refs[int(np.flatnonzero((hi >= 0) & (lo != hi))[0])].as_py()
            raise ValueError(f"cannot group by {group_by!r}: its value differs between the rows of {bad}")
        ds_of_ref = np.where(hi >= 0, hi, len(datasets) - 1)
        used = np.unique(ds_of_ref)  # only the values some reference has
        datasets, ds_of_ref = [datasets[i] for i in used], np.searchsorted(used, ds_of_ref)
    return {"names": methods.dictionary.to_pylist(), "col": methods.indices.to_numpy(), "refs": sorted_refs,
            "ref_code": ref_code, "datasets": datasets, "ds_of_ref": ds_of_ref}


def matrix(t, metric, enc):
    """The values of ``metric`` as a (reference, method) matrix, NaN where not computed."""
    v = t.column(metric).to_numpy(zero_copy_only=False).astype(np.float64)
    table = np.full((len(enc["refs"]), len(enc["names"])), np.nan)
    table[enc["ref_code"], enc["col"]] = v
    return table
