"""README: a worker that goes silent is declared lost and its fragments re-run on the others.

Silent, not dead: the worker is frozen with SIGSTOP (its process lives on, its sockets stay
open, it just never answers again), which the SIGKILL tests do not cover. Signals go to
the worker process only.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa
import pytest

from sqlweave.cluster import protocol as P
from sqlweave.cluster.localcluster import LocalCluster

pytestmark = pytest.mark.process

#: long enough (lost after 5 periods: 5 s) that the query is planned onto the frozen worker
#: before the coordinator gives up on it
HEARTBEAT_S = 1.0
GROUPED = "SELECT x % 5 AS k, count(*) AS n, sum(x) AS s FROM nums GROUP BY x % 5 ORDER BY k"


def _state(pid: int) -> str:
    """The kernel's one-letter state of ``pid`` (``T``: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_a_frozen_worker_is_declared_lost_and_its_fragments_rerun() -> None:
    with LocalCluster(workers=2, heartbeat_s=HEARTBEAT_S) as cluster:
        engine = cluster.client()
        n = 100_000
        engine.register_arrow("nums", pa.table({"x": list(range(n))}))
        expected = [{"k": k, "n": n // 5, "s": sum(range(k, n, 5))} for k in range(5)]
        assert engine.execute(GROUPED).to_pylist() == expected
        workers = cluster.status().workers
        assert [w.liveness for w in workers] == [P.WorkerLiveness.ALIVE] * 2
        victim = workers[0]
        os.kill(victim.pid, signal.SIGSTOP)
        try:
            got = engine.execute(GROUPED)
            assert got.to_pylist() == expected
            runs = engine.last_runs
            assert victim.worker_id not in {r.worker for r in runs}
            assert [r for r in runs if r.attempt >= 1], "no fragment was re-run"
            after = {w.worker_id: w for w in cluster.status().workers}
            # declared lost (or already forgotten after its grace period) ...
            assert victim.worker_id not in after or (
                after[victim.worker_id].liveness is P.WorkerLiveness.LOST
            )
            # ... though its process is alive: silent, not dead
            assert _state(victim.pid) == "T"
        finally:
            os.kill(victim.pid, signal.SIGKILL)
