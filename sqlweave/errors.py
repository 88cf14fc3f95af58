"""The error hierarchy: every error a user can cause is a ``SqlWeaveError``.

Errors carry position data (like ``sqlglot.errors``) so the notebook can point
at the offending line with a caret instead of printing a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """A 1-based line and column inside a SQL text."""

    line: int
    column: int

    @classmethod
    def from_offset(cls, text: str, offset: int) -> Position:
        """Position of a 0-based character offset.

        >>> Position.from_offset("SELECT 1\\nFROM t", 9)
        Position(line=2, column=1)
        """
        offset = max(0, min(offset, len(text)))
        line = text.count("\n", 0, offset) + 1
        start = text.rfind("\n", 0, offset) + 1
        return cls(line, offset - start + 1)

    def to_offset(self, text: str) -> int:
        lines = text.split("\n")
        line = max(1, min(self.line, len(lines)))
        return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, self.column - 1)


#: longest message an error keeps; engines quote whole expressions in theirs
MAX_MESSAGE_CHARS = 500
#: width of the excerpt of a long SQL line shown above the caret
EXCERPT_CHARS = 100


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    >>> shorten("x" * 20, 10)
    'xxxxxxxxxx… (10 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def excerpt(line: str, column: int, width: int = EXCERPT_CHARS) -> tuple[str, int]:
    """At most ``width`` characters of ``line`` around 1-based ``column``, and the column
    inside the excerpt.

    >>> excerpt("a" * 50 + "X" + "b" * 50, 51, 11)
    ('…aaaaaXbbbbb…', 7)
    """
    if len(line) <= width:
        return line, column
    start = max(0, min(column - 1 - width // 2, len(line) - width))
    head = "…" if start > 0 else ""
    tail = "…" if start + width < len(line) else ""
    return f"{head}{line[start : start + width]}{tail}", column - start + len(head)


class SqlWeaveError(Exception):
    """Base class of all sqlweave errors.

    IPython shows ``_render_traceback_()`` instead of a Python traceback, so a
    user's SQL mistake reads as one short message while the cell still fails.
    """

    def render(self) -> str:
        return f"{type(self).__name__}: {self}"

    def _render_traceback_(self) -> list[str]:
        return self.render().splitlines()


class UsageError(SqlWeaveError):
    """A bad argument to a sqlweave API or command."""


class MissingDependencyError(SqlWeaveError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


class SqlError(SqlWeaveError):
    """A SQL statement failed to parse, plan or run.

    ``str(error)`` is a short message; ``error.render()`` adds the offending line
    with a caret under ``position`` when it is known.
    """

    def __init__(
        self,
        message: str,
        sql: str | None = None,
        position: Position | None = None,
        hint: str | None = None,
        engine: str | None = None,
    ) -> None:
        message = shorten(message)
        super().__init__(message)
        self.message = message
        self.sql = sql
        self.position = position
        self.hint = shorten(hint) if hint else hint
        self.engine = engine

    def __str__(self) -> str:
        where = (
            f" (line {self.position.line}, column {self.position.column})" if self.position else ""
        )
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.message}{where}{hint}"

    def render(self) -> str:
        """The message, then the offending line (an excerpt of a long one) and a caret
        under the position."""
        out = [f"{type(self).__name__}: {self.message}"]
        if self.sql is not None and self.position is not None:
            lines = self.sql.split("\n")
            if 1 <= self.position.line <= len(lines):
                src, column = excerpt(lines[self.position.line - 1], self.position.column)
                out.append(f"  line {self.position.line}: {src}")
                pad = len(f"  line {self.position.line}: ")
                out.append(" " * (pad + max(0, column - 1)) + "^")
        if self.hint:
            out.append(self.hint)
        return "\n".join(out)


class ParseError(SqlError):
    """The SQL text is not valid syntax."""


class PlanError(SqlError):
    """The SQL is valid syntax but cannot be planned (unknown table, column, type...)."""


class ExecutionError(SqlError):
    """The statement failed while running."""


class LimitError(ParseError):
    """The statement is deeper or larger than sqlweave lets any engine see (see ``guard``)."""


class ParameterError(SqlError):
    """A ``:name`` parameter could not be bound."""


class QueryCancelled(SqlWeaveError):
    """The query was interrupted by the user; engines have stopped working on it."""

    def __init__(self, message: str = "query cancelled") -> None:
        super().__init__(message)

    def render(self) -> str:
        return str(self)


class WorkerError(SqlError):
    """A cluster worker reported an error; ``worker`` names it."""

    def __init__(self, message: str, worker: str | None = None, **kw: object) -> None:
        super().__init__(f"[worker {worker}] {message}" if worker else message, **kw)  # type: ignore[arg-type]
        self.worker = worker
