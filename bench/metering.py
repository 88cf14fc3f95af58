"""What measuring a query while it runs costs: DataFusion's ``collect`` vs ``collect_metered``.

    .venv/bin/python bench/metering.py [--sf 1] [--rounds 5] [--partitions 2]

Workers run every task through :func:`sqlweave.engines.metering.collect_metered` (the
plan's partitions streamed, each output batch counted, the scans' live metrics readable
by the progress thread) where they used ``collect``. Both run here on one DataFusion
context over TPC-H parquet, alternating, for whole TPC-H queries (few output batches) and
for task-like fragments with hundreds of output batches. Each cell is the best of ``--rounds``, in wall and in CPU seconds (this process,
every thread); a machine shared with other work moves wall times, CPU times less.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tpchdata
from datafusion import SessionConfig, SessionContext

from sqlweave.engines.local import collect_table
from sqlweave.engines.metering import PlanMeter, collect_metered

#: task-like fragments with many output batches: scans feeding a shuffle (not measured:
#: they run as ``collect``) and a partial aggregate by a key of 1.5M values (measured)
FRAGMENTS = {
    "scan lineitem": (
        "SELECT l_orderkey, l_partkey, l_extendedprice, l_discount FROM lineitem"
        " WHERE l_shipdate > DATE '1994-01-01'"
    ),
    "scan orders": "SELECT o_orderkey, o_custkey, o_orderdate FROM orders",
    "agg orderkey": "SELECT l_orderkey, sum(l_quantity) AS q FROM lineitem GROUP BY l_orderkey",
}


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(run: Callable[[], object]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), _cpu()
    rows = run().num_rows  # type: ignore[attr-defined]
    return time.perf_counter() - wall, _cpu() - cpu, rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sf", type=float, default=1.0)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--partitions", type=int, default=2, help="DataFusion target partitions")
    p.add_argument("--queries", default="1,3,9,18")
    ns = p.parse_args(argv)
    root = tpchdata.generate(None, scale_factor=ns.sf, parts=8)
    ctx = SessionContext(SessionConfig().with_target_partitions(ns.partitions))
    tpchdata.register_all(ctx, root)
    every = tpchdata.queries()
    cases = {f"q{int(q):02d}": every[f"q{int(q):02d}"] for q in ns.queries.split(",")}
    cases.update(FRAGMENTS)
    ways: dict[str, Callable[[str], object]] = {
        "collect": lambda sql: collect_table(ctx.sql(sql)),
        "metered": lambda sql: collect_metered(ctx, ctx.sql(sql), PlanMeter()),
    }
    best: dict[tuple[str, str], tuple[float, float]] = {}
    rows: dict[str, int] = {}
    for _ in range(ns.rounds):
        for case, sql in cases.items():
            for way, run in ways.items():
                wall, cpu, n = _timed(lambda run=run, sql=sql: run(sql))
                assert rows.setdefault(case, n) == n, f"{case}: {way} gave {n} rows"
                old = best.get((case, way), (float("inf"), float("inf")))
                best[(case, way)] = (min(old[0], wall), min(old[1], cpu))
    print(
        f"TPC-H SF{ns.sf:g}, {ns.partitions} partitions, best of {ns.rounds}, seconds "
        "(wall / CPU of every thread)"
    )
    print(f"{'case':<15}{'rows':>10}{'collect':>18}{'metered':>18}{'wall':>9}{'CPU':>8}")
    for case in cases:
        (cw, cc), (mw, mc) = best[(case, "collect")], best[(case, "metered")]
        print(
            f"{case:<15}{rows[case]:>10,}{cw:>9.3f} /{cc:>7.3f}{mw:>9.3f} /{mc:>7.3f}"
            f"{(mw / cw - 1) * 100:>+8.1f}%{(mc / cc - 1) * 100:>+7.1f}%"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
