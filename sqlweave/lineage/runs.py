"""Runs: one statement execution each, and the run log with its cell rule.

The run log is the source of truth of lineage: :class:`~sqlweave.lineage.graph.LineageGraph`
replays it and :class:`~sqlweave.lineage.store.LineageStore` persists and merges it.

    >>> log = RunLog()
    >>> a = Run(RunInfo.new(cell_id="c1", execution_count=1, sql="", engine="duckdb"), None)
    >>> b = Run(RunInfo.new(cell_id="c1", execution_count=2, sql="", engine="duckdb"), None)
    >>> [log.add(a).value, log.add(b).value, len(log)]
    ['appended', 'rewritten', 1]
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from ..events import Status
from .model import StatementLineage

#: the notebook name of statements run outside any file (terminal IPython, ``python -c``)
INTERACTIVE = "<interactive>"
#: the cell id of a script's statements (``ipython build.ipy`` runs the file as one cell and
#: reports no cell id): each run of the script then replaces its previous run's lineage
SCRIPT_CELL = "script"
#: how a cell reference marks an execution count from an earlier kernel session
EARLIER_SESSION = "(earlier session)"


@dataclass(frozen=True)
class RunInfo:
    """Where and how one statement ran.

    ``session_id`` names the kernel session: execution counts restart at 1 in
    each kernel, so a cell execution is identified by ``(session_id,
    execution_count)``.
    """

    run_id: str
    notebook: str
    cell_id: str | None
    execution_count: int | None
    started_at: datetime
    sql: str
    engine: str
    status: Status = Status.COMPLETE
    duration_s: float = 0.0
    rows: int | None = None
    dialect: str | None = None
    error: str | None = None
    session_id: str = ""
    #: notebook variables the statement's rows were bound to (``%%sql name <<``, ``x = %sql``)
    variables: tuple[str, ...] = ()
    #: notebook DataFrames the statement read by name
    frames: tuple[str, ...] = ()
    #: its tables are seen by other kernels (project warehouse, cluster catalog)
    shared_catalog: bool = False

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None:  # naive times are local; compare them as aware
            object.__setattr__(self, "started_at", self.started_at.astimezone())

    @classmethod
    def new(cls, **fields: Any) -> RunInfo:
        """A RunInfo with a fresh ``run_id`` and, unless given, ``started_at`` = now (UTC)."""
        fields.setdefault("run_id", str(uuid.uuid4()))
        fields.setdefault("started_at", datetime.now(timezone.utc))
        fields.setdefault("notebook", INTERACTIVE)
        fields.setdefault("cell_id", None)
        fields.setdefault("execution_count", None)
        return cls(**fields)

    @property
    def cell(self) -> CellRef:
        return CellRef(self.notebook, self.cell_id, self.execution_count)

    @property
    def cell_key(self) -> tuple[str, str]:
        """Identity of the cell; runs outside any cell are their own cell."""
        return (self.notebook, self.cell_id if self.cell_id is not None else f"run:{self.run_id}")

    @property
    def execution_key(self) -> tuple[str, int | None]:
        return (self.session_id, self.execution_count)

    @property
    def label(self) -> str:
        """A short display label: ``[3] CREATE TABLE clean AS ...``."""
        head = " ".join(self.sql.split())
        head = head if len(head) <= 32 else head[:31] + "…"
        count = "" if self.execution_count is None else f"[{self.execution_count}] "
        return f"{count}{head}"


@dataclass(frozen=True)
class Run:
    """One statement execution and its lineage: an entry of the run log."""

    info: RunInfo
    lineage: StatementLineage


@dataclass(frozen=True, order=True)
class CellRef:
    """A notebook cell, as last executed."""

    notebook: str
    cell_id: str | None
    execution_count: int | None
    #: its execution count is from an earlier kernel session of the notebook than the
    #: notebook's latest run (counts restart in each session, so ``In [5]`` would mislead)
    earlier_session: bool = field(default=False, compare=False)

    def __str__(self) -> str:
        parts = [] if self.execution_count is None else [f"In [{self.execution_count}]"]
        if parts and self.earlier_session:
            parts.append(EARLIER_SESSION)
        if self.cell_id is not None:
            parts.append(f"cell {self.cell_id[:8]}")
        if self.notebook != INTERACTIVE:
            parts.append(f"of {self.notebook}")
        return " ".join(parts) or "a statement outside any cell"


def in_folder(runs: Iterable[Run], session_id: str) -> list[Run]:
    """The runs a folder view shows: those of the folder's notebooks and scripts, and of the
    runs outside any file (terminal IPython, ``python -c``) only session ``session_id``'s own;
    other sessions' belong to no file of the folder, and their cells cannot be told apart.

    >>> nb = Run(RunInfo.new(notebook="a.ipynb", sql="", engine="duckdb"), None)
    >>> mine = Run(RunInfo.new(sql="", engine="duckdb", session_id="me"), None)
    >>> other = Run(RunInfo.new(sql="", engine="duckdb", session_id="them"), None)
    >>> [r is nb or r is mine for r in in_folder([nb, mine, other], "me")]
    [True, True]
    """
    return [r for r in runs if r.info.notebook != INTERACTIVE or r.info.session_id == session_id]


class LogChange(str, Enum):
    """What adding a run did to a :class:`RunLog`."""

    IGNORED = "ignored"  # known run id, or older than its cell's current execution
    APPENDED = "appended"  # added at the end: the graph can apply it incrementally
    REWRITTEN = "rewritten"  # replaced a cell's runs or landed mid-log: the graph replays


class RunLog:
    """The ordered log of runs and its cell rule, without any graph.

    The rule: a cell's runs are those of its latest execution. A run of a new
    execution replaces the cell's earlier runs; a run older than the cell's current
    execution (another kernel's stale copy) is ignored. Merging logs is therefore
    commutative, which is what lets kernels share one store.
    """

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self._reindex([])
        self.merge(runs)

    @property
    def runs(self) -> tuple[Run, ...]:
        return tuple(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: object) -> bool:
        return run_id in self._by_id

    def get(self, run_id: str) -> Run | None:
        return self._by_id.get(run_id)

    def add(self, run: Run) -> LogChange:
        info = run.info
        if info.run_id in self._by_id:
            return LogChange.IGNORED
        current = self._by_cell.get(info.cell_key, [])
        older = [r for r in current if r.info.execution_key != info.execution_key]
        if older:
            if max(r.info.started_at for r in older) > info.started_at:
                return LogChange.IGNORED
            gone = {r.info.run_id for r in older}
            self._reindex([r for r in self._runs if r.info.run_id not in gone])
        in_order = not self._runs or self._runs[-1].info.started_at <= info.started_at
        self._runs.append(run)
        self._by_id[info.run_id] = run
        self._by_cell.setdefault(info.cell_key, []).append(run)
        if in_order and not older:
            return LogChange.APPENDED
        self._runs.sort(key=lambda r: r.info.started_at)
        return LogChange.REWRITTEN

    def merge(self, runs: Iterable[Run]) -> list[LogChange]:
        return [self.add(r) for r in sorted(runs, key=lambda r: r.info.started_at)]

    def keep(self, predicate: Callable[[Run], bool]) -> None:
        self._reindex([r for r in self._runs if predicate(r)])

    def _reindex(self, runs: list[Run]) -> None:
        self._runs = runs
        self._by_id = {r.info.run_id: r for r in runs}
        self._by_cell: dict[tuple[str, str], list[Run]] = {}
        for r in runs:
            self._by_cell.setdefault(r.info.cell_key, []).append(r)
