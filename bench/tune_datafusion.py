"""Measure DataFusion settings one at a time against the default config on TPC-H.

    python bench/tune_datafusion.py --sf 1 --repeat 3
    python bench/tune_datafusion.py --sf 1 --only pushdown,batch-32k --queries 1,6,19
    python bench/tune_datafusion.py --on-top --only pushdown,partitions-3 --repeat 5

``--on-top`` applies every candidate on top of sqlweave's ``DATAFUSION_DEFAULTS`` and makes
those the baseline, which is the question to ask when considering one more default.

Each candidate is a fresh ``SessionContext`` whose config differs from the default by
one setting (or one small group that only makes sense together). Rounds are
interleaved (round -> query -> candidate, the candidate order rotating), so noise from
other processes spreads evenly; a query's time is its best round. "baseline-again"
is a second default context: its distance from "baseline" is the noise floor. The "sqlweave" row is ``DATAFUSION_DEFAULTS`` from
``sqlweave/engines/tuning.py`` (what the embedded engine applies), and "duckdb" is a
plain DuckDB connection for scale. Every candidate's answers are checked against the
baseline's.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tpchdata

from sqlweave.engines.tuning import DATAFUSION_DEFAULTS

PQ = "datafusion.execution.parquet."
EXE = "datafusion.execution."
OPT = "datafusion.optimizer."
#: runtime settings are not SessionConfig keys: they are applied with SQL ``SET``
RT = "datafusion.runtime."

# pieces of the combined candidates below
_CHEAP_WINS = {
    EXE + "enforce_batch_size_in_joins": "true",
    EXE + "skip_partial_aggregation_probe_rows_threshold": "10000",
    EXE + "use_row_number_estimates_to_optimize_partitioning": "true",
}
_SINGLE_PARTITION_JOINS = {
    OPT + "hash_join_single_partition_threshold": str(16 * 2**20),
    OPT + "hash_join_single_partition_threshold_rows": str(1_000_000),
}
_NO_REPARTITION_JOINS = {OPT + "repartition_joins": "false"}

#: label -> settings differing from the default config
CANDIDATES: dict[str, dict[str, str]] = {
    "pushdown": {PQ + "pushdown_filters": "true"},
    "pushdown+reorder": {PQ + "pushdown_filters": "true", PQ + "reorder_filters": "true"},
    "no-view-types": {PQ + "schema_force_view_types": "false"},
    "binary-as-string": {PQ + "binary_as_string": "true"},
    "no-page-index": {PQ + "enable_page_index": "false"},
    "batch-4k": {EXE + "batch_size": "4096"},
    "batch-16k": {EXE + "batch_size": "16384"},
    "batch-32k": {EXE + "batch_size": "32768"},
    "partitions-1": {EXE + "target_partitions": "1"},
    "partitions-3": {EXE + "target_partitions": "3"},
    "partitions-4": {EXE + "target_partitions": "4"},
    "no-repartition-joins": {OPT + "repartition_joins": "false"},
    "no-repartition-aggs": {OPT + "repartition_aggregations": "false"},
    "no-round-robin": {OPT + "enable_round_robin_repartition": "false"},
    "single-part-join-16M": {
        OPT + "hash_join_single_partition_threshold": str(16 * 2**20),
        OPT + "hash_join_single_partition_threshold_rows": str(1_000_000),
    },
    "sort-merge-join": {OPT + "prefer_hash_join": "false"},
    "no-dynamic-filters": {OPT + "enable_dynamic_filter_pushdown": "false"},
    "no-join-dynamic-filters": {OPT + "enable_join_dynamic_filter_pushdown": "false"},
    "no-aggregate-dynamic-filters": {OPT + "enable_aggregate_dynamic_filter_pushdown": "false"},
    "no-topk-dynamic-filters": {OPT + "enable_topk_dynamic_filter_pushdown": "false"},
    "pushdown+no-predicate-cache": {
        PQ + "pushdown_filters": "true",
        PQ + "max_predicate_cache_size": "0",
    },
    "pushdown+force-selections": {
        PQ + "pushdown_filters": "true",
        PQ + "force_filter_selections": "true",
    },
    "no-bloom-on-read": {PQ + "bloom_filter_on_read": "false"},
    "split-groups-by-stats": {EXE + "split_file_groups_by_statistics": "true"},
    "hash-join-buffering-64M": {EXE + "hash_join_buffering_capacity": str(64 * 2**20)},
    "no-repartition-file-scans": {OPT + "repartition_file_scans": "false"},
    # max_passes=1 is not listed: q18 did not finish in over a minute with it
    "no-statistics": {EXE + "collect_statistics": "false"},
    "no-coalesce-batches": {EXE + "coalesce_batches": "false"},
    "row-estimates": {EXE + "use_row_number_estimates_to_optimize_partitioning": "true"},
    "join-batch-size": {EXE + "enforce_batch_size_in_joins": "true"},
    "partial-agg-skip-10k": {EXE + "skip_partial_aggregation_probe_rows_threshold": "10000"},
    "no-metadata-cache": {RT + "metadata_cache_limit": "0"},
    # combinations of the single settings that measured better than the noise floor
    "combo": {PQ + "schema_force_view_types": "false", **_NO_REPARTITION_JOINS, **_CHEAP_WINS},
    "joins4": {**_SINGLE_PARTITION_JOINS, **_CHEAP_WINS},
    "joins4+no-repartition-joins": {
        **_SINGLE_PARTITION_JOINS,
        **_CHEAP_WINS,
        **_NO_REPARTITION_JOINS,
    },
}


def make_runner(settings: dict[str, str], root: Path) -> Callable[[str], pa.Table]:
    import datafusion

    config = datafusion.SessionConfig()
    for key, value in settings.items():
        if not key.startswith(RT):
            config = config.set(key, value)
    ctx = datafusion.SessionContext(config)
    for key, value in settings.items():
        if key.startswith(RT):
            ctx.sql(f"SET {key} = '{value}'").collect()
    tpchdata.register_all(ctx, root)
    return lambda sql: ctx.sql(sql).to_arrow_table()


def duckdb_runner(root: Path) -> Callable[[str], pa.Table]:
    import duckdb

    con = duckdb.connect()
    tpchdata.register_all(con, root)
    return lambda sql: con.sql(sql).to_arrow_table()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sf", type=float, default=1.0)
    p.add_argument("--parts", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--queries", help="comma-separated query numbers (default all 22)")
    p.add_argument("--only", help="comma-separated candidate labels (default all)")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument(
        "--on-top",
        action="store_true",
        help="apply candidates on top of sqlweave's DATAFUSION_DEFAULTS (the baseline then)",
    )
    args = p.parse_args(argv)

    all_q = tpchdata.queries()
    queries = (
        {f"q{int(x):02d}": all_q[f"q{int(x):02d}"] for x in args.queries.split(",")}
        if args.queries
        else all_q
    )
    chosen = args.only.split(",") if args.only else list(CANDIDATES)
    # "baseline-again" repeats the baseline: its deviation is the noise floor of this run
    start = dict(DATAFUSION_DEFAULTS) if args.on_top else {}
    configs = {
        "baseline": start,
        "baseline-again": start,
        **{k: {**start, **CANDIDATES[k]} for k in chosen},
    }
    configs["sqlweave"] = dict(DATAFUSION_DEFAULTS)
    root = tpchdata.generate(args.data_dir, scale_factor=args.sf, parts=args.parts)
    print(
        f"TPC-H SF{args.sf:g} ({args.parts} files/table), {len(queries)} queries, "
        f"best of {args.repeat}, {os.cpu_count()} cores"
        + (", candidates on top of sqlweave's defaults" if args.on_top else "")
    )
    runners = {label: make_runner(s, root) for label, s in configs.items()}
    runners["duckdb"] = duckdb_runner(root)

    best: dict[str, dict[str, float]] = {label: {} for label in runners}
    # CPU time of this process (all engine threads): less sensitive than wall time to
    # other processes on a shared machine, but blind to lost parallelism
    best_cpu: dict[str, dict[str, float]] = {label: {} for label in runners}
    wrong: dict[str, list[str]] = {label: [] for label in runners}
    failed: dict[str, list[str]] = {label: [] for label in runners}
    labels = list(runners)
    for rnd in range(args.repeat):
        for qi, (q, sql) in enumerate(queries.items()):
            answers = {}
            # rotate who goes first: the first run after a different query pays for memory
            # growth and was measured up to 2x slower (q18), a bias best-of-N then drops
            shift = (rnd + qi) % len(labels)
            for label in labels[shift:] + labels[:shift]:
                run = runners[label]
                if q in failed[label]:
                    continue
                start, cpu_start = time.perf_counter(), time.process_time()
                try:
                    answers[label] = run(sql)
                except Exception:
                    failed[label].append(q)
                    continue
                elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
                best[label][q] = min(elapsed, best[label].get(q, float("inf")))
                best_cpu[label][q] = min(cpu, best_cpu[label].get(q, float("inf")))
            if rnd == 0 and "baseline" in answers:  # checks need every answer of round 0
                for label, table in answers.items():
                    try:
                        tpchdata.assert_same(table, answers["baseline"], tpchdata.is_ordered(sql))
                    except AssertionError:
                        wrong[label].append(q)

    base = best["baseline"]
    total_base = sum(base.values())
    cpu_base = sum(best_cpu["baseline"].values())
    header = [
        "setting",
        "total ms",
        "vs baseline",
        "cpu ms",
        "cpu vs baseline",
        "q faster >5%",
        "q slower >5%",
        "biggest change",
        "notes",
    ]
    rows = []
    for label in runners:
        t = best[label]
        common = [q for q in base if q in t]
        total = sum(t[q] for q in common)
        ratios = {q: t[q] / base[q] for q in common}
        faster = sum(1 for r in ratios.values() if r < 0.95)
        slower = sum(1 for r in ratios.values() if r > 1.05)
        big = max(ratios, key=lambda q: abs(ratios[q] - 1.0)) if ratios else None
        change = f"{big} {ratios[big]:.2f}x" if big else "-"
        notes = []
        if wrong[label]:
            notes.append(f"DIFFERENT ANSWERS {wrong[label]}")
        if failed[label]:
            notes.append(f"failed {failed[label]}")
        own = CANDIDATES.get(label) if args.on_top else configs.get(label)
        if own:
            notes.append(", ".join(f"{k.removeprefix('datafusion.')}={v}" for k, v in own.items()))
        pct = f"{(total / total_base - 1) * 100:+.1f}%" if total_base else "-"
        cpu = sum(best_cpu[label][q] for q in common)
        cpu_pct = f"{(cpu / cpu_base - 1) * 100:+.1f}%" if cpu_base else "-"
        rows.append(
            [
                label,
                f"{total * 1000:.0f}",
                pct,
                f"{cpu * 1000:.0f}",
                cpu_pct,
                str(faster),
                str(slower),
                change,
                "; ".join(notes),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, ["-" * w for w in widths], *rows]:
        print(
            "  ".join(
                c.ljust(w) if i in (0, 7, 8) else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths))
            ).rstrip()
        )
    print("\nper-query best ms (wall / cpu):")
    w = max(len(label) for label in labels) + 2
    print("  query " + "".join(label.rjust(max(w, 12)) for label in labels))
    for q in queries:
        cells = [
            f"{best[label].get(q, float('nan')) * 1000:.0f}/{best_cpu[label].get(q, float('nan')) * 1000:.0f}"
            for label in labels
        ]
        print(f"  {q}   " + "".join(c.rjust(max(w, 12)) for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
