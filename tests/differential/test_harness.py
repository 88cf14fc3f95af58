"""The harness itself: the .slt reader, result comparison, verdicts and triage."""

from __future__ import annotations

import math
from decimal import Decimal

import pyarrow as pa
import pytest

from . import causes, compare, corpus, runner, slt

SAMPLE = """\
# comment
statement ok
CREATE TABLE t AS VALUES (1, 'a'), (2, NULL)

query IT rowsort
SELECT * FROM t
----
1 a
2 NULL

onlyif postgres
query I
SELECT 1
----
1

skipif datafusion
query I
SELECT 2
----
2

onlyif datafusion
query I
SELECT 3
----
3

query error DataFusion error: .*
SELECT * FROM nowhere

statement error
DROP TABLE nowhere
----
DataFusion error: a multi-line
message

include ./other.slt

statement count 1
INSERT INTO t VALUES (3, 'c')

query TT valuesort label-1
SELECT 'x',
       'y'
----
x
y
"""


def test_slt_records_in_order() -> None:
    recs = slt.parse(SAMPLE)
    assert [(r.kind.value, r.line) for r in recs] == [
        ("statement", 2),
        ("query", 5),
        ("query", 24),
        ("query", 29),
        ("statement", 32),
        ("statement", 40),
        ("query", 43),
    ]
    create, select, three, err, drop, insert, multi = recs
    assert select.sort is slt.SortMode.ROWS and select.expected == ("1 a", "2 NULL")
    assert three.sql == "SELECT 3"
    assert err.expect_error and drop.expect_error and not insert.expect_error
    assert multi.sql == "SELECT 'x',\n       'y'" and multi.sort is slt.SortMode.VALUES
    assert not create.expect_error


def test_slt_statement_without_sql_is_an_error() -> None:
    with pytest.raises(slt.SltError, match="<slt>:1"):
        slt.parse("statement ok\n")


def test_compare_floats_within_tolerance_and_nan() -> None:
    assert compare.same_value(0.1 + 0.2, 0.3)
    assert not compare.same_value(1.0, 1.001)
    assert compare.same_value(math.nan, math.nan)
    assert not compare.same_value(math.inf, 1e308)
    assert not compare.same_value(1, 1.0)  # an int column never equals a float one
    assert compare.same_value(Decimal("1.10"), Decimal("1.1"))
    assert compare.same_value({"a": [1.0, None]}, {"a": [1.0 + 1e-12, None]})


def test_compare_strict_types_names_and_order() -> None:
    a = pa.table({"x": pa.array([1, 2], pa.int32()), "s": ["p", "q"]})
    assert compare.diff_strict(a, a, ordered=True) is None
    widened = pa.table({"x": pa.array([1, 2], pa.int64()), "s": ["p", "q"]})
    assert "int32 != int64" in compare.diff_strict(a, widened, ordered=True)
    renamed = a.rename_columns(["x", "t"])
    assert "column names" in compare.diff_strict(a, renamed, ordered=True)
    flipped = a.take([1, 0])
    assert compare.diff_strict(a, flipped, ordered=False) is None
    assert compare.diff_strict(a, flipped, ordered=True).startswith("order differs")
    fewer = a.slice(0, 1)
    assert "2 rows != 1 rows" in compare.diff_strict(a, fewer, ordered=False)


def test_compare_ignores_nullability_but_not_time_zone() -> None:
    nn = pa.schema([pa.field("x", pa.int64(), nullable=False)])
    a = pa.table({"x": [1]}, schema=nn)
    b = pa.table({"x": [1]})
    assert compare.diff_strict(a, b, ordered=True) is None
    utc = pa.table({"t": pa.array([0], pa.timestamp("us", tz="UTC"))})
    ny = pa.table({"t": pa.array([0], pa.timestamp("us", tz="America/New_York"))})
    assert "types" in compare.diff_strict(utc, ny, ordered=True)


def test_compare_reads_values_python_cannot_hold() -> None:
    big = pa.table({"d": pa.array([2**40], pa.int64()).cast(pa.date64()).cast(pa.int64())})
    assert compare.rows_of(big) == [(2**40,)]
    far = pa.table({"d": pa.array([3_000_000], pa.int32()).cast(pa.date32())})  # year 10183
    (row,) = compare.rows_of(far)
    assert row[0].startswith("<date32[day] column ")
    other = pa.table({"d": pa.array([3_000_001], pa.int32()).cast(pa.date32())})
    assert compare.diff_strict(far, other, ordered=True) is not None


def test_judge_classifies() -> None:
    ok = runner.Outcome(table=pa.table({"x": [1]}))
    other = runner.Outcome(table=pa.table({"x": [2]}))
    err = runner.Outcome(error="boom")
    assert runner.judge(ok, ok, True)[0] is runner.Verdict.AGREE
    assert runner.judge(ok, other, True)[0] is runner.Verdict.WRONG
    assert runner.judge(ok, err, True) == (runner.Verdict.CLUSTER_ONLY_ERROR, "boom")
    assert runner.judge(err, ok, True)[0] is runner.Verdict.EMBEDDED_ONLY_ERROR
    assert runner.judge(err, err, True)[0] is runner.Verdict.BOTH_ERROR


def test_ordered_only_by_a_top_level_order_by() -> None:
    assert runner.is_ordered("SELECT x FROM t ORDER BY x")
    assert not runner.is_ordered("SELECT * FROM (SELECT x FROM t ORDER BY x) q")
    assert runner.is_ordered("SELECT x FROM t UNION SELECT y FROM u ORDER BY 1")
    assert not runner.is_ordered("SELECT x FROM t")


def test_skips_explain_and_clock_functions() -> None:
    assert runner.skip_reason("EXPLAIN SELECT 1")
    assert runner.skip_reason("SELECT now()")
    assert runner.skip_reason("select random() as r")
    assert runner.skip_reason("SELECT nowhere FROM t") is None


def test_corpus_paths_are_localised(tmp_path) -> None:
    ctx = runner.FileContext(base=tmp_path / "sqllogictest", scratch=tmp_path / "s")
    sql = "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '../core/tests/data/a.csv'"
    assert str(tmp_path / "core/tests/data/a.csv") in ctx.localise(sql, "cluster")
    copy = "COPY t TO 'test_files/scratch/x/out.csv'"
    assert str(tmp_path / "s/cluster/x/out.csv") in ctx.localise(copy, "cluster")
    assert str(tmp_path / "s/embedded/x/out.csv") in ctx.localise(copy, "embedded")
    assert ctx.localise("SELECT 'data'", "cluster") == "SELECT 'data'"


def test_triage_names_causes() -> None:
    def f(sql: str, detail: str = "", cluster: str = "", verdict=runner.Verdict.WRONG):
        return runner.Finding("k", verdict, sql, detail, "", cluster)

    assert causes.triage(f("SELECT 1", cluster="Named schema must contain names")) is (
        causes.Cause.STRUCT_SUBSTRAIT
    )
    window = "SELECT count(*) FILTER (WHERE (a = 1 or b = 2)) OVER (PARTITION BY c) FROM t"
    assert causes.triage(f(window)) is causes.Cause.WINDOW_FILTER
    rng = "SELECT sum(x) OVER (ORDER BY x RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t"
    assert causes.triage(f(rng)) is causes.Cause.WINDOW_RANGE
    unbounded = (
        "SELECT sum(x) OVER (ORDER BY x RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t"
    )
    assert causes.triage(f(unbounded)) is causes.Cause.OTHER
    text = "CREATE EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION 'x'"
    assert causes.triage(f("SELECT a FROM t", "types a: int32 != int64"), text) is (
        causes.Cause.DECLARED_SCHEMA
    )


def test_skips_answers_sql_leaves_open() -> None:
    assert runner.skip_reason("SELECT * FROM t LIMIT 3")
    assert runner.skip_reason("SELECT lag(x) OVER (PARTITION BY k) FROM t ORDER BY k")
    assert runner.skip_reason("SELECT lag(x, 2) IGNORE NULLS OVER () FROM t ORDER BY x")
    assert runner.skip_reason("SELECT lag(x) OVER (PARTITION BY k ORDER BY y) FROM t") is None
    assert runner.skip_reason("SELECT * FROM t ORDER BY x LIMIT 3") is None
    assert runner.skip_reason("SELECT count(*) FROM (SELECT * FROM t LIMIT 3)") is None


def test_table_names_fold_like_datafusion() -> None:
    def name(sql: str) -> str:
        m = runner._TABLE_STATEMENT.match(sql)
        assert m is not None
        return runner.table_name(m)

    assert name("CREATE TABLE FOO (x INT)") == "foo"
    assert name('INSERT INTO "Foo" VALUES (1)') == "Foo"
    assert name("CREATE OR REPLACE EXTERNAL TABLE IF NOT EXISTS public.t2 STORED AS CSV") == "t2"


def test_quick_corpus_files_are_topic_files(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(corpus.QUICK_FILES) < set(corpus.TOPIC_FILES)
    assert len(corpus.TOPIC_FILES) == 25
    monkeypatch.setenv(corpus.FULL_VAR, "1")
    assert corpus.files_to_test() == corpus.TOPIC_FILES
    monkeypatch.delenv(corpus.FULL_VAR)
    assert corpus.files_to_test() == corpus.QUICK_FILES
