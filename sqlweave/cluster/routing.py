"""How the coordinator routes a statement: which statements it distributes, which it
runs itself, and which change the catalog.

Pure functions of the SQL text; the coordinator acts on what they say.
"""

from __future__ import annotations

import re

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
