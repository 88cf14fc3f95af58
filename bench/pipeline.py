"""Pipeline benchmarks: planning a large pipeline, and running branches in parallel.

    python bench/pipeline.py [--notebooks 200] [--skip-run]

Rows:

    plan N notebooks        sqlweave.pipeline.plan() over N synthetic notebooks (20 levels,
                            each notebook two %%sql cells joining two upstream tables);
                            best of 3, goal < 2 s for 200
    run 6 notebooks, jobs 1 two independent branches of three chained notebooks, one kernel
                            at a time
    run 6 notebooks, jobs 2 the same with two kernels at once; goal: jobs 1 / jobs 2 >= 1.6

Kernel start-up is part of each notebook's time, as it is in a real pipeline. On a shared
machine the run rows are noisy: read them with the load average printed under the table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from notebook_files import write_notebook

from sqlweave.pipeline import RunOptions, plan, run

PLAN_GOAL_S = 2.0
SPEEDUP_GOAL = 1.6


def synthetic(folder: Path, n: int, width: int = 10) -> None:
    """``n`` notebooks in levels of ``width``; each joins two tables of the level before."""
    for i in range(n):
        level, pos = divmod(i, width)
        if level == 0:
            body = f"CREATE TABLE t{i} AS SELECT id, id * {i} AS v FROM source_{pos}"
        else:
            a = (level - 1) * width + pos
            b = (level - 1) * width + (pos + 1) % width
            body = (
                f"CREATE TABLE t{i} AS\nSELECT x.id, x.v + y.v AS v, count(*) OVER () AS n\n"
                f"FROM t{a} x JOIN t{b} y ON x.id = y.id WHERE x.v > 0"
            )
        write_notebook(
            folder / f"nb{i:03d}.ipynb",
            "%load_ext sqlweave",
            f"%%sql\n{body}",
            f"%%sql\nSELECT avg(v) AS mean, max(v) AS top FROM t{i} GROUP BY id % 7",
        )


def bench_plan(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        synthetic(folder, n)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            p = plan([folder])
            best = min(best, time.perf_counter() - t0)
        assert len(p.order) == n
        return best


def branches(folder: Path) -> None:
    """Two independent chains a1 -> a2 -> a3 and b1 -> b2 -> b3."""
    for branch in "ab":
        write_notebook(
            folder / f"{branch}1.ipynb",
            "%load_ext sqlweave",
            f"%%sql\nCREATE TABLE {branch}1 AS SELECT value AS id, value % 97 AS v FROM range(2000000)",
        )
        for step in (2, 3):
            write_notebook(
                folder / f"{branch}{step}.ipynb",
                "%load_ext sqlweave",
                f"%%sql\nCREATE TABLE {branch}{step} AS\n"
                f"SELECT id, (v * 7 + id) % 101 AS v FROM {branch}{step - 1} WHERE id % 3 <> 0",
            )


def bench_run(jobs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        branches(folder)
        t0 = time.perf_counter()
        result = run([folder], options=RunOptions(jobs=jobs))
        seconds = time.perf_counter() - t0
        if not result.ok:
            from sqlweave.pipeline.summary import run_summary

            raise SystemExit(f"the benchmark pipeline failed:\n{run_summary(result.state)}")
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notebooks", type=int, default=200)
    parser.add_argument("--skip-run", action="store_true", help="only the planning row")
    args = parser.parse_args()
    rows = []
    t = bench_plan(args.notebooks)
    rows.append(
        (
            f"plan {args.notebooks} notebooks",
            f"{t:.2f} s",
            f"< {PLAN_GOAL_S:.0f} s",
            t < PLAN_GOAL_S,
        )
    )
    if not args.skip_run:
        one = bench_run(1)
        two = bench_run(2)
        rows.append(("run 6 notebooks, jobs 1", f"{one:.1f} s", "", None))
        speedup = one / two
        rows.append(
            (
                "run 6 notebooks, jobs 2",
                f"{two:.1f} s ({speedup:.2f}x)",
                f">= {SPEEDUP_GOAL}x",
                speedup >= SPEEDUP_GOAL,
            )
        )
    print(f"{'row':<26} {'measured':>18} {'goal':>8}  met")
    for name, value, goal, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"{name:<26} {value:>18} {goal:>8}  {mark}")
    print(f"cores: {os.cpu_count()}, load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
