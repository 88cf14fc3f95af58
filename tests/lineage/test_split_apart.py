"""Where the lineage splitter and the statement model must split a script differently
(ARCHITECTURE.md, "One statement model, two splitters"): lineage opens procedural bodies,
honours ``GO`` and recovers after an untokenizable piece; running SQL hands such text whole
to the engine."""

import pytest
from sqlglot.dialects.dialect import Dialect

from sqlweave import statements
from sqlweave.lineage import split as lineage_split

CASES = [
    (
        "SELECT 'oops; CREATE TABLE b AS SELECT 1",
        ["SELECT 'oops; CREATE TABLE b AS SELECT 1"],
        ["SELECT 'oops", "CREATE TABLE b AS SELECT 1"],
    ),
    (
        "CREATE PROCEDURE p() BEGIN INSERT INTO a SELECT * FROM b; DELETE FROM c; END",
        ["CREATE PROCEDURE p() BEGIN INSERT INTO a SELECT * FROM b", "DELETE FROM c", "END"],
        ["INSERT INTO a SELECT * FROM b", "DELETE FROM c"],
    ),
    ("SELECT 1\nGO\nSELECT 2", ["SELECT 1\nGO\nSELECT 2"], ["SELECT 1", "SELECT 2"]),
]


@pytest.mark.parametrize(("script", "to_run", "for_lineage"), CASES)
def test_running_and_lineage_split_apart_where_documented(script, to_run, for_lineage):
    chunks = lineage_split.split(script, Dialect.get_or_raise("postgres"))
    assert [s.text for s in statements.split(script)] == to_run
    assert [script[c.start : c.end] for c in chunks] == for_lineage


def test_plain_scripts_split_the_same_way_for_running_and_lineage():
    script = "CREATE TABLE t AS SELECT ';' AS a; -- x;\nINSERT INTO t SELECT a FROM t;SELECT 1"
    chunks = lineage_split.split(script, Dialect.get_or_raise("postgres"))
    assert [script[c.start : c.end] for c in chunks] == [s.text for s in statements.split(script)]
