"""Live progress of running tasks: measured on the worker, summed per query on the coordinator.

A long single-stage query (a scan, a filter and an aggregate, one task per worker) would
show nothing until its tasks end. So, while a task runs:

* :class:`TaskMeter` counts the task's output batches and reads DataFusion's live metrics of
  the physical plan it runs (the rows and bytes its scans read so far), see
  :func:`collect_metered` and :func:`scan_figures`;
* :class:`ProgressReporter`, a worker thread with its own socket, sends a
  :class:`~.protocol.TaskProgress` for the running task every :data:`REPORT_INTERVAL_S`
  (never for a task that ends sooner);
* on the coordinator, :class:`QueryProgressTracker` sums the figures of a query's finished
  and running tasks and says when its client is due the next
  :class:`~.protocol.QueryProgress` (at most one per :data:`CLIENT_INTERVAL_S`).

>>> t = QueryProgressTracker()
>>> t.task_progress(0, 0, 0, P.TaskFigures(rows_scanned=10, bytes_scanned=80))
True
>>> t.task_done(0, 0, 0, P.TaskFigures(rows_scanned=25, bytes_scanned=200, rows_out=1))
>>> t.task_progress(0, 0, 0, P.TaskFigures(rows_scanned=20))  # late: the task is done
False
>>> t.totals()
TaskFigures(rows_scanned=25, bytes_scanned=200, rows_out=1, bytes_out=0, seconds=0.0)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import zmq

from . import protocol as P

log = logging.getLogger("sqlweave.cluster.task_progress")

#: a worker reports a running task this often, starting once the task has run this long
REPORT_INTERVAL_S = 0.5
#: a client hears at most this often about a query's running tasks
CLIENT_INTERVAL_S = 0.25
#: DataFusion's name for the bytes a file scan read
_BYTES_SCANNED = "bytes_scanned"


# ----- measuring one task (worker) ------------------------------------------------------


class TaskMeter:
    """How far one running task got; written by the threads running it, read by the reporter.

    Args:
        memory_bytes_per_row: average bytes per row of the task's in-memory inputs, to
            estimate the bytes read by scans DataFusion does not count bytes for.
        clock: seconds, for the elapsed time.
    """

    def __init__(
        self, memory_bytes_per_row: float = 0.0, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.memory_bytes_per_row = memory_bytes_per_row
        self._clock = clock
        self.started = clock()
        self._plan: Any = None
        # one slot per partition: each is written by one thread only, so no lock is needed
        self._rows: list[int] = [0]
        self._bytes: list[int] = [0]

    def watch(self, plan: Any) -> None:
        """Read scan figures from ``plan`` (a DataFusion ``ExecutionPlan`` about to run)."""
        n = max(1, plan.partition_count)
        self._rows, self._bytes = [0] * n, [0] * n
        self._plan = plan

    def count(self, partition: int, batch: pa.RecordBatch) -> None:
        """One output batch of ``partition`` (the hot path: two additions)."""
        self._rows[partition] += batch.num_rows
        self._bytes[partition] += batch.nbytes

    def elapsed(self) -> float:
        return self._clock() - self.started

    def figures(self) -> P.TaskFigures:
        """The task's figures so far (final once the task has run)."""
        rows = bytes_ = 0
        if self._plan is not None:
            try:
                rows, bytes_ = scan_figures(self._plan, self.memory_bytes_per_row)
            except Exception:  # metrics are a nicety: never fail a task over them
                log.debug("reading plan metrics failed", exc_info=True)
        return P.TaskFigures(rows, bytes_, sum(self._rows), sum(self._bytes), self.elapsed())


def scan_figures(plan: Any, memory_bytes_per_row: float = 0.0) -> tuple[int, int]:
    """Rows and bytes the scans of a DataFusion ``ExecutionPlan`` have read so far.

    DataFusion updates its operators' metrics while they run. A file scan counts its rows
    (``output_rows``) and bytes (``bytes_scanned``); an in-memory scan counts nothing, so
    the first operator above it that counts rows stands in for it (its bytes estimated
    from ``memory_bytes_per_row``).
    """
    rows = 0
    bytes_ = 0.0

    def walk(node: Any) -> bool:
        """Add the reads below ``node``; whether they are all counted."""
        nonlocal rows, bytes_
        metrics = node.metrics()
        counted = metrics.output_rows if metrics is not None else None
        children = node.children()
        if not children:
            if counted is None:
                return False
            rows += counted
            bytes_ += metrics.sum_by_name(_BYTES_SCANNED) or 0
            return True
        if all([walk(child) for child in children]):  # (a list: walk every child)
            return True
        if counted is None:
            return False
        rows += counted
        bytes_ += counted * memory_bytes_per_row
        return True

    walk(plan)
    return rows, int(bytes_)


def collect_metered(ctx: Any, df: Any, meter: TaskMeter) -> pa.Table:
    """Run DataFusion DataFrame ``df`` as ``collect`` would, measured by ``meter``.

    The plan's partitions run at once, as ``collect`` runs them: one on this thread
    (which must stay the one that takes interrupts), the others on threads of their own.
    An interrupt stops every partition at its next batch before it propagates.
    """
    plan = df.execution_plan()
    meter.watch(plan)
    n = plan.partition_count
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(max(1, n))]
    stop = threading.Event()
    failures: list[BaseException] = []

    def drain(partition: int) -> None:
        out = parts[partition]
        try:
            for batch in ctx.execute(plan, partition):
                if stop.is_set():
                    return
                rb = batch.to_pyarrow()
                out.append(rb)
                meter.count(partition, rb)
        except BaseException as exc:  # handed to the task's thread, which raises it
            failures.append(exc)
            stop.set()

    others = [
        threading.Thread(target=drain, args=(i,), name=f"partition-{i}", daemon=True)
        for i in range(1, n)
    ]
    for t in others:
        t.start()
    try:
        if n >= 1:
            drain(0)
        for t in others:
            while t.is_alive():
                t.join(0.1)  # in slices: an interrupt must land on this thread
    except BaseException:
        stop.set()
        for t in others:  # the worker's watchdog ends the process if one is stuck
            t.join()
        raise
    if failures:
        raise failures[0]
    batches = [b for p in parts for b in p]
    return pa.Table.from_batches(batches) if batches else df.schema().empty_table()


def memory_bytes_per_row(tables: Any) -> float:
    """Average bytes per row over in-memory ``tables`` (0 when they hold no rows)."""
    rows = nbytes = 0
    for t in tables:
        rows += t.num_rows
        nbytes += t.nbytes
    return nbytes / rows if rows else 0.0


# ----- reporting (worker) -----------------------------------------------------------------


class ProgressReporter:
    """A worker thread sending :class:`~.protocol.TaskProgress` for the running task.

    It owns its socket (a ZeroMQ socket never crosses threads); the task's thread only
    calls :meth:`watch` and :meth:`unwatch`.

    Args:
        make_socket: makes the DEALER to the coordinator (called on the reporter thread).
        stop: ends the thread when set.
        interval_s: how often a running task is reported, and how long it must run first.
    """

    def __init__(
        self,
        make_socket: Callable[[], zmq.Socket],
        stop: threading.Event,
        interval_s: float = REPORT_INTERVAL_S,
    ) -> None:
        self._make_socket = make_socket
        self._stop = stop
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._task: tuple[P.TaskProgress, TaskMeter] | None = None
        self.sent = 0

    def watch(
        self, worker_id: str, query_id: str, stage: int, index: int, attempt: int, meter: TaskMeter
    ) -> None:
        """Report the task now starting (measured by ``meter``) until :meth:`unwatch`."""
        template = P.TaskProgress(worker_id, query_id, stage, index, attempt, P.TaskFigures())
        with self._lock:
            self._task = (template, meter)

    def unwatch(self) -> None:
        with self._lock:
            self._task = None

    def thread(self) -> threading.Thread:
        return threading.Thread(target=self._loop, name="progress", daemon=True)

    def due(self) -> P.TaskProgress | None:
        """The message to send now, if the watched task has run long enough."""
        with self._lock:
            task = self._task
        if task is None:
            return None
        template, meter = task
        if meter.elapsed() < self.interval_s:
            return None
        figures = meter.figures()
        with self._lock:
            if self._task is not task:
                return None  # it ended while we measured: its TaskDone says the rest
        return P.TaskProgress(
            template.worker_id,
            template.query_id,
            template.stage,
            template.index,
            template.attempt,
            figures,
        )

    def _loop(self) -> None:
        sock = self._make_socket()
        sock.sndtimeo = 0  # progress nobody takes now is dropped, never queued up
        try:
            while not self._stop.wait(self.interval_s):
                msg = self.due()
                if msg is not None:
                    with contextlib.suppress(zmq.Again):
                        P.send(sock, msg)
                        self.sent += 1
        except zmq.ZMQError:
            pass  # the context went away: the worker is stopping
        finally:
            sock.close(linger=0)


# ----- summing per query (coordinator) ------------------------------------------------------


class QueryProgressTracker:
    """A query's figures: its finished tasks' final ones plus its running tasks' latest.

    Late or stale reports are dropped: progress of a task already done, and of an
    earlier attempt than one already heard of.
    """

    def __init__(self) -> None:
        self._running: dict[tuple[int, int], tuple[int, P.TaskFigures]] = {}
        self._done: dict[tuple[int, int], P.TaskFigures] = {}
        self._last_sent = float("-inf")

    def task_progress(self, stage: int, index: int, attempt: int, figures: P.TaskFigures) -> bool:
        """A running task's report; whether it was taken."""
        key = (stage, index)
        if key in self._done:
            return False
        known = self._running.get(key)
        if known is not None and known[0] > attempt:
            return False
        self._running[key] = (attempt, figures)
        return True

    def task_done(
        self, stage: int, index: int, attempt: int, figures: P.TaskFigures | None
    ) -> None:
        key = (stage, index)
        self._running.pop(key, None)
        self._done[key] = figures or P.TaskFigures()

    def task_failed(self, stage: int, index: int) -> None:
        """A failed attempt's reads no longer count (a retry reports its own)."""
        self._running.pop((stage, index), None)

    def totals(self) -> P.TaskFigures:
        """Sums over finished and running tasks (``seconds`` left 0: the caller's clock)."""
        figures = [*self._done.values(), *(f for _, f in self._running.values())]
        return P.TaskFigures(
            sum(f.rows_scanned for f in figures),
            sum(f.bytes_scanned for f in figures),
            sum(f.rows_out for f in figures),
            sum(f.bytes_out for f in figures),
        )

    def running_rows_out(self) -> int:
        """Rows produced so far by tasks still running."""
        return sum(f.rows_out for _, f in self._running.values())

    def due(self, now: float, min_interval_s: float = CLIENT_INTERVAL_S) -> bool:
        """Whether the client may hear again at ``now``; if so, counts it as sent."""
        if now - self._last_sent < min_interval_s:
            return False
        self._last_sent = now
        return True
