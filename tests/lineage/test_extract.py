"""Golden tests for :func:`sqlweave.lineage.extract` plus the contract around it."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import Case, load_cases, render

import sqlweave.lineage
from sqlweave.lineage.extract import extract
from sqlweave.lineage.model import StatementKind

CASES = load_cases()


def test_there_are_enough_golden_cases() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_golden(case: Case) -> None:
    assert render(extract(case.sql, case.dialect, case.schema)) == case.expected


def test_every_column_edge_leaves_a_dataset_the_statement_reads() -> None:
    """``reads`` (with ``rewrites``) and the column edges tell one story: a MERGE or UPDATE
    reading its own target's columns lists the target among its rewrites."""
    leaks = [
        (case.id, sorted({e.source.dataset for e in s.column_edges} - s.reads - s.rewrites))
        for case in CASES
        for s in extract(case.sql, case.dialect, case.schema)
        if {e.source.dataset for e in s.column_edges} - s.reads - s.rewrites
    ]
    assert leaks == []


def test_rewrites_are_written_targets_not_reads() -> None:
    """An in-place change writes its target and reads it as ``rewrites`` only, as
    sqllineage, OpenLineage and DataHub count it; a target read again in FROM is a read."""
    rewrites = [
        s for case in CASES for s in extract(case.sql, case.dialect, case.schema) if s.rewrites
    ]
    assert len(rewrites) >= 20
    assert all(s.rewrites <= s.writes and not (s.rewrites & s.reads) for s in rewrites)
    (update,) = extract("UPDATE t SET total = price * qty")
    assert (update.reads, update.writes, update.rewrites) == (set(), {"t"}, {"t"})
    (merge,) = extract("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")
    assert (merge.reads, merge.rewrites) == ({"s"}, {"t"})
    (again,) = extract("UPDATE t SET v = 1 WHERE id IN (SELECT id FROM t WHERE v > 2)")
    assert again.reads == {"t"} and again.rewrites == frozenset()


def test_the_right_side_of_except_filters_and_supplies_no_values() -> None:
    (s,) = extract("SELECT id FROM a EXCEPT SELECT id FROM b")
    from_b = {(e.type.value, e.subtype.value) for e in s.column_edges if e.source.dataset == "b"}
    assert from_b == {("INDIRECT", "FILTER")}


def test_package_export_stays_callable() -> None:
    first = sqlweave.lineage.extract("SELECT x FROM a")
    again = sqlweave.lineage.extract("SELECT x FROM a")
    assert first == again
    assert [s.reads for s in first] == [frozenset({"a"})]


def test_results_are_immutable() -> None:
    (statement,) = extract("INSERT INTO b SELECT x FROM a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        statement.reads = frozenset()  # type: ignore[misc]
    assert isinstance(statement.column_edges, tuple)


def test_spans_point_at_statement_text() -> None:
    sql = "SELECT 1;\n  INSERT INTO t SELECT x FROM a ; -- done"
    statements = extract(sql)
    assert [sql[s.span.start : s.span.end] for s in statements] == [
        "SELECT 1",
        "INSERT INTO t SELECT x FROM a",
    ]
    assert [s.sql for s in statements] == ["SELECT 1", "INSERT INTO t SELECT x FROM a"]


def test_unparseable_statement_carries_message_and_position() -> None:
    (bad,) = extract("SELECT x\nFROM a WHERE (")
    assert bad.kind is StatementKind.UNPARSEABLE
    assert bad.error
    assert (bad.error_line, bad.error_column) == (2, 14)


def test_empty_script() -> None:
    assert extract("") == []
    assert extract("  -- only a comment\n") == []


def test_unknown_dialect_is_a_usage_error() -> None:
    with pytest.raises(ValueError):
        extract("SELECT 1", dialect="no-such-dialect")


def test_nested_schema_form() -> None:
    schema = {"db": {"t": {"a": "INT", "b": "INT"}}}
    (statement,) = extract("SELECT * FROM db.t", schema=schema)
    assert sorted(str(e.source) for e in statement.column_edges) == ["db.t.a", "db.t.b"]


def test_schema_matches_less_qualified_names() -> None:
    (statement,) = extract("SELECT * FROM t", schema={"public.t": ["a"]})
    assert [str(e.source) for e in statement.column_edges] == ["t.a"]


def test_sqlglot_command_fallback_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    sql = "CREATE EXTERNAL TABLE t (a INT) STORED AS CSV LOCATION 'x.csv' OPTIONS ('k' 'v')"
    with caplog.at_level("WARNING", logger="sqlglot"):
        (statement,) = extract(sql)
    assert statement.kind is StatementKind.CREATE_EXTERNAL_TABLE
    assert not [r for r in caplog.records if r.name == "sqlglot"]


def test_every_span_holds_its_statement_on_the_whole_corpus() -> None:
    """Procedure bodies, blocks and cut-apart T-SQL keep spans into the script as written."""
    for case in CASES:
        for statement in extract(case.sql, case.dialect, case.schema):
            assert case.sql[statement.span.start : statement.span.end] == statement.sql, case.id
