"""Cluster scaling on TPC-H: workers pinned to one core each, 1 worker vs N workers.

    .venv/bin/python bench/tpch_cluster.py --sf 1 --queries 1,6 --workers 1,2 --repeat 3

Each worker process is pinned with ``os.sched_setaffinity`` to its own core (worker ``i``
on core ``i``) and runs DataFusion with one partition, so N workers use N cores. The
coordinator is not pinned. Results are checked against plain DataFusion.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tpchdata
from datafusion import SessionContext

from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.localcluster import LocalCluster


def _spin(cpu: int, out: mp.Queue) -> None:
    os.sched_setaffinity(0, {cpu})
    started = time.perf_counter()
    x = 0
    for i in range(10_000_000):
        x += i
    out.put(time.perf_counter() - started)


def parallel_capacity(cpus: list[int]) -> float:
    """How much faster N pinned CPU-bound loops finish together than one after another.

    2.0 on an idle 2-core machine; other load on the machine lowers it, and with it any
    scaling this benchmark can show.
    """
    q: mp.Queue = mp.Queue()
    one = mp.Process(target=_spin, args=(cpus[0], q))
    one.start()
    one.join()
    alone = q.get()
    procs = [mp.Process(target=_spin, args=(c, q)) for c in cpus]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    together = max(q.get() for _ in procs)
    return len(cpus) * alone / together


def run(workers: int, root: Path, queries: dict[str, str], repeat: int) -> dict[str, float]:
    cpus = sorted(os.sched_getaffinity(0))
    times: dict[str, float] = {}
    with LocalCluster(workers=workers, worker_cpus=cpus[:workers], worker_partitions=1) as c:
        engine = ClusterEngine(c.address)
        for name, path in tpchdata.table_paths(root).items():
            engine.register_path(name, str(path))
        ref = SessionContext()
        tpchdata.register_all(ref, root)
        for q, sql in queries.items():
            best = float("inf")
            for _ in range(repeat):
                started = time.perf_counter()
                got = engine.execute(sql)
                best = min(best, time.perf_counter() - started)
            tpchdata.assert_same(
                got, ref.sql(sql).to_arrow_table(), ordered=tpchdata.is_ordered(sql)
            )
            times[q] = best
        engine.close()
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sf", type=float, default=1.0)
    p.add_argument("--parts", type=int, default=8)
    p.add_argument("--queries", default="1,6")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args(argv)
    root = tpchdata.generate(None, scale_factor=ns.sf, parts=ns.parts)
    every = tpchdata.queries()
    queries = {f"q{int(x):02d}": every[f"q{int(x):02d}"] for x in ns.queries.split(",")}
    counts = [int(x) for x in ns.workers.split(",")]
    cpus = sorted(os.sched_getaffinity(0))[: max(counts)]
    before = parallel_capacity(cpus)
    results = {n: run(n, root, queries, ns.repeat) for n in counts}
    after = parallel_capacity(cpus)
    base = counts[0]
    print(f"TPC-H SF{ns.sf:g}, best of {ns.repeat}, workers pinned one core each, seconds")
    print(f"{'query':<6}" + "".join(f"{f'{n} worker(s)':>14}" for n in counts) + "   speedup")
    print(
        f"machine parallel capacity on cores {cpus}: {before:.2f}x before, {after:.2f}x after "
        f"(ideal {len(cpus)}.00x)"
    )
    for q in queries:
        cells = "".join(f"{results[n][q]:>14.3f}" for n in counts)
        speed = results[base][q] / results[counts[-1]][q]
        print(f"{q:<6}{cells}   {speed:.2f}x ({base} -> {counts[-1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
