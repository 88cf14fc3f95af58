"""What the coordinator tells operators: status, query history, the HTTP endpoint's snapshot.

A mixin of :class:`.coordinator.Coordinator`; the HTTP server itself is :mod:`.observe`.
"""

from __future__ import annotations

import os
import time
from typing import Any

from . import protocol as P
from .journal import statement_record
from .replies import history_entry
from .supervision import rss_bytes


class StatusViews:
    """Answers to status and history requests, and the statement history they read."""

    def _record_statement(
        self, sql: str, state: str, seconds: float, rows: int = 0, **kw: Any
    ) -> None:
        record = statement_record(sql, state, seconds, rows, **kw)
        if self.journal is not None:
            self.journal.append(record)
        else:
            self.history.append(record)

    def _on_status(self, identity: bytes, msg: P.StatusRequest) -> None:
        status = P.ClusterStatus(
            msg.request_id,
            os.getpid(),
            self.membership.status(time.monotonic()),
            self.queries_run,
            self.incarnation,
            len(self._local_statements) + len(self._cancelled_local),
        )
        P.send(self.clients, status, identity)

    def _on_history(self, identity: bytes, msg: P.HistoryRequest) -> None:
        limit = max(0, min(msg.limit, len(self.history)))
        entries = tuple(history_entry(r) for r in list(self.history)[len(self.history) - limit :])
        P.send(self.clients, P.QueryHistory(msg.request_id, entries), identity)

    def serve_http(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the operators' HTTP endpoint (see :mod:`.observe`); its address."""
        from .observe import Observer

        self.observer = Observer(host, port)
        self.observer.publish(self._snapshot())
        return self.observer.address

    def _snapshot(self) -> Any:
        from dataclasses import asdict

        from .observe import Snapshot

        workers = tuple(
            {**asdict(w), "liveness": w.liveness.value}
            for w in self.membership.status(time.monotonic())
        )
        history = tuple(asdict(history_entry(r)) for r in self.history)
        return Snapshot(
            pid=os.getpid(),
            incarnation=self.incarnation,
            started=self._started_at,
            rss_bytes=rss_bytes(),
            queries_running=len(self.queries) + len(self._local_statements),
            local_running=len(self._local_statements) + len(self._cancelled_local),
            queries_run=self.queries_run,
            workers=workers,
            history=history,
        )
