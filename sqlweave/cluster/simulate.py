"""Run a :class:`DistributedPlan` in one process, through the real scheduler and run_task.

Each simulated worker has its own inbox of exchange pieces and every task gets a fresh
``SessionContext``; instructions are carried out one at a time, in order. This is the
coordinator's loop without sockets, so plans, the exchange rules and worker-loss
recovery are testable in pure tests.

>>> import pyarrow as pa
>>> from sqlweave.cluster.planning import PlannerOptions, plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_arrow("t", pa.table({"k": [1, 2, 1, 3], "v": [10, 20, 30, 40]}), partitions=2)
>>> sql = "SELECT k, sum(v) AS s FROM t GROUP BY k ORDER BY k"
>>> result = simulate(plan_query(sql, catalog, PlannerOptions(workers=2)), catalog, workers=2)
>>> result.table.to_pylist()
[{'k': 1, 's': 40}, {'k': 2, 's': 20}, {'k': 3, 's': 40}]
>>> result.state.progress.fragments_done == result.state.progress.fragments_total
True
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
from datafusion import SessionContext

from .catalog import Catalog
from .fragments import (
    COORDINATOR,
    DistributedPlan,
    ExchangeShare,
    MemoryShare,
    OutputMode,
    TaskInput,
)
from .scheduler import (
    Event,
    LaunchTask,
    QueryAborted,
    QueryCompleted,
    QueryState,
    TaskCompleted,
    TaskErrored,
    WorkerGone,
)
from .task import run_task

PieceKey = tuple[int, int, int]  # (stage, producer index, partition)


class SimulationError(Exception):
    """The simulated query failed; ``outcome`` says where."""

    def __init__(self, outcome: QueryAborted) -> None:
        super().__init__(outcome.error)
        self.outcome = outcome


@dataclass
class SimulationResult:
    table: pa.Table
    state: QueryState
    #: every event fed to the scheduler, in order (for tests and EXPLAIN)
    events: list[Event] = field(default_factory=list)
    #: (worker, stage, index, attempt) of every task actually run
    runs: list[tuple[str, int, int, int]] = field(default_factory=list)


def simulate(
    plan: DistributedPlan,
    catalog: Catalog,
    workers: int = 2,
    ctx_factory: Callable[[], SessionContext] = SessionContext,
    lose_after: Mapping[int, str] | None = None,
    query_id: str = "sim",
) -> SimulationResult:
    """Execute ``plan`` with ``workers`` in-process workers named ``w0, w1, ...``.

    Args:
        plan: the distributed plan.
        catalog: tables (file shares are read from disk, memory partitions from the catalog).
        workers: number of simulated workers.
        ctx_factory: fresh SessionContext per task.
        lose_after: ``{n: worker}``: after the n-th finished task, ``worker`` dies (its
            inbox is lost and its queued tasks never report back).
        query_id: id used in task keys.

    Raises:
        SimulationError: the scheduler gave up (a task failed, or no workers are left).
    """
    names = [f"w{i}" for i in range(workers)]
    state = QueryState(query_id, plan, names, catalog)
    inbox: dict[str, dict[PieceKey, list[pa.RecordBatch]]] = {w: {} for w in [*names, COORDINATOR]}
    dead: set[str] = set()
    lose_after = dict(lose_after or {})
    result = SimulationResult(pa.table({}), state)
    queue: deque = deque(state.start())
    finished = 0

    def resolver(worker: str) -> Callable[[TaskInput], list[pa.RecordBatch] | pa.Table]:
        def resolve(inp: TaskInput):
            if isinstance(inp, MemoryShare):
                return catalog.partitions[inp.content_hash]
            assert isinstance(inp, ExchangeShare)
            pieces = []
            for j in range(inp.producers):
                key = (inp.stage, j, inp.partition)
                if key not in inbox[worker]:
                    raise RuntimeError(f"{worker} is missing exchange piece {key}")
                pieces.extend(inbox[worker][key])
            return pieces

        return resolve

    def feed(event: Event) -> None:
        result.events.append(event)
        queue.extend(state.handle(event))

    while queue:
        instr = queue.popleft()
        if isinstance(instr, QueryAborted):
            raise SimulationError(instr)
        if isinstance(instr, QueryCompleted):
            break
        assert isinstance(instr, LaunchTask)
        spec, worker = instr.spec, instr.worker
        if worker in dead:
            continue
        result.runs.append((worker, spec.stage, spec.index, spec.attempt))
        t0 = time.perf_counter()
        try:
            pieces = run_task(ctx_factory, spec, resolver(worker))
        except Exception as exc:  # a task error travels as data, like from a real worker
            feed(TaskErrored(spec.key, worker, f"{type(exc).__name__}: {exc}", spec.attempt))
            continue
        seconds = time.perf_counter() - t0
        counted = [pieces[0]] if spec.output.mode == OutputMode.BROADCAST else pieces.values()
        rows = sum(b.num_rows for bs in counted for b in bs)
        for p, batches in pieces.items():
            if spec.output.mode == OutputMode.GATHER:
                dest = spec.destinations[0] if spec.destinations else COORDINATOR
            else:
                dest = spec.destinations[p]
            if dest not in dead:
                inbox[dest][(spec.stage, spec.index, p)] = batches
        if spec.stage == plan.root:
            batches = pieces[0]
            result.table = pa.Table.from_batches(batches, schema=batches[0].schema)
        feed(TaskCompleted(spec.key, worker, rows, seconds, spec.attempt))
        finished += 1
        if finished in lose_after:
            lost = lose_after.pop(finished)
            dead.add(lost)
            inbox[lost].clear()
            feed(WorkerGone(lost))
    if isinstance(state.outcome, QueryAborted):
        raise SimulationError(state.outcome)
    return result
