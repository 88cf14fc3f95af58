"""Cron schedules for pipelines: when to start a run, with policies for overlaps and misses.

:class:`Scheduler` only decides (given the time and whether a run is in progress); a thin
loop (:func:`serve`) reads the clock, sleeps and starts runs. Tests inject the clock and
the sleep, so no test waits for real time. Cron expressions are parsed by ``croniter``.

Policies:

* missed fire times (the scheduler was down, or a run outlasted several periods):
  ``skip`` drops them, ``once`` (default) makes one catch-up run, ``all`` one run each;
* a fire time while a run is still going: ``skip`` (default) drops it, ``queue`` runs it
  once the runs before it end (runs never overlap: they share the warehouse). Catch-up
  runs of ``all`` always queue.

>>> from datetime import datetime, timezone
>>> s = Scheduler(Schedule("0 * * * *"), last=datetime(2026, 1, 1, 9, 30, tzinfo=timezone.utc))
>>> [(t.action.value, t.time.hour) for t in s.tick(datetime(2026, 1, 1, 10, 0, 5, tzinfo=timezone.utc), False)]
[('start', 10)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum

from croniter import croniter

from .errors import PipelineError

#: fire times older than this when noticed count as missed
DEFAULT_GRACE = timedelta(seconds=60)
#: at most this many missed fire times are considered (a long outage of a minutely cron)
MAX_MISSED = 1000


class MissedPolicy(str, Enum):
    SKIP = "skip"
    ONCE = "once"
    ALL = "all"


class OverlapPolicy(str, Enum):
    SKIP = "skip"
    QUEUE = "queue"


class Action(str, Enum):
    START = "start"
    QUEUED = "queued"  # starts when the current run ends
    SKIPPED_OVERLAP = "skipped: a run was in progress"
    SKIPPED_MISSED = "skipped: missed"


@dataclass(frozen=True)
class Trigger:
    """What the scheduler did about one fire time."""

    time: datetime
    action: Action


@dataclass(frozen=True)
class Schedule:
    """A cron expression (5 fields, or 6 with seconds) and the policies.

    Raises:
        PipelineError: the expression is not valid cron.
    """

    cron: str
    missed: MissedPolicy = MissedPolicy.ONCE
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    grace: timedelta = DEFAULT_GRACE

    def __post_init__(self) -> None:
        if not croniter.is_valid(self.cron):
            raise PipelineError(
                f"{self.cron!r} is not a cron expression (e.g. '0 6 * * *': daily at 06:00 UTC)"
            )

    def after(self, moment: datetime) -> datetime:
        """The first fire time strictly after ``moment``."""
        return croniter(self.cron, moment).get_next(datetime)


@dataclass
class Scheduler:
    """Decides which fire times start a run.

    Args:
        schedule: the cron expression and policies.
        last: the last fire time already handled (fire times after it are due).
    """

    schedule: Schedule
    last: datetime
    queued: list[datetime] = field(default_factory=list)
    history: list[Trigger] = field(default_factory=list)

    def due(self, now: datetime) -> list[datetime]:
        """Fire times in ``(last, now]``."""
        out: list[datetime] = []
        it = croniter(self.schedule.cron, self.last)
        while len(out) < MAX_MISSED:
            t = it.get_next(datetime)
            if t > now:
                break
            out.append(t)
        return out

    def next_wake(self, now: datetime) -> datetime:
        """When to tick again: the next fire time (sooner is fine: ticks are idempotent)."""
        return self.schedule.after(max(now, self.last))

    def tick(self, now: datetime, running: bool) -> list[Trigger]:
        """Handle the fire times due at ``now``; ``running``: a run is in progress.

        Returns what happened to each due (and a queued) fire time; a ``START`` means the
        caller starts one run now.
        """
        triggers: list[Trigger] = []
        if self.queued and not running:
            triggers.append(Trigger(self.queued.pop(0), Action.START))
            running = True
        due = self.due(now)
        if due:
            self.last = due[-1]
        wanted: list[datetime] = []
        on_time = [t for t in due if now - t <= self.schedule.grace]
        missed = [t for t in due if now - t > self.schedule.grace]
        policy = self.schedule.missed
        if policy is MissedPolicy.ALL:
            wanted = due
        else:
            if missed and (policy is MissedPolicy.SKIP or on_time):
                triggers += [Trigger(t, Action.SKIPPED_MISSED) for t in missed]
            elif missed:  # ONCE, nothing on time: one catch-up run for the latest
                triggers += [Trigger(t, Action.SKIPPED_MISSED) for t in missed[:-1]]
                wanted.append(missed[-1])
            wanted += on_time
        for t in wanted:
            if not running and not self.queued:
                triggers.append(Trigger(t, Action.START))
                running = True
            elif self.schedule.overlap is OverlapPolicy.QUEUE or t in missed:
                self.queued.append(t)
                triggers.append(Trigger(t, Action.QUEUED))
            else:
                triggers.append(Trigger(t, Action.SKIPPED_OVERLAP))
        self.history += triggers
        return triggers


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def serve(
    scheduler: Scheduler,
    start_run: Callable[[datetime], None],
    running: Callable[[], bool],
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] | None = None,
    stop: Callable[[], bool] = lambda: False,
    log: Callable[[str], None] = print,
    poll: float = 5.0,
) -> None:
    """The scheduler loop: tick, start runs, sleep until the next fire time or ``poll``
    seconds (to notice a finished run that has a queued successor), until ``stop()``."""
    import time

    sleep = sleep or time.sleep
    while not stop():
        now = clock()
        for trigger in scheduler.tick(now, running()):
            log(f"{trigger.time.isoformat()}: {trigger.action.value}")
            if trigger.action is Action.START:
                start_run(trigger.time)
        wait = (scheduler.next_wake(now) - clock()).total_seconds()
        sleep(max(0.0, min(wait, poll)))
