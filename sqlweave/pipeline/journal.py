"""The run journal: every pipeline and notebook state change, appended as one JSON line.

Run state is event-sourced: :mod:`.state` rebuilds status, history and what a resumed run
still has to do from these events alone.

Durability: each event is written with one ``write`` under an exclusive ``flock`` and
``fsync``-ed before the runner acts on it. A crash can leave at most a torn last line
(no newline): readers ignore it and the next writer cuts it off before appending, so one
torn write never corrupts the events after it.

>>> import tempfile, pathlib
>>> folder = tempfile.TemporaryDirectory()
>>> j = Journal(pathlib.Path(folder.name) / "journal.jsonl")
>>> j.append(RunFinished(run_id="r1", status=RunStatus.SUCCEEDED))
>>> [type(e).__name__ for e in j.read()]
['RunFinished']
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

#: where the journal lives inside the project folder
JOURNAL_PATH = Path(".sqlweave") / "pipeline" / "journal.jsonl"
TYPE = "type"


class RunStatus(str, Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped on purpose (Ctrl-C): resumable

    @property
    def final(self) -> bool:
        """Whether the run is over for good (an interrupted run can be resumed)."""
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED)


class NotebookStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    BLOCKED = "blocked"  # an upstream notebook failed
    UP_TO_DATE = "up-to-date"  # --only-stale found nothing changed
    SKIPPED = "skipped"  # not among --select
    INTERRUPTED = "interrupted"  # stopped by Ctrl-C: runs again when the run resumes

    @property
    def final(self) -> bool:
        return self not in (
            NotebookStatus.PENDING,
            NotebookStatus.RUNNING,
            NotebookStatus.INTERRUPTED,
        )


def now() -> str:
    """The current UTC time in ISO 8601 (what every event's ``at`` holds)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Event:
    """Base of every journal event; ``TYPE`` is its tag in the JSON line."""

    TYPE: ClassVar[str] = ""
    run_id: str
    at: str = field(default_factory=now, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    TYPE: ClassVar[str] = "run-started"
    paths: tuple[str, ...] = ()  # as given, relative to the project folder
    notebooks: tuple[str, ...] = ()  # every notebook of the plan, in run order
    parameters: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)  # jobs, retries, timeout, ...
    pid: int = 0
    host: str = ""


@dataclass(frozen=True)
class RunResumed(Event):
    TYPE: ClassVar[str] = "run-resumed"
    pid: int = 0
    host: str = ""


@dataclass(frozen=True)
class RunFinished(Event):
    TYPE: ClassVar[str] = "run-finished"
    status: RunStatus = RunStatus.SUCCEEDED
    seconds: float = 0.0


@dataclass(frozen=True)
class NotebookStarted(Event):
    TYPE: ClassVar[str] = "notebook-started"
    notebook: str = ""
    attempt: int = 1
    reason: str = ""  # why --only-stale runs it ("upstream a.ipynb runs again")


@dataclass(frozen=True)
class NotebookSucceeded(Event):
    TYPE: ClassVar[str] = "notebook-succeeded"
    notebook: str = ""
    attempt: int = 1
    seconds: float = 0.0
    output: str = ""
    fingerprint: str = ""  # of the notebook's own inputs (see .fingerprint)
    upstream: dict[str, str] = field(default_factory=dict)  # upstream key -> its exec id
    #: a digest per input (content, each parameter, file, source table): why it goes stale
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def exec_id(self) -> str:
        return exec_id(self.run_id, self.notebook)


@dataclass(frozen=True)
class NotebookFailed(Event):
    TYPE: ClassVar[str] = "notebook-failed"
    notebook: str = ""
    attempt: int = 1
    seconds: float = 0.0
    output: str = ""
    cell: int | None = None  # 1-based
    source: str = ""
    error: str = ""
    retry: bool = False  # another attempt follows


@dataclass(frozen=True)
class NotebookInterrupted(Event):
    TYPE: ClassVar[str] = "notebook-interrupted"
    notebook: str = ""
    attempt: int = 1
    seconds: float = 0.0
    output: str = ""
    cell: int | None = None  # 1-based: the cell it was stopped in


@dataclass(frozen=True)
class RunInterrupted(Event):
    """The runner was told to stop (Ctrl-C): what ran was stopped, the rest not started."""

    TYPE: ClassVar[str] = "run-interrupted"
    seconds: float = 0.0
    signal: int | None = None


@dataclass(frozen=True)
class NotebookSkipped(Event):
    TYPE: ClassVar[str] = "notebook-skipped"
    notebook: str = ""
    status: NotebookStatus = NotebookStatus.BLOCKED
    reason: str = ""


EVENTS: dict[str, type[Event]] = {
    cls.TYPE: cls
    for cls in (
        RunStarted,
        RunResumed,
        RunFinished,
        RunInterrupted,
        NotebookStarted,
        NotebookSucceeded,
        NotebookFailed,
        NotebookInterrupted,
        NotebookSkipped,
    )
}
_ENUMS = {"status"}


def exec_id(run_id: str, notebook: str) -> str:
    """Identity of one notebook's execution within a run."""
    return f"{run_id}/{notebook}"


def encode(event: Event) -> str:
    """One JSON line (with its newline) for ``event``."""
    return json.dumps({TYPE: event.TYPE, **asdict(event)}, default=_plain) + "\n"


def decode(line: str) -> Event:
    """The event of one JSON line; ``ValueError`` when it is not one."""
    data = json.loads(line)
    cls = EVENTS.get(data.pop(TYPE, None)) if isinstance(data, dict) else None
    if cls is None:
        raise ValueError(f"not a journal event: {line[:80]!r}")
    known = {f.name: f for f in fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    for key in ("paths", "notebooks"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    if "status" in kwargs:
        status_type = RunStatus if cls is RunFinished else NotebookStatus
        kwargs["status"] = status_type(kwargs["status"])
    return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


class Journal:
    """An append-only JSONL file of :class:`Event` s, safe across processes and crashes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @classmethod
    def of_project(cls, root: str | os.PathLike[str]) -> Journal:
        return cls(Path(root) / JOURNAL_PATH)

    def append(self, event: Event) -> None:
        """Write ``event`` durably (flushed and fsync-ed when this returns)."""
        data = encode(event).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            end = _cut_torn_tail(fd)
            os.lseek(fd, end, os.SEEK_SET)
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock

    def read(self, run_id: str | None = None) -> list[Event]:
        """Every complete event (of run ``run_id`` if given), oldest first; a torn or
        unreadable line is skipped."""
        return [e for e in self._events() if run_id is None or e.run_id == run_id]

    def _events(self) -> Iterator[Event]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.split(b"\n"):
            if not line.strip():
                continue
            with contextlib.suppress(ValueError, TypeError):
                yield decode(line.decode("utf-8", "replace"))


def _cut_torn_tail(fd: int) -> int:
    """Truncate a last line left without its newline by a crash; returns the new size."""
    size = os.fstat(fd).st_size
    if size == 0:
        return 0
    os.lseek(fd, size - 1, os.SEEK_SET)
    if os.read(fd, 1) == b"\n":
        return size
    # read backwards for the last newline; lines are small, so a few KiB suffice mostly
    chunk, pos = 4096, size
    while pos > 0:
        start = max(0, pos - chunk)
        os.lseek(fd, start, os.SEEK_SET)
        block = os.read(fd, pos - start)
        i = block.rfind(b"\n")
        if i >= 0:
            keep = start + i + 1
            os.ftruncate(fd, keep)
            return keep
        pos = start
    os.ftruncate(fd, 0)
    return 0
