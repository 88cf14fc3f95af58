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
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..events import StatementEvent, Status
from .graph import LineageGraph
from .model import Span, StatementKind, StatementLineage
from .runs import INTERACTIVE, Run, RunInfo
from .store import LineageStore, StoreError

log = logging.getLogger(__name__)

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
        self._queue: queue.Queue[tuple[StatementEvent, CellContext] | None] | None = None
        if background:
            self._queue = queue.Queue()
            threading.Thread(target=self._drain, name="sqlweave-lineage", daemon=True).start()
            atexit.register(self.flush)

    def __call__(self, event: StatementEvent) -> None:
        if not self.enabled:
            return
        if event.status is not Status.COMPLETE and not self.record_failures:
            return
        ctx = self.context()  # the running cell: must be read now, not later
        if self._queue is not None:
            self._queue.put((event, ctx))
            return
        self._persist(self._record(event, ctx))

    def _record(self, event: StatementEvent, ctx: CellContext) -> list[Run]:
        runs = []
        for lineage in self.lineage_of(event):
            info = self.run_info(event, ctx, lineage.sql or event.sql)
            self.graph.add_run(info, lineage)
            runs.append(Run(info, lineage))
        return runs

    def _drain(self) -> None:
        """Background loop: record queued events, writing the store once per batch."""
        assert self._queue is not None
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            runs: list[Run] = []
            for item in batch:
                if item is None:
                    continue
                try:
                    runs.extend(self._record(*item))
                except Exception:  # lineage never breaks the notebook
                    log.exception("lineage capture failed")
            self._persist(runs)
            for _ in batch:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued statement is in the graph (and the store)."""
        if self._queue is not None:
            self._queue.join()

    def lineage_of(self, event: StatementEvent) -> list[StatementLineage]:
        """The statement's lineage (one placeholder value when there is none)."""
        if event.status is Status.COMPLETE:
            try:
                schema = dict(event.catalog())
            except Exception:  # a catalog we cannot read only costs ``*`` expansion
                log.debug("catalog unavailable for lineage", exc_info=True)
                schema = None
            found = self.extract(event.sql, dialect=event.dialect, schema=schema)
            if found:
                return list(found)
        return [StatementLineage(StatementKind.NO_LINEAGE, event.sql, Span(*event.span))]

    def run_info(self, event: StatementEvent, ctx: CellContext, sql: str) -> RunInfo:
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
        )

    def _persist(self, runs: list[Run]) -> None:
        if self.store is None or not runs:
            return
        try:
            self.store.extend(runs)
        except (OSError, StoreError) as exc:
            log.warning(
                "lineage store %s not updated (%s); keeping lineage in memory", self.store.path, exc
            )
            self.store = None

    def load(self) -> None:
        """Merge what the store holds (earlier kernels, other notebooks) into the graph."""
        self.flush()
        if self.store is not None:
            self.graph.merge(self.store.load())

    def clear(self, notebook: str | None = None) -> None:
        """Forget all lineage (or one notebook's), in memory and in the store."""
        self.flush()
        self.graph.clear(notebook)
        if self.store is not None:
            self.store.clear(notebook)
