"""How the coordinator routes a statement: which statements it distributes, which it
runs itself, and which change the catalog.

Pure functions of the SQL text; the coordinator acts on what they say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

CREATE_EXTERNAL = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:unbounded\s+)?external\s+table\s+(?:if\s+not\s+exists\s+)?"
    r"(?P<name>[\w.\"]+).*?stored\s+as\s+(?P<format>\w+).*?location\s+'(?P<location>[^']*)'",
    re.IGNORECASE | re.DOTALL,
)
LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*", re.S)
EXPLAIN = re.compile(r"^\s*explain\s+(?P<analyze>analyze\s+)?(?P<sql>.*)$", re.I | re.S)
QUERY = re.compile(r"^\s*(\(\s*)*(select|with|values)\b", re.IGNORECASE)
SETTING = re.compile(r"^\s*(--[^\n]*\n\s*|/\*.*?\*/\s*)*(set|reset)\b", re.IGNORECASE | re.DOTALL)
#: parts of CREATE EXTERNAL TABLE that workers reading the files themselves would not honour
DECLARED = re.compile(
    r"\btable\s+(if\s+not\s+exists\s+)?[\w.\"]+\s*\(|\boptions\b|\bpartitioned\b|"
    r"\bwith\s+order\b|\bcompression\b|\bdelimiter\b|\bheader\b|\bunbounded\b",
    re.IGNORECASE,
)


#: SELECT … INTO creates a table: it runs on the coordinator, like other DDL
INTO = re.compile(r"\binto\b", re.IGNORECASE)
#: statements that change a table's rows or definition, and the table's name
WRITES = re.compile(
    r"^\s*(insert\s+(overwrite\s+|into\s+)?(table\s+)?|delete\s+from\s+|update\s+|"
    r"truncate\s+(table\s+)?|drop\s+(table|view)\s+(if\s+exists\s+)?|"
    r"create\s+(or\s+replace\s+)?(temporary\s+)?(table|view)\s+(if\s+not\s+exists\s+)?)"
    r"(?P<name>\"[^\"]+\"|[\w.]+)",
    re.IGNORECASE,
)


def table_name(name: str) -> str:
    """A table name as DataFusion registers it: unquoted names fold to lower case.

    >>> table_name("Sales.Orders"), table_name('"Orders"')
    ('orders', 'Orders')
    """
    name = name.rsplit(".", 1)[-1]
    return name[1:-1] if name.startswith('"') else name.lower()


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


#: SELECT … INTO's table
_INTO_NAME = re.compile(r"\binto\s+(?:table\s+)?(?P<name>\"[^\"]+\"|[\w.]+)", re.IGNORECASE)


def written(sql: str) -> Write | None:
    """The table ``sql`` creates, changes or drops, if any.

    >>> written("create or replace view v as select 1"), written("select 1")
    (Write(change=<Change.VIEW: 'view'>, name='v'), None)
    >>> written("SELECT * INTO Copy FROM t")
    Write(change=<Change.TABLE: 'table'>, name='copy')
    """
    sql = LEADING_COMMENTS.sub("", sql, count=1)
    m = WRITES.match(sql)
    if m:
        verb = m.group(1).split()[0].lower()
        name = table_name(m.group("name"))
        if verb == "drop":
            return Write(Change.DROP, name)
        if verb == "create":
            return Write(Change.VIEW if "view" in m.group(1).lower() else Change.TABLE, name)
        return Write(Change.ROWS, name)
    if QUERY.match(sql) and (into := _INTO_NAME.search(sql)):
        return Write(Change.TABLE, table_name(into.group("name")))
    return None
