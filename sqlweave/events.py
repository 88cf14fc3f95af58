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

    ``catalog`` returns the session's tables as ``{table: [column, ...]}`` at the
    time of the call (used by lineage to expand ``*``); it is a callable so
    listeners that do not need it pay nothing.
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
    catalog: Callable[[], Mapping[str, list[str]]]


Listener = Callable[[StatementEvent], None]
