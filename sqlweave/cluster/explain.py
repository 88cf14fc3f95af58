"""EXPLAIN for distributed plans: text for people, a node/edge graph for the notebook.

Both take the plan and, optionally, the scheduler's task records (where each task ran,
its rows and time) once the query has run.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import PlannerOptions, plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_arrow("t", pa.table({"k": [1, 2, 1], "v": [10, 20, 30]}), partitions=2)
>>> plan = plan_query("SELECT k, sum(v) FROM t GROUP BY k", catalog, PlannerOptions(workers=2))
>>> print(explain_text(plan))  # doctest: +ELLIPSIS
Distributed plan: 2 stages (1 on workers, 1 on the coordinator)
Stage 1 on the coordinator: result
  <- stage 0 (gather)
  Stage 0 on 2 workers, output gather: scan t -> partial aggregate
...
>>> sorted(explain_graph(plan).to_dict())  # doctest: +ELLIPSIS
[...]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ..explained import (
    DistributedExplain,
    ExplainEdge,
    ExplainGraph,
    ExplainNode,
    NodeKind,
    TaskInfo,
)
from .fragments import DistributedPlan, ExchangeInput, Location, OutputMode, ScanInput, Stage
from .scheduler import TaskRecord, TaskStatus


class TaskRun(Protocol):
    """One finished run of a task, as the coordinator records it (``protocol.FragmentRun``)."""

    stage: int
    index: int
    worker: str
    rows: int
    seconds: float
    attempt: int


#: the scheduler's records (``QueryState.tasks``) or a list of finished runs
Tasks = Mapping[int, Sequence[TaskRecord]] | Iterable[TaskRun]


class EdgeKind:
    SCAN = "scan"
    REPLICA = "scan whole"  # every task reads the whole table
    GATHER = OutputMode.GATHER.value
    BROADCAST = OutputMode.BROADCAST.value
    HASH = OutputMode.HASH.value


def _stage_id(stage: int) -> str:
    return f"stage{stage}"


def _tasks_of(stage: Stage, tasks: Tasks | None) -> tuple[TaskInfo, ...]:
    if not tasks:
        return ()
    if isinstance(tasks, Mapping):
        return tuple(
            TaskInfo(r.index, r.home, r.status.value, r.rows, round(r.seconds, 6), r.attempt)
            for r in tasks.get(stage.id, ())
        )
    runs = sorted((r for r in tasks if r.stage == stage.id), key=lambda r: (r.index, r.attempt))
    done = TaskStatus.DONE.value
    return tuple(
        TaskInfo(r.index, r.worker, done, r.rows, round(r.seconds, 6), r.attempt) for r in runs
    )


def explain_graph(plan: DistributedPlan, tasks: Tasks | None = None) -> ExplainGraph:
    """Stages and base tables as nodes; scans and exchanges as edges."""
    nodes: list[ExplainNode] = []
    edges: list[ExplainEdge] = []
    tables: dict[str, None] = {}
    by_id = {s.id: s for s in plan.stages}
    tasks = tasks if tasks is None or isinstance(tasks, Mapping) else list(tasks)
    for stage in plan.stages:
        infos = _tasks_of(stage, tasks)
        done = [t for t in infos if t.status == TaskStatus.DONE.value]
        nodes.append(
            ExplainNode(
                _stage_id(stage.id),
                NodeKind.STAGE,
                stage.description or f"stage {stage.id}",
                stage.location.value,
                1 if stage.location == Location.COORDINATOR else stage.parallelism,
                sum(t.rows for t in done),
                round(sum(t.seconds for t in done), 6),
                infos,
            )
        )
        for inp in stage.inputs:
            if isinstance(inp, ScanInput):
                tables[inp.table] = None
                kind = EdgeKind.REPLICA if inp.replicated else EdgeKind.SCAN
                edges.append(ExplainEdge(f"table:{inp.table}", _stage_id(stage.id), kind))
            elif isinstance(inp, ExchangeInput):
                out = by_id[inp.stage].output
                edges.append(
                    ExplainEdge(_stage_id(inp.stage), _stage_id(stage.id), out.mode.value, out.keys)
                )
    table_nodes = [ExplainNode(f"table:{t}", NodeKind.TABLE, t) for t in tables]
    return ExplainGraph(tuple(table_nodes + nodes), tuple(edges), plan.notes)


def explain(plan: DistributedPlan, tasks: Tasks | None = None) -> DistributedExplain:
    """The typed answer to EXPLAIN: :func:`explain_text` and :func:`explain_graph`."""
    tasks = tasks if tasks is None or isinstance(tasks, Mapping) else list(tasks)
    return DistributedExplain(explain_text(plan, tasks), explain_graph(plan, tasks))


def explain_text(plan: DistributedPlan, tasks: Tasks | None = None) -> str:
    """The plan as indented text, root first, with where and how each task ran.

    Example output::

        Stage 2 on the coordinator: result
          <- stage 0 (gather)
        Stage 0 on 2 workers: scan lineitem (filter pushed) -> partial aggregate
          <- lineitem (scan, split between tasks)
          task 0 on w0: 1 234 rows, 0.012 s
    """
    by_id = {s.id: s for s in plan.stages}
    tasks = tasks if tasks is None or isinstance(tasks, Mapping) else list(tasks)
    lines: list[str] = []
    workers = sum(1 for s in plan.stages if s.location == Location.WORKERS)
    lines.append(
        f"Distributed plan: {len(plan.stages)} stages "
        f"({workers} on workers, {len(plan.stages) - workers} on the coordinator)"
    )
    seen: set[int] = set()

    def visit(sid: int, depth: int) -> None:
        if sid in seen:
            return
        seen.add(sid)
        stage = by_id[sid]
        pad = "  " * depth
        where = (
            "on the coordinator"
            if stage.location == Location.COORDINATOR
            else f"on {stage.parallelism} workers"
        )
        out = stage.output
        route = ""
        if sid != plan.root:
            route = f", output {out.mode.value}"
            if out.mode == OutputMode.HASH:
                route += f" by ({', '.join(out.keys)})"
        lines.append(f"{pad}Stage {sid} {where}{route}: {stage.description}")
        for inp in stage.inputs:
            if isinstance(inp, ScanInput):
                how = "read whole by every task" if inp.replicated else "split between tasks"
                lines.append(f"{pad}  <- {inp.table} (scan, {how})")
            else:
                mode = by_id[inp.stage].output.mode.value
                lines.append(f"{pad}  <- stage {inp.stage} ({mode})")
        for t in _tasks_of(stage, tasks):
            retry = f", attempt {t.attempt}" if t.attempt else ""
            lines.append(
                f"{pad}  task {t.index} on {t.worker}: {t.status}, {t.rows} rows, "
                f"{t.seconds:.3f} s{retry}"
            )
        for inp in stage.inputs:
            if isinstance(inp, ExchangeInput):
                visit(inp.stage, depth + 1)

    visit(plan.root, 0)
    if plan.notes:
        lines.append("Runs on the coordinator:")
        lines.extend(f"  - {n}" for n in plan.notes)
    return "\n".join(lines)
