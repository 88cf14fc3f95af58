"""Lineage extraction speed: sqlweave next to sqllineage on the same statements.

    python bench/lineage.py                 # 22 TPC-H queries + a 200-statement script
    python bench/lineage.py --repeat 9 --statements 200

Workloads:
    tpch      the 22 TPC-H queries in ``bench/queries/tpch/qNN.sql``, one sample per query
    script    a generated script of CTAS / INSERT / CREATE VIEW chains (``--statements``);
              both tools get one statement at a time (sqllineage's run time on the whole
              script grows faster than linearly: over 10 minutes for 200 statements), and
              sqlweave's time for the whole script in one call is printed as an extra row

Both tools do column-level lineage: ``sqlweave.lineage.extract`` and sqllineage's
``LineageRunner(sql).get_column_lineage()`` with its default (sqlfluff, ``ansi``) parser.
A time is the best of ``--repeat`` runs for sqlweave and of ``--sqllineage-repeat`` runs for
the much slower sqllineage, after one warm-up run of each tool. Targets: median <= 5 ms per TPC-H
query and >= 5x faster than sqllineage.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlweave.lineage.extract import extract  # noqa: E402

TPCH_DIR = ROOT / "bench" / "queries" / "tpch"
TARGET_MEDIAN_MS = 5.0
TARGET_RATIO = 5.0


@dataclass(frozen=True)
class Sample:
    """Milliseconds per statement of one workload item, or the error it raised."""

    ms: float | None
    error: str | None = None


def tpch_queries() -> list[tuple[str, str]]:
    """(name, sql) of the 22 TPC-H queries."""
    return [(p.stem, p.read_text()) for p in sorted(TPCH_DIR.glob("q[0-9][0-9].sql"))]


def chain_script(statements: int) -> str:
    """A script of dependent CTAS / INSERT / view statements, ``statements`` long."""
    parts = ["CREATE TABLE t0 AS SELECT id, k, v, ts FROM raw.events WHERE v IS NOT NULL"]
    for i in range(1, statements):
        prev = f"t{(i - 1) // 3 * 3}"
        match i % 3:
            case 1:
                parts.append(
                    f"CREATE TABLE t{i} AS SELECT p.id, p.k, p.v * 2 AS v, d.name, p.ts "
                    f"FROM {prev} p JOIN dim.keys d ON p.k = d.k WHERE p.v > {i}"
                )
            case 2:
                parts.append(
                    f"INSERT INTO t{i - 1} (id, k, v, name, ts) SELECT id, k, sum(v), "
                    f"max(name), max(ts) FROM t{i - 1} GROUP BY id, k"
                )
            case _:
                parts.append(
                    f"CREATE VIEW t{i} AS WITH c AS (SELECT k, v, ts, row_number() OVER "
                    f"(PARTITION BY k ORDER BY ts DESC) AS rn FROM t{i - 2}) "
                    f"SELECT k AS id, k, CASE WHEN v > 0 THEN v ELSE 0 END AS v, ts "
                    f"FROM c WHERE rn = 1"
                )
    return ";\n".join(parts) + ";"


def best_of(run: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` runs, in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def sqlweave_sample(sql: str, statements: int, repeat: int) -> Sample:
    extract(sql)  # warm caches and imports
    return Sample(best_of(lambda: extract(sql), repeat) / statements)


def sqllineage_sample(sql: str, statements: int, repeat: int) -> Sample:
    from sqllineage.runner import LineageRunner

    def run() -> None:
        LineageRunner(sql, silent_mode=True).get_column_lineage()

    try:
        run()  # warm-up, as for sqlweave
        return Sample(best_of(run, repeat) / statements)
    except Exception as error:  # sqllineage gives up on some dialect features
        return Sample(None, f"{type(error).__name__}: {str(error)[:60]}")


def summary(samples: list[Sample]) -> tuple[float, float, float, int]:
    """(median, p90, total, failures) over the samples that succeeded."""
    ms = sorted(s.ms for s in samples if s.ms is not None)
    if not ms:
        return (float("nan"),) * 3 + (len(samples),)  # type: ignore[return-value]
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return statistics.median(ms), p90, sum(ms), len(samples) - len(ms)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="sqlweave runs per item")
    parser.add_argument("--sqllineage-repeat", type=int, default=2)
    parser.add_argument("--statements", type=int, default=200, help="generated script length")
    parser.add_argument("--no-sqllineage", action="store_true")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # sqlglot's "falling back to Command" and sqlfluff noise
    warnings.simplefilter("ignore")

    queries = tpch_queries()
    if len(queries) != 22:
        print(f"expected 22 TPC-H queries in {TPCH_DIR}, found {len(queries)}", file=sys.stderr)
    script = chain_script(args.statements)
    statements = [s for s in script.split(";\n") if s.strip()]
    workloads = {
        "tpch (per query)": [(name, sql, 1) for name, sql in queries],
        f"script ({len(statements)} stmts)": [
            (f"stmt{i}", sql, 1) for i, sql in enumerate(statements, 1)
        ],
    }

    rows = []
    for workload, items in workloads.items():
        ours = [sqlweave_sample(sql, n, args.repeat) for _, sql, n in items]
        theirs = (
            []
            if args.no_sqllineage
            else [sqllineage_sample(sql, n, args.sqllineage_repeat) for _, sql, n in items]
        )
        # the ratio compares the items both tools handled
        both = [(o.ms, t.ms) for o, t in zip(ours, theirs) if t.ms is not None and o.ms]
        ratio = sum(t for _, t in both) / sum(o for o, _ in both) if both else float("nan")
        failed = [name for (name, _, _), s in zip(items, theirs) if s.error]
        if failed:
            print(f"sqllineage failed on: {', '.join(failed)}", file=sys.stderr)
        rows.append((workload, "sqlweave", summary(ours), None))
        if theirs:
            rows.append((workload, "sqllineage", summary(theirs), ratio))
    whole = sqlweave_sample(script, len(statements), args.repeat)
    rows.append(("script (whole, one call)", "sqlweave", summary([whole] * len(statements)), None))

    header = (
        f"{'workload':<32} {'tool':<11} {'median ms':>10} {'p90 ms':>9} {'total ms':>10} "
        f"{'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    for workload, tool, (median, p90, total, failures), ratio in rows:
        shown = "" if ratio is None else f"{ratio:.1f}x"
        note = f"  ({failures} failed)" if failures else ""
        print(
            f"{workload:<32} {tool:<11} {median:>10.2f} {p90:>9.2f} {total:>10.1f} {shown:>7}{note}"
        )
    ours_by_workload = {w: s for w, tool, s, _ in rows if tool == "sqlweave"}
    tpch_median = ours_by_workload["tpch (per query)"][0]
    verdict = "OK" if tpch_median <= TARGET_MEDIAN_MS else "MISSED"
    print(f"\nTPC-H median {tpch_median:.2f} ms/query (target <= {TARGET_MEDIAN_MS} ms): {verdict}")
    print(
        "ratio = sqllineage time / sqlweave time on the statements both handled "
        f"(target >= {TARGET_RATIO}x); script rows: one sample per statement"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
