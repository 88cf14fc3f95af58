"""Events a :class:`~sqlweave.Session` reports after each statement.

Listeners (lineage capture in the notebook, the headless runner) subscribe with
``Session.add_listener``; a failing listener never fails the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Status(str, Enum):
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"


@dataclass(frozen=True)
class StatementEvent:
    """One statement execution.

    ``catalog`` holds ``{table: [column, ...]}`` for the catalog tables the statement
    names, as they were when it ran (lineage expands ``*`` with it); empty for a
    failed statement. ``frames`` names the notebook DataFrames the statement read (as
    registered with the engine); ``result_name`` is the notebook variable the caller binds
    the statement's rows to (only on a script's last statement).
    """

    sql: str
    script: str
    span: tuple[int, int]
    engine: str
    dialect: str
    status: Status
    started_at: datetime
    duration_s: float
    rows: int | None
    error: str | None
    catalog: Mapping[str, list[str]]
    frames: tuple[str, ...] = ()
    result_name: str | None = None
    #: its tables outlive the kernel (a project warehouse, a cluster's catalog): other
    #: notebooks see them; otherwise they are the kernel's own
    shared_catalog: bool = False


Listener = Callable[[StatementEvent], None]
