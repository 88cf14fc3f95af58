"""Run one task's fragment to output tables: shared by workers and the coordinator.

A worker runs the fragments of worker stages; the coordinator runs coordinator-located
stages the same way, so neither imports the other.

>>> import pyarrow as pa
>>> as_table(pa.record_batch({"x": [1, 2]})).num_rows
2
>>> as_table(iter([pa.record_batch({"x": [1]}), pa.record_batch({"x": [2]})])).to_pydict()
{'x': [1, 2]}
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..engines.metering import PlanMeter
from .fragments import TaskInput, TaskSpec
from .task import Collector, FileLinks, collect_fragment, run_task


def run_fragment(
    ctx_factory: Callable[[], Any],
    spec: TaskSpec,
    inputs: dict[TaskInput, pa.Table],
    links: FileLinks | None = None,
    meter: PlanMeter | None = None,
    collect: Collector = collect_fragment,
) -> dict[int, pa.Table]:
    """Run one task through :func:`.task.run_task`; output tables by destination partition.

    ``meter``, if given, counts the rows and bytes the task scans and produces as it runs;
    ``collect`` runs the planned fragment (see :data:`.task.Collector`).
    """
    result = run_task(ctx_factory, spec, inputs.__getitem__, links, meter, collect)
    return {int(p): as_table(v) for p, v in result.items()}


def as_table(value: Any) -> pa.Table:
    """A table from a table, a record batch or an iterable of record batches."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    batches = list(value)
    if not batches:
        raise ValueError("an output partition with no batches and no schema")
    return pa.Table.from_batches(batches)
