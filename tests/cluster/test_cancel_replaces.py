"""A cancelled task whose DataFusion operators never yield stops computing (real processes).

After a cancel, a hash join that makes thousands of rows per input row under an aggregate
keeps DataFusion's runtime threads busy although the worker dropped the query. The worker sees its runtime still busy after the
cancel grace period and asks its supervisor for a fresh process; a task that stops at
once (its operators yield between batches) keeps its worker.

The client cancels as a user's Ctrl-C does (``KeyboardInterrupt`` raised in the thread
that waits for the answer): no signal reaches the test runner. Every wait is on a
condition (CPU time, status polls, log lines), never a fixed sleep.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from waiting import wait_for

from sqlweave import errors
from sqlweave.cluster import protocol as P
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.localcluster import LocalCluster, process_log

pytestmark = pytest.mark.process

HEARTBEAT_S = 0.2
#: CPU seconds each worker spends on a query before the test cancels it
BUSY_CPU_S = 1.0
#: a hash join whose every probe row meets 125,000 build rows: DataFusion yields only between
#: probe batches, each of which takes many seconds (the aggregate takes the join's output
#: batch after batch with nothing in between that yields), far beyond the cancel grace
NEVER_YIELDS = "select count(*) as n from big join small on big.k = small.k"
#: seconds of hashing a parquet file with small row groups: reading each waits for I/O,
#: where DataFusion's tasks yield (and a cancelled one stops)
YIELDING = "select count(*) as n from wide where length({}) = 32".format(
    "md5(" * 3 + "cast(x as varchar)" + ")" * 3
)


class Lines(logging.Handler):
    """Keeps the cluster processes' log lines (``LocalCluster`` forwards them)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def seen(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


@pytest.fixture(scope="module")
def lines() -> Iterator[Lines]:
    handler = Lines()
    old = process_log.level
    process_log.addHandler(handler)
    process_log.setLevel(logging.INFO)
    yield handler
    process_log.removeHandler(handler)
    process_log.setLevel(old)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cancel")
    wide = pa.table({"x": pa.array(range(6_000_000), pa.int64())})
    pq.write_table(wide, folder / "wide.parquet", row_group_size=8192)
    return folder


@pytest.fixture(scope="module")
def cluster(lines: Lines, data: Path) -> Iterator[LocalCluster]:
    with LocalCluster(
        workers=2, heartbeat_s=HEARTBEAT_S, log_level="INFO", allowed_paths=[data]
    ) as c:
        yield c


@pytest.fixture(scope="module")
def engine(cluster: LocalCluster, data: Path) -> Iterator[ClusterEngine]:
    e = ClusterEngine(cluster.address, keys=cluster.keys)
    x = pa.array(range(200_000), pa.int64())
    e.register_arrow("big", pa.table({"x": x, "k": pc.bit_wise_and(x, 3)}))
    e.register_arrow("small", pa.table({"k": pa.array([0, 1, 2, 3] * 125_000, pa.int64())}))
    e.register_path("wide", str(data / "wide.parquet"))
    yield e
    e.close()


def interrupt_thread(thread: threading.Thread) -> None:
    """Raise ``KeyboardInterrupt`` in ``thread`` alone (a signal would reach pytest)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
    )


def alive_pids(c: LocalCluster) -> set[int]:
    return {w.pid for w in c.status().workers if w.liveness is P.WorkerLiveness.ALIVE}


def cpu_s(pid: int) -> float:
    """CPU seconds process ``pid`` has used (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cancel_while_running(c: LocalCluster, e: ClusterEngine, sql: str) -> None:
    """Run ``sql`` in a thread; cancel it once both workers are deep in it (each used
    :data:`BUSY_CPU_S` since it started: past a join's build, in its probe)."""
    pids = alive_pids(c)
    start = {pid: cpu_s(pid) for pid in pids}
    outcome: list[object] = []

    def query() -> None:
        try:
            outcome.append(e.execute(sql))
        except BaseException as exc:  # the test judges what ended the query
            outcome.append(exc)

    runner = threading.Thread(target=query, daemon=True)
    runner.start()
    wait_for(
        lambda: all(cpu_s(pid) - start[pid] >= BUSY_CPU_S for pid in pids),
        120,
        "both workers deep in the query",
    )
    interrupt_thread(runner)
    runner.join(60)
    assert not runner.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], errors.QueryCancelled), outcome


def test_stuck_cancelled_task_gets_its_worker_replaced(
    cluster: LocalCluster, engine: ClusterEngine, lines: Lines
) -> None:
    before = alive_pids(cluster)
    assert len(before) == 2
    cancel_while_running(cluster, engine, NEVER_YIELDS)
    # both workers ran a share of the join: both are replaced by fresh processes
    wait_for(
        lambda: len(pids := alive_pids(cluster)) == 2 and not pids & before,
        60,
        "both workers replaced",
    )
    assert lines.seen("asking for a fresh worker process")
    assert engine.execute("select count(*) as n, sum(x) as s from big").to_pylist() == [
        {"n": 200_000, "s": 199_999 * 200_000 // 2}
    ]


def test_cancelled_task_that_stops_keeps_its_worker(
    cluster: LocalCluster, engine: ClusterEngine, lines: Lines
) -> None:
    wait_for(lambda: len(alive_pids(cluster)) == 2, 60, "two workers")
    before = alive_pids(cluster)
    settled = sum("stopped computing" in line for line in lines.lines)
    cancel_while_running(cluster, engine, YIELDING)
    # each worker says whether its runtime went quiet or it asks to be replaced
    wait_for(
        lambda: sum("stopped computing" in line for line in lines.lines) >= settled + 2,
        60,
        "both workers to report their cancelled task stopped",
    )
    assert alive_pids(cluster) == before
    assert engine.execute("select count(*) as n from wide").to_pylist() == [{"n": 6_000_000}]
