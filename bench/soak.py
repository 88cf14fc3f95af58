"""Soak: concurrent clients on a cluster whose workers get killed; or a coordinator
killed with SIGKILL again and again (its journal must keep the catalog).

    python bench/soak.py [--clients 8] [--queries 50] [--workers 3] [--kill-every 2.0]
    python bench/soak.py --coordinator-kills 100

Client mode: ``--clients`` threads, each with its own connection, run ``--queries``
statements drawn (seeded) from a small set whose answers are known, while a killer
SIGKILLs a random worker process every ``--kill-every`` seconds (its supervisor starts
a new one; the scheduler re-runs lost work). Printed: throughput, p50/p99 latency,
wrong answers (goal 0) and errors (goal 0: a kill must be retried transparently).

Coordinator mode: a coordinator with ``--state-dir`` on a fixed address; each round
registers a table, then the coordinator is SIGKILLed and started again; the catalog
must come back complete every time. Printed: kills, rounds with the catalog intact,
restart-to-answer time (p50/p99).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlweave.cluster import protocol as P
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.localcluster import LocalCluster

ROWS = 200_000


def _queries() -> dict[str, list[dict]]:
    """Statements and their answers (computed here, not by the cluster)."""
    x = list(range(ROWS))
    by_k: dict[int, int] = {}
    for v in x:
        by_k[v % 7] = by_k.get(v % 7, 0) + v
    return {
        "select sum(x) as s from nums": [{"s": sum(x)}],
        "select count(*) as n from nums where x % 3 = 0": [{"n": len(range(0, ROWS, 3))}],
        "select x % 7 as k, sum(x) as s from nums group by x % 7 order by k": [
            {"k": k, "s": by_k[k]} for k in sorted(by_k)
        ],
        "select count(*) as n from nums a join nums b on a.x = b.x + 1": [{"n": ROWS - 1}],
    }


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def soak_clients(ns: argparse.Namespace) -> None:
    queries = _queries()
    with LocalCluster(workers=ns.workers, heartbeat_s=0.2) as cluster:
        setup = ClusterEngine(cluster.address)
        setup.register_arrow("nums", pa.table({"x": list(range(ROWS))}))
        latencies: list[float] = []
        wrong: list[str] = []
        failures: list[str] = []
        lock = threading.Lock()
        stop = threading.Event()
        kills = 0

        def client(i: int) -> None:
            rng = random.Random(ns.seed + i)
            e = ClusterEngine(cluster.address, timeout_s=120)
            try:
                for _ in range(ns.queries):
                    sql = rng.choice(list(queries))
                    started = time.perf_counter()
                    try:
                        got = e.execute(sql).to_pylist()
                    except Exception as exc:
                        with lock:
                            failures.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                        continue
                    with lock:
                        latencies.append(time.perf_counter() - started)
                        if got != queries[sql]:
                            wrong.append(sql)
            finally:
                e.close()

        def killer() -> None:
            nonlocal kills
            rng = random.Random(ns.seed)
            while not stop.wait(ns.kill_every):
                slot = rng.randrange(len(cluster.workers))
                pids = cluster.worker_pids(slot)[1:]
                if pids:
                    os.kill(pids[-1], signal.SIGKILL)
                    kills += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(ns.clients)]
        k = threading.Thread(target=killer, daemon=True)
        started = time.perf_counter()
        for t in threads:
            t.start()
        k.start()
        for t in threads:
            t.join()
        stop.set()
        elapsed = time.perf_counter() - started
        alive = [w for w in cluster.status().workers if w.liveness is P.WorkerLiveness.ALIVE]
        setup.close()
    total = ns.clients * ns.queries
    print(
        "| clients | queries | worker kills | seconds | queries/s | p50 ms | p99 ms | wrong | errors | workers alive at end |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {ns.clients} | {total} | {kills} | {elapsed:.1f} | {len(latencies) / elapsed:.1f} "
        f"| {_percentile(latencies, 50) * 1000:.0f} | {_percentile(latencies, 99) * 1000:.0f} "
        f"| {len(wrong)} | {len(failures)} | {len(alive)} of {ns.workers} |"
    )
    for f in sorted(set(failures))[:10]:
        print(f"  error: {f}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soak_coordinator(ns: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="sqlweave-soak-"))
    address = f"tcp://127.0.0.1:{_free_port()}"
    env = {k: v for k, v in os.environ.items() if k != "SQLWEAVE_KEYS"}
    cmd = [
        sys.executable, "-m", "sqlweave.cluster.coordinator", "--bind", address,
        "--state-dir", str(work / "state"),
    ]  # fmt: skip

    def start() -> subprocess.Popen:
        p = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
        )
        p.stdout.readline()
        return p

    expected: dict[str, int] = {}
    intact = 0
    restarts: list[float] = []
    proc = start()
    try:
        for i in range(ns.coordinator_kills):
            e = ClusterEngine(address, timeout_s=30)
            names = set(e.tables())
            ok = set(expected) <= names and all(
                e.execute(f"select sum(x) as s from {n}").to_pylist() == [{"s": s}]
                for n, s in expected.items()
            )
            intact += ok
            name = f"t{i}"
            data = pa.table({"x": list(range(i + 1))})
            if i % 2:
                e.register_arrow(name, data)
            else:
                pq.write_table(data, work / f"{name}.parquet")
                e.register_path(name, str(work / f"{name}.parquet"))
            expected[name] = sum(range(i + 1))
            e.close()
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            t0 = time.perf_counter()
            proc = start()
            e = ClusterEngine(address, timeout_s=30)
            e.status()
            restarts.append(time.perf_counter() - t0)
            e.close()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    print(
        "| coordinator kills | rounds with the catalog intact | tables at end | restart to answer p50 ms | p99 ms |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {ns.coordinator_kills} | {intact} of {ns.coordinator_kills} | {len(expected)} "
        f"| {_percentile(restarts, 50) * 1000:.0f} | {_percentile(restarts, 99) * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--queries", type=int, default=50, help="per client")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=2.0, help="seconds between kills")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--coordinator-kills", type=int, default=0)
    ns = parser.parse_args()
    if ns.coordinator_kills:
        soak_coordinator(ns)
    else:
        soak_clients(ns)


if __name__ == "__main__":
    main()
