"""Status and history rebuilt from journal events (nothing else is stored).

>>> from sqlweave.pipeline.journal import RunStarted, NotebookStarted, NotebookSucceeded
>>> runs = fold([RunStarted("r1", notebooks=("a.ipynb", "b.ipynb")),
...              NotebookStarted("r1", notebook="a.ipynb"),
...              NotebookSucceeded("r1", notebook="a.ipynb")])
>>> runs["r1"].status.value, runs["r1"].notebooks["a.ipynb"].status.value, runs["r1"].pending()
('running', 'succeeded', ['b.ipynb'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .journal import (
    Event,
    Journal,
    NotebookFailed,
    NotebookInterrupted,
    NotebookSkipped,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
    RunFinished,
    RunInterrupted,
    RunResumed,
    RunStarted,
    RunStatus,
)

#: how a notebook's reason says why ``--only-stale`` ran it ("stale: upstream a.ipynb ...")
STALE = "stale: "


@dataclass
class NotebookState:
    status: NotebookStatus = NotebookStatus.PENDING
    attempts: int = 0
    starts: int = 0
    seconds: float = 0.0
    reason: str = ""  # why skipped or blocked
    failure: NotebookFailed | None = None
    success: NotebookSucceeded | None = None
    started_at: str = ""


@dataclass
class RunState:
    run_id: str
    started: RunStarted
    status: RunStatus = RunStatus.RUNNING
    finished_at: str = ""
    seconds: float = 0.0
    resumes: list[RunResumed] = field(default_factory=list)
    notebooks: dict[str, NotebookState] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        """Over for good: succeeded or failed (a running or interrupted run can resume)."""
        return self.status.final

    @property
    def interrupted(self) -> bool:
        return self.status is RunStatus.INTERRUPTED

    @property
    def owner_pid(self) -> int:
        """The process that last drove this run."""
        return self.resumes[-1].pid if self.resumes else self.started.pid

    @property
    def owner_host(self) -> str:
        return self.resumes[-1].host if self.resumes else self.started.host

    def pending(self) -> list[str]:
        """Notebooks without a final state, in run order."""
        return [k for k in self.started.notebooks if not self.notebooks[k].status.final]

    def counts(self) -> dict[NotebookStatus, int]:
        out: dict[NotebookStatus, int] = {}
        for nb in self.notebooks.values():
            out[nb.status] = out.get(nb.status, 0) + 1
        return out

    def failures(self) -> list[NotebookFailed]:
        return [
            n.failure
            for n in self.notebooks.values()
            if n.failure is not None and n.status is NotebookStatus.FAILED
        ]


def read_runs(journal: Journal) -> dict[str, RunState]:
    """The runs a journal records, by id, in the order they started: the one way the
    runner, the resume and the ``status``/``history`` commands read a journal."""
    return fold(journal.read())


def fold(events: Iterable[Event]) -> dict[str, RunState]:
    """Runs by id, in the order they started."""
    runs: dict[str, RunState] = {}
    for event in events:
        if isinstance(event, RunStarted):
            runs[event.run_id] = RunState(
                event.run_id, event, notebooks={k: NotebookState() for k in event.notebooks}
            )
            continue
        run = runs.get(event.run_id)
        if run is None:  # its start was lost (a journal cut by hand): nothing to attach to
            continue
        _apply(run, event)
    return runs


def _apply(run: RunState, event: Event) -> None:
    if isinstance(event, RunResumed):
        run.resumes.append(event)
        run.status = RunStatus.RUNNING
        # whatever was running when the runner died or was interrupted did not finish
        for nb in run.notebooks.values():
            if nb.status in (NotebookStatus.RUNNING, NotebookStatus.INTERRUPTED):
                nb.status = NotebookStatus.PENDING
        return
    if isinstance(event, RunFinished):
        run.status, run.finished_at, run.seconds = event.status, event.at, event.seconds
        return
    if isinstance(event, RunInterrupted):
        run.status, run.finished_at, run.seconds = RunStatus.INTERRUPTED, event.at, event.seconds
        return
    nb = run.notebooks.setdefault(getattr(event, "notebook", ""), NotebookState())
    if isinstance(event, NotebookStarted):
        nb.status, nb.attempts, nb.started_at = NotebookStatus.RUNNING, event.attempt, event.at
        nb.starts += 1
        if event.reason:
            nb.reason = STALE + event.reason
    elif isinstance(event, NotebookSucceeded):
        nb.status, nb.seconds, nb.success, nb.failure = (
            NotebookStatus.SUCCEEDED,
            event.seconds,
            event,
            None,
        )
    elif isinstance(event, NotebookFailed):
        nb.failure, nb.seconds = event, event.seconds
        nb.status = NotebookStatus.PENDING if event.retry else NotebookStatus.FAILED
    elif isinstance(event, NotebookInterrupted):
        nb.status, nb.seconds = NotebookStatus.INTERRUPTED, event.seconds
    elif isinstance(event, NotebookSkipped):
        nb.status, nb.reason = event.status, event.reason


def last_successes(runs: dict[str, RunState]) -> dict[str, NotebookSucceeded]:
    """Each notebook's most recent success over all runs (what ``--only-stale`` compares)."""
    out: dict[str, NotebookSucceeded] = {}
    for run in runs.values():
        for key, nb in run.notebooks.items():
            if nb.success is not None and (key not in out or nb.success.at >= out[key].at):
                out[key] = nb.success
    return out


def last_failures(runs: dict[str, RunState]) -> dict[str, NotebookFailed]:
    """Each notebook's most recent failure (after its retries) over all runs."""
    out: dict[str, NotebookFailed] = {}
    for run in runs.values():
        for key, nb in run.notebooks.items():
            f = nb.failure
            if f is not None and not f.retry and (key not in out or f.at >= out[key].at):
                out[key] = f
    return out


def duration(start: str, end: str) -> float:
    """Seconds between two event times."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def summary_row(run: RunState) -> dict[str, Any]:
    """One line of ``sqlweave pipeline history``."""
    counts = run.counts()
    return {
        "run": run.run_id,
        "started": run.started.at,
        "status": run.status.value,
        "notebooks": len(run.notebooks),
        **{s.value: counts.get(s, 0) for s in NotebookStatus if counts.get(s, 0)},
    }
