"""TPC-H on several engines side by side: per-query best-of-N times, ratios and a correctness check.

    python bench/tpch.py --sf 1 --engines raw-datafusion,local,duckdb --repeat 3
    python bench/tpch.py --sf 1 --engines raw-datafusion,local,duckdb,cluster-1,cluster-2 --queries 1,6

Engines:
    raw-datafusion  plain ``datafusion.SessionContext()`` (default config), parquet dirs registered
    local           ``sqlweave.Session()``, timed through ``s.sql(q).to_arrow()``
    duckdb          plain ``duckdb.connect()`` with ``read_parquet`` views
    cluster-N       ``sqlweave.cluster.LocalCluster(workers=N)`` + ``sqlweave.Session(engine=c.address)``

Every query runs once per engine per round (the engine order rotating), rounds repeated
``--repeat`` times, so background noise spreads evenly over the engines; a query's time is
its best round. Every engine's
answer is compared with the reference engine's (raw-datafusion when present) by
``tpchdata.assert_same``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tpchdata

REFERENCE = "raw-datafusion"
DUCKDB = "duckdb"


@dataclass
class Runner:
    """One engine under test: ``run(sql) -> pa.Table``, cleaned up by ``stack``."""

    name: str
    run: Callable[[str], pa.Table] | None
    unavailable: str | None = None
    times: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    checks: dict[str, str] = field(default_factory=dict)


def _raw_datafusion(root: Path, stack: contextlib.ExitStack) -> Callable[[str], pa.Table]:
    import datafusion

    ctx = datafusion.SessionContext()
    tpchdata.register_all(ctx, root)
    return lambda sql: ctx.sql(sql).to_arrow_table()


def _duckdb(root: Path, stack: contextlib.ExitStack) -> Callable[[str], pa.Table]:
    import duckdb

    con = stack.enter_context(duckdb.connect())
    tpchdata.register_all(con, root)
    return lambda sql: con.sql(sql).to_arrow_table()


def _session(engine: str, root: Path, stack: contextlib.ExitStack) -> Callable[[str], pa.Table]:
    import sqlweave

    s = stack.enter_context(sqlweave.Session(engine=engine))
    tpchdata.register_all(s, root)
    return lambda sql: s.sql(sql).to_arrow()


def _cluster(workers: int, root: Path, stack: contextlib.ExitStack) -> Callable[[str], pa.Table]:
    from sqlweave.cluster import LocalCluster

    cluster = stack.enter_context(LocalCluster(workers=workers))
    return _session(cluster.address, root, stack)


def make_runner(name: str, root: Path, stack: contextlib.ExitStack) -> Runner:
    try:
        if name == REFERENCE:
            run = _raw_datafusion(root, stack)
        elif name == "local":
            run = _session("local", root, stack)
        elif name == DUCKDB:
            run = _duckdb(root, stack)
        elif name.startswith("cluster-"):
            run = _cluster(int(name.removeprefix("cluster-")), root, stack)
        else:
            raise ValueError(f"unknown engine {name!r}")
    except Exception as exc:  # report and carry on with the other engines
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
        return Runner(name, None, unavailable=msg)
    return Runner(name, run)


def _timed(run: Callable[[str], pa.Table], sql: str) -> tuple[float, pa.Table]:
    start = time.perf_counter()
    table = run(sql)
    return time.perf_counter() - start, table


def bench(runners: list[Runner], queries: dict[str, str], repeat: int) -> None:
    live = [r for r in runners if r.run is not None]
    ref = next((r for r in live if r.name == REFERENCE), live[0] if live else None)
    for rnd in range(repeat):
        for qi, (qname, sql) in enumerate(queries.items()):
            answers: dict[str, pa.Table] = {}
            # rotate who goes first: the first run after a different query pays for memory
            # growth (measured up to 2x on q18), a bias that best-of-N then drops
            shift = (rnd + qi) % len(live)
            for r in live[shift:] + live[:shift]:
                if qname in r.errors:
                    continue
                try:
                    elapsed, table = _timed(r.run, sql)  # type: ignore[arg-type]
                except Exception as exc:
                    r.errors[qname] = f"{type(exc).__name__}: {exc}".splitlines()[0][:120]
                    continue
                r.times[qname] = min(elapsed, r.times.get(qname, float("inf")))
                answers[r.name] = table
            if rnd == 0 and ref is not None and ref.name in answers:
                for r in live:
                    if r is ref or r.name not in answers:
                        continue
                    try:
                        tpchdata.assert_same(
                            answers[r.name], answers[ref.name], tpchdata.is_ordered(sql)
                        )
                        r.checks[qname] = "ok"
                    except AssertionError as exc:
                        r.checks[qname] = str(exc).splitlines()[0][:120]


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def report(runners: list[Runner], queries: dict[str, str]) -> str:
    live = [r for r in runners if r.run is not None]
    by = {r.name: r for r in live}
    ratio_cols: list[tuple[str, str]] = []
    for base in (REFERENCE, DUCKDB):
        if base in by:
            ratio_cols += [
                (r.name, base)
                for r in live
                if r.name != base and not (base == DUCKDB and r.name == REFERENCE)
            ]
    if REFERENCE in by and DUCKDB in by:
        ratio_cols.append((REFERENCE, DUCKDB))
    ref = by.get(REFERENCE, live[0] if live else None)
    header = ["query"] + [f"{r.name} ms" for r in live]
    header += [f"{a}/{'raw' if b == REFERENCE else b}" for a, b in ratio_cols] + [
        f"check vs {ref.name if ref else '-'}"
    ]
    rows = []
    complete = [q for q in queries if all(q in r.times for r in live)]
    for q in queries:
        t = {r.name: r.times.get(q) for r in live}
        bad = [
            f"{r.name}: {r.errors.get(q) or r.checks.get(q)}"
            for r in live
            if r is not ref and (q in r.errors or r.checks.get(q, "ok") != "ok")
        ]
        if ref is not None and q in ref.errors:
            bad.insert(0, f"{ref.name}: {ref.errors[q]}")
        rows.append(
            [q]
            + [_ms(t[r.name]) for r in live]
            + [_ratio(t[a], t[b]) for a, b in ratio_cols]
            + ["; ".join(bad) or "ok"]
        )
    totals = {r.name: sum(r.times[q] for q in complete) for r in live}
    n_bad = sum(1 for row in rows if row[-1] != "ok")
    rows.append(
        [f"total ({len(complete)} q)"]
        + [_ms(totals[r.name]) for r in live]
        + [_ratio(totals[a], totals[b]) for a, b in ratio_cols]
        + ["all ok" if n_bad == 0 else f"{n_bad} queries differ or failed"]
    )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        last = len(row) - 1
        return "  ".join(
            str(c).rjust(w) if 0 < i < last else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()

    lines = [fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)]
    lines += [f"{r.name}: unavailable: {r.unavailable}" for r in runners if r.run is None]
    return "\n".join(lines)


def _versions() -> str:
    import datafusion
    import duckdb

    return (
        f"datafusion {datafusion.__version__}, duckdb {duckdb.__version__}, pyarrow {pa.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} cores"
    )


def parse_queries(spec: str | None, all_queries: dict[str, str]) -> dict[str, str]:
    if not spec:
        return all_queries
    wanted = [f"q{int(x):02d}" for x in spec.split(",") if x.strip()]
    missing = [q for q in wanted if q not in all_queries]
    if missing:
        raise SystemExit(f"unknown queries {missing}")
    return {q: all_queries[q] for q in wanted}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    p.add_argument("--parts", type=int, default=8, help="parquet files per table (default 8)")
    p.add_argument("--engines", default="raw-datafusion,local,duckdb")
    p.add_argument("--queries", help="comma-separated query numbers, e.g. 1,6 (default all 22)")
    p.add_argument(
        "--repeat", type=int, default=3, help="rounds; a query's time is its best (default 3)"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="parent of the generated data (default bench/.data)",
    )
    args = p.parse_args(argv)

    queries = parse_queries(args.queries, tpchdata.queries())
    t0 = time.perf_counter()
    root = tpchdata.generate(args.data_dir, scale_factor=args.sf, parts=args.parts)
    print(
        f"TPC-H SF{args.sf:g}, {args.parts} files per table at {root} (ready in {time.perf_counter() - t0:.1f} s)"
    )
    print(_versions())
    print(f"best of {args.repeat} rounds, times in ms including planning and conversion to Arrow\n")
    with contextlib.ExitStack() as stack:
        runners = [
            make_runner(name.strip(), root, stack)
            for name in args.engines.split(",")
            if name.strip()
        ]
        bench(runners, queries, args.repeat)
        print(report(runners, queries))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
