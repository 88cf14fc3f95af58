"""The scoring rules of ``bench/lineage_corpus.py`` (the harness that measures extraction
against other projects' corpora): names compared without case, quotes or default schemas,
column pairs chained through a script's intermediate tables, parse-only corpora counted."""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sqlweave.lineage import extract

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "lineage_corpus.py"


@pytest.fixture(scope="module")
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lineage_corpus", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def case(**fields: object) -> dict[str, object]:
    return {"id": "c", "dialect": None, "schema": None, "reads": None, "writes": None, **fields}


def test_default_schemas_quotes_and_case_do_not_count(harness: ModuleType) -> None:
    score = harness.score_case(
        case(
            sql='INSERT INTO "Sales".t SELECT a FROM s',
            reads=["<default>.S"],
            writes=["db.sales.T"],
        ),
        harness.DEFAULT_INDIRECT,
    )
    assert (score.tables.tp, score.tables.fp, score.tables.fn) == (2, 0, 0)


def test_a_missing_and_an_extra_table_are_reported(harness: ModuleType) -> None:
    score = harness.score_case(
        case(sql="INSERT INTO t SELECT a FROM s", reads=["s", "u"], writes=["x"]),
        harness.DEFAULT_INDIRECT,
    )
    assert (score.tables.tp, score.tables.fp, score.tables.fn) == (1, 1, 2)
    assert score.missing == ["r:u", "w:x"] and score.extra == ["w:t"]


def test_column_pairs_chain_through_an_intermediate_table(harness: ModuleType) -> None:
    sql = "CREATE TABLE mid AS SELECT a AS b FROM src; INSERT INTO out SELECT b AS c FROM mid"
    score = harness.score_case(
        case(sql=sql, reads=["src"], writes=["out"], columns=[[["src", "a"], ["out", "c"]]]),
        harness.DEFAULT_INDIRECT,
    )
    assert (score.tables.fp, score.tables.fn) == (0, 0)
    assert (score.columns.tp, score.columns.fp, score.columns.fn) == (1, 0, 0)


def test_writing_a_table_read_by_the_same_statement_is_not_a_loop(harness: ModuleType) -> None:
    statements = extract("INSERT INTO t SELECT MAX(t.v) + MIN(s.v) AS v FROM s JOIN t ON s.k = t.k")
    pairs = harness.actual_pairs(statements, harness.DEFAULT_INDIRECT)
    assert pairs == {"s.v -> t.v", "t.v -> t.v"}


def test_parse_only_corpus_counts_unparseable_statements(
    harness: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "fixtures.jsonl"
    lines = [
        case(id="ok", sql="SELECT a FROM t; SELECT (", parse_only=True),
        case(id="tsql", sql="SELECT 1", dialect="tsql", parse_only=True),
    ]
    corpus.write_text("".join(json.dumps(line) + "\n" for line in lines))
    try:
        assert harness.main([str(corpus)]) == 0
    finally:
        logging.disable(logging.NOTSET)  # main() quiets sqlglot's logging for its table
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in out if line.strip()}
    assert rows["postgres"] == ["1", "2", "0.500", "0.500", "0"]
    assert rows["tsql"] == ["1", "1", "0.000", "0.000", "0"]
