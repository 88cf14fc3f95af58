"""The magics through a real InteractiveShell (run_cell / run_cell_magic)."""

import pandas as pd
import pytest
from IPython.core.error import UsageError

from sqlweave.engines.killable import Killable
from sqlweave.errors import PlanError
from sqlweave.result import Result


def test_cell_magic_assigns_and_sets_underscore(ip):
    ip.run_cell("%%sql totals <<\nSELECT 1 AS a UNION ALL SELECT 2", store_history=True)
    assert isinstance(ip.user_ns["totals"], Result)
    assert sorted(ip.user_ns["totals"].to_arrow().column("a").to_pylist()) == [1, 2]
    assert ip.user_ns["_"] is ip.user_ns["totals"]


def test_line_magic_assignment(ip):
    ip.run_cell("x = %sql SELECT 40 + 2 AS answer")
    assert ip.user_ns["x"].to_arrow().to_pylist() == [{"answer": 42}]


def test_multi_statement_cell_prints_what_it_did(ip, capsys):
    r = ip.run_cell_magic(
        "sql",
        "",
        "CREATE TABLE t AS SELECT 1 AS a;\nINSERT INTO t VALUES (5);\nSELECT sum(a) AS s FROM t",
    )
    assert r.to_arrow().to_pylist() == [{"s": 6}]
    assert capsys.readouterr().out.splitlines() == ["created table t", "inserted 1 row into t"]


def test_dataframes_and_parameters_from_the_notebook(ip):
    ip.user_ns["people"] = pd.DataFrame({"name": ["ada", "bob"], "age": [36, 17]})
    ip.user_ns["adult"] = 18
    r = ip.run_cell_magic("sql", "", "SELECT name FROM people WHERE age >= :adult")
    assert r.to_arrow().to_pylist() == [{"name": "ada"}]


def test_sql_error_fails_the_cell_without_a_traceback(ip, capsys):
    result = ip.run_cell("%%sql\nSELECT *\nFROM nowhere")
    assert isinstance(result.error_in_exec, PlanError)
    err = capsys.readouterr()
    shown = err.out + err.err
    assert "table nowhere not found" in shown
    assert "Traceback" not in shown and "site-packages" not in shown
    # the shell is fine afterwards
    assert ip.run_cell("%sql SELECT 1").success


def test_bad_arguments_raise_usage_error(ip):
    with pytest.raises(UsageError, match="unknown option"):
        ip.run_line_magic("sql", "--bogus SELECT 1")
    with pytest.raises(UsageError, match="no SQL"):
        ip.run_cell_magic("sql", "", "   ")
    with pytest.raises(UsageError, match="unknown command"):
        ip.run_line_magic("sqlweave", "frobnicate")
    with pytest.raises(UsageError, match="register needs"):
        ip.run_line_magic("sqlweave", "register onlyname")
    with pytest.raises(UsageError, match="unknown engine"):
        ip.run_line_magic("sqlweave", "engine oracle")


def test_config_display_limit(ip):
    ip.run_line_magic("config", "SqlWeave.display_limit = 3")
    r = ip.run_line_magic("sql", "SELECT * FROM generate_series(1, 100) AS g(v)")
    assert "showing first 3" in repr(r)
    r = ip.run_line_magic("sql", "--limit 5 SELECT * FROM generate_series(1, 100) AS g(v)")
    assert "showing first 5" in repr(r)


def test_catalog_commands_and_engine_switch(ip, tmp_path, capsys):
    (tmp_path / "p.csv").write_text("id,name\n1,ada\n")
    ip.run_line_magic("sqlweave", f"register people {tmp_path / 'p.csv'}")
    tables = ip.run_line_magic("sqlweave", "tables")
    assert tables.to_arrow().column("table").to_pylist() == ["people"]
    desc = ip.run_line_magic("sqlweave", "describe people")
    assert desc.to_arrow().column("column").to_pylist() == ["id", "name"]
    ip.run_line_magic("sqlweave", "engine duckdb")
    r = ip.run_line_magic("sql", "SELECT name FROM people")
    assert r.engine == "duckdb" and r.to_arrow().column(0).to_pylist() == ["ada"]
    assert "engine: duckdb" in capsys.readouterr().out


def test_config_killable_joins_reaches_the_embedded_engine(ip, caplog):
    """%config SqlWeave.killable_joins sets which joins the embedded engine runs in a
    killable child, and survives an engine switch."""

    def engine():
        return ip.magics_manager.registry["SqlWeave"].session.engine

    assert engine().killable is Killable.NESTED_LOOP
    ip.run_line_magic("config", "SqlWeave.killable_joins = 'joins'")
    assert engine().killable is Killable.JOINS
    ip.run_line_magic("sqlweave", "engine duckdb")
    ip.run_line_magic("sqlweave", "engine local")
    assert engine().killable is Killable.JOINS
    ip.run_cell("%config SqlWeave.killable_joins = 'hash'")
    assert "SqlWeave.killable_joins must be one of" in caplog.text
    assert engine().killable is Killable.JOINS
    engine().child_min_pairs = 1  # so that this small hash join goes to the child
    ip.user_ns["a"] = pd.DataFrame({"k": [1, 1, 2]})
    ip.user_ns["b"] = pd.DataFrame({"k": [1, 2, 2]})
    try:
        r = ip.run_line_magic("sql", "SELECT count(*) AS n FROM a JOIN b USING (k)")
        assert r.to_arrow().to_pylist() == [{"n": 4}]
        assert engine().child_pid is not None
    finally:
        engine().close()
