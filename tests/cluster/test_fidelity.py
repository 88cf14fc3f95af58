"""The cluster answers like embedded DataFusion: one minimal repro per root cause found.

Each query runs on ``sqlweave.Session()`` (embedded) and on
``sqlweave.Session(engine=cluster.address)`` (a real coordinator and 2 workers) over the
same tables, registered as Arrow tables so the cluster really distributes them. One
cluster serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

import sqlweave
from sqlweave.cluster.localcluster import LocalCluster

TABLES = {
    "t": pa.table({"i": [1, 2, 3, 4, 5], "j": [10, None, 30, None, 50], "s": list("abcde")}),
    "u": pa.table({"k": list(range(100)), "v": [x * 0.5 for x in range(100)]}),
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2, heartbeat_s=0.5) as c:
        yield c


def _session(engine: object) -> sqlweave.Session:
    s = sqlweave.Session(engine)
    for name, table in TABLES.items():
        s.register(name, table)
    return s


@pytest.fixture
def sessions(cluster: LocalCluster) -> Iterator[tuple[sqlweave.Session, sqlweave.Session]]:
    """(embedded, cluster), fresh for each test so that SET settings do not leak."""
    embedded, remote = _session("local"), _session(cluster.address)
    yield embedded, remote
    remote.close()
    embedded.close()


def same_answer(sessions, sql: str) -> list[dict]:
    embedded, remote = sessions
    want = embedded.sql(sql).to_arrow()
    got = remote.sql(sql).to_arrow()
    assert got.schema.names == want.schema.names
    assert repr(got.to_pylist()) == repr(want.to_pylist()), sql  # (repr: NaN equals NaN)
    return got.to_pylist()


def explain(session: sqlweave.Session, sql: str) -> str:
    table = session.sql(f"EXPLAIN {sql}").to_arrow()
    return "\n".join(str(v) for v in table.column("plan").to_pylist())


# ----- plans Substrait cannot carry run whole on the coordinator ---------------------------

LOSSY = {
    "range-frame-offset": (
        "SELECT i, count(*) OVER (ORDER BY i RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS c "
        "FROM t ORDER BY i",
        "window frame offsets",
    ),
    "ignore-nulls": (
        "SELECT i, lag(j) IGNORE NULLS OVER (ORDER BY i) AS c FROM t ORDER BY i",
        "IGNORE NULLS",
    ),
    "window-filter": (
        "SELECT i, sum(i) FILTER (WHERE i > 2) OVER (ORDER BY i) AS c FROM t ORDER BY i",
        "FILTER",
    ),
    "window-distinct": (
        "SELECT i, count(DISTINCT j) OVER (PARTITION BY i % 2) AS c FROM t ORDER BY i",
        "DISTINCT",
    ),
    "struct-names": ("SELECT struct(1 AS a, 'e') AS s, i FROM t ORDER BY i", "struct"),
    "time-zone-name": (
        "SELECT '2000-12-01 04:04:12' AT TIME ZONE 'America/New_York' AS v, i FROM t",
        "time zones",
    ),
}


@pytest.mark.parametrize("case", sorted(LOSSY))
def test_lossy_plans_answer_like_embedded_and_explain_why(sessions, case: str) -> None:
    sql, reason = LOSSY[case]
    same_answer(sessions, sql)
    assert reason in explain(sessions[1], sql)


# ----- cluster-only errors: the query falls back and answers -------------------------------

CLUSTER_ONLY_ERRORS = {
    "infinity-literal": "SELECT ln(0) AS v",
    "nan-literal": "SELECT 'NaN'::double AS v, i FROM t ORDER BY i",
    "one-arg-log": "SELECT log(100) AS v, log(i) AS w FROM t ORDER BY i",
    "exists-constant": "SELECT 1 AS v WHERE EXISTS (SELECT 1)",
    "generate-series": "SELECT value FROM generate_series(1, 3) ORDER BY value",
    "generate-series-join": (
        "SELECT i, value FROM t JOIN generate_series(1, 3) g ON t.i = g.value ORDER BY i"
    ),
    "list-of-struct": "SELECT [struct(1 AS a)] AS v",
    "duplicate-names-after-join": (
        "SELECT a.i AS x, b.i AS y FROM (SELECT i FROM t) a JOIN (SELECT i FROM t) b "
        "ON a.i = b.i ORDER BY 1"
    ),
    "interval-day-time": "SELECT arrow_cast('1 day', 'Interval(DayTime)') IS NOT NULL AS v",
}


@pytest.mark.parametrize("case", sorted(CLUSTER_ONLY_ERRORS))
def test_queries_embedded_answers_do_not_fail_on_the_cluster(sessions, case: str) -> None:
    same_answer(sessions, CLUSTER_ONLY_ERRORS[case])


def test_a_day_time_interval_result_does_not_kill_the_coordinator(sessions, cluster) -> None:
    _, remote = sessions
    table = remote.sql("SELECT arrow_cast('1 day', 'Interval(DayTime)') AS v, i FROM t").to_arrow()
    assert table.num_rows == 5 and str(table.schema.field("v").type) == "day_time_interval"
    assert same_answer(sessions, "SELECT count(*) AS n FROM u") == [{"n": 100}]


def test_data_errors_still_fail_on_both(sessions) -> None:
    embedded, remote = sessions
    sql = "SELECT k / (k - k) AS v FROM u"
    with pytest.raises(sqlweave.errors.SqlError, match=r"(?i)divide by zero"):
        embedded.sql(sql)
    with pytest.raises(sqlweave.errors.SqlError, match=r"(?i)divide by zero"):
        remote.sql(sql)


def test_faithful_queries_stay_distributed(sessions) -> None:
    sql = "SELECT k % 3 AS g, count(*) AS n, sum(v) AS total FROM u GROUP BY k % 3 ORDER BY g"
    same_answer(sessions, sql)
    plan = explain(sessions[1], sql)
    assert "could not be distributed" not in plan and "partial aggregate" in plan, plan
