"""Supervision with real processes: killed workers come back, lost ones are forgotten,
nothing is left in temporary directories, workers rejoin a restarted coordinator."""

from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys

import pyarrow as pa
import pytest
from waiting import wait_for

from sqlweave.cluster import protocol as P
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.coordinator_state import (
    DEFAULT_HEARTBEAT_S,
    Membership,
    example_registration,
)
from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.cluster.registration import Versions
from sqlweave.cluster.supervision import (
    EXIT_REFUSED,
    EXIT_REPLACE,
    EXIT_RETRY,
    HEALTHY_RUN_S,
    RESTART_BACKOFF_S,
    Backoff,
)

HEARTBEAT_S = 0.2


def test_default_heartbeat_notices_a_dead_worker_within_two_seconds() -> None:
    m = Membership(Versions("1", "1"), DEFAULT_HEARTBEAT_S)
    assert m.lost_after * m.heartbeat_s <= 2.0


def test_lost_workers_are_listed_for_a_grace_period_then_forgotten() -> None:
    m = Membership(Versions("1.0", "55.0.0"), heartbeat_s=1.0, forget_after=10)
    m.register(b"a", example_registration(), now=0.0)
    m.tick(now=6.0)  # lost
    assert [r.liveness for r in m.workers.values()] == [P.WorkerLiveness.LOST]
    m.tick(now=15.0)
    assert m.workers  # still listed, as lost
    m.tick(now=16.1)
    assert not m.workers


def test_backoff_grows_while_a_child_dies_young_and_resets_after_a_healthy_run() -> None:
    b = Backoff()
    young = [b.after_exit(-signal.SIGKILL, ran_s=0.5) for _ in range(len(RESTART_BACKOFF_S) + 2)]
    assert young == [*RESTART_BACKOFF_S, RESTART_BACKOFF_S[-1], RESTART_BACKOFF_S[-1]]
    assert b.after_exit(EXIT_RETRY, ran_s=HEALTHY_RUN_S) == 0.0  # a healthy run resets
    assert b.after_exit(EXIT_RETRY, ran_s=0.5) == RESTART_BACKOFF_S[0]
    assert b.after_exit(EXIT_REPLACE, ran_s=0.5) == 0.0  # asked to be replaced: at once
    assert b.after_exit(0, ran_s=0.5) is None  # a clean exit ends supervision
    assert b.after_exit(EXIT_REFUSED, ran_s=0.5) is None  # a retry would not fix a refusal


def _worker_dirs(c: LocalCluster) -> list[str]:
    return glob.glob(os.path.join(c._tmp.name, "workers", "*", "sqlweave-worker-*"))


@pytest.mark.process
def test_sigkilled_worker_is_replaced_and_leaves_nothing_behind() -> None:
    with LocalCluster(workers=2, heartbeat_s=HEARTBEAT_S) as c:
        e = c.client()
        e.register_arrow("t", pa.table({"x": list(range(100))}))
        wait_for(lambda: len(_worker_dirs(c)) == 2, what="two worker temp dirs")
        for _ in range(2):  # twice: the replacement is supervised like the original
            victim = c.worker_pids(0)[-1]
            before = set(_worker_dirs(c))
            os.kill(victim, signal.SIGKILL)

            def replaced(victim: int = victim) -> bool:
                pids = {w.pid for w in c.status().workers if w.liveness is P.WorkerLiveness.ALIVE}
                return len(pids) == 2 and victim not in pids

            wait_for(replaced, what="a replacement worker")
            # the killed worker's temp dir is gone; the replacement has its own
            wait_for(lambda: len(_worker_dirs(c)) == 2, what="two worker temp dirs")
            assert set(_worker_dirs(c)) != before
        # the lost records leave after the grace period
        wait_for(lambda: len(c.status().workers) == 2, what="lost workers forgotten")
        assert e.execute("select sum(x) as s from t").to_pylist() == [{"s": 4950}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "SQLWEAVE_KEYS"}
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.process
def test_cli_worker_rejoins_a_coordinator_restarted_on_its_address() -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    coordinator = ["sqlweave.cluster.coordinator", "--bind", address, "--heartbeat", "0.2"]
    first = _spawn(coordinator)
    worker = _spawn(["sqlweave.cluster.cli", "worker", "--coordinator", address])
    second = None
    e = ClusterEngine(address, timeout_s=10.0)
    try:
        alive = lambda: [  # noqa: E731
            w for w in e.status().workers if w.liveness is P.WorkerLiveness.ALIVE
        ]
        wait_for(alive, 60, "the worker to join")
        _kill(first)
        second = _spawn(coordinator)  # same client address, a new random worker port
        e.close()
        e = ClusterEngine(address, timeout_s=10.0)
        wait_for(alive, 60, "the worker to rejoin the new coordinator")
        assert e.execute("select 1 as x").to_pylist() == [{"x": 1}]
    finally:
        e.close()
        for p in (first, worker, second):
            if p is not None:
                _kill(p)
