"""Cancel means cancel for statements the coordinator runs itself (real processes).

The client sends a slow CREATE TABLE AS, waits until the coordinator reports it
running, and cancels it. DataFusion cannot stop it midway, so it finishes in the
background and is undone: afterwards the table does not exist (or is as before).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from waiting import wait_for

from sqlweave import errors
from sqlweave.cluster import protocol as P
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.localcluster import LocalCluster

pytestmark = pytest.mark.process


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=0, heartbeat_s=0.2) as c:
        yield c


def _cancel_while_running(
    c: LocalCluster, e: ClusterEngine, sql: str, reset: str
) -> errors.QueryCancelled:
    """Send ``sql``, cancel it once it runs; bigger inputs (after ``reset``) until the
    cancel beats the statement's end."""
    rows = 50_000_000
    for attempt in range(6):
        rid = f"slow-{attempt}"
        e._send(P.ExecuteQuery(rid, sql.format(rows=rows)))
        wait_for(lambda: c.status().local_running >= 1, timeout_s=120, what="the statement to run")
        err = e._cancel(rid)
        if "too late" not in str(err):
            return err
        e.execute(reset)
        rows *= 4
    raise AssertionError("every statement finished before its cancel arrived")


def test_cancelled_ctas_leaves_no_table(cluster: LocalCluster) -> None:
    e = ClusterEngine(cluster.address)
    try:
        sql = "create table slow as select count(*) as n from generate_series(1, {rows})"
        err = _cancel_while_running(cluster, e, sql, "drop table if exists slow")
        assert "undone" in str(err)
        wait_for(
            lambda: cluster.status().local_running == 0, timeout_s=120, what="the statement to end"
        )
        assert "slow" not in e.tables()
        with pytest.raises(errors.PlanError):
            e.execute("select * from slow")
    finally:
        e.close()


def test_cancelled_replace_keeps_the_old_table(cluster: LocalCluster) -> None:
    e = ClusterEngine(cluster.address)
    try:
        old = "create or replace table slow as select 7 as n"
        e.execute(old)
        sql = "create or replace table slow as select count(*) as n from generate_series(1, {rows})"
        err = _cancel_while_running(cluster, e, sql, old)
        assert "undone" in str(err)
        wait_for(
            lambda: cluster.status().local_running == 0, timeout_s=120, what="the statement to end"
        )
        assert e.execute("select n from slow").to_pylist() == [{"n": 7}]
    finally:
        e.close()
