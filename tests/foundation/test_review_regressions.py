"""Regressions found in review: each test failed before its fix."""

from __future__ import annotations

import math
import stat
import subprocess
import sys
import threading

import nbformat
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

import sqlweave
from sqlweave.errors import ExecutionError, ParseError
from sqlweave.lineage.capture import LineageCapture
from sqlweave.runner import inject_parameters, parse_parameter

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


@pytest.mark.parametrize("engine", ENGINES)
def test_parameters_glued_to_operators(engine):
    s = sqlweave.Session(engine)
    r = s.sql("SELECT -:x AS a, 2<>:x AS b, 1 WHERE 2=:x", namespace={"x": 2})
    assert r.to_arrow().to_pylist()[0]["a"] == -2


@pytest.mark.parametrize(
    ("sql", "kind", "message"),
    [
        ("SELECT 1/0", ExecutionError, "Divide by zero error"),
        ("SELECT CAST('a' AS INT)", ExecutionError, "Cast error: Cannot cast string 'a'"),
        ("SELECT 'abc", ParseError, "Unterminated string literal"),
    ],
)
def test_datafusion_error_classes(sql, kind, message):
    with pytest.raises(kind) as err:
        sqlweave.Session().sql(sql)
    assert str(err.value).startswith(message)


def test_switching_to_the_engine_in_use_keeps_its_tables():
    s = sqlweave.Session("duckdb")
    s.sql("CREATE TABLE keep AS SELECT 1 AS a")
    s.set_engine("duckdb")
    assert s.tables() == ["keep"]


def test_background_lineage_expands_star_over_a_dataframe():
    s = sqlweave.Session()
    capture = LineageCapture(background=True)
    s.add_listener(capture)
    s.sql(
        "CREATE TABLE c AS SELECT * FROM df", namespace={"df": pd.DataFrame({"p": [1], "q": [2]})}
    )
    capture.close()
    assert capture.graph.columns("c") == ("p", "q")  # not "*": the frame's columns were known


def test_reloading_the_extension_leaks_no_threads():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlweave")
    for _ in range(3):
        ip.run_line_magic("reload_ext", "sqlweave")
    ip.run_line_magic("unload_ext", "sqlweave")
    alive = [t for t in threading.enumerate() if t.name == "sqlweave-lineage" and t.is_alive()]
    for t in alive:
        t.join(timeout=2)
    assert not [t for t in alive if t.is_alive()]


def test_bad_config_is_refused_and_does_not_break_a_reload():
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "sqlweave")
    try:
        ip.run_cell("%config SqlWeave.display_limit = -1")
        ip.config.SqlWeave.display_limit = -1  # as if it came from a config file
        assert ip.run_cell("%reload_ext sqlweave").success
        assert ip.run_line_magic("sql", "SELECT 1 AS x").display_limit == 20
    finally:
        ip.run_line_magic("unload_ext", "sqlweave")
        ip.config.pop("SqlWeave", None)


def test_non_finite_parameters_inject_as_valid_python():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    inject_parameters(nb, dict([parse_parameter("x=nan"), parse_parameter("y=-inf")]))
    ns: dict = {}
    exec(nb.cells[0].source, {}, ns)
    assert math.isnan(ns["x"]) and ns["y"] == -math.inf


def _notebook(tmp_path, source: str):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell("print('after')")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.process
@pytest.mark.parametrize(
    ("source", "args", "said"),
    [
        ("import time; time.sleep(60)", ["--timeout", "3"], "cell timed out after 3 s"),
        ("import os; os._exit(3)", [], "the kernel died"),
    ],
    ids=["timeout", "dead-kernel"],
)
def test_run_stops_on_timeout_and_dead_kernel(tmp_path, source, args, said):
    path = _notebook(tmp_path, source)
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "sqlweave.cli", "run", str(path), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert said in proc.stderr and source in proc.stderr
    assert nbformat.read(out, as_version=4).cells[1].get("execution_count") is None
    assert stat.S_IMODE(out.stat().st_mode) & 0o044  # an ordinary file, not 0600


def test_background_lineage_uses_the_schema_at_statement_time():
    s = sqlweave.Session()
    capture = LineageCapture(background=True)
    s.add_listener(capture)
    s.sql(
        "CREATE OR REPLACE TABLE t AS SELECT 1 AS a;"
        " CREATE TABLE u AS SELECT * FROM t;"
        " CREATE OR REPLACE TABLE t AS SELECT 2 AS b"
    )
    capture.close()
    assert capture.graph.columns("u") == ("a",)


def test_statements_after_quoted_tokens_keep_their_offsets():
    from sqlweave.statements import split

    script = '"t"; \'a\'; SELECT "x" FROM t'
    assert [(st.text, st.start) for st in split(script)] == [
        ('"t"', 0),
        ("'a'", 5),
        ('SELECT "x" FROM t', 10),
    ]
