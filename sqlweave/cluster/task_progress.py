"""Live progress of running tasks: measured on the worker, summed per query on the coordinator.

A long single-stage query (a scan, a filter and an aggregate, one task per worker) would
show nothing until its tasks end. So, while a task runs:

* :class:`TaskMeter` counts the task's output batches and reads DataFusion's live metrics of
  the physical plan it runs (the rows and bytes its scans read so far), see
  :mod:`sqlweave.engines.metering`;
* :class:`ProgressReporter`, a worker thread with its own socket, sends a
  :class:`~.protocol.TaskProgress` for the running task every :data:`REPORT_INTERVAL_S`
  (never for a task that ends sooner);
* what the coordinator runs itself (a statement it does not distribute, a stage that
  reads tables) is measured the same way and reported by its loop (:class:`MeteredJob`);
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
import threading
import time
from collections.abc import Callable

import zmq

from ..engines.metering import PlanMeter
from . import protocol as P

#: a worker reports a running task this often, starting once the task has run this long
REPORT_INTERVAL_S = 0.5
#: a client hears at most this often about a query's running tasks
CLIENT_INTERVAL_S = 0.25


# ----- measuring one task (worker) ------------------------------------------------------


class TaskMeter(PlanMeter):
    """A :class:`~sqlweave.engines.metering.PlanMeter` for one task, saying its figures."""

    def figures(self) -> P.TaskFigures:
        """The task's figures so far (final once the task has run)."""
        rows, nbytes = self.scanned()
        return P.TaskFigures(rows, nbytes, self.rows_out(), self.bytes_out(), self.elapsed())


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


# ----- what the coordinator runs itself ------------------------------------------------------


class MeteredJob:
    """Work the coordinator runs on a pool thread (a whole statement, or a stage that
    reads tables itself), measured there by :attr:`meter` and reported by the loop: every
    ``interval_s``, never in its first.

    >>> job = MeteredJob(clock=lambda: 0.0)
    >>> job.due(0.0) is None  # too young
    True
    """

    def __init__(
        self, interval_s: float = REPORT_INTERVAL_S, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.interval_s = interval_s
        self.meter = TaskMeter(clock=clock)
        self._last_sent = float("-inf")

    def due(self, now: float) -> P.TaskFigures | None:
        """Its figures, when a report is due at ``now`` (a loop tick)."""
        if self.meter.elapsed() < self.interval_s or now - self._last_sent < self.interval_s:
            return None
        self._last_sent = now
        return self.meter.figures()


def statement_progress(request_id: str, figures: P.TaskFigures) -> P.QueryProgress:
    """How far a statement the coordinator runs whole (one fragment) got."""
    return P.QueryProgress(
        request_id,
        0,
        1,
        figures.rows_out,
        figures.rows_scanned,
        figures.bytes_scanned,
        figures.seconds,
    )
