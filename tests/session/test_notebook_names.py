"""Notebook variables and catalog tables: a statement's target is never a variable, a catalog
table of the same name wins (and the result says so), quoted mixed-case names work."""

from __future__ import annotations

import pandas as pd
import pytest

import sqlweave

ENGINES = ["local", "duckdb"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_statement_target_is_never_a_notebook_variable(engine):
    s = sqlweave.Session(engine)
    ns = {"df": pd.DataFrame({"a": [1, 2, 3]})}
    assert s.sql("CREATE TABLE df AS SELECT 100 AS a", namespace=ns).message == "created table df"
    r = s.sql("SELECT a FROM df", namespace=ns)
    assert r.to_arrow().to_pylist() == [{"a": 100}] and r.notices  # the catalog table, said so
    s.sql("INSERT INTO df VALUES (5)", namespace=ns)
    assert s.sql("SELECT count(*) AS n FROM df").to_arrow().to_pylist() == [{"n": 2}]
    assert s.tables() == ["df"]
    s.deregister("df")
    assert s.tables() == []
    assert len(ns["df"]) == 3  # the variable was never touched


@pytest.mark.parametrize("engine", ENGINES)
def test_a_dropped_table_is_never_a_notebook_variable(engine):
    s = sqlweave.Session(engine)
    ns = {"df": pd.DataFrame({"a": [1, 2, 3]})}
    with pytest.raises(sqlweave.SqlError):  # not "dropped df": there is no such table
        s.sql("DROP TABLE df", namespace=ns)
    s.sql("DROP TABLE IF EXISTS df", namespace=ns)
    assert s.tables() == [] and len(ns["df"]) == 3


def test_duckdb_catalog_wins_case_insensitively():
    s = sqlweave.Session("duckdb")
    s.sql("CREATE TABLE Sales AS SELECT 1 AS a")
    r = s.sql("SELECT a FROM sales", namespace={"sales": pd.DataFrame({"a": [9]})})
    assert r.to_arrow().to_pylist() == [{"a": 1}] and r.notices


@pytest.mark.parametrize("engine", ENGINES)
def test_mixed_case_names(engine):
    s = sqlweave.Session(engine)
    ns = {"MyDf": pd.DataFrame({"x": [7]})}
    assert s.sql('SELECT x FROM "MyDf"', namespace=ns).to_arrow().to_pylist() == [{"x": 7}]
    s.register("MyT", pd.DataFrame({"q": [1]}))
    assert s.sql('SELECT q FROM "MyT"').to_arrow().to_pylist() == [{"q": 1}]


def test_switching_to_the_engine_in_use_keeps_its_tables():
    s = sqlweave.Session("duckdb")
    s.sql("CREATE TABLE keep AS SELECT 1 AS a")
    s.set_engine("duckdb")
    assert s.tables() == ["keep"]


#: everyday variable names sqlglot reads as keywords or functions; the engines take them as tables
KEYWORD_NAMES = [
    "values",
    "temp",
    "view",
    "index",
    "range",
    "date",
    "time",
    "first",
    "format",
    "filter",
    "type",
    "text",
    "json",
    "map",
    "struct",
    "list",
    "set",
    "rows",
    "schema",
    "nullable",
]


@pytest.mark.parametrize("engine", ENGINES)
def test_dataframes_named_like_keywords_are_queryable(engine):
    s = sqlweave.Session(engine)
    failed = []
    for name in KEYWORD_NAMES:
        ns = {name: pd.DataFrame({"a": [1, 2]})}
        try:
            rows = s.sql(f"SELECT count(*) AS c FROM {name}", namespace=ns).to_arrow().to_pylist()
        except sqlweave.SqlError as exc:
            failed.append((name, str(exc)))
            continue
        if rows != [{"c": 2}]:
            failed.append((name, rows))
    assert failed == []
    assert s.tables() == []  # registered for the statement only


@pytest.mark.parametrize("engine", ENGINES)
def test_keyword_named_dataframe_with_alias_and_join(engine):
    s = sqlweave.Session(engine)
    ns = {"temp": pd.DataFrame({"a": [1, 2]}), "time": pd.DataFrame({"a": [2, 3]})}
    r = s.sql("SELECT t.a FROM temp t JOIN time x ON t.a = x.a", namespace=ns)
    assert r.to_arrow().to_pylist() == [{"a": 2}]
    # the DataFrame never stands in for a statement's target
    with pytest.raises(sqlweave.SqlError):
        s.sql("DROP TABLE temp", namespace=ns)
    assert len(ns["temp"]) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_reserved_word_dataframe_names_work_quoted(engine):
    s = sqlweave.Session(engine)
    for name in ("table", "window", "array"):
        ns = {name: pd.DataFrame({"a": [1, 2, 3]})}
        r = s.sql(f'SELECT count(*) AS c FROM "{name}"', namespace=ns)
        assert r.to_arrow().to_pylist() == [{"c": 3}]
