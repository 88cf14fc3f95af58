"""Per-cell overhead of ``%sql SELECT 1``: sqlweave vs the raw engine call vs jupysql.

    python bench/overhead.py [--n 2000] [--profile]

Each row times one way of running ``SELECT 1``; the magic rows include building the
cell's display output (``shell.display_formatter.format(result)``), which is what a
notebook pays per cell. Rows:

    raw datafusion           ctx.sql("SELECT 1").to_arrow_table() on one SessionContext
    raw duckdb               con.sql("SELECT 1").to_arrow_table() on one connection
    sqlweave Session.sql     Session().sql("SELECT 1").to_arrow(): the library, no IPython
    sqlweave %sql            shell.run_line_magic("sql", "SELECT 1"), no display
    sqlweave %sql + display  the same plus display_formatter.format(result)  <- the target row
      same, lineage off      with ``%config SqlWeave.lineage = False``
    jupysql %sql + display   jupysql 0.11 on a native DuckDB connection, same measurement

Lineage capture (on by default) works on a background thread and rewrites its store
(``.sqlweave/``, here in a scratch working directory) per batch, so it
competes with the timed cells; the time to flush its backlog is printed per row.

``--profile`` adds a cProfile of the sqlweave "%sql + display" row, listing the functions
with the most cumulative and own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# jupysql's telemetry (ploomber-core) must not phone home from a benchmark
os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")

QUERY = "SELECT 1"
TARGET_US = 300.0


def measure(fn: Callable[[], object], n: int, warmup: int) -> list[float]:
    """Wall times of ``n`` calls in microseconds, after ``warmup`` untimed calls."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        for _ in range(warmup):
            fn()
        out = []
        for _ in range(n):
            start = time.perf_counter_ns()
            fn()
            out.append((time.perf_counter_ns() - start) / 1000)
            if sink.tell() > 1 << 20:
                sink.seek(0)
                sink.truncate()
    return out


def p90(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=10)[-1]


def raw_datafusion() -> Callable[[], object]:
    import datafusion

    ctx = datafusion.SessionContext()
    return lambda: ctx.sql(QUERY).to_arrow_table()


def raw_duckdb() -> Callable[[], object]:
    import duckdb

    con = duckdb.connect()
    return lambda: con.sql(QUERY).to_arrow_table()


def sqlweave_session() -> Callable[[], object]:
    import sqlweave

    s = sqlweave.Session()
    return lambda: s.sql(QUERY).to_arrow()


def _shell():  # type: ignore[no-untyped-def]
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def sqlweave_magic(display: bool, lineage: bool = True) -> Callable[[], object]:
    shell = _shell()
    if "sqlweave" not in shell.extension_manager.loaded:
        shell.run_line_magic("load_ext", "sqlweave")
    shell.run_line_magic("config", f"SqlWeave.lineage = {lineage}")
    fmt = shell.display_formatter.format
    if not display:
        return lambda: shell.run_line_magic("sql", QUERY)
    return lambda: fmt(shell.run_line_magic("sql", QUERY))


def flush_lineage() -> float:
    """Milliseconds spent waiting for the background lineage capture to catch up."""
    shell = _shell()
    for conf in shell.configurables:
        capture = getattr(getattr(conf, "lineage_magics", None), "capture", None)
        if capture is not None:
            start = time.perf_counter()
            capture.flush()
            return (time.perf_counter() - start) * 1000
    return 0.0


def jupysql_magic() -> Callable[[], object]:
    import duckdb

    shell = _shell()
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("load_ext", "sql")
        shell.user_ns["jupysql_con"] = duckdb.connect()
        shell.run_line_magic("sql", "jupysql_con")
        shell.run_line_magic("config", "SqlMagic.displaycon = False")
    fmt = shell.display_formatter.format
    # jupysql binds %sql over sqlweave's when both are loaded; this row runs last
    return lambda: fmt(shell.run_line_magic("sql", QUERY))


def profile(fn: Callable[[], object], n: int) -> str:
    prof = cProfile.Profile()
    with contextlib.redirect_stdout(io.StringIO()):
        prof.enable()
        for _ in range(n):
            fn()
        prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=2000, help="timed calls per row")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--profile", action="store_true", help="cProfile the sqlweave display row")
    args = p.parse_args(argv)
    # %load_ext sqlweave keeps a lineage store in the working directory: use a scratch one
    os.chdir(tempfile.mkdtemp(prefix="sqlweave-overhead-"))

    rows: list[tuple[str, Callable[[], Callable[[], object]]]] = [
        ("raw datafusion", raw_datafusion),
        ("raw duckdb", raw_duckdb),
        ("sqlweave Session.sql", sqlweave_session),
        ("sqlweave %sql", lambda: sqlweave_magic(display=False)),
        ("sqlweave %sql + display", lambda: sqlweave_magic(display=True)),
        ("  same, lineage off", lambda: sqlweave_magic(display=True, lineage=False)),
        ("jupysql %sql + display", jupysql_magic),
    ]
    results: dict[str, list[float]] = {}
    backlog: dict[str, float] = {}
    profiled = ""
    for name, make in rows:
        try:
            fn = make()
        except Exception as exc:
            print(f"{name}: unavailable: {type(exc).__name__}: {exc}".splitlines()[0])
            continue
        results[name] = measure(fn, args.n, args.warmup)
        if name.startswith("sqlweave %sql"):
            # capture runs on a background thread: its leftover work is part of the cost
            backlog[name] = flush_lineage()
        if args.profile and name == "sqlweave %sql + display":
            profiled = profile(fn, args.n)

    raw = statistics.median(results["raw datafusion"]) if "raw datafusion" in results else None
    print(
        f"`{QUERY}`, {args.n} calls per row after {args.warmup} warm-up calls, {os.cpu_count()} cores\n"
    )
    header = ("", "median us", "p90 us", "over raw datafusion us", "x raw")
    print(f"{header[0]:<26}{header[1]:>10}{header[2]:>10}{header[3]:>24}{header[4]:>8}")
    for name, xs in results.items():
        med = statistics.median(xs)
        over = f"{med - raw:+.0f}" if raw is not None else "-"
        ratio = f"{med / raw:.1f}" if raw else "-"
        print(f"{name:<26}{med:>10.0f}{p90(xs):>10.0f}{over:>24}{ratio:>8}")
    if raw is not None and "sqlweave %sql + display" in results:
        over = statistics.median(results["sqlweave %sql + display"]) - raw
        verdict = "meets" if over <= TARGET_US else "MISSES"
        print(
            f"\nsqlweave %sql + display is {over:.0f} us above the raw call: {verdict} the {TARGET_US:.0f} us target"
        )
    for name, ms in backlog.items():
        print(f"lineage backlog after '{name}': {ms:.0f} ms to flush")
    if profiled:
        print("\n" + profiled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
