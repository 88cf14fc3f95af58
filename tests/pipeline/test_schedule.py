"""Cron scheduling with an injected clock: nothing here waits for real time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sqlweave.pipeline import PipelineError
from sqlweave.pipeline.cli import last_scheduled
from sqlweave.pipeline.journal import Journal, RunStarted
from sqlweave.pipeline.schedule import (
    Action,
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    Scheduler,
    serve,
)

HOURLY = "0 * * * *"


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, second, tzinfo=timezone.utc)


def actions(triggers) -> list[tuple[int, str]]:
    return [(t.time.hour, t.action.name) for t in triggers]


def test_an_on_time_fire_starts_one_run_and_nothing_is_due_before_it() -> None:
    s = Scheduler(Schedule(HOURLY), last=at(9, 30))
    assert s.tick(at(9, 59, 59), running=False) == []
    assert actions(s.tick(at(10, 0, 1), running=False)) == [(10, "START")]
    assert s.tick(at(10, 0, 30), running=False) == []  # handled once only
    assert s.next_wake(at(10, 0, 30)) == at(11)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (MissedPolicy.SKIP, [(9, "SKIPPED_MISSED"), (10, "SKIPPED_MISSED")]),
        (MissedPolicy.ONCE, [(9, "SKIPPED_MISSED"), (10, "START")]),
        (MissedPolicy.ALL, [(9, "START"), (10, "QUEUED")]),
    ],
)
def test_missed_fire_times_follow_the_policy(policy: MissedPolicy, expected: list) -> None:
    s = Scheduler(Schedule(HOURLY, missed=policy), last=at(8, 30))
    assert actions(s.tick(at(10, 30), running=False)) == expected


def test_an_on_time_fire_wins_over_missed_ones_under_once() -> None:
    s = Scheduler(Schedule(HOURLY), last=at(8, 30))
    assert actions(s.tick(at(10, 0, 10), running=False)) == [(9, "SKIPPED_MISSED"), (10, "START")]


def test_overlap_skip_drops_and_queue_runs_after_the_current_run() -> None:
    skip = Scheduler(Schedule(HOURLY), last=at(9, 30))
    assert actions(skip.tick(at(10, 0, 1), running=True)) == [(10, "SKIPPED_OVERLAP")]
    queue = Scheduler(Schedule(HOURLY, overlap=OverlapPolicy.QUEUE), last=at(9, 30))
    assert actions(queue.tick(at(10, 0, 1), running=True)) == [(10, "QUEUED")]
    assert queue.tick(at(10, 5), running=True) == []  # still running: stays queued
    assert actions(queue.tick(at(10, 20), running=False)) == [(10, "START")]


def test_a_bad_cron_expression_is_a_clear_error() -> None:
    with pytest.raises(PipelineError, match="not a cron expression"):
        Schedule("every day at six")


def test_the_loop_sleeps_on_the_injected_clock_and_never_overlaps() -> None:
    """Runs take 90 minutes of fake time on an hourly schedule with overlap=skip."""
    now = [at(9, 30)]
    started: list[datetime] = []
    slept: list[float] = []
    run_ends: list[datetime] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)

    def start_run(fire: datetime) -> None:
        started.append(fire)
        run_ends.append(now[0] + timedelta(minutes=90))

    serve(
        Scheduler(Schedule(HOURLY), last=now[0]),
        start_run,
        running=lambda: bool(run_ends) and now[0] < run_ends[-1],
        clock=lambda: now[0],
        sleep=sleep,
        stop=lambda: now[0] >= at(15, 30),
        log=lambda _: None,
        poll=600,
    )
    # 10:00 runs until 11:30 so 11:00 is skipped; 12:00 starts; 13:00 skipped; 14:00 starts
    assert started == [at(10), at(12), at(14)]
    assert all(s <= 600 for s in slept)


def test_the_last_scheduled_fire_time_comes_from_the_journal(tmp_path: Path) -> None:
    journal = Journal.of_project(tmp_path)
    assert last_scheduled(tmp_path, HOURLY) is None
    for hour in (9, 10):
        journal.append(
            RunStarted(
                f"r{hour}", options={"schedule": HOURLY, "scheduled_for": at(hour).isoformat()}
            )
        )
    journal.append(
        RunStarted("other", options={"schedule": "5 * * * *", "scheduled_for": at(11).isoformat()})
    )
    assert last_scheduled(tmp_path, HOURLY) == at(10)
    assert Action.START.value == "start"
