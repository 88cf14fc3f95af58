"""EXPLAIN over notebook DataFrames and registered tables, on every engine; error carets point
into the statement as written, ``EXPLAIN`` included."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.errors import SqlError
from sqlweave.session import Session

FLIGHTS = pa.table({"carrier": ["AA", "UA"], "delay": [1.0, 2.0]})
ENGINES = ["local", "duckdb", pytest.param("cluster", marks=pytest.mark.process)]


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(workers=1, heartbeat_s=0.5) as c:
        yield c


@pytest.fixture(params=ENGINES)
def session(request):
    spec = request.getfixturevalue("cluster") if request.param == "cluster" else request.param
    with Session(engine=spec) as s:
        yield s


@pytest.mark.parametrize(
    "sql",
    [
        "EXPLAIN SELECT carrier FROM flights",
        "explain select carrier, sum(delay) from flights group by carrier",
        "EXPLAIN ANALYZE SELECT count(*) FROM flights",
    ],
)
def test_explain_reads_notebook_dataframes(session, sql: str) -> None:
    plan = session.sql(sql, namespace={"flights": FLIGHTS}).to_arrow()
    assert plan.num_rows > 0
    assert "flights" not in session.tables()  # registered for the statement only


def test_explain_reads_registered_tables(session) -> None:
    session.register("airlines", pa.table({"carrier": ["AA"], "name": ["American"]}))
    assert session.sql("EXPLAIN SELECT name FROM airlines").to_arrow().num_rows > 0


@pytest.mark.parametrize(
    "sql", ["EXPLAIN SELECT nope FROM flights", "SELECT 1;\nEXPLAIN   SELECT nope FROM flights"]
)
def test_the_caret_lands_on_the_column_after_explain(session, sql: str) -> None:
    with pytest.raises(SqlError) as info:
        session.sql(sql, namespace={"flights": FLIGHTS})
    position = info.value.position
    line = sql.splitlines()[position.line - 1]
    assert line[position.column - 1 :].startswith("nope"), (line, position)
