"""Live progress of running tasks: the messages, the measuring on a real DataFusion plan,
the per-query sums, and a long single-stage query on a real 2-worker cluster whose client
hears how far it got while it runs."""

from __future__ import annotations

import itertools
import json
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datafusion import SessionContext

from sqlweave.cluster import protocol as P
from sqlweave.cluster.catalog import register_table
from sqlweave.cluster.task_progress import ProgressReporter, QueryProgressTracker, TaskMeter
from sqlweave.engines.engine import Progress
from sqlweave.engines.local import collect_table
from sqlweave.engines.metering import collect_metered, memory_bytes_per_row, scan_figures

FIGURES = P.TaskFigures(rows_scanned=4_000, bytes_scanned=32_000, rows_out=1, bytes_out=8)


# ----- the messages ------------------------------------------------------------------------


def test_task_progress_round_trips() -> None:
    msg = P.TaskProgress("w1", "q1", 2, 1, 3, FIGURES)
    assert P.decode(P.encode(msg)) == msg
    done = P.TaskDone("w1", "q1", 2, 1, 3, 1, 0.5, None, FIGURES)
    assert P.decode(P.encode(done)).figures == FIGURES
    # a TaskDone without figures (an older kind of sender) still decodes
    assert P.decode(P.encode(P.TaskDone("w1", "q1", 2, 1, 3, 1, 0.5))).figures is None


def _header(msg: P.Message) -> dict:
    return json.loads(bytes(P.encode(msg)[0]))


def _frames(header: dict) -> list[bytes]:
    return [json.dumps(header).encode()]


@pytest.mark.parametrize(
    "path, value",
    [
        (("figures", "rows_scanned"), -1),
        (("figures", "rows_scanned"), "10"),
        (("figures", "bytes_scanned"), 1.5),
        (("figures", "rows_out"), True),
        (("figures", "seconds"), "soon"),
        (("figures", "seconds"), -0.5),
        (("stage",), -2),
        (("index",), None),
        (("attempt",), "0"),
        (("worker_id",), 7),
        (("query_id",), None),
        (("figures",), {"rows_scanned": 1}),  # a plain object, not TaskFigures
        (("figures",), None),
    ],
)
def test_malformed_task_progress_is_a_protocol_error(path: tuple[str, ...], value: object) -> None:
    header = _header(P.TaskProgress("w1", "q1", 2, 1, 3, FIGURES))
    target = header["body"]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(P.ProtocolError, match=r"TaskProgress|TaskFigures"):
        P.decode(_frames(header))


def test_task_progress_with_missing_or_unknown_fields_or_an_old_version_is_refused() -> None:
    header = _header(P.TaskProgress("w1", "q1", 2, 1, 3, FIGURES))
    missing = json.loads(json.dumps(header))
    del missing["body"]["figures"]
    with pytest.raises(P.ProtocolError, match="task_progress"):
        P.decode(_frames(missing))
    extra = json.loads(json.dumps(header))
    extra["body"]["figures"]["rows_read"] = 5
    with pytest.raises(P.ProtocolError, match="task_progress"):
        P.decode(_frames(extra))
    old = dict(header, v=P.PROTOCOL_VERSION - 1)
    with pytest.raises(P.ProtocolError, match="protocol version"):
        P.decode(_frames(old))


def test_malformed_query_progress_is_a_protocol_error() -> None:
    header = _header(P.QueryProgress("r", 1, 3, 10, 4_000, 32_000, 1.5))
    header["body"]["seconds"] = float("nan")
    with pytest.raises(P.ProtocolError, match="seconds"):
        P.decode(_frames(header))


def test_building_a_bad_message_fails_at_the_sender() -> None:
    with pytest.raises(P.ProtocolError, match="rows_scanned"):
        P.TaskFigures(rows_scanned=-5)


# ----- measuring a real DataFusion plan ---------------------------------------------------

ROWS = 300_000


@pytest.fixture(scope="module")
def numbers() -> pa.Table:
    return pa.table({"a": np.arange(ROWS, dtype=np.int64), "b": np.arange(ROWS) % 7 * 0.5})


def _context(partitions: int) -> SessionContext:
    from datafusion import SessionConfig

    return SessionContext(SessionConfig().with_target_partitions(partitions).with_batch_size(4096))


@pytest.mark.parametrize("partitions", [1, 3])
def test_metered_run_of_an_aggregate_over_an_in_memory_table(
    numbers: pa.Table, partitions: int
) -> None:
    ctx = _context(partitions)
    register_table(ctx, "t", numbers)
    sql = "SELECT a % 1000 AS k, count(*) AS n, sum(b) AS s FROM t WHERE a % 3 = 0 GROUP BY 1"
    assert ctx.sql(sql).execution_plan().partition_count == partitions  # 3: on 3 threads
    meter = TaskMeter(memory_bytes_per_row([numbers]))
    got = collect_metered(ctx, ctx.sql(sql), meter)
    expected = collect_table(ctx.sql(sql))
    assert got.num_rows == expected.num_rows == 1000
    assert got.sort_by("k").equals(expected.sort_by("k"))
    f = meter.figures()
    # the in-memory scan counts nothing: the first operator above it counts for it
    assert f.rows_scanned in (ROWS, ROWS // 3)
    assert f.bytes_scanned == int(f.rows_scanned * numbers.nbytes / ROWS)
    assert (f.rows_out, f.bytes_out) == (got.num_rows, sum(b.nbytes for b in got.to_batches()))


def test_a_plain_scan_runs_as_collect_runs_it_and_only_its_output_is_counted(
    numbers: pa.Table,
) -> None:
    ctx = _context(3)
    register_table(ctx, "t", numbers)
    sql = "SELECT a, b * 2 AS c FROM t WHERE a % 3 = 0"
    meter = TaskMeter()
    got = collect_metered(ctx, ctx.sql(sql), meter)
    assert got.sort_by("a").equals(collect_table(ctx.sql(sql)).sort_by("a"))
    f = meter.figures()
    assert (f.rows_scanned, f.rows_out) == (0, ROWS // 3)


def test_metered_run_of_a_parquet_scan_counts_every_row_and_the_bytes_read(
    numbers: pa.Table, tmp_path
) -> None:
    path = tmp_path / "n.parquet"
    pq.write_table(numbers, path, row_group_size=50_000)
    ctx = _context(2)
    ctx.register_parquet("t", str(path))
    meter = TaskMeter()
    got = collect_metered(ctx, ctx.sql("SELECT count(*) AS n, sum(b) AS s FROM t"), meter)
    assert got.column("n").to_pylist() == [ROWS]
    f = meter.figures()
    assert f.rows_scanned == ROWS
    assert 0 < f.bytes_scanned <= path.stat().st_size
    assert f.rows_out == 1


def test_an_error_in_a_partition_thread_reaches_the_caller() -> None:
    ctx = _context(3)
    register_table(ctx, "t", pa.table({"s": ["1", "2", "x"] * 20_000}))
    sql = "SELECT CAST(s AS INT) % 7 AS k, count(*) AS n FROM t GROUP BY 1"
    assert ctx.sql(sql).execution_plan().partition_count == 3
    with pytest.raises(Exception, match=r"[Cc]ast|x"):
        collect_metered(ctx, ctx.sql(sql), TaskMeter())


def test_scan_figures_before_the_plan_runs_are_zero(numbers: pa.Table) -> None:
    ctx = _context(2)
    register_table(ctx, "t", numbers)
    assert scan_figures(ctx.sql("SELECT count(*) FROM t").execution_plan(), 8.0) == (0, 0)


# ----- the worker's reporter ---------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reporter_is_silent_for_a_short_task_and_reports_a_long_one() -> None:
    clock = _Clock()
    reporter = ProgressReporter(lambda: None, threading.Event(), interval_s=0.5)
    assert reporter.due() is None  # nothing running
    meter = TaskMeter(clock=clock)
    reporter.watch("w1", "q1", 0, 1, 0, meter)
    clock.now += 0.4
    assert reporter.due() is None  # a task this young may end before it is worth a message
    clock.now += 0.2
    meter.count(0, pa.record_batch({"x": [1, 2, 3]}))
    msg = reporter.due()
    assert msg is not None
    assert (msg.worker_id, msg.query_id, msg.stage, msg.index, msg.attempt) == ("w1", "q1", 0, 1, 0)
    assert msg.figures.rows_out == 3 and msg.figures.seconds == pytest.approx(0.6)
    reporter.unwatch()
    assert reporter.due() is None


# ----- summing a query's tasks (coordinator) -----------------------------------------------


def _f(rows: int, out: int = 0) -> P.TaskFigures:
    return P.TaskFigures(rows_scanned=rows, bytes_scanned=8 * rows, rows_out=out)


def test_tracker_sums_finished_and_running_tasks() -> None:
    t = QueryProgressTracker()
    assert t.task_progress(0, 0, 0, _f(100))
    assert t.task_progress(0, 1, 0, _f(50, out=5))
    assert (t.totals().rows_scanned, t.totals().bytes_scanned) == (150, 1200)
    assert t.running_rows_out() == 5
    t.task_done(0, 0, 0, _f(400, out=1))
    assert t.totals().rows_scanned == 450 and t.totals().rows_out == 6
    assert not t.task_progress(0, 0, 0, _f(300))  # after its TaskDone: late, dropped
    assert t.totals().rows_scanned == 450
    t.task_done(1, 0, 0, None)  # a coordinator task: no figures
    assert t.totals().rows_scanned == 450


def test_tracker_drops_an_older_attempt_and_forgets_a_failed_one() -> None:
    t = QueryProgressTracker()
    t.task_progress(0, 0, 1, _f(100))
    assert not t.task_progress(0, 0, 0, _f(900))  # the attempt the scheduler gave up on
    assert t.totals().rows_scanned == 100
    t.task_failed(0, 0)
    assert t.totals().rows_scanned == 0
    assert t.task_progress(0, 0, 2, _f(10))


def test_tracker_throttles_the_client() -> None:
    t = QueryProgressTracker()
    assert t.due(10.0)
    assert not t.due(10.1)
    assert t.due(10.25)
    assert t.due(10.30, min_interval_s=0.05)


# ----- a long single-stage query on a real cluster ------------------------------------------

#: rows of the long queries; each costs three md5s (about 5 s of CPU on this machine)
LONG_ROWS = 10_000_000
#: true of every row (an md5 is 32 hex digits), after hashing it three times
EXPENSIVE_TRUE = "length(md5(md5(md5(CAST({} AS VARCHAR))))) = 32"
LONG_QUERY = f"SELECT count(*) AS n FROM big WHERE {EXPENSIVE_TRUE.format('a')}"


@pytest.mark.process
def test_a_long_single_stage_query_reports_progress_before_its_result() -> None:
    from sqlweave.cluster.localcluster import LocalCluster

    seen: list[Progress] = []
    with LocalCluster(workers=2) as cluster:
        engine = cluster.client()
        engine.register_arrow("big", pa.table({"a": np.arange(LONG_ROWS, dtype=np.int64)}))
        result = engine.execute(LONG_QUERY, progress=seen.append)
    assert result.column("n").to_pylist() == [LONG_ROWS]
    # updates while the workers' tasks ran (no fragment done yet), each with rows scanned
    mid = [p for p in seen if p.fragments_done == 0]
    assert len(mid) >= 2, seen
    assert all(p.rows_scanned > 0 for p in mid), seen
    # the figures never go back, and the elapsed time runs on
    for a, b in itertools.pairwise(seen):
        assert b.rows_scanned >= a.rows_scanned and b.bytes_scanned >= a.bytes_scanned
        assert b.fragments_done >= a.fragments_done and b.elapsed_s >= a.elapsed_s
    # the last update: every fragment done, every row scanned once, 8 bytes each (int64)
    last = seen[-1]
    assert last.fragments_done == last.fragments_total == 3
    assert last.rows_scanned == LONG_ROWS
    assert last.bytes_scanned == 8 * LONG_ROWS


#: not distributable (a table function): the coordinator runs it whole, for seconds
LONG_LOCAL_QUERY = (
    f"SELECT count(*) AS n FROM generate_series(1, {LONG_ROWS}) g(x)"
    f" WHERE {EXPENSIVE_TRUE.format('x')}"
)


@pytest.mark.process
def test_a_long_query_the_coordinator_runs_whole_reports_progress_too() -> None:
    from sqlweave.cluster.localcluster import LocalCluster

    seen: list[Progress] = []
    with LocalCluster(workers=2) as cluster:
        engine = cluster.client()
        result = engine.execute(LONG_LOCAL_QUERY, progress=seen.append)
        assert {r.worker for r in engine.last_runs} == {"coordinator"}
    assert result.column("n").to_pylist() == [LONG_ROWS]
    mid = [p for p in seen if p.fragments_done == 0]
    assert len(mid) >= 2, seen
    assert mid[0].rows_scanned > 0 and all(p.fragments_total == 1 for p in seen)
    for a, b in itertools.pairwise(seen):
        assert a.rows_scanned <= b.rows_scanned and a.elapsed_s <= b.elapsed_s
    assert seen[-1].fragments_done == 1
    assert seen[-1].rows_scanned == LONG_ROWS, seen


@pytest.mark.process
def test_a_long_statement_the_coordinator_runs_in_its_own_session_reports_progress() -> None:
    from sqlweave.cluster.localcluster import LocalCluster

    seen: list[Progress] = []
    with LocalCluster(workers=2) as cluster:
        engine = cluster.client()
        engine.execute("CREATE TABLE counted (n BIGINT)")
        # a write: the coordinator runs it whole, as a statement of the client's session
        engine.execute(f"INSERT INTO counted {LONG_LOCAL_QUERY}", progress=seen.append)
        assert engine.execute("SELECT n FROM counted").column("n").to_pylist() == [LONG_ROWS]
    assert len(seen) >= 2, seen
    assert all((p.fragments_done, p.fragments_total) == (0, 1) for p in seen)
    assert seen[0].rows_scanned > 0
    for a, b in itertools.pairwise(seen):
        assert a.rows_scanned <= b.rows_scanned <= LONG_ROWS and a.elapsed_s <= b.elapsed_s
