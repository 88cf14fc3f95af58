"""How the coordinator routes a statement: which statements it distributes, which it
runs itself, and which change the catalog.

A pure function of the SQL text, read with the product's one statement model
(:mod:`sqlweave.statements`: sqlglot's tokens, so comments, strings and quoted names
never fool it); the coordinator acts on what :func:`route` says.

>>> route("/* hi */ SELECT 1").route, route("EXPLAIN SELECT 1").explain
(<Route.DISTRIBUTE: 'distribute'>, True)
>>> r = route("INSERT INTO Sales VALUES (1)")
>>> r.route, r.write
(<Route.LOCAL: 'local'>, Write(change=<Change.ROWS: 'rows'>, name='sales'))
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..statements import (
    ExternalTable,
    Kind,
    Statement,
    expand_commands,
    explained,
    external_table,
    is_setting,
    name_after,
    reads_only,
    selects_into,
    split,
)


class Route(str, Enum):
    """Where a statement runs."""

    #: a query the planner may cut into stages for the workers (or run here if it cannot)
    DISTRIBUTE = "distribute"
    #: CREATE EXTERNAL TABLE: registered here, and in the cluster catalog when workers can
    #: read its files as declared
    EXTERNAL = "external"
    #: anything else (SET, SHOW, DDL, writes, SELECT … INTO): whole, on the coordinator
    LOCAL = "local"


class Change(str, Enum):
    """What a statement run on the coordinator changes in one table."""

    ROWS = "rows"  # INSERT, UPDATE, DELETE, TRUNCATE: the rows of a table
    TABLE = "table"  # CREATE TABLE [AS], SELECT … INTO: a new table
    VIEW = "view"  # CREATE VIEW
    DROP = "drop"  # DROP TABLE, DROP VIEW


@dataclass(frozen=True)
class Write:
    """A statement's change to table ``name`` (as DataFusion registers it)."""

    change: Change
    name: str


@dataclass(frozen=True)
class Routing:
    """What :func:`route` says about one statement."""

    route: Route
    #: what to plan: the statement from its first token (EXPLAIN's statement when
    #: ``explain``), to the end of the text the client sent
    sql: str
    #: EXPLAIN of a query: answer with the distributed plan
    explain: bool = False
    #: the table the statement creates, changes or drops
    write: Write | None = None
    #: it changes session settings (SET, RESET)
    setting: bool = False
    external: ExternalTable | None = None


_CHANGES = {
    Kind.INSERT: Change.ROWS,
    Kind.UPDATE: Change.ROWS,
    Kind.DELETE: Change.ROWS,
    Kind.CREATE_TABLE: Change.TABLE,
    Kind.CREATE_VIEW: Change.VIEW,
    Kind.DROP: Change.DROP,
}


def route(sql: str) -> Routing:
    """Route one statement (several, or none, run here: DataFusion says what is wrong)."""
    statements = split(sql)
    if len(statements) != 1 or not statements[0].tokens:
        return Routing(Route.LOCAL, sql)
    stmt = statements[0]
    inner = explained(stmt)
    if inner is not None and reads_only(inner) and _explain_options(stmt, inner) <= {"ANALYZE"}:
        return Routing(Route.DISTRIBUTE, sql[inner.start :], explain=True)
    external = external_table(stmt)
    if external is not None:
        return Routing(Route.EXTERNAL, sql[stmt.start :], external=external)
    if reads_only(stmt):
        return Routing(Route.DISTRIBUTE, sql[stmt.start :])
    return Routing(Route.LOCAL, sql[stmt.start :], write=_write(stmt), setting=is_setting(stmt))


def _explain_options(stmt: Statement, inner: Statement) -> set[str]:
    """The words between EXPLAIN and the statement it explains (VERBOSE asks DataFusion
    for its own plans, which only the coordinator's engine gives)."""
    tokens = expand_commands(stmt.text, stmt.tokens, stmt.start)[1:]
    return {t.text.upper() for t in tokens if t.start < inner.start}


def written(sql: str) -> Write | None:
    """The table ``sql`` creates, changes or drops, if any.

    >>> written("create or replace view v as select 1"), written("select 1")
    (Write(change=<Change.VIEW: 'view'>, name='v'), None)
    >>> written("SELECT * INTO Copy FROM t"), written('TRUNCATE TABLE "T"')
    (Write(change=<Change.TABLE: 'table'>, name='copy'), Write(change=<Change.ROWS: 'rows'>, name='T'))
    >>> written("DROP SCHEMA s")
    """
    statements = split(sql)
    return _write(statements[0]) if len(statements) == 1 else None


def _write(stmt: Statement) -> Write | None:
    into = selects_into(stmt)
    if into is not None:
        return Write(Change.TABLE, into)
    words = {t.text.upper() for t in stmt.tokens[:6]}
    if "TRUNCATE" in words and stmt.tokens[0].text.upper() == "TRUNCATE":
        name = name_after(stmt, {"TRUNCATE", "TABLE"})
        return Write(Change.ROWS, name) if name else None
    change = _CHANGES.get(stmt.kind)
    if change is Change.DROP and not words & {"TABLE", "VIEW"}:
        return None  # DROP SCHEMA, DROP FUNCTION…: no table
    if change is None or stmt.table is None:
        return None
    return Write(change, stmt.table)
