"""LineageCapture as a listener of a real Session (no IPython), with the real extraction."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlweave.errors import SqlError
from sqlweave.lineage.capture import CellContext, LineageCapture
from sqlweave.lineage.model import ColumnRef
from sqlweave.lineage.store import LineageStore
from sqlweave.session import Session


@pytest.fixture
def session():
    with Session(engine="local") as s:
        yield s


def test_session_statements_become_runs(session, tmp_path: Path) -> None:
    cell = {"id": "c1", "n": 1}
    capture = LineageCapture(
        store=LineageStore(tmp_path / "lineage.json"),
        context=lambda: CellContext("nb.ipynb", cell["id"], cell["n"]),
    )
    session.add_listener(capture)
    session.sql("CREATE TABLE raw AS SELECT 1 AS id, 10 AS amount")
    cell.update(id="c2", n=2)
    session.sql(
        "CREATE TABLE clean AS SELECT id, amount * 2 AS doubled FROM raw;SELECT * FROM clean"
    )
    g = capture.graph
    assert g.datasets() == ("clean", "raw")
    assert ColumnRef("clean", "doubled") in g.impact("raw.amount").columns
    assert [r.info.cell_id for r in g.runs] == ["c1", "c2", "c2"]
    assert g.runs[-1].info.engine and g.runs[-1].info.rows == 1
    # a failing statement is not recorded
    with pytest.raises(SqlError):
        session.sql("SELECT nope FROM raw")
    assert len(g.runs) == 3
    # and it all went to the store
    assert [r.info.run_id for r in LineageStore(tmp_path / "lineage.json").load().runs] == [
        r.info.run_id for r in g.runs
    ]


def test_star_is_expanded_with_the_session_catalog(session) -> None:
    capture = LineageCapture()
    session.add_listener(capture)
    session.sql("CREATE TABLE a AS SELECT 1 AS x, 2 AS y")
    session.sql("CREATE TABLE b AS SELECT * FROM a")
    assert capture.graph.columns("b") == ("x", "y")


def test_star_is_expanded_over_files_and_dataframes(tmp_path: Path, monkeypatch) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    monkeypatch.chdir(tmp_path)
    pq.write_table(pa.table({"a": [1], "b": [2]}), "f.parquet")
    (tmp_path / "g.csv").write_text("p,q\n1,2\n")
    with Session(engine="duckdb") as duck:
        capture = LineageCapture()
        duck.add_listener(capture)
        duck.sql("CREATE TABLE t1 AS SELECT * FROM 'f.parquet'")
        duck.sql("CREATE TABLE t2 AS SELECT * FROM read_csv('g.csv')")
        duck.sql(
            "CREATE TABLE t3 AS SELECT * FROM frame", namespace={"frame": pa.table({"z": [1]})}
        )
    g = capture.graph
    assert g.columns("t1") == ("a", "b") and g.columns("f.parquet") == ("a", "b")
    assert g.columns("t2") == ("p", "q")
    assert g.columns("t3") == ("z",) and g.columns("frame") == ("z",)
