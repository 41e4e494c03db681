"""What a results directory's rows are: the pairs of the files they were scored from, each once.
A resume from other directories, a part copied under another name, a part with other values
for the same pairs and a foreign ``part-*.parquet`` are refused (by ``score`` and ``report``),
never counted or taken for done work (issue 33, items 1 and 2)."""

import os
import shutil

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastssim
from fastssim.batch.writer import OutputError, audit

from test_cli import cli, make_pairs, read_out


def _copy_tree_as_identical(tmp_path):
    """``dist_same``: the references copied, so that every pair scores SSIM 1."""
    shutil.copytree(tmp_path / "ref", tmp_path / "dist_same")
    return tmp_path / "dist_same"


def test_resume_from_other_distorted_files_is_refused(tmp_path):
    make_pairs(tmp_path, n=4)
    same = _copy_tree_as_identical(tmp_path)
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    before = read_out(out)
    assert (before.ssim < 1).all()
    # the same relative paths under another directory are other files: not done work
    r = cli("score", tmp_path / "ref", same, "-o", out)
    assert r.returncode == 2, r.stderr
    assert f"distorted files were read from {os.path.realpath(tmp_path / 'dist')}" in r.stderr
    assert f"this run reads {os.path.realpath(same)}" in r.stderr and "--overwrite" in r.stderr
    assert "Traceback" not in r.stderr and "compiling" not in r.stderr  # refused before anything is scored
    pd.testing.assert_frame_equal(read_out(out), before)
    r = cli("score", tmp_path / "ref", same, "-o", out, "--overwrite", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (read_out(out).ssim == 1.0).all()


def test_resume_from_other_references_is_refused_and_the_same_place_is_resumed(tmp_path):
    make_pairs(tmp_path, n=4)
    other_ref = _copy_tree_as_identical(tmp_path)
    out = tmp_path / "out"
    assert cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet").returncode == 0
    r = cli("score", other_ref, tmp_path / "dist", "-o", out)
    assert r.returncode == 2 and "its references were read from" in r.stderr, r.stderr
    # the same directories through another spelling (a link, a trailing slash) are the same files
    os.symlink(tmp_path / "dist", tmp_path / "dist_link")
    r = cli("score", f"{tmp_path / 'ref'}/", tmp_path / "dist_link", "-o", out)
    assert r.returncode == 0, r.stderr
    assert "0 pairs scored, 4 already done" in r.stderr


def test_a_resume_may_add_a_method_but_not_move_one(tmp_path):
    make_pairs(tmp_path, n=3)
    same = _copy_tree_as_identical(tmp_path)
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", "--dist", f"a={tmp_path / 'dist'}", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    r = cli("score", tmp_path / "ref", "--dist", f"a={tmp_path / 'dist'}", "--dist", f"b={same}", "-o", out)
    assert r.returncode == 0, r.stderr
    df = read_out(out)
    assert sorted(df.method.unique()) == ["a", "b"] and (df[df.method == "b"].ssim == 1.0).all()
    r = cli("score", tmp_path / "ref", "--dist", f"a={same}", "-o", out)
    assert r.returncode == 2 and "distorted files of a were read from" in r.stderr, r.stderr


def test_score_pairs_resume_records_where_relative_paths_point(tmp_path, monkeypatch):
    """The API's relative paths are read from the working directory: another one is other files."""
    make_pairs(tmp_path / "one", n=2)
    make_pairs(tmp_path / "two", n=2, seed=5)
    pairs = [(os.path.join("ref", f), os.path.join("dist", f)) for f in ("im0001.png", "im0002.png")]
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path / "one")
    assert fastssim.score_dataset(pairs, out=str(out))["scored"] == 2
    monkeypatch.chdir(tmp_path / "two")
    with pytest.raises(RuntimeError, match="holds scores of other files: its references were read from"):
        fastssim.score_dataset(pairs, out=str(out))


def _scored(tmp_path, n=5):
    make_pairs(tmp_path, n=n)
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    part, = [p for p in os.listdir(out) if p.startswith("part-")]
    return out, out / part


def _report_refused(out, *expected):
    r = cli("report", out)
    assert r.returncode == 3, r.stdout + r.stderr
    for text in expected:
        assert text in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_a_copied_part_is_refused_by_report_and_resume(tmp_path):
    out, part = _scored(tmp_path)
    shutil.copy(part, out / "part-copy.parquet")
    _report_refused(out, "5 pair(s) have more than one row", "part-copy.parquet", part.name)
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out)
    assert r.returncode == 3 and "more than one row" in r.stderr, r.stderr
    os.remove(out / "part-copy.parquet")  # what the message says to do
    assert cli("report", out).returncode == 0


def test_a_part_with_other_values_for_the_same_pairs_is_refused(tmp_path):
    out, part = _scored(tmp_path)
    t = pq.read_table(part)
    other = t.set_column(t.schema.get_field_index("ssim"), "ssim", pa.array([0.5] * t.num_rows))
    pq.write_table(other.slice(0, 2).replace_schema_metadata(t.schema.metadata), out / "part-other.parquet")
    _report_refused(out, "2 pair(s) have more than one row", "part-other.parquet")


def test_a_foreign_part_is_refused(tmp_path):
    out, part = _scored(tmp_path)
    pq.write_table(pa.table({"ssim": [0.1, 0.2], "method": ["x", "x"]}), out / "part-foreign.parquet")
    _report_refused(out, "part-foreign.parquet was not written by fastssim")
    os.remove(out / "part-foreign.parquet")
    t = pq.read_table(part)  # fastssim's metadata, but rows without paths
    nulls = t.set_column(t.schema.get_field_index("ref"), "ref", pa.nulls(t.num_rows, pa.string()))
    pq.write_table(nulls.replace_schema_metadata(t.schema.metadata), out / "part-nulls.parquet")
    _report_refused(out, "part-nulls.parquet has 5 row(s) without ref or dist paths")


def test_a_pair_twice_in_one_part_is_named(tmp_path):
    out, part = _scored(tmp_path, n=3)
    t = pq.read_table(part)
    os.remove(part)
    pq.write_table(pa.concat_tables([t, t.slice(1, 1)]).replace_schema_metadata(t.schema.metadata),
                   out / "part-x.parquet")
    with pytest.raises(OutputError, match=r"1 pair\(s\) have more than one row .*2 times in part-x.parquet"):
        audit(str(out))


def test_an_output_of_distinct_pairs_passes_the_audit(tmp_path):
    """The audit refuses only what is wrong: methods, datasets and nulls in 'method' are fine."""
    out, part = _scored(tmp_path, n=3)
    t = pq.read_table(part)
    methods = t.set_column(t.schema.get_field_index("method"), "method", pa.array(["m"] * t.num_rows))
    pq.write_table(methods.replace_schema_metadata(t.schema.metadata), out / "part-m.parquet")
    audit(str(out))  # the same paths under another method are other pairs
    r = cli("report", out)
    assert r.returncode == 0, r.stderr


def test_a_part_is_read_as_pyarrow_reads_it_with_the_schema(tmp_path):
    """`read_part` (one file, on this thread) gives what ``pq.read_table(schema=SCHEMA)`` gives: all
    columns or some, in the schema's types and order; a column the part lacks (a part of an older
    run) is null, and a part that is not Parquet is named as damaged."""
    from fastssim.batch.schema import SCHEMA
    from fastssim.batch.writer import read_part

    out, part = _scored(tmp_path)
    for columns in (None, ["ssim", "ref"], ["status"]):
        assert read_part(str(part), columns).equals(pq.read_table(part, schema=SCHEMA, columns=columns))
    t = pq.read_table(part)
    older = t.drop_columns(["psnr", "dataset"])
    pq.write_table(older.replace_schema_metadata(t.schema.metadata), tmp_path / "older.parquet")
    got = read_part(str(tmp_path / "older.parquet"), ["ref", "psnr", "dataset"])
    assert got.equals(pq.read_table(tmp_path / "older.parquet", schema=SCHEMA, columns=["ref", "psnr", "dataset"]))
    assert got.column("psnr").null_count == t.num_rows and got.column("ref").equals(t.column("ref"))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not a part")
    with pytest.raises(OutputError, match="bad.parquet.*the part is damaged"):
        read_part(str(tmp_path / "bad.parquet"))
