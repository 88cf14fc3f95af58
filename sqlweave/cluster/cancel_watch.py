"""A worker's side of a cancel: tasks read so that a cancel drops them at once, and the
watch that decides whether a cancelled task's native work really stopped.

DataFusion's Python binding checks for an interrupt once a second while it waits for a
query, and only when its busy runtime gets round to the timer; a dropped query's native
tasks stop at their next yield point, which a join making thousands of rows per input row
under an aggregate does not reach for as long as it runs. So an aggregate's task (few
output batches: the kind that runs long without output) is read asynchronously
(:class:`InterruptibleCollector`): the waiting thread hears the interrupt at once and
cancelling the read drops the streams. Then :func:`await_let_go` watches the native
threads (:mod:`.native_activity`); if they stay busy, only a new process stops them.

A cancel is shown in tests/cluster/test_cancel_replaces.py (real processes); reading:

>>> from datafusion import SessionContext
>>> from sqlweave.engines.metering import PlanMeter
>>> ctx, collect = SessionContext(), InterruptibleCollector()
>>> collect(ctx, ctx.sql("SELECT 1 AS x"), None).to_pylist()  # as collect, on this thread
[{'x': 1}]
>>> collect(ctx, ctx.sql("SELECT count(*) AS n FROM (VALUES (1), (2)) t(x)"), PlanMeter()).to_pylist()
[{'n': 2}]
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from ..engines.engine_thread import EngineThread
from ..engines.metering import PlanMeter, collect_metered_async, few_output_batches
from .native_activity import INTERRUPT_CHECK_S, QUIET_WINDOW_S, SettleWatch, Verdict, native_busy_ns
from .task import collect_fragment


class InterruptibleCollector:
    """A :data:`.task.Collector` whose waiting thread stays free to take an interrupt.

    A plan with few output batches is read asynchronously on a reader thread of its own
    (made at first use) while the calling thread waits in Python: whatever interrupts
    that wait (a worker's ``TaskCancelled``) cancels the read, which drops the query's
    streams. Other plans run as ``collect`` (no per-batch cost) on the calling thread.
    """

    def __init__(self) -> None:
        self._reader: EngineThread | None = None

    def __call__(self, ctx: Any, df: Any, meter: PlanMeter | None) -> pa.Table:
        if meter is None or not few_output_batches(df):
            return collect_fragment(ctx, df, meter)
        if self._reader is None:
            self._reader = EngineThread("worker-reader")
        done = asyncio.run_coroutine_threadsafe(
            collect_metered_async(ctx, df, meter), self._reader.loop
        )
        try:
            return done.result()
        except BaseException:
            done.cancel()  # the read stops at its next await: the streams are dropped
            raise


def await_let_go(still_running: Callable[[], bool], grace_s: float) -> str | None:
    """(A watchdog thread) wait until a cancelled task let go of its work.

    First the thread running it must leave it (``still_running()`` turns false): within
    :data:`.native_activity.INTERRUPT_CHECK_S` plus ``grace_s``, since a ``collect``
    hears the interrupt only at DataFusion's next check. Then DataFusion's native
    threads must go quiet within ``grace_s``.

    Returns:
        None once the work stopped; otherwise why the process must be replaced.
    """
    started = time.monotonic()
    let_go_by = started + INTERRUPT_CHECK_S + grace_s
    while still_running():
        if time.monotonic() >= let_go_by:
            return f"ignored its cancel for {let_go_by - started:.1f} s"
        time.sleep(0.02)
    watch = SettleWatch(time.monotonic() + grace_s)
    while True:
        python = {t.native_id for t in threading.enumerate()}
        verdict = watch.observe(time.monotonic(), native_busy_ns(python))
        if verdict is Verdict.QUIET:
            return None
        if verdict is Verdict.STUCK:
            return (
                f"still computing {grace_s} s after it let go "
                "(a DataFusion operator that never yields)"
            )
        time.sleep(QUIET_WINDOW_S)
