"""Measuring a DataFusion query while it runs: the rows and bytes its scans read so far,
and the batches it produced.

DataFusion updates its operators' metrics while they run, but only for the physical plan
object that runs: :func:`collect_metered` makes that plan, runs it as ``collect`` would
and lets a :class:`PlanMeter` read it from any thread (:func:`scan_figures`) and count
the batches flowing out. The cluster's workers and its coordinator use it to report the
progress of long queries (see :mod:`sqlweave.cluster.task_progress`).

>>> from datafusion import SessionContext
>>> ctx = SessionContext()
>>> meter = PlanMeter()
>>> collect_metered(ctx, ctx.sql("SELECT * FROM (VALUES (1), (2)) t(x)"), meter).num_rows
2
>>> meter.rows_out()
2
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

log = logging.getLogger("sqlweave.engines.metering")

#: DataFusion's name for the bytes a file scan read
_BYTES_SCANNED = "bytes_scanned"


class PlanMeter:
    """How far one running query got; written by the threads running it, read by others.

    Args:
        memory_bytes_per_row: average bytes per row of the task's in-memory inputs, to
            estimate the bytes read by scans DataFusion does not count bytes for.
        clock: seconds, for the elapsed time.
    """

    def __init__(
        self, memory_bytes_per_row: float = 0.0, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.memory_bytes_per_row = memory_bytes_per_row
        self._clock = clock
        self.started = clock()
        self._plan: Any = None
        # one slot per partition: each is written by one thread only, so no lock is needed
        self._rows: list[int] = [0]
        self._bytes: list[int] = [0]

    def watch(self, plan: Any) -> None:
        """Read scan figures from ``plan`` (a DataFusion ``ExecutionPlan`` about to run)."""
        n = max(1, plan.partition_count)
        self._rows, self._bytes = [0] * n, [0] * n
        self._plan = plan

    def count(self, partition: int, batch: pa.RecordBatch) -> None:
        """One output batch of ``partition`` (the hot path: two additions)."""
        self._rows[partition] += batch.num_rows
        self._bytes[partition] += batch.nbytes

    def elapsed(self) -> float:
        return self._clock() - self.started

    def rows_out(self) -> int:
        return sum(self._rows)

    def bytes_out(self) -> int:
        return sum(self._bytes)

    def scanned(self) -> tuple[int, int]:
        """Rows and bytes read by the plan's scans so far (0, 0 before it runs)."""
        if self._plan is None:
            return 0, 0
        try:
            return scan_figures(self._plan, self.memory_bytes_per_row)
        except Exception:  # metrics are a nicety: never fail a query over them
            log.debug("reading plan metrics failed", exc_info=True)
            return 0, 0


def scan_figures(plan: Any, memory_bytes_per_row: float = 0.0) -> tuple[int, int]:
    """Rows and bytes the scans of a DataFusion ``ExecutionPlan`` have read so far.

    DataFusion updates its operators' metrics while they run. A file scan counts its rows
    (``output_rows``) and bytes (``bytes_scanned``); an in-memory scan counts nothing, so
    the first operator above it that counts rows stands in for it (its bytes estimated
    from ``memory_bytes_per_row``).
    """
    rows = 0
    bytes_ = 0.0

    def walk(node: Any) -> bool:
        """Add the reads below ``node``; whether they are all counted."""
        nonlocal rows, bytes_
        metrics = node.metrics()
        counted = metrics.output_rows if metrics is not None else None
        children = node.children()
        if not children:
            if counted is None:
                return False
            rows += counted
            bytes_ += metrics.sum_by_name(_BYTES_SCANNED) or 0
            return True
        if all([walk(child) for child in children]):  # (a list: walk every child)
            return True
        if counted is None:
            return False
        rows += counted
        bytes_ += counted * memory_bytes_per_row
        return True

    walk(plan)
    return rows, int(bytes_)


#: plan roots whose output is a few batches, whatever they read
_FEW_BATCHES = frozenset({"Aggregate", "DmlStatement", "CopyTo"})
#: plan nodes that pass on (at most) what their input produces
_PASS_ON = frozenset({"Projection", "Filter", "Sort", "Limit", "SubqueryAlias"})


def few_output_batches(df: Any) -> bool:
    """Whether DataFusion DataFrame ``df`` produces a few batches (an aggregate's, a
    write's count), so that streaming them through Python costs next to nothing.

    >>> from datafusion import SessionContext
    >>> ctx = SessionContext()
    >>> few_output_batches(ctx.sql("SELECT count(*) FROM (VALUES (1)) t(x) ORDER BY 1"))
    True
    >>> few_output_batches(ctx.sql("SELECT x FROM (VALUES (1)) t(x) WHERE x > 0"))
    False
    """
    plan = df.logical_plan()
    while True:
        kind = type(plan.to_variant()).__name__
        if kind in _FEW_BATCHES:
            return True
        inputs = plan.inputs()
        if kind not in _PASS_ON or len(inputs) != 1:
            return False
        plan = inputs[0]


def collect_metered(ctx: Any, df: Any, meter: PlanMeter) -> pa.Table:
    """Run DataFusion DataFrame ``df`` as ``collect`` would, measured by ``meter``.

    Only a plan with :func:`few_output_batches` is measured (its scans' figures and its
    output): streaming every batch of a scan or a join through Python instead of
    ``collect`` cost up to twice the CPU on TPC-H scans (``bench/metering.py``); the
    others run as ``collect`` runs them and ``meter`` sees their output once it is there.

    The plan's partitions run at once, as ``collect`` runs them: one on this thread
    (which must stay the one that takes interrupts), the others on threads of their own.
    An interrupt stops every partition at its next batch before it propagates.
    """
    if not few_output_batches(df):
        batches = df.collect()
        for batch in batches:  # after the fact: the output's figures are still right
            meter.count(0, batch)
        return pa.Table.from_batches(batches) if batches else df.schema().empty_table()
    plan = df.execution_plan()
    meter.watch(plan)
    n = plan.partition_count
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(max(1, n))]
    stop = threading.Event()
    failures: list[BaseException] = []

    def drain(partition: int) -> None:
        out = parts[partition]
        stream = None
        try:
            stream = ctx.execute(plan, partition)
            for batch in stream:
                if stop.is_set():
                    return
                rb = batch.to_pyarrow()
                out.append(rb)
                meter.count(partition, rb)
        except BaseException as exc:  # handed to the task's thread, which raises it
            failures.append(exc)
            stop.set()
        finally:
            # the exception keeps this frame (through its traceback) while it is handled;
            # the stream must go now: the query's native tasks stop only when it is dropped
            del stream

    others = [
        threading.Thread(target=drain, args=(i,), name=f"partition-{i}", daemon=True)
        for i in range(1, n)
    ]
    for t in others:
        t.start()
    try:
        if n >= 1:
            drain(0)
        for t in others:
            while t.is_alive():
                t.join(0.1)  # in slices: an interrupt must land on this thread
    except BaseException:
        stop.set()
        for t in others:  # the worker's watchdog ends the process if one is stuck
            t.join()
        raise
    if failures:
        raise failures[0]
    batches = [b for p in parts for b in p]
    return pa.Table.from_batches(batches) if batches else df.schema().empty_table()


async def collect_metered_async(ctx: Any, df: Any, meter: PlanMeter) -> pa.Table:
    """:func:`collect_metered` for a plan with :func:`few_output_batches`, reading its
    partitions' streams asynchronously on the calling event loop.

    Cancelling the awaiting task drops every stream at once, and with them the query's
    native tasks (at their next yield point); a thread blocked in a synchronous read
    would notice an interrupt only at DataFusion's next once-a-second check, if its busy
    runtime gets round to it.
    """
    plan = df.execution_plan()
    meter.watch(plan)
    n = max(1, plan.partition_count)
    parts: list[list[pa.RecordBatch]] = [[] for _ in range(n)]

    async def drain(partition: int) -> None:
        stream = ctx.execute(plan, partition)
        try:
            async for batch in stream:
                rb = batch.to_pyarrow()
                parts[partition].append(rb)
                meter.count(partition, rb)
        finally:
            del stream  # nothing may keep it once cancelled (see engines.engine_thread)

    tasks = [asyncio.ensure_future(drain(p)) for p in range(plan.partition_count)]
    try:
        await asyncio.gather(*tasks)  # cancelled, it cancels them all
    except BaseException:
        for task in tasks:  # one failed: the others stop too
            task.cancel()
        raise
    batches = [b for p in parts for b in p]
    return pa.Table.from_batches(batches) if batches else df.schema().empty_table()


def memory_bytes_per_row(tables: Iterable[pa.Table]) -> float:
    """Average bytes per row over in-memory ``tables`` (0 when they hold no rows)."""
    rows = nbytes = 0
    for t in tables:
        rows += t.num_rows
        nbytes += t.nbytes
    return nbytes / rows if rows else 0.0
