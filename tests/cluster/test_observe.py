"""The operators' view, with real processes: HTTP health, status, queries and metrics;
the same from Python (``status()``, ``history()``) and ``%sqlweave cluster history``."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pyarrow as pa
import pytest
from waiting import wait_for

from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.errors import ExecutionError

pytestmark = pytest.mark.process


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, str]]:
    port = _free_port()
    with LocalCluster(workers=1, heartbeat_s=0.2, http_port=port) as c:
        yield c, f"http://127.0.0.1:{port}"


def test_health_status_queries_and_metrics(cluster: tuple[LocalCluster, str]) -> None:
    c, base = cluster
    e = c.client()
    e.register_arrow("nums", pa.table({"x": list(range(1000))}))
    assert e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 499500}]
    with pytest.raises(ExecutionError, match="Cannot cast string 'a'"):  # shows in the history
        e.execute("select cast('a' as int) as bad from nums")
    assert _get(base + "/health/live") == (200, "live\n")
    wait_for(lambda: _get(base + "/health/ready") == (200, "ready\n"), what="ready")

    def published() -> dict:
        status = json.loads(_get(base + "/status")[1])
        return status if status["workers_alive"] == 1 and status["queries_run"] >= 2 else {}

    status = wait_for(published, what="a snapshot with the queries")
    assert status["workers"][0]["liveness"] == "alive" and status["rss_bytes"] > 0
    queries = json.loads(_get(base + "/queries")[1])
    states = [q["state"] for q in queries if "nums" in q["sql"]]
    assert states == ["finished", "failed"]
    done = next(q for q in queries if q["state"] == "finished")
    assert done["rows"] == 1 and done["bytes"] > 0 and done["seconds"] > 0
    code, metrics = _get(base + "/metrics")
    assert code == 200
    assert 'sqlweave_workers{liveness="alive"} 1.0' in metrics
    assert 'sqlweave_history_statements{state="failed"}' in metrics
    assert _get(base + "/nowhere")[0] == 404
    # the same from Python
    history = c.history()
    assert [h.state for h in history if "nums" in h.sql] == ["finished", "failed"]


def test_ready_is_503_without_workers() -> None:
    port = _free_port()
    with LocalCluster(workers=0, heartbeat_s=0.2, http_port=port) as c:
        base = f"http://127.0.0.1:{port}"
        assert c.status().workers == ()
        assert wait_for(lambda: _get(base + "/health/live")[0] == 200)
        assert _get(base + "/health/ready") == (503, "no live worker\n")


def test_cluster_history_magic(cluster: tuple[LocalCluster, str]) -> None:
    from sqlweave.magics.cluster import cluster_command

    c, _ = cluster
    c.client().execute("select 42 as answer")

    class Magics:  # the magics object's two attributes cluster_command uses
        session = type("S", (), {"engine": c.client()})()
        cluster = None

    table = cluster_command(["history"], Magics())
    assert "select 42 as answer" in table.column("sql").to_pylist()
    assert set(table.column("state").to_pylist()) <= {"finished", "failed"}


def test_connect_magic_with_keys(cluster: tuple[LocalCluster, str], capsys) -> None:
    import sqlweave
    from sqlweave.cluster import curve
    from sqlweave.magics.cluster import cluster_command

    c, _ = cluster
    curve.forget(c.address)  # only the --keys directory may let this client in
    try:

        class Magics:
            session = sqlweave.Session()
            cluster = None

        cluster_command(["connect", c.address, "--keys", str(c.keys.directory)], Magics())
        assert "connected to" in capsys.readouterr().out
        assert Magics.session.sql("select 5 as x").to_arrow().to_pylist() == [{"x": 5}]
        Magics.session.close()
    finally:
        curve.remember(c.address, c.keys)
