"""DuckDB registers a statement's notebook DataFrames with the statement itself (one wait
for its thread instead of three): what a statement and the catalog see stays the same."""

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
