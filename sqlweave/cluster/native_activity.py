"""Whether a process's native threads (DataFusion's runtime) are still at work after a cancel.

Cancelling a DataFusion query drops it on the Python side, but the runtime's tasks stop
only at their next await point: an operator that never reaches one (a nested-loop join,
a hash-join probe feeding an aggregate) keeps the runtime threads computing for as long
as the query would have run. Python cannot stop a thread, so a worker watches its native
threads for a moment after a cancel (:class:`SettleWatch`, pure) and, if they stay busy,
asks its supervisor for a fresh process.

:func:`native_busy_ns` reads, per native thread, the time spent on a CPU plus the time
spent waiting for one (Linux ``/proc/self/task/*/schedstat``): a starved thread that still
has work counts as busy, so a loaded machine does not pass for a quiet runtime.

>>> w = SettleWatch(deadline=1.0, window_s=0.1)
>>> w.observe(0.0, {7: 0})  # the first reading only sets the baseline
<Verdict.WAIT: 'wait'>
>>> w.observe(0.1, {7: 90_000_000})  # 90 ms of 100 ms busy: still computing
<Verdict.WAIT: 'wait'>
>>> w.observe(0.2, {7: 90_100_000})  # 0.1 ms busy: the runtime let go
<Verdict.QUIET: 'quiet'>
"""

from __future__ import annotations

import enum
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

#: how long a worker lets a cancelled task's native work go on before asking to be replaced
CANCEL_GRACE_S = 1.0
#: how often DataFusion's Python binding checks for an interrupt while it waits for a query
#: (when its runtime gets round to the timer: busy non-yielding operators postpone it)
INTERRUPT_CHECK_S = 1.0
#: the span over which the native threads' activity is measured
QUIET_WINDOW_S = 0.1
#: busy time per second of window (summed over threads) below which the runtime is idle:
#: idle runtime threads used ~0; a thread computing uses ~1 (or waits for a CPU)
QUIET_FRACTION = 0.05
#: threads that are not DataFusion's: ZeroMQ's I/O threads (they carry the next task's data)
_NOT_RUNTIME = ("ZMQbg",)

_TASKS = "/proc/self/task"


class Verdict(enum.Enum):
    """What :meth:`SettleWatch.observe` concluded."""

    WAIT = "wait"  # still busy, or no full window measured yet: look again
    QUIET = "quiet"  # the native threads went idle: the cancelled work is over
    STUCK = "stuck"  # still busy at the deadline: only a new process stops it


@dataclass
class SettleWatch:
    """Decides from successive :func:`native_busy_ns` readings whether native work stopped.

    Args:
        deadline: the time (same clock as ``now``) after which busy means stuck.
        window_s: the shortest span a reading is compared over.
        quiet_fraction: busy seconds per second below which the threads count as idle.
    """

    deadline: float
    window_s: float = QUIET_WINDOW_S
    quiet_fraction: float = QUIET_FRACTION
    _since: float | None = field(default=None, init=False)
    _base: Mapping[int, int] = field(default_factory=dict, init=False)

    def observe(self, now: float, busy: Mapping[int, int] | None) -> Verdict:
        """Take a reading at ``now``; ``None`` (nothing can be measured) counts as quiet."""
        if busy is None:
            return Verdict.QUIET
        if self._since is None or now - self._since < self.window_s:
            if self._since is None:
                self._since, self._base = now, dict(busy)
            return Verdict.WAIT
        span = now - self._since
        # per thread: a thread that ended took its time with it, a new one counts whole
        used = sum(max(0, ns - self._base.get(tid, 0)) for tid, ns in busy.items())
        self._since, self._base = now, dict(busy)
        if used <= self.quiet_fraction * span * 1e9:
            return Verdict.QUIET
        return Verdict.STUCK if now >= self.deadline else Verdict.WAIT


def native_busy_ns(python_threads: Collection[int]) -> dict[int, int] | None:
    """Nanoseconds each native thread of this process has run or waited to run.

    Args:
        python_threads: native ids of the interpreter's own threads (left out: they are
            the worker's I/O, and the caller knows what they do).

    Returns:
        thread id -> run + run-queue wait time; ``None`` where ``/proc`` cannot tell.
    """
    try:
        tids = [int(t) for t in os.listdir(_TASKS)]
    except OSError:
        return None
    out: dict[int, int] = {}
    for tid in tids:
        if tid in python_threads:
            continue
        try:
            with open(f"{_TASKS}/{tid}/comm") as f:
                if f.read().startswith(_NOT_RUNTIME):
                    continue
            out[tid] = _thread_ns(f"{_TASKS}/{tid}")
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
    return out


def _thread_ns(task: str) -> int:
    """Run + wait time from ``schedstat``; CPU time from ``stat`` where a kernel has none."""
    try:
        with open(f"{task}/schedstat") as f:
            ran, waited = f.read().split()[:2]
        return int(ran) + int(waited)
    except FileNotFoundError:
        with open(f"{task}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // _TICKS


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
