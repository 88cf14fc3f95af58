"""A small reader for sqllogictest (``.slt``) files, DataFusion's flavour.

Only what a differential run needs: the SQL of each record, whether it is a statement or
a query, the sort mode, and whether the file expected an error. Expected results are
kept as text but never used as the oracle (they are formatted for DataFusion's own
runner); the oracle is another engine.

Record forms understood::

    statement ok | statement error [regex] | statement count N
    query <types> [rowsort|valuesort|nosort] [label] | query error [regex]
    <sql lines>
    ----                      (queries: results follow, up to a blank line)

``onlyif``/``skipif`` conditions name an engine: records only for another engine are
dropped; ``include``, ``halt``, ``hash-threshold``, ``control``, ``subtest`` and ``sleep``
lines are skipped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

#: the engine name sqllogictest conditions are matched against
ENGINE = "datafusion"

_SKIPPED_DIRECTIVES = ("include", "halt", "hash-threshold", "control", "subtest", "sleep", "let")


class RecordKind(str, enum.Enum):
    STATEMENT = "statement"
    QUERY = "query"


class SortMode(str, enum.Enum):
    NONE = "nosort"
    ROWS = "rowsort"
    VALUES = "valuesort"


@dataclass(frozen=True)
class Record:
    """One statement or query of a ``.slt`` file."""

    kind: RecordKind
    sql: str
    #: 1-based line of the record's header in its file
    line: int
    expect_error: bool = False
    sort: SortMode = SortMode.NONE
    #: the result text below ``----`` (informational only)
    expected: tuple[str, ...] = field(default=(), compare=False)


class SltError(ValueError):
    """A ``.slt`` file this reader cannot make sense of; names the file and line."""


def parse_file(path: str | Path) -> list[Record]:
    """The records of one ``.slt`` file, in file order."""
    p = Path(path)
    return parse(p.read_text(encoding="utf-8"), str(p))


def parse(text: str, where: str = "<slt>") -> list[Record]:
    """The records of ``text``; conditions for other engines drop their record."""
    lines = text.split("\n")
    records: list[Record] = []
    i, n = 0, len(lines)
    skip_next = False
    while i < n:
        raw = lines[i].rstrip("\r")
        words = raw.split()
        if not words or raw.startswith("#"):
            i += 1
            continue
        head = words[0]
        if head in ("onlyif", "skipif"):
            engine = words[1] if len(words) > 1 else ""
            if (head == "onlyif") != (engine == ENGINE):
                skip_next = True
            i += 1
            continue
        if head in _SKIPPED_DIRECTIVES:
            i += 1
            continue
        if head not in ("statement", "query"):
            # a stray result line (results may hold blank lines): not a record
            i += 1
            continue
        header_line = i + 1
        i += 1
        while i < n and not lines[i].strip():  # tolerated: blank lines before the SQL
            i += 1
        sql_lines: list[str] = []
        while i < n and lines[i].strip() and lines[i].rstrip("\r") != "----":
            sql_lines.append(lines[i].rstrip("\r"))
            i += 1
        expected: list[str] = []
        if i < n and lines[i].rstrip("\r") == "----":
            i += 1
            # results end at a blank line; a multi-line error message likewise
            while i < n and lines[i].strip():
                expected.append(lines[i].rstrip("\r"))
                i += 1
        if skip_next:
            skip_next = False
            continue
        if not sql_lines:
            raise SltError(f"{where}:{header_line}: {head} without SQL")
        records.append(_record(words, "\n".join(sql_lines), header_line, tuple(expected)))
    return records


def _record(words: list[str], sql: str, line: int, expected: tuple[str, ...]) -> Record:
    if words[0] == "statement":
        error = len(words) > 1 and words[1] == "error"
        return Record(RecordKind.STATEMENT, sql, line, expect_error=error, expected=expected)
    if len(words) > 1 and words[1] == "error":
        return Record(RecordKind.QUERY, sql, line, expect_error=True, expected=expected)
    sort = SortMode.NONE
    for w in words[2:]:
        if w in (SortMode.ROWS.value, SortMode.VALUES.value, SortMode.NONE.value):
            sort = SortMode(w)
    return Record(RecordKind.QUERY, sql, line, sort=sort, expected=expected)
