"""Interrupting a real kernel stops a long query, embedded DataFusion (whose threads stop
working too) or on a cluster (every worker stops): the cell ends with "query cancelled" and
the kernel stays usable. The interrupt goes to the kernel's process only, never to pytest's."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from jupyter_client.manager import start_new_kernel
from waiting import wait_for

from sqlweave.engines.killable import CHILD_MODULE

from .kernels import answer, native_cpu_ticks, reply_to

pytestmark = pytest.mark.process

#: a hash join whose build side alone takes minutes on this machine
HASH_JOIN_BUILD = (
    "SELECT count(*) FROM generate_series(1, 300000000) a(x)"
    " JOIN generate_series(1, 300000000) b(y) ON a.x = b.y"
)
#: DataFusion's threads count as stopped once they use at most this many CPU ticks (1/100 s)
#: in a whole second; the join, left running, keeps them busy for minutes
QUIET_TICKS = 5
#: goal: about a second; the margin is for a loaded machine (left running, the join's
#: threads stay busy for a minute or more)
STOPS_WITHIN_S = 15


def native_threads_quiet(pid: int) -> bool:
    """Whether the kernel's DataFusion threads used (almost) no CPU over one second."""
    before = native_cpu_ticks(pid)
    time.sleep(1.0)  # the measuring window, not a wait for an event
    return native_cpu_ticks(pid) - before <= QUIET_TICKS


def interrupt_while_running(km: Any, kc: Any, sql: str) -> dict:
    """Run ``%sql sql`` in a kernel with sqlweave loaded, interrupt it once DataFusion's
    threads have worked a quarter second on it, and return the cell's reply content."""
    kc.execute_interactive("%load_ext sqlweave\n%sql SELECT 1", timeout=120)
    pid = km.provisioner.pid
    before = native_cpu_ticks(pid)
    msg_id = kc.execute(f"%sql {sql}")
    wait_for(lambda: native_cpu_ticks(pid) - before > 25, 120, "the query to run")
    km.interrupt_kernel()
    return reply_to(kc, msg_id, 120)["content"]


def test_interrupt_stops_an_embedded_hash_join_build_and_the_kernel_lives() -> None:
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = interrupt_while_running(km, kc, HASH_JOIN_BUILD)
        pid = km.provisioner.pid
        assert reply["status"] == "error"
        assert (reply["ename"], reply["evalue"]) == ("QueryCancelled", "query cancelled")
        assert km.is_alive()
        # the work stops too, not only the cell: nothing keeps the cancelled stream alive
        wait_for(lambda: native_threads_quiet(pid), STOPS_WITHIN_S, "DataFusion's threads to stop")
        seven = answer(kc, "_r = %sql SELECT 7 AS seven", "_r.to_arrow().to_pylist()")
        assert seven == "[{'seven': 7}]"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


#: a nested-loop join with 1e11 candidate pairs: DataFusion cannot stop it before it ends
#: (it never yields), which takes far longer than the next query's 120 s to answer
NESTED_LOOP_JOIN = (
    "SELECT count(*) FROM generate_series(1, 1000000) a(x), generate_series(1, 100000) b(y)"
    " WHERE (a.x * 7 + b.y) % 1000003 = 5"
)


def test_the_next_query_answers_while_a_cancelled_nested_loop_join_winds_down() -> None:
    """A join whose input sizes DataFusion cannot tell (generate_series) runs in the kernel,
    not in a killable child: cancelled, it keeps DataFusion threads until it ends; spare
    runtime threads (native_runtime.RUNTIME_THREADS_PER_CORE) let the next query run
    meanwhile instead of waiting minutes for them."""
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = interrupt_while_running(km, kc, NESTED_LOOP_JOIN)
        assert (reply["ename"], reply["evalue"]) == ("QueryCancelled", "query cancelled")
        seven = answer(kc, "_r = %sql SELECT 7 AS seven", "_r.to_arrow().to_pylist()")
        assert seven == "[{'seven': 7}]"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


#: notebook DataFrames whose nested-loop join (1e11 pairs, hours) runs in a killable child
BIG_FRAMES = (
    "import pandas as pd\n"
    "a = pd.DataFrame({'x': range(1_000_000)})\n"
    "b = pd.DataFrame({'y': range(100_000)})"
)
FRAMES_JOIN = "SELECT count(*) FROM a CROSS JOIN b WHERE (a.x * 7 + b.y) % 1000003 = 5"


def _killable_children(pid: int) -> list[psutil.Process]:
    """The kernel's child processes running sqlweave.engines.killable_child."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if CHILD_MODULE in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue  # ended meanwhile
    return found


def test_interrupt_kills_the_child_running_a_nested_loop_join_over_notebook_frames() -> None:
    """A nested-loop join DataFusion could not stop runs in a child process; the interrupt
    kills it: the cell ends, nothing computes on in the background, the kernel answers."""
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(f"%load_ext sqlweave\n{BIG_FRAMES}", timeout=120)
        pid = km.provisioner.pid
        msg_id = kc.execute(f"%sql {FRAMES_JOIN}")
        wait_for(lambda: _killable_children(pid), 120, "the join to start in a child")
        km.interrupt_kernel()
        reply = reply_to(kc, msg_id, 120)["content"]
        assert (reply["ename"], reply["evalue"]) == ("QueryCancelled", "query cancelled")
        wait_for(lambda: not _killable_children(pid), 60, "the child to be gone")
        wait_for(lambda: native_threads_quiet(pid), STOPS_WITHIN_S, "DataFusion's threads to stop")
        n = answer(kc, "_r = %sql SELECT count(*) AS n FROM b", "_r.to_arrow().to_pylist()")
        assert n == "[{'n': 100000}]"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


#: a cross join whose 1.6e11 candidate pairs keep the workers busy for minutes
CROSS_JOIN = "SELECT count(*) FROM nums a, nums b WHERE (a.x * 7 + b.x) % 1000003 = 5"


def test_interrupt_cancels_a_cluster_query_on_every_worker() -> None:
    """README: interrupting the kernel cancels the query on every worker. The kernel runs
    %%sql on a cluster it connected to with %sqlweave connect; this test watches the cluster."""
    import pyarrow as pa

    from sqlweave.cluster import protocol as P
    from sqlweave.cluster.localcluster import LocalCluster

    with LocalCluster(workers=2, heartbeat_s=0.2) as cluster:
        cluster.client().register_arrow("nums", pa.table({"x": list(range(400_000))}))
        km, kc = start_new_kernel(kernel_name="python3")
        try:
            connect = f"%sqlweave connect {cluster.address} --keys {cluster.keys.directory}"
            kc.execute_interactive(f"%load_ext sqlweave\n{connect}", timeout=120)

            def running() -> int:
                return sum(w.running for w in cluster.status().workers)

            msg_id = kc.execute(f"%%sql\n{CROSS_JOIN}")
            wait_for(lambda: running() >= 1, 120, "the workers to run the query")
            km.interrupt_kernel()
            reply = reply_to(kc, msg_id, 120)["content"]
            assert reply["status"] == "error"
            assert reply["ename"] == "QueryCancelled", reply

            def idle() -> bool:
                live = [
                    w for w in cluster.status().workers if w.liveness is not P.WorkerLiveness.LOST
                ]
                return len(live) == 2 and all(w.running == 0 for w in live)

            # minutes of work left, yet every worker stops (or is replaced by a fresh one)
            wait_for(idle, 60, "every worker to stop the cancelled query")
            assert km.is_alive()
            n = answer(kc, "_r = %sql SELECT count(*) AS n FROM nums", "_r.to_arrow().to_pylist()")
            assert n == "[{'n': 400000}]"
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)


# a Python program that keeps the QueryCancelled it caught (its traceback reaches the frames
# that read DataFusion's stream); SIGINT goes to this child only
KEEPS_THE_CANCEL = """
import os, signal, sys, threading, time
sys.path.insert(0, {tests!r})
from robust.kernels import native_cpu_ticks
import sqlweave

me = os.getpid()
before = native_cpu_ticks(me)

def interrupt_once_running():
    while native_cpu_ticks(me) - before < 25:
        time.sleep(0.01)
    os.kill(me, signal.SIGINT)

threading.Thread(target=interrupt_once_running, daemon=True).start()
try:
    sqlweave.Session().sql({query!r})
except sqlweave.QueryCancelled as exc:
    kept = exc
deadline = time.monotonic() + {within_s}
while True:
    start = native_cpu_ticks(me)
    time.sleep(1.0)  # the measuring window
    if native_cpu_ticks(me) - start <= {quiet}:
        print("quiet")
        break
    if time.monotonic() > deadline:
        print("still busy")
        break
"""


def test_a_kept_cancel_does_not_keep_the_query_running() -> None:
    tests = Path(__file__).resolve().parents[1]
    code = KEEPS_THE_CANCEL.format(
        tests=str(tests), query=HASH_JOIN_BUILD, quiet=QUIET_TICKS, within_s=STOPS_WITHIN_S
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tests.parent)},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["quiet"], done.stdout
