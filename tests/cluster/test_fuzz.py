"""Seeded fuzzing against every socket of a real cluster (bounded: 300 messages each here,
10,000 in ``bench/fuzz.py``): every process stays alive, answers stay right, memory bounded."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from fuzzing import rss, targets  # tests/cluster is on sys.path (no __init__.py)

from sqlweave.cluster import protocol as P
from sqlweave.cluster.localcluster import LocalCluster

pytestmark = pytest.mark.process

MESSAGES = 300
#: growth of all the cluster's processes together that the fuzzing may cause
MEMORY_BOUND_BYTES = 300 << 20


def test_fuzzed_messages_leave_every_process_alive() -> None:
    with LocalCluster(workers=2, heartbeat_s=0.2) as c:
        e = c.client()
        e.register_arrow("nums", pa.table({"x": list(range(10_000))}))
        assert e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 49_995_000}]
        pids = c.pids()
        before = rss(pids)
        for seed, target in enumerate(targets(c)):
            replies = target.fuzz(MESSAGES, seed)
            assert replies > 0, target.kind  # the socket kept answering
        assert all(os.path.exists(f"/proc/{p}") for p in pids)
        alive = [w for w in c.status().workers if w.liveness is P.WorkerLiveness.ALIVE]
        assert len(alive) == 2 and {w.pid for w in alive} <= set(pids)
        assert e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 49_995_000}]
        assert rss(pids) - before < MEMORY_BOUND_BYTES
