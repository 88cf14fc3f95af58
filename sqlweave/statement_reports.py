"""What a statement reports back: its outcome line, and its errors worded and placed in the script.

:class:`~sqlweave.session.Session` runs one statement at a time; these functions turn what the
engine answered into what the notebook shows: rows affected and a line such as "inserted 3 rows
into t", or an error that names ``:name`` parameters and points into the whole script.

>>> import pyarrow as pa
>>> from sqlweave.statements import split
>>> outcome(split("INSERT INTO t VALUES (1), (2)")[0], pa.table({"count": [2]}))
(2, 'inserted 2 rows into t')
>>> outcome(split("SELECT 1 AS x")[0], pa.table({"x": [1]}))
(1, None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from .errors import Position, SqlError
from .statements import Kind, Statement

#: what a DML statement reports: (verb, preposition)
_DML_WORDS = {
    Kind.INSERT: ("inserted", "into"),
    Kind.UPDATE: ("updated", "in"),
    Kind.DELETE: ("deleted", "from"),
}
#: what a DDL statement reports
_DDL_WORDS = {
    Kind.CREATE_TABLE: "created table",
    Kind.CREATE_VIEW: "created view",
    Kind.DROP: "dropped",
}


def outcome(stmt: Statement, table: pa.Table) -> tuple[int | None, str | None]:
    """Rows affected and a message like "inserted 3 rows into t" for ``stmt``."""
    if stmt.kind is Kind.QUERY:
        return table.num_rows, None
    count = None
    if table.num_rows == 1 and table.num_columns == 1 and table.column_names[0].lower() == "count":
        count = table.column(0)[0].as_py()
    target = stmt.target or "?"
    if stmt.kind in _DML_WORDS:
        verb, prep = _DML_WORDS[stmt.kind]
        if count is None:
            return None, f"{verb} {prep} {target}"
        return count, f"{verb} {count:,} row{'' if count == 1 else 's'} {prep} {target}"
    if stmt.kind in _DDL_WORDS:
        return (
            count if stmt.kind is Kind.CREATE_TABLE else None,
            f"{_DDL_WORDS[stmt.kind]} {target}",
        )
    if table.num_columns == 0 or count is not None:
        words = " ".join(t.text for t in stmt.tokens[:3]) or "statement"
        return count, f"done: {words}"
    return table.num_rows, None


def explain_exists(exc: SqlError, stmt: Statement, frames: Sequence[str]) -> None:
    """Point at the name a CREATE found taken, and say how to re-run the cell."""
    if stmt.kind not in (Kind.CREATE_TABLE, Kind.CREATE_VIEW) or not stmt.target:
        return
    if "already exists" not in exc.message:  # DataFusion's and DuckDB's words
        return
    target = stmt.target
    what = "VIEW" if stmt.kind is Kind.CREATE_VIEW else "TABLE"
    if target.lower() in {f.lower() for f in frames}:
        exc.message = (
            f"{target} is the notebook DataFrame this statement reads: a {what.lower()} "
            f"cannot take its name in the same statement"
        )
        exc.hint = f"create it under another name, e.g. CREATE {what} {target}_2 AS ..."
    else:
        exc.hint = f"use CREATE OR REPLACE {what} {target}, or DROP {what} {target} first"
    exc.args = (str(exc),)
    for tok in stmt.tokens:
        if tok.text.strip('"`') == target.strip('"`'):
            exc.sql = stmt.text
            exc.position = Position.from_offset(stmt.text, tok.start - stmt.start)
            break


def name_parameters(exc: SqlError, values: Mapping[str, Any]) -> None:
    """Say ``:name`` where an engine's message names its ``$name`` placeholder."""
    for name in sorted(values, key=len, reverse=True):
        exc.message = exc.message.replace(f"${name}", f":{name}")
    exc.args = (exc.message,)


def relocate(exc: SqlError, script: str, stmt: Statement) -> None:
    """Make an error raised for one statement point into the whole script."""
    if exc.position is not None and exc.sql is not None:
        offset = stmt.start + exc.position.to_offset(exc.sql)
        exc.position = Position.from_offset(script, offset)
    elif exc.position is None and exc.sql is None:
        exc.position = Position.from_offset(script, stmt.start)
    exc.sql = script
