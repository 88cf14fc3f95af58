"""Completion logic without IPython: context analysis and matching against a real Session."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import sqlweave
from sqlweave.completion import Expect, SessionCatalog, analyze, complete


@pytest.fixture(scope="module")
def session():
    s = sqlweave.Session()
    s.register(
        "flights",
        pa.table({"dep_delay": [1.5], "carrier": ["AA"], "FlightDate": ["2024-01-01"]}),
    )
    s.register("fleet", pa.table({"tail": ["N1"], "seats": pa.array([180], pa.int32())}))
    yield s
    s.close()


NAMESPACE = {
    "flows": pd.DataFrame({"a": [1], "b": [2.0]}),
    "pl_frame": pl.DataFrame({"x": ["u"]}),
    "arrow_t": pa.table({"y": [True]}),
    "lo": 3,
    "label": "x",
    "_hidden": 1,
}


def _complete(session, marked: str, namespace=NAMESPACE):
    """Completions at the ``|`` in ``marked``: ``[(text, type), ...]`` and the start offset."""
    cursor = marked.index("|")
    sql = marked.replace("|", "", 1)
    found = complete(sql, cursor, SessionCatalog(session, namespace))
    return [(m.text, m.type) for m in found.matches], found.start


def test_table_prefix_lists_catalog_tables_and_notebook_frames(session):
    matches, start = _complete(session, "SELECT * FROM fl|")
    assert matches == [("fleet", "table"), ("flights", "table"), ("flows", "dataframe")]
    assert start == len("SELECT * FROM ")


def test_every_kind_of_notebook_variable_is_a_table(session):
    matches, _ = _complete(session, "SELECT * FROM |")
    kinds = dict(matches)
    assert kinds["pl_frame"] == "dataframe" and kinds["arrow_t"] == "arrow"
    assert "lo" not in kinds and "_hidden" not in kinds


def test_alias_member_lists_that_tables_columns_with_types(session):
    matches, start = _complete(session, "SELECT f.dep_de| FROM flights f")
    assert matches == [("dep_delay", "column double")]
    assert start == len("SELECT f.")


def test_mixed_case_column_is_inserted_quoted(session):
    matches, _ = _complete(session, "SELECT f.Fl| FROM flights f")
    assert matches == [('"FlightDate"', "column string")]


def test_bare_prefix_resolves_against_the_from_clause(session):
    matches, _ = _complete(session, "SELECT se| FROM flights JOIN fleet ON true")
    assert matches[0] == ("seats", "column int32")
    matches, _ = _complete(session, "SELECT se| FROM flights")
    assert ("seats", "column int32") not in matches


def test_dataframe_columns_come_from_its_dtypes(session):
    matches, _ = _complete(session, "SELECT g.| FROM flows g")
    assert matches == [("a", "column int64"), ("b", "column float64")]


def test_keywords_follow_the_users_letter_case(session):
    assert _complete(session, "SEL|")[0] == [("SELECT", "keyword")]
    assert _complete(session, "sel|")[0] == [("select", "keyword")]
    assert ("where", "keyword") in _complete(session, "SELECT * FROM flights w|")[0]


def test_engine_functions_are_offered_in_expressions(session):
    matches, _ = _complete(session, "SELECT approx_dis| FROM flights")
    assert matches == [("approx_distinct", "function aggregate")]


def test_cte_names_and_columns(session):
    sql = "WITH late AS (SELECT carrier, dep_delay AS d FROM flights) SELECT {} FROM {}"
    assert _complete(session, sql.format("*", "la|"))[0][0] == ("late", "cte")
    members, _ = _complete(session, sql.format("late.|", "late"))
    assert members == [("carrier", "column"), ("d", "column")]
    bare, _ = _complete(session, sql.format("|", "late"))
    assert bare[:2] == [("carrier", "column"), ("d", "column")]
    assert ("dep_delay", "column double") not in bare  # the CTE body is another scope


def test_star_cte_expands_from_its_source(session):
    matches, _ = _complete(session, "WITH c AS (SELECT * FROM fleet) SELECT c.| FROM c")
    assert matches == [("tail", "column string"), ("seats", "column int32")]


def test_parameters_come_from_scalar_variables(session):
    matches, start = _complete(session, "SELECT * FROM flights WHERE dep_delay > :l|")
    assert matches == [("label", "parameter str"), ("lo", "parameter int")]
    assert start == len("SELECT * FROM flights WHERE dep_delay > :")
    # a cast, not a parameter
    assert _complete(session, "SELECT dep_delay::BIG|")[0] == [("BIGINT", "type")]
    assert _complete(session, "SELECT CAST(dep_delay AS bi|")[0] == [("bigint", "type")]


def test_nothing_inside_strings_and_comments(session):
    assert _complete(session, "SELECT 'fl|")[0] == []
    assert _complete(session, "SELECT 1 -- fl|")[0] == []


def test_statement_under_the_cursor_is_the_one_analysed(session):
    matches, _ = _complete(session, "SELECT * FROM fleet; SELECT se| FROM flights")
    assert ("seats", "column int32") not in matches


def test_subquery_alias_columns(session):
    matches, _ = _complete(session, "SELECT s.| FROM (SELECT dep_delay AS dd FROM flights) s")
    assert matches == [("dd", "column")]


@pytest.mark.parametrize(
    "marked, expect",
    [
        ("|", Expect.KEYWORD),
        ("SELECT |", Expect.COLUMN),
        ("SELECT count(|", Expect.COLUMN),
        ("SELECT a FROM |", Expect.TABLE),
        ("SELECT a FROM t, |", Expect.TABLE),
        ("SELECT a FROM t |", Expect.KEYWORD),
        ("SELECT a FROM t JOIN u ON |", Expect.COLUMN),
        ("SELECT a FROM (|", Expect.KEYWORD),
        ("SELECT a FROM t WHERE x IN (SELECT b FROM u) AND |", Expect.COLUMN),
        ("INSERT INTO |", Expect.TABLE),
        ("SELECT '|", Expect.NOTHING),
    ],
)
def test_expectation(marked, expect):
    cursor = marked.index("|")
    assert analyze(marked.replace("|", ""), cursor).expect is expect


@pytest.mark.parametrize(
    "text",
    [
        "SELECT (((",
        'SELECT * FROM "unterminated',
        "WITH x AS (SELECT",
        "WITH RECURSIVE",
        ")))) SELECT",
        "SELECT a. . .",
        "/* open comment",
        ":",
        "",
        "SELECT * FROM t AS",
        "WITH a(x, y) AS",
    ],
)
def test_half_typed_statements_never_raise(session, text):
    for cursor in range(len(text) + 1):
        complete(text, cursor, SessionCatalog(session, NAMESPACE))


def test_failing_engine_gives_no_tables_not_an_error():
    class Broken:
        engine = object()

        def tables(self):
            raise RuntimeError("engine gone")

        def registered_files(self):
            raise RuntimeError("engine gone")

    matches, _ = _complete(Broken(), "SELECT * FROM fl|")
    assert matches == [("flows", "dataframe")]


def test_catalog_is_reread_when_the_generation_changes(session):
    catalog = SessionCatalog(session)
    catalog.refresh({}, 1)
    before = {t.name for t in catalog.tables()}
    session.register("later", pa.table({"z": [1]}))
    try:
        catalog.refresh({}, 1)
        assert "later" not in {t.name for t in catalog.tables()}  # cached within a generation
        catalog.refresh({}, 2)
        assert {t.name for t in catalog.tables()} == before | {"later"}
    finally:
        session.deregister("later")


def test_after_a_table_the_continuing_clauses_come_first(session):
    matches, _ = _complete(session, "SELECT * FROM flights |")
    assert [m for m, _ in matches[:3]] == ["AS", "WHERE", "JOIN"]


def test_duckdb_functions_and_tables():
    with sqlweave.Session(engine="duckdb") as s:
        s.sql("CREATE TABLE trips AS SELECT 1::INTEGER AS trip_id, 2.5::DOUBLE AS fare")
        catalog = SessionCatalog(s)
        assert complete("SELECT * FROM tr", 16, catalog).matches[0].type == "table"
        found = complete("SELECT t.fa FROM trips t", 11, catalog).matches
        assert [(m.text, m.type) for m in found] == [("fare", "column double")]
        found = complete("SELECT list_distin FROM trips", 18, catalog).matches
        assert ("list_distinct", "function") in [(m.text, m.type) for m in found]


def test_registered_files_are_tables_of_kind_file(tmp_path):
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"fare": [2.5]}), tmp_path / "trips.parquet")
    with sqlweave.Session() as s:
        s.register("trips", str(tmp_path / "trips.parquet"))
        matches, _ = _complete(s, "SELECT * FROM tri|", {})
        assert matches == [("trips", "file")]
        assert _complete(s, "SELECT t.| FROM trips t", {})[0] == [("fare", "column double")]


def test_variables_are_judged_by_their_type_not_by_touching_them(session):
    class Lazy:
        touched = 0

        def __getattr__(self, name):
            Lazy.touched += 1
            raise AttributeError(name)

    matches, _ = _complete(session, "SELECT * FROM la|", {"lazy": Lazy(), "label": "x"})
    assert matches == [] and Lazy.touched == 0


def test_a_failing_catalog_is_not_asked_again_at_every_keystroke():
    class Down:
        engine = object()
        calls = 0

        def tables(self):
            Down.calls += 1
            raise TimeoutError("coordinator did not answer")

        def registered_files(self):
            return {}

    catalog = SessionCatalog(Down())
    for generation in range(3):  # cells ran in between: normally a re-read each time
        catalog.refresh({}, generation)
        assert complete("SELECT * FROM t", 15, catalog).matches == ()
    assert Down.calls == 1


def test_completion_package_never_imports_ipython():
    import subprocess
    import sys

    code = (
        "import sys, sqlweave.completion\nassert 'IPython' not in sys.modules, 'IPython imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
