"""Tab completion inside ``%%sql`` cells and after ``%sql``, for every Jupyter frontend.

IPython (8.6+) lets an extension add a matcher to ``shell.Completer.custom_matchers``; with
matcher API v2 it sees the whole cell and the cursor. ipykernel answers ``complete_request``
with IPython's completer, so the same matcher serves JupyterLab, Notebook 7, VS Code and the
terminal. Each match carries its type (``"table"``, ``"column int64"``) which Lab shows
beside it (``_jupyter_types_experimental``).

The matcher finds the SQL around the cursor and hands it to :mod:`sqlweave.completion`;
it never raises and never runs a query.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from ..completion import SessionCatalog, complete

log = logging.getLogger(__name__)

#: runs before IPython's own matchers so that its results can suppress theirs
PRIORITY = 100
IDENTIFIER = "sqlweave.sql_matcher"

_CELL_MAGIC = re.compile(r"\A(?:[ \t]*\n)*%%sql\b[^\n]*\n")
_LINE_MAGIC = re.compile(r"(?:^|(?<=[\s=(]))%sql\b")
# the options parse_sql_line reads before the SQL of a line magic
_LINE_OPTIONS = re.compile(r"\s*(?:[A-Za-z_]\w*\s*<<\s*)?(?:--quiet\b\s*|--limit[ =]+\d+\s*)*")


@dataclass(frozen=True)
class SqlSpan:
    """The SQL text around the cursor: ``text`` starts at ``offset`` in the cell."""

    text: str
    offset: int


def find_sql(cell: str, cursor: int) -> SqlSpan | None:
    """The SQL the cursor is in: the body of a ``%%sql`` cell or the rest of a ``%sql`` line.

    >>> find_sql("%%sql\\nSELECT 1", 12)
    SqlSpan(text='SELECT 1', offset=6)
    >>> find_sql("x = %sql SELECT * FROM t", 20)
    SqlSpan(text='SELECT * FROM t', offset=9)
    >>> find_sql("print(1)", 3) is None
    True
    """
    magic = _CELL_MAGIC.match(cell)
    if magic is not None:
        if cursor < magic.end():
            return None  # on the %%sql line itself: its options, not SQL
        return SqlSpan(cell[magic.end() :], magic.end())
    line_start = cell.rfind("\n", 0, cursor) + 1
    line_end = cell.find("\n", cursor)
    line = cell[line_start : len(cell) if line_end < 0 else line_end]
    hits = [m for m in _LINE_MAGIC.finditer(line) if line_start + m.end() <= cursor]
    if not hits:
        return None
    after = hits[-1].end()
    options = _LINE_OPTIONS.match(line, after)
    sql_start = line_start + (options.end() if options else after)
    if cursor < sql_start:
        return None
    return SqlSpan(line[sql_start - line_start :], sql_start)


class SqlMatcher:
    """An IPython completion matcher (API v2) for SQL in ``%%sql`` cells and ``%sql`` lines."""

    matcher_api_version = 2
    matcher_priority = PRIORITY
    matcher_identifier = IDENTIFIER

    def __init__(self, shell: Any, session: Any) -> None:
        # IPython reads __qualname__ eagerly as the fallback identifier; instances lack it
        self.__qualname__ = IDENTIFIER
        self.shell = shell
        self.catalog = SessionCatalog(session)

    def __call__(self, context: Any) -> dict[str, Any]:
        try:
            return self._complete(context)
        except Exception:  # completion must never break the kernel or the prompt
            log.debug("sqlweave completion failed", exc_info=True)
            return _empty()

    def _complete(self, context: Any) -> dict[str, Any]:
        from IPython.core.completer import SimpleCompletion

        text = context.full_text
        lines = text.split("\n")
        cursor = sum(len(line) + 1 for line in lines[: context.cursor_line])
        cursor += context.cursor_position
        span = find_sql(text, cursor)
        if span is None:
            return _empty()
        self.catalog.refresh(
            getattr(self.shell, "user_ns", {}), getattr(self.shell, "execution_count", None)
        )
        found = complete(span.text, cursor - span.offset, self.catalog)
        if not found.matches:
            return _empty()
        return {
            "completions": [SimpleCompletion(m.text, type=m.type) for m in found.matches],
            "matched_fragment": text[span.offset + found.start : cursor],
            "suppress": True,  # Python names and paths make no sense in SQL
            "ordered": True,  # ours are ranked: columns in scope before functions, ...
        }


def _empty() -> dict[str, Any]:
    return {"completions": [], "suppress": False}


def install(shell: Any, session: Any) -> SqlMatcher | None:
    """Add a :class:`SqlMatcher` to ``shell``'s completer (``None`` if it has none)."""
    completer = getattr(shell, "Completer", None)
    if completer is None or not hasattr(completer, "custom_matchers"):
        return None
    uninstall(shell)
    matcher = SqlMatcher(shell, session)
    completer.custom_matchers.append(matcher)
    return matcher


def uninstall(shell: Any) -> None:
    """Remove sqlweave's matcher from ``shell``'s completer."""
    completer = getattr(shell, "Completer", None)
    if completer is None or not hasattr(completer, "custom_matchers"):
        return
    completer.custom_matchers[:] = [
        m for m in completer.custom_matchers if not isinstance(m, SqlMatcher)
    ]
