"""The per-query scheduler: a pure state machine, no sockets, no threads.

:class:`QueryState` takes the plan, the live workers and the catalog; ``start()`` and
``handle(event)`` return instructions (:class:`LaunchTask`, :class:`QueryCompleted`,
:class:`QueryAborted`) that the coordinator's I/O loop (or :mod:`.simulate`) carries out.

Placement: task ``i`` of every worker stage has a *home* worker (round-robin over the
live workers at start) and always runs there. HASH/BROADCAST producers push piece ``p``
to the home of consumer task ``p`` (``TaskSpec.destinations``); GATHER pieces go to the
coordinator. A consumer task is launched once every producer task of its inputs is done.

Worker loss: unfinished tasks whose home died move to a survivor; exchange data pushed
to the dead worker is gone, so every producer of a moved task's inputs runs again (and,
if such a producer had itself lived on the dead worker, its own producers, recursively).
Results that already reached the coordinator are kept.

>>> import pyarrow as pa
>>> from sqlweave.cluster.planning import PlannerOptions, plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_arrow("t", pa.table({"k": [1, 2, 1], "v": [10, 20, 30]}), partitions=2)
>>> plan = plan_query("SELECT k, sum(v) FROM t GROUP BY k", catalog, PlannerOptions(workers=2))
>>> state = QueryState("q1", plan, ["w0", "w1"], catalog)
>>> [(i.worker, i.spec.key) for i in state.start()]
[('w0', ('q1', 0, 0)), ('w1', ('q1', 0, 1))]
>>> state.handle(TaskCompleted(("q1", 0, 0), "w0", rows=2))
[]
>>> [(i.worker, i.spec.key) for i in state.handle(TaskCompleted(("q1", 0, 1), "w1", rows=1))]
[('coordinator', ('q1', 1, 0))]
>>> state.handle(TaskCompleted(("q1", 1, 0), "coordinator", rows=2))
[QueryCompleted(query_id='q1', rows=2, seconds=0.0)]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from ..engines.engine import Progress
from .catalog import Catalog
from .fragments import (
    COORDINATOR,
    DistributedPlan,
    ExchangeInput,
    ExchangeShare,
    Location,
    OutputMode,
    ScanInput,
    Stage,
    TaskInput,
    TaskSpec,
)

TaskKey = tuple[str, int, int]  # (query id, stage, index)


# ----- events (in) ---------------------------------------------------------------


@dataclass(frozen=True)
class TaskCompleted:
    """A task finished and its output pieces were delivered."""

    key: TaskKey
    worker: str
    rows: int = 0
    seconds: float = 0.0
    attempt: int = 0


@dataclass(frozen=True)
class TaskErrored:
    key: TaskKey
    worker: str
    error: str
    attempt: int = 0


@dataclass(frozen=True)
class WorkerGone:
    worker: str


Event = TaskCompleted | TaskErrored | WorkerGone


# ----- instructions (out) ----------------------------------------------------------


@dataclass(frozen=True)
class LaunchTask:
    """Run ``spec`` on ``worker`` (:data:`COORDINATOR` = on the coordinator itself)."""

    worker: str
    spec: TaskSpec


@dataclass(frozen=True)
class QueryCompleted:
    """The root task is done: its gathered output is the result."""

    query_id: str
    rows: int
    seconds: float


@dataclass(frozen=True)
class QueryAborted:
    query_id: str
    error: str
    worker: str | None = None
    stage: int | None = None


Instruction = LaunchTask | QueryCompleted | QueryAborted


class TaskStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"


@dataclass
class TaskRecord:
    """Where a task lives and how it went (also what EXPLAIN shows)."""

    stage: int
    index: int
    home: str
    status: TaskStatus = TaskStatus.PENDING
    attempt: int = 0
    rows: int = 0
    seconds: float = 0.0
    #: moved off a lost worker since its inputs arrived: a re-run must re-produce them
    displaced: bool = False


class QueryState:
    """Schedules one query's tasks and reacts to events. See the module docstring."""

    def __init__(
        self,
        query_id: str,
        plan: DistributedPlan,
        workers: Sequence[str],
        catalog: Catalog,
        retries: int = 0,
    ) -> None:
        self.query_id = query_id
        self.plan = plan
        self.live: list[str] = list(workers)
        self.retries = retries
        self.outcome: QueryCompleted | QueryAborted | None = None
        self._stages = {s.id: s for s in plan.stages}
        #: the stages reading each stage's output (a semi-join reduction reads one twice)
        self._consumers: dict[int, list[int]] = {}
        for s in plan.stages:
            for inp in s.inputs:
                if isinstance(inp, ExchangeInput):
                    self._consumers.setdefault(inp.stage, []).append(s.id)
        self._scan_inputs = {s.id: self._assign_scans(s, catalog) for s in plan.stages}
        self.tasks: dict[int, list[TaskRecord]] = {}
        for s in plan.stages:
            n = self.parallelism(s.id)
            if s.location == Location.COORDINATOR:
                homes = [COORDINATOR] * n
            else:
                if not self.live:
                    homes = [""] * n
                else:
                    homes = [self.live[i % len(self.live)] for i in range(n)]
            self.tasks[s.id] = [TaskRecord(s.id, i, homes[i]) for i in range(n)]

    # -- public ------------------------------------------------------------------

    def parallelism(self, stage: int) -> int:
        s = self._stages[stage]
        return 1 if s.location == Location.COORDINATOR else max(1, s.parallelism)

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def progress(self) -> Progress:
        records = [r for rs in self.tasks.values() for r in rs]
        done = [r for r in records if r.status == TaskStatus.DONE]
        return Progress(len(done), len(records), sum(r.rows for r in done))

    def start(self) -> list[Instruction]:
        if not self.live and any(s.location == Location.WORKERS for s in self.plan.stages):
            return self._fail("no live workers")
        return self._launch_ready()

    def handle(self, event: Event) -> list[Instruction]:
        if self.finished:
            return []
        if isinstance(event, WorkerGone):
            return self._worker_lost(event.worker)
        rec = self._current(event)
        if rec is None:
            return []  # stale: an earlier attempt, or a task already moved elsewhere
        if isinstance(event, TaskErrored):
            if rec.attempt < self.retries:
                rec.status, rec.attempt = TaskStatus.PENDING, rec.attempt + 1
                return self._launch_ready()
            where = "the coordinator" if event.worker == COORDINATOR else f"worker {event.worker}"
            return self._fail(
                f"stage {rec.stage} task {rec.index} failed on {where}: {event.error}",
                event.worker,
                rec.stage,
            )
        rec.status, rec.rows, rec.seconds = TaskStatus.DONE, event.rows, event.seconds
        if rec.stage == self.plan.root:
            total = sum(r.seconds for rs in self.tasks.values() for r in rs)
            self.outcome = QueryCompleted(self.query_id, rec.rows, total)
            return [self.outcome]
        return self._launch_ready()

    def cancel(self, reason: str = "cancelled") -> list[Instruction]:
        """Stop scheduling; later events are ignored. Returns the QueryAborted to report."""
        if self.finished:
            return []
        return self._fail(reason)

    # -- internals -----------------------------------------------------------------

    def _current(self, event: TaskCompleted | TaskErrored) -> TaskRecord | None:
        query, stage, index = event.key
        if query != self.query_id or stage not in self.tasks:
            return None
        recs = self.tasks[stage]
        if not 0 <= index < len(recs):
            return None
        rec = recs[index]
        if rec.status != TaskStatus.RUNNING or rec.attempt != event.attempt:
            return None
        if rec.home != event.worker:
            return None
        return rec

    def _assign_scans(self, stage: Stage, catalog: Catalog) -> list[tuple[TaskInput, ...]]:
        n = self.parallelism(stage.id)
        per_task: list[tuple[TaskInput, ...]] = [() for _ in range(n)]
        for inp in stage.inputs:
            if isinstance(inp, ScanInput) and inp.replicated:
                whole = catalog.whole(inp.table, inp.name)
                per_task = [have + whole for have in per_task]
            elif isinstance(inp, ScanInput):
                for i, share in enumerate(catalog.shares(inp.table, n)):
                    per_task[i] += share
        return per_task

    def _spec(self, rec: TaskRecord) -> TaskSpec:
        stage = self._stages[rec.stage]
        inputs: list[TaskInput] = list(self._scan_inputs[stage.id][rec.index])
        for inp in stage.inputs:
            if isinstance(inp, ExchangeInput):
                producer = self._stages[inp.stage]
                partition = 0 if producer.output.mode == OutputMode.GATHER else rec.index
                inputs.append(
                    ExchangeShare(inp.table, inp.stage, partition, self.parallelism(inp.stage))
                )
        output = stage.output
        destinations: tuple[str, ...] = ()
        consumers = self._consumers.get(stage.id)
        if output.mode == OutputMode.GATHER or not consumers:
            destinations = (COORDINATOR,)
        else:
            destinations = self._destinations(consumers)
            output = replace(output, partitions=len(destinations))
        return TaskSpec(
            query_id=self.query_id,
            stage=stage.id,
            index=rec.index,
            fragment=stage.fragment,
            inputs=tuple(inputs),
            output=output,
            destinations=destinations,
            attempt=rec.attempt,
            settings=self.plan.settings,
        )

    def _destinations(self, consumers: list[int]) -> tuple[str, ...]:
        """Where partition ``p`` goes: the home of task ``p`` of the consumers.

        Task ``p`` of every worker stage lives on one worker (at the start, and after a
        loss, which moves finished tasks too), so all consumers agree.
        """
        return tuple(r.home for r in self.tasks[consumers[0]])

    def _producers_done(self, stage_id: int) -> bool:
        for inp in self._stages[stage_id].inputs:
            if isinstance(inp, ExchangeInput) and any(
                r.status != TaskStatus.DONE for r in self.tasks[inp.stage]
            ):
                return False
        return True

    def _launch_ready(self) -> list[Instruction]:
        out: list[Instruction] = []
        for stage in self.plan.stages:
            if not self._producers_done(stage.id):
                continue
            for rec in self.tasks[stage.id]:
                if rec.status == TaskStatus.PENDING:
                    rec.status = TaskStatus.RUNNING
                    out.append(LaunchTask(rec.home, self._spec(rec)))
        return out

    def _worker_lost(self, worker: str) -> list[Instruction]:
        if worker not in self.live:
            return []
        self.live.remove(worker)
        if not self.live:
            return self._fail(f"worker {worker} was lost and no workers are left", worker)
        lost = []
        for recs in self.tasks.values():
            for rec in recs:
                if rec.home == worker:
                    if rec.status != TaskStatus.DONE:
                        lost.append(rec)
                    # finished ones move too: task p of every stage keeps one home, so a
                    # stage read by several consumers sends partition p to one place
                    rec.home = self._home(rec.index)
                    rec.displaced = True
        for rec in lost:
            self._reset(rec)
        return self._launch_ready()

    def _home(self, index: int) -> str:
        return self.live[index % len(self.live)]

    def _reset(self, rec: TaskRecord) -> None:
        """Run ``rec`` again; if it moved off a dead worker, re-produce its inputs there."""
        if rec.status == TaskStatus.PENDING and not rec.displaced:
            return
        rec.status = TaskStatus.PENDING
        rec.attempt += 1
        if rec.displaced:
            rec.displaced = False
            for inp in self._stages[rec.stage].inputs:
                if isinstance(inp, ExchangeInput) and self._stages[inp.stage].output.mode != (
                    OutputMode.GATHER
                ):
                    for producer in self.tasks[inp.stage]:
                        self._reset(producer)

    def _fail(self, error: str, worker: str | None = None, stage: int | None = None):
        self.outcome = QueryAborted(self.query_id, error, worker, stage)
        return [self.outcome]
