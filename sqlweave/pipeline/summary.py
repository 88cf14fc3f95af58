"""What a run did, in a few lines: counts, then each failure with its cell, SQL and error."""

from __future__ import annotations

from .journal import (
    Event,
    NotebookFailed,
    NotebookInterrupted,
    NotebookSkipped,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
)
from .state import STALE, RunState

_SQL_LINES = 6
_ERROR_LINES = 4


def run_summary(state: RunState, output: str | None = None) -> str:
    """A short report of ``state`` for the terminal.

    Names each failing notebook, its cell, the first lines of the cell's source and the
    last lines of the error; then what was blocked by it.
    """
    counts = state.counts()
    parts = [f"{n} {s.value}" for s in NotebookStatus if (n := counts.get(s, 0))]
    lines = [
        f"run {state.run_id}: {state.status.value} ({', '.join(parts)}) in {state.seconds:.1f} s"
    ]
    for key, nb in state.notebooks.items():
        if nb.status is not NotebookStatus.FAILED or nb.failure is None:
            continue
        f = nb.failure
        where = f"cell {f.cell}" if f.cell else "before any cell"
        tries = f" after {f.attempt} attempts" if f.attempt > 1 else ""
        lines.append(f"FAILED {key}, {where}{tries}:")
        src = [s for s in f.source.strip().splitlines() if s.strip()]
        shown = src[:_SQL_LINES] + (["..."] if len(src) > _SQL_LINES else [])
        lines.extend(f"    {s}" for s in shown)
        err = [e for e in f.error.strip().splitlines() if e.strip()]
        lines.extend(f"  {e}" for e in err[-_ERROR_LINES:])
    stale = [(k, nb.reason) for k, nb in state.notebooks.items() if nb.reason.startswith(STALE)]
    if stale:  # --only-stale: why each ran again
        lines.append("ran because: " + "; ".join(f"{k} ({why[len(STALE) :]})" for k, why in stale))
    blocked = [
        (k, nb.reason) for k, nb in state.notebooks.items() if nb.status is NotebookStatus.BLOCKED
    ]
    if blocked:
        lines.append("not run: " + "; ".join(f"{k} ({why})" for k, why in blocked))
    if state.interrupted:
        stopped = [
            k for k, nb in state.notebooks.items() if nb.status is NotebookStatus.INTERRUPTED
        ]
        waiting = [k for k, nb in state.notebooks.items() if nb.status is NotebookStatus.PENDING]
        if stopped:
            lines.append("interrupted: " + ", ".join(stopped))
        if waiting:
            lines.append("not started: " + ", ".join(waiting))
    if output:
        lines.append(f"executed notebooks: {output}")
    return "\n".join(lines)


def status_text(state: RunState, runner_alive: bool = True) -> str:
    """Every notebook of a run with its status, attempts, time and reason.

    ``runner_alive=False`` says an unfinished run's runner is gone (killed, crashed): the
    journal still says running, but nothing is running it.
    """
    width = max((len(k) for k in state.notebooks), default=0)
    status = state.status.value
    if state.interrupted:
        status = "interrupted: `sqlweave pipeline resume` continues it"
    elif not state.finished and not runner_alive:
        status = f"runner died (pid {state.owner_pid}): `sqlweave pipeline resume`"
    lines = [f"run {state.run_id} started {state.started.at}: {status}"]
    for key, nb in state.notebooks.items():
        extra = []
        if nb.attempts > 1:
            extra.append(f"attempt {nb.attempts}")
        if nb.seconds:
            extra.append(f"{nb.seconds:.1f} s")
        if nb.reason:
            extra.append(nb.reason)
        if nb.status is NotebookStatus.RUNNING and not runner_alive:
            extra.append("interrupted: its runner died")
        if nb.status is NotebookStatus.FAILED and nb.failure is not None:
            last = (nb.failure.error.strip().splitlines() or [""])[0]
            extra.append(f"cell {nb.failure.cell}: {last}")
        lines.append(f"  {key.ljust(width)}  {nb.status.value:<10} {'; '.join(extra)}".rstrip())
    return "\n".join(lines)


def history_text(runs: list[RunState]) -> str:
    """One line per run: id, start, status, notebook counts."""
    lines = []
    for run in runs:
        counts = run.counts()
        parts = ", ".join(f"{n} {s.value}" for s in NotebookStatus if (n := counts.get(s, 0)))
        resumed = f", resumed {len(run.resumes)}x" if run.resumes else ""
        lines.append(f"{run.run_id}  {run.started.at}  {run.status.value:<9} {parts}{resumed}")
    return "\n".join(lines)


def progress_line(event: Event) -> str | None:
    """One line for the terminal while a run goes on, or None for events not worth one.

    >>> progress_line(NotebookSucceeded("r", notebook="clean.ipynb", seconds=5.25))
    'done     clean.ipynb (5.2 s)'
    """
    if isinstance(event, NotebookStarted):
        extra = [f"attempt {event.attempt}"] if event.attempt > 1 else []
        extra += [f"stale: {event.reason}"] if event.reason else []
        return f"start    {event.notebook}" + (f" ({'; '.join(extra)})" if extra else "")
    if isinstance(event, NotebookSucceeded):
        return f"done     {event.notebook} ({event.seconds:.1f} s)"
    if isinstance(event, NotebookFailed):
        where = f"cell {event.cell}" if event.cell else "before any cell"
        retry = ", will retry" if event.retry else ""
        return f"FAILED   {event.notebook} ({where}, {event.seconds:.1f} s{retry})"
    if isinstance(event, NotebookInterrupted):
        return f"stopped  {event.notebook} ({event.seconds:.1f} s)"
    if isinstance(event, NotebookSkipped) and event.status is NotebookStatus.BLOCKED:
        return f"blocked  {event.notebook} ({event.reason})"
    return None
