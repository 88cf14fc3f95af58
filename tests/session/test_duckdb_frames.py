"""DuckDB reads a statement's notebook DataFrames as its own replacement scan reads Python
variables (the statement runs in a frame whose only variables are those DataFrames): no
catalog change around each statement, and every statement binds the frame afresh. What a
statement and the catalog listing see stays what registering them showed."""

from __future__ import annotations

import pyarrow as pa
import pytest

import sqlweave
from sqlweave.engines.duck import DuckDBEngine


@pytest.fixture
def engine():
    e = DuckDBEngine()
    yield e
    e.close()


def test_a_registered_frame_is_seen_by_the_next_use_of_the_connection(engine) -> None:
    engine.register_frame("f", pa.table({"x": [1, 2]}))
    assert engine.has_table("f")
    assert "f" in engine.tables()  # listing the catalog is a use too
    assert engine.execute("SELECT sum(x) AS s FROM f").to_pylist() == [{"s": 3}]
    assert engine.schema("f").names == ["x"]


def test_an_unregistered_frame_is_gone_for_the_next_use(engine) -> None:
    engine.register_frame("f", pa.table({"x": [1]}))
    engine.execute("SELECT * FROM f")
    engine.unregister_frame("f")
    assert not engine.has_table("f")
    assert "f" not in engine.tables()
    with pytest.raises(sqlweave.errors.PlanError, match="f"):
        engine.execute("SELECT * FROM f")


def test_a_frame_unregistered_before_any_use_never_reaches_duckdb(engine) -> None:
    engine.register_frame("f", pa.table({"x": [1]}))
    engine.unregister_frame("f")
    assert "f" not in engine.tables()


def test_the_same_name_registered_again_reads_the_new_frame(engine) -> None:
    for value in (1, 2, 3):
        engine.register_frame("f", pa.table({"x": [value]}))
        assert engine.execute("SELECT x FROM f").to_pylist() == [{"x": value}]
        engine.unregister_frame("f")


def test_session_statements_over_frames_leave_nothing_behind() -> None:
    import pandas as pd

    s = sqlweave.Session("duckdb")
    try:
        df = pd.DataFrame({"a": [1, 2, 3]})
        for _ in range(3):
            got = s.sql("SELECT sum(a) AS s FROM df", namespace={"df": df}).to_arrow()
            assert got.to_pylist() == [{"s": 6}]
        with pytest.raises(sqlweave.errors.SqlError):
            s.sql("SELECT nope FROM df", namespace={"df": df})
        assert "df" not in s.tables()
    finally:
        s.close()


def test_the_kept_table_list_follows_every_change(engine) -> None:
    assert not engine.has_table("t")
    assert engine.tables() == []
    engine.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert engine.tables() == ["t"]
    engine.register_frame("f", pa.table({"x": [1]}))
    assert engine.tables() == ["f", "t"]
    engine.unregister_frame("f")
    assert engine.tables() == ["t"]
    engine.register_arrow("a", pa.table({"x": [1]}))
    engine.execute("CREATE VIEW v AS SELECT * FROM t")
    assert engine.tables() == ["a", "t", "v"]
    engine.execute("DROP VIEW v")
    engine.deregister("a")
    assert engine.tables() == ["t"]


def test_lineage_sees_a_frames_columns_without_asking_the_engine(monkeypatch) -> None:
    import pandas as pd

    events = []
    s = sqlweave.Session("duckdb")
    s.add_listener(events.append)
    try:
        asked: list[str] = []
        real = s.engine.schema
        monkeypatch.setattr(s.engine, "schema", lambda name: asked.append(name) or real(name))
        s.sql("CREATE TABLE t AS SELECT 1 AS k")
        asked.clear()
        df = pd.DataFrame({"k": [1], "v": [2.0]})
        s.sql("SELECT * FROM df JOIN t USING (k)", namespace={"df": df})
        assert events[-1].catalog == {"df": ["k", "v"], "t": ["k"]}
        assert asked == ["t"]  # the catalog table only
        dup = pd.DataFrame([[1, 2]], columns=["a", "a"])  # DuckDB names these its own way
        s.sql("SELECT * FROM dup", namespace={"dup": dup})
        assert asked[-1] == "dup"  # asked: the engine says what it calls them
        assert len(events[-1].catalog["dup"]) == 2
    finally:
        s.close()


def test_frames_never_enter_duckdbs_catalog(engine) -> None:
    engine.register_frame("f", pa.table({"x": [1]}))
    views = engine.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
    assert views.num_rows == 0
    assert engine.tables() == ["f"] and engine.has_table("F")  # yet listed as a table


def test_a_name_written_in_another_case_reads_the_frame() -> None:
    import pandas as pd

    s = sqlweave.Session("duckdb")
    try:
        ns = {"Flights": pd.DataFrame({"a": [1, 2]})}
        # sqlweave registers an unquoted name lower-cased; DuckDB's scan looks it up as written
        got = s.sql("SELECT sum(a) AS s FROM Flights", namespace=ns).to_arrow().to_pylist()
        assert got == [{"s": 3}]
        assert "flights" not in s.tables() and "Flights" not in s.tables()
    finally:
        s.close()


def test_the_engine_reads_a_frame_by_any_case_of_its_name(engine) -> None:
    engine.register_frame("flights", pa.table({"a": [1, 2]}))
    got = engine.execute("SELECT sum(a) AS s FROM FLIGHTS")
    assert got.to_pylist() == [{"s": 3}]
    assert engine.execute("SELECT count(*) AS n FROM duckdb_views() WHERE NOT internal")[
        "n"
    ].to_pylist() == [0]  # registered for that one run only


def test_frames_are_read_with_duckdbs_variable_scan_turned_off() -> None:
    import pandas as pd

    s = sqlweave.Session("duckdb")
    try:
        s.sql("SET python_enable_replacements = false")
        df = pd.DataFrame({"a": [1, 2]})
        got = s.sql("SELECT sum(a) AS s FROM df", namespace={"df": df}).to_arrow().to_pylist()
        assert got == [{"s": 3}]
        df.loc[0, "a"] = 10
        got = s.sql("SELECT sum(a) AS s FROM df", namespace={"df": df}).to_arrow().to_pylist()
        assert got == [{"s": 12}]
        assert "df" not in s.tables()
    finally:
        s.close()


@pytest.mark.parametrize("name", ["sql", "params", "self", "frames"])
def test_the_engines_own_variables_are_not_tables(engine, name: str) -> None:
    engine.register_frame("f", pa.table({"x": [1]}))
    with pytest.raises(sqlweave.errors.PlanError, match=f"{name} does not exist"):
        engine.execute(f"SELECT * FROM {name}")
