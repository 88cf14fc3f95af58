"""Turn :class:`~sqlweave.events.StatementEvent`\\ s into lineage graph runs.

A :class:`LineageCapture` is a Session listener. It asks a *context provider*
which notebook cell is running (the IPython side knows; plain Python gets
``<interactive>``), extracts the statement's lineage, adds the run to its graph
and, when it has a store, merges the run into the project's store.

    >>> capture = LineageCapture()
    >>> capture.graph.datasets()
    ()
"""

from __future__ import annotations

import atexit
import collections
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..events import StatementEvent, Status
from .graph import LineageGraph
from .model import Span, StatementKind, StatementLineage
from .runs import INTERACTIVE, Run, RunInfo
from .store import LineageStore
from .variables import bind_result, variable_name

log = logging.getLogger(__name__)

#: the background thread rewrites the store at most this often (and on flush/exit)
WRITE_INTERVAL_S = 1.0
#: it starts recording once no statement arrived for this long...
QUIET_S = 0.05
#: ...or once this many wait
MAX_BATCH = 2000

Extractor = Callable[..., list[StatementLineage]]


@dataclass(frozen=True)
class CellContext:
    """Where the statement being reported ran."""

    notebook: str = INTERACTIVE
    cell_id: str | None = None
    execution_count: int | None = None


def _default_extract(
    sql: str, dialect: str | None = None, schema: Mapping[str, Any] | None = None
) -> list[StatementLineage]:
    from .extract import extract

    return extract(sql, dialect=dialect, schema=schema)


class LineageCapture:
    """A Session listener that records each statement as a run of its graph.

    Args:
        graph: the graph to add runs to (a new empty one by default).
        store: where to merge every run as it arrives; None keeps lineage in memory.
        context: returns the current cell; called once per statement.
        extract: ``extract(sql, dialect=..., schema=...)``; defaults to
            :func:`sqlweave.lineage.extract`.
        record_failures: also record failed statements (as FAIL runs without edges).
        background: extract and store on a background thread, so a statement pays only
            for queueing its event (the notebook's default). :meth:`flush` waits for the
            queue; readers of :attr:`graph` call it first. Pending runs are written at exit.
    """

    def __init__(
        self,
        graph: LineageGraph | None = None,
        store: LineageStore | None = None,
        context: Callable[[], CellContext] = CellContext,
        extract: Extractor | None = None,
        *,
        record_failures: bool = False,
        background: bool = False,
    ) -> None:
        self.graph = graph if graph is not None else LineageGraph()
        self.store = store
        self.context = context
        self.extract = extract or _default_extract
        self.record_failures = record_failures
        self.enabled = True
        #: execution counts restart in every kernel; this tells kernels apart
        self.session_id = uuid.uuid4().hex
        self._background = background
        self._events: collections.deque[tuple[StatementEvent, CellContext]] = collections.deque()
        self._lock = threading.Lock()  # one recorder at a time: the thread or flush()
        self._pending: list[Run] = []  # recorded, not yet written to the store
        self._last_write = 0.0
        self._stopped = threading.Event()
        if background:
            threading.Thread(target=self._poll, name="sqlweave-lineage", daemon=True).start()
            atexit.register(self.flush)

    def __call__(self, event: StatementEvent) -> None:
        if not self.enabled:
            return
        if event.status is not Status.COMPLETE and not self.record_failures:
            return
        ctx = self.context()  # the running cell: must be read now, not later
        if self._background:
            self._events.append((event, ctx))  # no lock, no wake-up: the thread polls
            return
        runs = self._record(event, ctx)
        self.graph.merge(runs)
        self._persist(runs)

    def _record(self, event: StatementEvent, ctx: CellContext) -> list[Run]:
        """The runs of one statement (not yet in the graph)."""
        return [
            Run(self.run_info(event, ctx, lineage.sql or event.sql), lineage)
            for lineage in self.lineage_of(event)
        ]

    def _poll(self) -> None:
        """Background loop: every ``QUIET_S``, if no statement arrived since the last look
        (a notebook is idle between cells) or ``MAX_BATCH`` wait, record them; rewrite
        the store at most every ``WRITE_INTERVAL_S`` (a write rewrites the whole file).

        So lineage never competes with a running cell for the interpreter.
        """
        seen = 0
        while not self._stopped.is_set():
            self._stopped.wait(QUIET_S)
            waiting = len(self._events)
            if (waiting and (waiting == seen or waiting >= MAX_BATCH)) or (
                self._pending and not waiting
            ):
                try:
                    self._drain(write=False)
                except Exception:  # keep polling: lineage never breaks the notebook
                    log.exception("lineage capture failed")
            seen = len(self._events)

    def _drain(self, write: bool) -> None:
        with self._lock:
            new: list[Run] = []
            while self._events:
                new.extend(self._record_safely(self._events.popleft()))
            if new:  # one merge per batch: a re-run cell rebuilds the graph once, not per run
                self.graph.merge(new)
                self._pending.extend(new)
            due = time.monotonic() - self._last_write >= WRITE_INTERVAL_S
            if self._pending and (write or due):
                runs, self._pending = self._pending, []
                self._persist(runs)
                self._last_write = time.monotonic()

    def _record_safely(self, item: tuple[StatementEvent, CellContext]) -> list[Run]:
        try:
            return self._record(*item)
        except Exception:  # lineage never breaks the notebook
            log.exception("lineage capture failed")
            return []

    def add(self, runs: list[Run]) -> None:
        """Record runs made elsewhere (a declared Python cell) after what is queued."""
        self.flush()
        with self._lock:
            self.graph.merge(runs)
            self._persist(runs)

    def close(self) -> None:
        """Write what is pending and stop the background thread (extension unload)."""
        self.flush()
        self._stopped.set()
        atexit.unregister(self.flush)

    def flush(self) -> None:
        """Record every statement still waiting and write the store, now."""
        self._drain(write=True)

    def lineage_of(self, event: StatementEvent) -> list[StatementLineage]:
        """The statement's lineage (one placeholder value when there is none)."""
        if event.status is Status.COMPLETE:
            found = self.extract(
                event.sql, dialect=event.dialect, schema=dict(event.catalog) or None
            )
            if found:
                found = list(found)
                if event.result_name:
                    name = variable_name(event.result_name, event.dialect)
                    found[-1] = bind_result(found[-1], name)
                return found
        return [StatementLineage(StatementKind.NO_LINEAGE, event.sql, Span(*event.span))]

    def run_info(self, event: StatementEvent, ctx: CellContext, sql: str) -> RunInfo:
        variables = (variable_name(event.result_name, event.dialect),) if event.result_name else ()
        return RunInfo.new(
            notebook=ctx.notebook,
            cell_id=ctx.cell_id,
            execution_count=ctx.execution_count,
            started_at=event.started_at,
            sql=sql,
            engine=event.engine,
            status=event.status,
            duration_s=event.duration_s,
            rows=event.rows,
            dialect=event.dialect,
            error=event.error,
            session_id=self.session_id,
            variables=variables,
            frames=tuple(event.frames),
            shared_catalog=event.shared_catalog,
        )

    def _persist(self, runs: list[Run]) -> None:
        if self.store is None or not runs:
            return
        try:
            self.store.extend(runs)
        except (
            Exception
        ) as exc:  # OSError, StoreError, a corrupt file: never the notebook's problem
            log.warning(
                "lineage store %s not updated (%s); keeping lineage in memory", self.store.path, exc
            )
            self.store = None

    def load(self) -> None:
        """Merge what the store holds (earlier kernels, other notebooks) into the graph."""
        self.flush()
        if self.store is not None:
            self.graph.merge(self.store.load())

    def forget_cells(self, notebook: str, keep: frozenset[str], before: datetime) -> int:
        """Forget cells deleted from ``notebook`` (see :meth:`LineageGraph.forget_cells`)."""
        self.flush()
        with self._lock:
            gone = self.graph.forget_cells(notebook, keep, before)
            if self.store is not None:
                try:
                    self.store.forget_cells(notebook, keep, before)
                except Exception as exc:  # the store is never the notebook's problem
                    log.warning("lineage store %s not updated (%s)", self.store.path, exc)
            return gone

    def clear(self, notebook: str | None = None) -> None:
        """Forget all lineage (or one notebook's), in memory and in the store."""
        self.flush()
        self.graph.clear(notebook)
        if self.store is not None:
            self.store.clear(notebook)
