"""Distributed queries on the coordinator: planning, feeding the scheduler, shipping
tasks, coordinator-located stages, answering, failing and falling back.

A mixin of :class:`.coordinator.Coordinator`: the scheduler (:mod:`.scheduler`)
decides, these methods carry its instructions out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .. import errors
from . import protocol as P
from .fragments import (
    COORDINATOR,
    DistributedPlan,
    ExchangeShare,
    MemoryShare,
    Settings,
    TaskInput,
    TaskSpec,
)
from .planning import NotDistributable
from .replies import encode_dictionaries, explain_answer, first_line, is_data_error
from .scheduler import (
    LaunchTask,
    QueryAborted,
    QueryCompleted,
    QueryState,
    TaskCompleted,
    TaskErrored,
    WorkerGone,
)
from .task import concat_tables
from .task_progress import CLIENT_INTERVAL_S, MeteredJob, QueryProgressTracker

log = logging.getLogger("sqlweave.cluster.coordinator")


@dataclass
class RunningQuery:
    """A running query: its scheduler state plus what the loop needs to answer the client."""

    request_id: str
    client: bytes
    sql: str
    plan: DistributedPlan
    state: QueryState
    explain: bool = False
    #: what the client sent (a fallback runs it again)
    message: P.ExecuteQuery | None = None
    #: the id workers know this run by: the request id, or a fresh one for a fallback run
    key: str = ""
    #: this run is already the fallback of a distributed run that failed
    fallback: bool = False
    started: float = field(default_factory=time.perf_counter)
    runs: list[P.FragmentRun] = field(default_factory=list)
    rows: int = 0
    #: gathered outputs kept on the coordinator: (stage, partition) -> {producer: table}
    gathered: dict[tuple[int, int], dict[int, pa.Table]] = field(default_factory=dict)
    #: figures of its finished and running tasks (mid-task progress from workers)
    tasks_progress: QueryProgressTracker = field(default_factory=QueryProgressTracker)
    #: its measured coordinator-located tasks, by (stage, index, attempt)
    coordinator_jobs: dict[tuple[int, int, int], MeteredJob] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = self.key or self.request_id


class DistributedQueries:
    """Carrying out the scheduler's instructions for the coordinator's running queries."""

    def _plan(self, sql: str, params: dict[str, Any], settings: Settings = ()) -> DistributedPlan:
        from .planning import plan_query

        options = self._options()
        try:
            return self.plans.plan(
                sql,
                params,
                settings,
                options,
                self.catalog,
                lambda: plan_query(sql, self.catalog, options, params or None, settings),
            )
        except (errors.SqlError, NotDistributable):
            raise
        except Exception as exc:
            from ..engines import sqlerrors

            raise sqlerrors.from_datafusion(exc, sql, self.catalog.names()) from None

    def _options(self) -> Any:
        from .planning import PlannerOptions

        return PlannerOptions(workers=len(self.membership.alive()), **self.planner_options)

    def _feed(self, q: RunningQuery, events: list[Any]) -> None:
        """Hand events to the query's scheduler and carry out its instructions.

        Whatever goes wrong here fails (or falls back) this query, answering its client:
        the exception must not reach the socket loop, which would answer the worker whose
        message we were handling and leave the client waiting forever."""
        try:
            self._feed_events(q, events)
        except Exception as exc:
            log.exception("query %s failed in the coordinator", q.request_id)
            if self.queries.get(q.key) is q:
                self._fail(q, QueryAborted(q.key, first_line(exc), COORDINATOR))

    def _feed_events(self, q: RunningQuery, events: list[Any]) -> None:
        pending = list(events)
        while pending and self.queries.get(q.key) is q:
            item = pending.pop(0)
            if isinstance(item, (TaskCompleted, TaskErrored, WorkerGone)):
                pending[:0] = q.state.handle(item)
                if isinstance(item, TaskCompleted):
                    self._progress(q)
            elif isinstance(item, LaunchTask):
                if item.worker == COORDINATOR:
                    self._run_on_coordinator(q, item.spec)
                else:
                    self._run_on_worker(item.worker, item.spec)
            elif isinstance(item, QueryCompleted):
                self._finish(q)
            elif isinstance(item, QueryAborted):
                self._fail(q, item)

    def _run_on_worker(self, worker: str, spec: TaskSpec) -> None:
        for item in spec.inputs:
            if isinstance(item, MemoryShare) and self.membership.needs(worker, item.content_hash):
                part = self.catalog.partitions[item.content_hash]
                self._send_worker(worker, P.StoreTable(item.content_hash, part))
                self.membership.shipped(worker, item.content_hash)
        if not self._send_worker(worker, P.RunTask(spec)):
            log.warning("task %s for lost worker %s dropped", spec.key, worker)

    def _run_on_coordinator(self, q: RunningQuery, spec: TaskSpec) -> None:
        inputs: dict[TaskInput, pa.Table] = {}
        for item in spec.inputs:
            if isinstance(item, ExchangeShare):
                parts = q.gathered.get((item.stage, item.partition), {})
                inputs[item] = concat_tables([parts[i] for i in sorted(parts)])
            elif isinstance(item, MemoryShare):
                inputs[item] = self.catalog.partitions[item.content_hash]
        job = None
        if not any(isinstance(item, ExchangeShare) for item in spec.inputs):
            # it reads tables itself (the whole query, say): its scans are the query's
            job = q.coordinator_jobs[(spec.stage, spec.index, spec.attempt)] = MeteredJob()

        def run() -> tuple[dict[int, pa.Table], float]:
            from ..engines.local import apply_settings, make_context
            from .fragment_run import run_fragment

            started = time.perf_counter()

            def context() -> Any:
                ctx = make_context()
                apply_settings(ctx, spec.settings)
                return ctx

            out = run_fragment(context, spec, inputs, meter=job.meter if job else None)
            return out, time.perf_counter() - started

        fut = self._offloop.submit(run)
        self._local_tasks[fut] = (q.key, spec)

    def _finish_coordinator_stages(self) -> None:
        """Feed the scheduler the outcome of coordinator-located stages that ended; report
        how far the running ones that read tables got."""
        now = time.perf_counter()
        for q in list(self.queries.values()):
            for (stage, index, attempt), job in q.coordinator_jobs.items():
                figures = job.due(now)
                if figures is not None and q.tasks_progress.task_progress(
                    stage, index, attempt, figures
                ):
                    self._progress(q, mid_task=True)
        for fut in [f for f in self._local_tasks if f.done()]:
            key, spec = self._local_tasks.pop(fut)
            q = self.queries.get(key)
            if q is None:
                continue
            job = q.coordinator_jobs.pop((spec.stage, spec.index, spec.attempt), None)
            try:
                outputs, seconds = fut.result()
            except Exception as exc:
                q.tasks_progress.task_failed(spec.stage, spec.index)
                self._feed(q, [TaskErrored(spec.key, COORDINATOR, first_line(exc), spec.attempt)])
                continue
            figures = job.meter.figures() if job is not None else None
            q.tasks_progress.task_done(spec.stage, spec.index, spec.attempt, figures)
            rows = sum(t.num_rows for t in outputs.values())
            q.runs.append(P.FragmentRun(spec.stage, spec.index, COORDINATOR, rows, seconds))
            try:
                output = concat_tables([outputs[p] for p in sorted(outputs)])
            except Exception as exc:
                self._feed(q, [TaskErrored(spec.key, COORDINATOR, first_line(exc), spec.attempt)])
                continue
            q.gathered.setdefault((spec.stage, 0), {})[spec.index] = output
            self._feed(q, [TaskCompleted(spec.key, COORDINATOR, rows, seconds, spec.attempt)])

    def _progress(self, q: RunningQuery, mid_task: bool = False) -> None:
        """Tell the query's client how far it got (throttled; the last fragment always)."""
        p = q.state.progress
        now = time.perf_counter()
        if p.fragments_done < p.fragments_total:
            interval = CLIENT_INTERVAL_S if mid_task else 0.05
            if not q.tasks_progress.due(now, interval):
                return
        totals = q.tasks_progress.totals()
        msg = P.QueryProgress(
            q.request_id,
            p.fragments_done,
            p.fragments_total,
            p.rows + q.tasks_progress.running_rows_out(),
            totals.rows_scanned,
            totals.bytes_scanned,
            now - q.started,
        )
        P.send(self.clients, msg, q.client)

    def _finish(self, q: RunningQuery) -> None:
        parts = q.gathered.get((q.plan.root, 0), {})
        table = encode_dictionaries(concat_tables([parts[i] for i in sorted(parts)]), q.plan.schema)
        self.queries.pop(q.key, None)
        explained = explain_answer(q.plan, q.state.tasks) if q.explain else None
        if explained is not None:
            table = explained.table()
        reply = P.QueryResult(q.request_id, table, tuple(q.runs), explained)
        P.send(self.clients, reply, q.client)
        for wid in self.membership.alive():
            self._send_worker(wid, P.ReleaseQuery(q.key))
        seconds = time.perf_counter() - q.started
        self._record_statement(q.sql, "finished", seconds, table.num_rows, bytes=table.nbytes)

    def _fail(self, q: RunningQuery, outcome: QueryAborted) -> None:
        self.queries.pop(q.key, None)
        for wid in self.membership.alive():
            self._send_worker(wid, P.CancelQuery(q.key))
        try:
            if self._fall_back(q, outcome.error):
                return
        except Exception:  # the original error is the one to report
            log.exception("query %s could not fall back to the coordinator", q.request_id)
        seconds = time.perf_counter() - q.started
        self._record_statement(q.sql, "failed", seconds, error=outcome.error[:500])
        remote = outcome.worker and outcome.worker != COORDINATOR
        kind = P.ErrorKind.WORKER if remote else P.ErrorKind.EXECUTION
        reply = P.QueryFailed(q.request_id, kind, outcome.error, outcome.worker)
        P.send(self.clients, reply, q.client)

    def _fall_back(self, q: RunningQuery, error: str) -> bool:
        """Run a failed distributed query again, whole, on the coordinator.

        Only once, and only for failures that come from distributing it (a fragment that
        does not plan or decode on a worker, pieces that do not fit together), never for
        errors in the data, which the coordinator would only hit again.
        """
        if q.fallback or q.message is None or is_data_error(error):
            return False
        from .planning import NotDistributable, whole_query_plan

        log.info("query %s falls back to the coordinator: %s", q.request_id, error)
        if not self.membership.alive():
            # every worker was lost (killed, being replaced): the whole statement runs here
            self._run_locally(q.client, q.message)
            return True
        reason = f"a distributed fragment failed: {error[:200]}"
        try:
            plan = whole_query_plan(
                q.sql, self.catalog, self._options(), q.message.params, reason, q.plan.settings
            )
        except NotDistributable:
            self._run_locally(q.client, q.message)
            return True
        key = f"{q.request_id}.fallback"
        state = QueryState(key, plan, self.membership.alive(), self.catalog)
        again = RunningQuery(
            q.request_id, q.client, q.sql, plan, state, q.explain, q.message, key, fallback=True
        )
        self.queries[key] = again
        self._feed(again, state.start())
        return True
