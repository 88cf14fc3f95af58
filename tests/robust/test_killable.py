"""A nested-loop join DataFusion cannot stop runs in a child process that an interrupt kills
(sqlweave.engines.killable): which queries go there, that they answer as in the kernel, and
that a cancel ends the child's work. Signals go to child processes only, never to pytest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from waiting import wait_for

from sqlweave.engines import killable
from sqlweave.engines.killable import Killable
from sqlweave.engines.local import DataFusionEngine, make_context, settings_of
from sqlweave.errors import SqlError

from .kernels import native_cpu_ticks

#: a nested-loop join: the condition has no equality to hash on
NESTED = "SELECT count(*) AS n FROM a CROSS JOIN b WHERE a.x * 3 > b.y"


def _engine(policy: Killable = Killable.NESTED_LOOP) -> DataFusionEngine:
    engine = DataFusionEngine()
    engine.killable, engine.child_min_pairs = policy, 1
    engine.register_arrow("a", pa.table({"x": list(range(300)), "s": ["7"] * 299 + ["x"]}))
    engine.register_arrow("b", pa.table({"y": list(range(200))}))
    return engine


def _job(
    engine: DataFusionEngine,
    sql: str,
    params: dict | None = None,
    min_pairs: int = 1,
    policy: Killable = Killable.NESTED_LOOP,
) -> killable.ChildJob | None:
    df = engine.ctx.sql(sql, param_values=params or {})
    plan = df.execution_plan()
    baseline = settings_of(make_context())
    return killable.child_job(engine.ctx, sql, plan, params, baseline, policy, min_pairs)


def test_a_big_nested_loop_join_over_memory_tables_goes_to_a_child_with_its_tables() -> None:
    engine = _engine()
    engine.execute("SET datafusion.execution.time_zone = '+05:00'")
    job = _job(engine, NESTED)
    assert job is not None
    assert sorted(job.tables) == ["a", "b"]
    assert job.tables["a"].num_rows == 300
    assert ("datafusion.execution.time_zone", "+05:00") in job.settings


@pytest.mark.parametrize(
    ("why", "sql", "min_pairs"),
    [
        ("fewer pairs than the threshold", NESTED, 300 * 200 + 1),
        ("a hash join", "SELECT count(*) FROM a JOIN b ON a.x = b.y", 1),
        ("no join at all", "SELECT count(*) FROM a", 1),
        (
            "sizes DataFusion cannot tell",
            "SELECT count(*) FROM generate_series(1, 10) s(v), a WHERE s.v > a.x",
            1,
        ),
    ],
)
def test_other_queries_stay_in_the_kernel(why: str, sql: str, min_pairs: int) -> None:
    assert _job(_engine(), sql, min_pairs=min_pairs) is None, why


def test_hash_joins_go_to_the_child_when_every_join_should() -> None:
    sql = "SELECT count(*) FROM a JOIN b ON a.x = b.y"
    job = _job(_engine(), sql, policy=Killable.JOINS)
    assert job is not None and sorted(job.tables) == ["a", "b"]
    assert _job(_engine(), sql, policy=Killable.OFF) is None
    assert _job(_engine(), NESTED, policy=Killable.OFF) is None


def test_bound_parameters_views_and_file_tables_stay_in_the_kernel(tmp_path: Path) -> None:
    """The child has only the shipped in-memory tables: a view that computes (a bare
    projection is its table's data, and ships as such) or files stay here."""
    engine = _engine()
    assert _job(engine, NESTED.replace("3", "$k"), params={"k": 3}) is None
    engine.execute("CREATE VIEW v AS SELECT x FROM a WHERE x % 2 = 0")
    assert _job(engine, NESTED.replace("FROM a", "FROM v a")) is None
    pq.write_table(pa.table({"x": list(range(300))}), tmp_path / "f.parquet")
    engine.register_path("f", str(tmp_path / "f.parquet"))
    assert _job(engine, NESTED.replace("FROM a", "FROM f a")) is None


def test_the_child_answers_as_the_kernel_does_with_the_sessions_settings() -> None:
    sql = NESTED.replace("count(*) AS n", "count(*) AS n, min(arrow_typeof(now())) AS t")
    kernel, child = _engine(Killable.OFF), _engine()
    try:
        for engine in (kernel, child):
            engine.execute("SET datafusion.execution.time_zone = '+05:00'")
        here = kernel.execute(sql).to_pylist()
        there = child.execute(sql).to_pylist()
        assert child.child_pid is not None  # the child ran it (and waits for more)
        assert there == here
        assert here[0]["n"] > 0 and "+05:00" in here[0]["t"]
    finally:
        child.close()
    assert child.child_pid is None


def test_an_error_in_the_child_is_the_usual_short_error() -> None:
    engine = _engine()
    try:
        with pytest.raises(SqlError) as info:
            engine.execute("SELECT count(*) FROM a CROSS JOIN b WHERE CAST(a.s AS INT) > b.y")
        assert "Cannot cast string 'x'" in str(info.value)
        assert engine.execute(NESTED).to_pylist()[0]["n"] > 0  # the child still serves
    finally:
        engine.close()


class _RefusedSettings(DataFusionEngine):
    """Ships every nested-loop join with a setting the child cannot take."""

    def _child_job(self, sql, plan, params):
        job = super()._child_job(sql, plan, params)
        if job is not None:
            job.settings = (*job.settings, ("datafusion.no_such_setting", "1"))
        return job


def test_a_query_the_child_cannot_set_up_runs_in_the_kernel() -> None:
    engine = _RefusedSettings()
    engine.child_min_pairs = 1
    engine.register_arrow("a", pa.table({"x": [1, 2, 3]}))
    engine.register_arrow("b", pa.table({"y": [1, 2]}))
    try:
        assert engine.execute(NESTED).to_pylist() == [{"n": 6}]
        assert engine.child_pid is not None  # the child was asked, and refused
    finally:
        engine.close()


def test_a_child_that_dies_mid_query_is_a_clear_error_and_the_next_query_gets_a_new_one() -> None:
    """SIGKILL goes to the child only (as the kernel's OOM killer would send it)."""
    engine = DataFusionEngine()
    engine.register_arrow("a", pa.table({"x": list(range(1_000_000))}))
    engine.register_arrow("b", pa.table({"y": list(range(100_000))}))
    killed = []

    def running_the_query() -> int | None:
        """The child's pid once DataFusion runs there (its runtime threads exist)."""
        pid = engine.child_pid
        return pid if pid is not None and native_cpu_ticks(pid) > 0 else None

    def kill_the_child() -> None:
        pid = wait_for(running_the_query, 120, "the child to run the query")
        killed.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_child, daemon=True)
    killer.start()
    try:
        with pytest.raises(SqlError, match=r"ended unexpectedly \(signal 9\)"):
            engine.execute(
                "SELECT count(*) FROM a CROSS JOIN b WHERE (a.x * 7 + b.y) % 1000003 = 5"
            )
        killer.join()
        engine.child_min_pairs = 1
        assert engine.execute("SELECT count(*) AS n FROM a CROSS JOIN b WHERE a.x < 2 AND b.y < 3")
        assert engine.child_pid not in (None, *killed)
    finally:
        engine.close()


# a Python program that interrupts itself while its killable child runs a join of 1e11
# pairs (hours), then reports whether the child is gone and whether the next query answers;
# SIGINT goes to this program only
CANCELS_THE_CHILD = """
import os, signal, sys, threading, time
import pyarrow as pa
import pyarrow.parquet as pq
import sqlweave
from sqlweave.engines.local import DataFusionEngine

engine = DataFusionEngine()
engine.register_arrow("a", pa.table({"x": list(range(1_000_000))}))
engine.register_arrow("b", pa.table({"y": list(range(100_000))}))
s = sqlweave.Session(engine)

pids = []

def interrupt_once_the_child_runs():
    while engine.child_pid is None:
        time.sleep(0.01)
    pids.append(engine.child_pid)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt_once_the_child_runs, daemon=True).start()
try:
    s.sql("SELECT count(*) FROM a CROSS JOIN b WHERE (a.x * 7 + b.y) % 1000003 = 5")
    print("finished")
except sqlweave.QueryCancelled:
    print("cancelled")
try:
    os.kill(pids[0], 0)
    print("child left")
except ProcessLookupError:
    print("child gone")
print(s.sql("SELECT 7 AS seven").to_arrow().to_pylist()[0]["seven"])
"""


def test_an_interrupt_kills_the_child_and_the_engine_goes_on() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CANCELS_THE_CHILD],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[:3] == ["cancelled", "child gone", "7"], done.stdout
