"""Statements the coordinator runs whole, in the client's own DataFusion session.

SET, SHOW, DDL, statements the cluster does not distribute, and everything when no
worker is alive run here, off the loop on the :class:`.offloop.OffLoop` pool. A
statement that writes a table can be cancelled: it runs to its end (DataFusion cannot
stop it) and is then undone (:mod:`.undo`), before anyone is told it is done.

A mixin of :class:`.coordinator.Coordinator`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from ..engines.paths_policy import Effects
from . import protocol as P
from .fragments import Settings
from .replies import failure, first_line
from .routing import Change, route
from .task_progress import MeteredJob, statement_progress

log = logging.getLogger("sqlweave.cluster.coordinator")


@dataclass
class LocalOutcome:
    """Shared by a coordinator-local statement's thread and the loop: was it cancelled
    before it finished (then its thread undoes it)?"""

    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False
    cancelled: bool = False


@dataclass
class ClientSession:
    """What the coordinator keeps per client: a DataFusion context sharing the cluster's
    catalog (where its statements run, so ``SET`` stays the client's own) and the
    settings that differ from the defaults, which plan and run its distributed queries."""

    engine: Any  # local.DataFusionEngine
    settings: Settings = ()


class LocalStatements:
    """Running, cancelling and answering coordinator-local statements."""

    def _runs_locally(self, sql: str, params: dict[str, Any], identity: bytes) -> bool:
        try:
            ctx = self._session(identity).engine.ctx
            ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
            return True
        except Exception:
            return False

    def _session(self, identity: bytes) -> ClientSession:
        """The client's session: its own DataFusion context over the shared catalog."""
        session = self.sessions.get(identity)
        if session is None:
            from ..engines.local import DataFusionEngine, make_context

            ctx = make_context()
            ctx.register_catalog_provider("datafusion", self.context().ctx.catalog())
            session = self.sessions[identity] = ClientSession(DataFusionEngine(context=ctx))
        return session

    def _baseline(self) -> dict[str, str | None]:
        """Settings of a fresh context: a session's settings are its differences from them."""
        if self._default_settings is None:
            from ..engines.local import make_context, settings_of

            self._default_settings = settings_of(make_context())
        return self._default_settings

    def _run_locally(
        self, identity: bytes, msg: P.ExecuteQuery, effects: Effects | None = None
    ) -> None:
        """Run a whole statement in the client's DataFusion session, off the loop thread.

        A statement that writes a table can be cancelled: it runs to its end (DataFusion
        cannot stop it) and is then undone, before anyone is told it is done. One that
        was not cancelled is made durable (:meth:`_journal_write`) on the same thread,
        also before anyone is told; ``effects`` (its changes to the path policy's table
        locations) are applied once it succeeded."""
        self.queries_run += 1
        session = self._session(identity)
        baseline = self._baseline()
        routing = route(msg.sql)
        write = routing.write
        outcome = LocalOutcome()
        progress = MeteredJob()

        def run() -> pa.Table:
            from ..engines.local import changed_settings
            from .undo import Undo

            undo = None
            if write is not None:
                undo = Undo.before(session.engine.ctx, write.name, write.change is Change.ROWS)
            try:
                table = session.engine.execute(msg.sql, msg.params or None, meter=progress.meter)
            finally:
                with outcome.lock:
                    outcome.finished = True
                    cancelled = outcome.cancelled
                    if cancelled and undo is not None:
                        undo.rollback()
            if write is not None and not cancelled:
                # after `finished`: a cancel arriving now is told "too late", which is true
                self._journal_write(write, msg.sql, session.settings)
            if routing.setting:
                # planning and every task of this client's queries use them from now on
                session.settings = changed_settings(session.engine.ctx, baseline)
            return table

        fut = self._offloop.submit(run)
        self._local_statements[fut] = (identity, msg.request_id)
        self._local_outcomes[fut] = outcome
        self._local_started[fut] = (msg.sql, time.perf_counter())
        self._local_progress[fut] = progress
        if effects:
            self._local_effects[fut] = effects

    def _cancel_local(self, identity: bytes, request_id: str) -> bool:
        """Cancel a coordinator-local statement, telling the client only what is true."""
        fut = next(
            (
                f
                for f, (c, rid) in self._local_statements.items()
                if (c, rid) == (identity, request_id)
            ),
            None,
        )
        if fut is None:
            return False
        outcome = self._local_outcomes[fut]
        with outcome.lock:
            if outcome.finished:
                return True  # too late: its result (or error) is on its way, and true
            outcome.cancelled = True
        del self._local_statements[fut]
        self._local_outcomes.pop(fut, None)
        self._local_effects.pop(fut, None)  # it will be undone: its effects never happen
        self._local_started.pop(fut, None)
        self._local_progress.pop(fut, None)
        self._cancelled_local.add(fut)
        fut.add_done_callback(lambda f: self._cancelled_local.discard(f))
        P.send(
            self.clients,
            P.QueryFailed(
                request_id,
                P.ErrorKind.CANCELLED,
                "cancelled; the statement was running on the coordinator, where it cannot be "
                "stopped midway: it finishes in the background and whatever it changed is "
                "then undone",
            ),
            identity,
        )
        return True

    def _finish_local_statements(self) -> None:
        """Answer the clients of coordinator-local statements that ended; tell those of
        long running ones how far they got."""
        now = time.perf_counter()
        for fut, progress in self._local_progress.items():
            if not fut.done() and (figures := progress.due(now)) is not None:
                identity, request_id = self._local_statements[fut]
                P.send(self.clients, statement_progress(request_id, figures), identity)
        for fut in [f for f in self._local_statements if f.done()]:
            identity, request_id = self._local_statements.pop(fut)
            self._local_progress.pop(fut, None)
            self._local_outcomes.pop(fut, None)
            effects = self._local_effects.pop(fut, None)
            sql, started = self._local_started.pop(fut, ("", time.perf_counter()))
            seconds = time.perf_counter() - started
            try:
                reply: P.Message = P.QueryResult(request_id, fut.result())
                if effects:
                    self.paths.apply(effects)
                rows, nbytes = reply.table.num_rows, reply.table.nbytes
                self._record_statement(sql, "finished", seconds, rows, bytes=nbytes)
            except Exception as exc:
                reply = failure(request_id, exc)
                self._record_statement(sql, "failed", seconds, error=first_line(exc))
            try:
                P.send(self.clients, reply, identity)
            except Exception as exc:  # a result the transport cannot carry must not end us
                log.exception("sending the result of %s failed", request_id)
                P.send(self.clients, failure(request_id, exc), identity)
