"""``:name`` parameters in every statement kind on every engine, never showing ``$name``."""

from __future__ import annotations

import pyarrow as pa
import pytest

import sqlweave
from sqlweave.errors import PlanError, SqlError

FLIGHTS = pa.table(
    {
        "carrier": ["UA", "AA", "UA", "DL"],
        "dep_delay": [10.0, -2.0, 30.0, 5.0],
    }
)
NS = {"carrier_code": "UA", "min_delay": 1.0}


@pytest.fixture
def s(session: sqlweave.Session) -> sqlweave.Session:
    session.register("flights", FLIGHTS)
    return session


def _rows(s: sqlweave.Session, sql: str) -> list[dict]:
    return s.sql(sql).to_arrow().to_pylist()


def test_create_table_as_select(s: sqlweave.Session) -> None:
    r = s.sql(
        "CREATE TABLE ua AS SELECT * FROM flights WHERE carrier = :carrier_code"
        " AND dep_delay > :min_delay",
        namespace=NS,
    )
    assert r.message == "created table ua"
    assert _rows(s, "SELECT sum(dep_delay) AS d FROM ua") == [{"d": 40.0}]


def test_create_or_replace_and_if_not_exists_keep_their_meaning(s: sqlweave.Session) -> None:
    s.sql("CREATE TABLE ua AS SELECT * FROM flights WHERE carrier = :c", params={"c": "AA"})
    s.sql(
        "CREATE TABLE IF NOT EXISTS ua AS SELECT * FROM flights WHERE carrier = :c",
        params={"c": "UA"},
    )
    assert _rows(s, "SELECT count(*) AS n FROM ua") == [{"n": 1}]
    s.sql(
        "CREATE OR REPLACE TABLE ua AS SELECT * FROM flights WHERE carrier = :c", params={"c": "UA"}
    )
    assert _rows(s, "SELECT count(*) AS n FROM ua") == [{"n": 2}]


def test_insert_select_and_insert_values(s: sqlweave.Session) -> None:
    s.sql("CREATE TABLE picked (carrier VARCHAR, dep_delay DOUBLE)")
    r = s.sql(
        "INSERT INTO picked SELECT * FROM flights WHERE carrier = :carrier_code", namespace=NS
    )
    assert r.message == "inserted 2 rows into picked"
    s.sql("INSERT INTO picked VALUES (:carrier_code, :min_delay), ('XX', :min_delay)", namespace=NS)
    assert _rows(
        s, "SELECT carrier, count(*) AS n FROM picked GROUP BY carrier ORDER BY carrier"
    ) == [
        {"carrier": "UA", "n": 3},
        {"carrier": "XX", "n": 1},
    ]


def test_create_view(s: sqlweave.Session) -> None:
    sql = "CREATE VIEW ua_view AS SELECT * FROM flights WHERE carrier = :carrier_code"
    if s.engine.name == "duckdb":
        with pytest.raises(PlanError, match="cannot bind :parameters") as info:
            s.sql(sql, namespace=NS)
        assert "$" not in info.value.render()
        return
    s.sql(sql, namespace=NS)
    # the view keeps the bound value, and reads its table afresh each time
    assert _rows(s, "SELECT count(*) AS n FROM ua_view") == [{"n": 2}]


def test_explain_shows_the_value_not_a_placeholder(s: sqlweave.Session) -> None:
    text = s.sql(
        "EXPLAIN SELECT * FROM flights WHERE carrier = :carrier_code", namespace=NS
    ).to_arrow()
    plan = " ".join(str(v) for col in text.columns for v in col.to_pylist())
    assert "$carrier_code" not in plan and "Placeholder" not in plan
    if s.engine.name != "cluster":  # the cluster's distributed plan names stages, not filters
        assert "UA" in plan


def test_errors_name_the_parameter_not_the_placeholder(s: sqlweave.Session) -> None:
    with pytest.raises(SqlError) as info:
        s.sql(
            "CREATE TABLE bad AS SELECT * FROM flights WHERE no_such_column = :carrier_code",
            namespace=NS,
        )
    rendered = info.value.render()
    assert "$carrier_code" not in rendered
    assert "no_such_column" in rendered
