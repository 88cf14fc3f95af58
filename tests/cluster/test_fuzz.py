"""Seeded fuzzing against every socket of a real cluster (bounded: 300 messages each here,
10,000 in ``bench/fuzz.py``): every process stays alive, answers stay right, memory bounded."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from fuzzing import fuzz_socket  # tests/cluster is on sys.path (no __init__.py)

from sqlweave.cluster import curve
from sqlweave.cluster import protocol as P
from sqlweave.cluster.localcluster import LocalCluster

pytestmark = pytest.mark.process

MESSAGES = 300
#: growth of all the cluster's processes together that the fuzzing may cause
MEMORY_BOUND_BYTES = 300 << 20


def _rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def test_fuzzed_messages_leave_every_process_alive() -> None:
    with LocalCluster(workers=2, heartbeat_s=0.2) as c:
        e = c.client()
        e.register_arrow("nums", pa.table({"x": list(range(10_000))}))
        assert e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 49_995_000}]
        pids = c.pids()
        before = _rss(pids)
        keys = c.keys
        server = keys.coordinator.public
        worker = keys.own(curve.Role.WORKER)
        targets = [
            (c.address, "clients", keys.own(curve.Role.CLIENT), server),
            (c.info.workers, "workers", worker, server),
            *[(w.peer_address, "peer", worker, worker.public) for w in c.status().workers],
        ]
        for seed, (address, kind, pair, public) in enumerate(targets):
            replies = fuzz_socket(address, kind, MESSAGES, seed, pair, public)
            assert replies > 0, kind  # the socket kept answering
        assert all(os.path.exists(f"/proc/{p}") for p in pids)
        alive = [w for w in c.status().workers if w.liveness is P.WorkerLiveness.ALIVE]
        assert len(alive) == 2 and {w.pid for w in alive} <= set(pids)
        assert e.execute("select sum(x) as s from nums").to_pylist() == [{"s": 49_995_000}]
        assert _rss(pids) - before < MEMORY_BOUND_BYTES
