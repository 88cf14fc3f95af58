"""Bounded and at-most-once, with real processes: no ghosts, no leftovers, no runaway memory.

A coordinator started on a fixed port is killed with SIGKILL and started again on
the same address; the client must say so and never run a statement it gave up on.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlweave import errors
from sqlweave.cluster.client import ClusterEngine, CoordinatorRestarted
from sqlweave.cluster.localcluster import LocalCluster

pytestmark = pytest.mark.process

HEARTBEAT_S = 0.2


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=1, heartbeat_s=HEARTBEAT_S, worker_memory="24M") as c:
        yield c


def test_failed_create_external_table_registers_nothing(cluster: LocalCluster, tmp_path) -> None:
    # inside the allowed roots, so DataFusion (not the path policy) is what refuses it
    (tmp_path / "bad.parquet").write_text("not a parquet file\n")
    e = cluster.client()
    with pytest.raises(errors.SqlWeaveError) as info:
        e.execute(f"create external table bad stored as parquet location '{tmp_path}/bad.parquet'")
    assert "not allowed" not in str(info.value)
    assert "parquet" in str(info.value).lower()
    assert "bad" not in e.tables()
    with pytest.raises(errors.PlanError):
        e.execute("select * from bad")


def test_fifo_is_refused_without_blocking_anyone(cluster: LocalCluster, tmp_path) -> None:
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    e = cluster.client()
    with pytest.raises(errors.UsageError, match="not a regular file"):
        e.register_path("f", str(fifo), "csv")
    with pytest.raises(errors.UsageError, match="not a regular file"):
        e.execute(f"create external table f stored as csv location '{fifo}'")
    assert "f" not in e.tables()


def test_worker_memory_limit_gives_a_clear_error(cluster: LocalCluster, tmp_path) -> None:
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"k": [1, 2] * 2_000_000, "x": range(4_000_000)}), path)
    e = cluster.client()
    e.register_path("big", str(path))
    # array_agg cannot spill: 4M values do not fit the worker's 24 MiB pool
    with pytest.raises(errors.WorkerError, match="query exceeded memory"):
        e.execute("select k, array_agg(x) as xs from big group by k")
    # the worker survives and answers what fits
    assert e.execute("select count(*) as n from big").to_pylist() == [{"n": 4_000_000}]
    e.deregister("big")


def test_exchange_buffer_limit_fails_only_the_query_that_exceeds_it(monkeypatch) -> None:
    monkeypatch.setenv("SQLWEAVE_EXCHANGE_BYTES", "256K")
    # one-phase aggregation: workers shuffle the rows themselves by the group keys
    monkeypatch.setenv("SQLWEAVE_PLANNER", '{"partial_aggregates": false}')
    with LocalCluster(workers=2, heartbeat_s=HEARTBEAT_S) as c:
        e = ClusterEngine(c.address)
        try:
            e.register_arrow("wide", pa.table({"k": range(400_000), "v": [1] * 400_000}))
            e.register_arrow("narrow", pa.table({"k": range(3_000), "v": [1] * 3_000}))
            # 6 MB of rows shuffled by k
            with pytest.raises(errors.WorkerError, match="exchange buffer limit of 256 KiB"):
                e.execute("select k, sum(v) as s from wide group by k")
            # the workers live on, and a shuffle that fits goes through
            got = e.execute("select k % 3 as g, count(*) as n from narrow group by 1 order by 1")
            assert got.to_pylist() == [{"g": g, "n": 1_000} for g in range(3)]
            assert [w.liveness.value for w in e.status().workers] == ["alive", "alive"]
        finally:
            e.close()


def test_oversized_frames_are_refused_and_the_coordinator_lives(monkeypatch) -> None:
    monkeypatch.setenv("SQLWEAVE_MAX_FRAME_BYTES", str(1 << 20))
    with LocalCluster(workers=0, heartbeat_s=HEARTBEAT_S) as c:
        e = ClusterEngine(c.address, timeout_s=3.0)
        try:
            with pytest.raises(errors.ExecutionError, match="did not answer"):
                e.register_arrow("huge", pa.table({"x": range(1_000_000)}))  # one 8 MB buffer
            e.register_arrow("small", pa.table({"x": range(10)}))
            assert "huge" not in e.tables() and "small" in e.tables()
        finally:
            e.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _coordinator(port: int, worker_port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqlweave.cluster.coordinator",
            "--bind",
            f"tcp://127.0.0.1:{port}",
            "--worker-bind",
            f"tcp://127.0.0.1:{worker_port}",
            "--heartbeat",
            str(HEARTBEAT_S),
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "SQLWEAVE_KEYS"},
    )
    assert "listening" in proc.stdout.readline()
    return proc


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_statement_sent_while_coordinator_is_down_never_runs_later() -> None:
    port, worker_port = _free_port(), _free_port()
    first = _coordinator(port, worker_port)
    second = None
    e = ClusterEngine(f"tcp://127.0.0.1:{port}", timeout_s=5.0)
    e.send_timeout_s = 0.5
    try:
        assert e.execute("select 1 as x").to_pylist() == [{"x": 1}]
        _kill(first)
        with pytest.raises(errors.ExecutionError, match=r"nothing was sent|lost contact"):
            e.execute("create table ghost as select 1 as x")
        second = _coordinator(port, worker_port)
        e.send_timeout_s = 10.0
        with pytest.warns(CoordinatorRestarted, match="restarted"):
            names = e.tables()
        assert "ghost" not in names
        # a statement queued nowhere ran: the new coordinator has run none of ours
        assert e.status().queries_run == 0
    finally:
        e.close()
        _kill(first)
        if second is not None:
            _kill(second)
