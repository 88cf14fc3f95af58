"""The project warehouse: tables saved as Parquet outlive the session that made them."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from IPython.core.interactiveshell import InteractiveShell

import sqlweave
from sqlweave import warehouse as warehouse_module
from sqlweave.errors import SqlError, UsageError

ENGINES = ["local", "duckdb"]


def rows(session: sqlweave.Session, sql: str) -> list[dict]:
    return session.sql(sql).to_arrow().to_pylist()


@pytest.mark.parametrize("engine", ENGINES)
def test_tables_outlive_the_session_and_changes_are_saved(engine: str, tmp_path: Path) -> None:
    with sqlweave.Session(engine, warehouse=tmp_path) as first:
        first.sql("CREATE TABLE t AS SELECT 1 AS x; INSERT INTO t VALUES (2)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]
    with sqlweave.Session(engine, warehouse=tmp_path) as second:
        assert rows(second, "SELECT x FROM t ORDER BY x") == [{"x": 1}, {"x": 2}]
        second.sql("INSERT INTO t VALUES (3)")  # into a table loaded from its file
    with sqlweave.Session(engine, warehouse=tmp_path) as third:
        assert rows(third, "SELECT count(*) AS n FROM t") == [{"n": 3}]
        third.sql("DROP TABLE t")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_rerunning_create_table_replaces_the_saved_version(engine: str, tmp_path: Path) -> None:
    sqlweave.Session(engine, warehouse=tmp_path).sql("CREATE TABLE t AS SELECT 1 AS x")
    sqlweave.Session(engine, warehouse=tmp_path).sql("CREATE TABLE t AS SELECT 7 AS x")
    assert pq.read_table(tmp_path / "t.parquet").to_pylist() == [{"x": 7}]
    same = sqlweave.Session(engine, warehouse=tmp_path)
    same.sql("CREATE TABLE u AS SELECT 1 AS y")
    with pytest.raises(SqlError):  # made in this session: an ordinary "already exists"
        same.sql("CREATE TABLE u AS SELECT 2 AS y")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failed_statement_leaves_the_previous_version(engine: str, tmp_path: Path) -> None:
    sqlweave.Session(engine, warehouse=tmp_path).sql("CREATE TABLE t AS SELECT 1 AS x")
    session = sqlweave.Session(engine, warehouse=tmp_path)
    with pytest.raises(SqlError):
        session.sql("CREATE TABLE t AS SELECT no_such_column FROM t")
    assert rows(session, "SELECT x FROM t") == [{"x": 1}]  # still registered
    assert pq.read_table(tmp_path / "t.parquet").to_pylist() == [{"x": 1}]


def test_an_interrupted_write_leaves_the_previous_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlweave.Session(warehouse=tmp_path).sql("CREATE TABLE t AS SELECT 1 AS x")

    def torn_write(table, where, **kwargs) -> None:  # half a file, then the interrupt
        Path(where).write_bytes(b"PAR1 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(warehouse_module.pq, "write_table", torn_write)
    session = sqlweave.Session(warehouse=tmp_path)
    with pytest.raises(KeyboardInterrupt):
        session.sql("CREATE TABLE t AS SELECT 2 AS x")
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temporary left
    monkeypatch.undo()
    assert rows(sqlweave.Session(warehouse=tmp_path), "SELECT x FROM t") == [{"x": 1}]


def test_bad_names_and_folders_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="cannot use"):
        sqlweave.Session(warehouse=tmp_path / "file" / "sub")
    with pytest.raises(UsageError, match="not a plain table name"):
        warehouse_module.Warehouse(tmp_path / "w").file("../escape")


def test_magic_config_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ip = InteractiveShell.instance()
    try:
        ip.run_line_magic("load_ext", "sqlweave")
        ip.run_line_magic("config", f"SqlWeave.warehouse = {str(tmp_path)!r}")
        ip.run_cell_magic("sql", "", "CREATE TABLE kept AS SELECT 5 AS v")
        assert (tmp_path / "kept.parquet").exists()
        ip.run_line_magic("unload_ext", "sqlweave")
        ip.config.pop("SqlWeave", None)
        monkeypatch.setenv(warehouse_module.WAREHOUSE_ENV, str(tmp_path))
        ip.run_line_magic("load_ext", "sqlweave")
        assert ip.run_cell_magic("sql", "", "SELECT v FROM kept").to_arrow().to_pylist() == [
            {"v": 5}
        ]
    finally:
        ip.run_line_magic("unload_ext", "sqlweave")
        ip.config.pop("SqlWeave", None)
        InteractiveShell.clear_instance()


@pytest.mark.parametrize("engine", ENGINES)
def test_views_outlive_the_session_in_dependency_order(engine: str, tmp_path: Path) -> None:
    with sqlweave.Session(engine, warehouse=tmp_path) as first:
        first.sql(
            "CREATE TABLE t AS SELECT 1 AS x UNION ALL SELECT 2;"
            # named so that alphabetical order would create the outer view first
            "CREATE VIEW b_inner AS SELECT x * 10 AS y FROM t;"
            "CREATE VIEW a_outer AS SELECT y + 1 AS z FROM b_inner"
        )
        if engine == "duckdb":  # DataFusion has no temporary views
            first.sql("CREATE TEMP VIEW scratch AS SELECT 1 AS s")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a_outer.view.sql",
        "b_inner.view.sql",
        "t.parquet",
    ]
    with sqlweave.Session(engine, warehouse=tmp_path) as second:
        assert rows(second, "SELECT z FROM a_outer ORDER BY z") == [{"z": 11}, {"z": 21}]
        second.sql("CREATE VIEW b_inner AS SELECT x * 100 AS y FROM t")  # re-run: replaced
        second.sql("DROP VIEW a_outer")
    assert "x * 100" in (tmp_path / "b_inner.view.sql").read_text()
    with sqlweave.Session(engine, warehouse=tmp_path) as third:
        assert rows(third, "SELECT y FROM b_inner ORDER BY y") == [{"y": 100}, {"y": 200}]
        assert not third.engine.has_table("a_outer") and not third.engine.has_table("scratch")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_view_that_no_longer_runs_is_named_and_the_others_load(
    engine: str, tmp_path: Path
) -> None:
    with sqlweave.Session(engine, warehouse=tmp_path) as first:
        first.sql("CREATE TABLE t AS SELECT 1 AS x; CREATE TABLE gone AS SELECT 2 AS g")
        first.sql("CREATE VIEW good AS SELECT x FROM t; CREATE VIEW stale AS SELECT g FROM gone")
    (tmp_path / "gone.parquet").unlink()  # its table went away behind the warehouse's back
    with pytest.warns(
        warehouse_module.WarehouseWarning, match=r"view stale saved in the ware"
    ) as w:
        session = sqlweave.Session(engine, warehouse=tmp_path)
    assert w[0].filename == str(tmp_path / "stale.view.sql")  # shown with the view's SQL
    assert session.warehouse is not None and list(session.warehouse.broken_views) == ["stale"]
    assert "gone" in session.warehouse.broken_views["stale"]
    assert rows(session, "SELECT x FROM good") == [{"x": 1}]
    with pytest.raises(SqlError, match="stale is a view saved in the warehouse that could not"):
        session.sql("SELECT * FROM stale")
    session.close()


def test_a_view_binding_notebook_parameters_stays_in_its_session(tmp_path: Path) -> None:
    with sqlweave.Session(warehouse=tmp_path) as session:
        session.sql("CREATE TABLE t AS SELECT 1 AS x")
        session.sql("CREATE VIEW v AS SELECT x FROM t WHERE x >= :lo", params={"lo": 0})
    assert not (tmp_path / "v.view.sql").exists()
