"""Parse the leading options of a ``%sql`` / ``%%sql`` line.

The rest of a line magic is SQL, so options are read only at its start.

>>> parse_sql_line("totals << --limit 5 SELECT 1")
SqlArgs(target='totals', limit=5, quiet=False, sql='SELECT 1')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from IPython.core.error import UsageError

_TARGET = re.compile(r"^\s*([A-Za-z_]\w*)\s*<<\s*")
_OPTION = re.compile(r"^\s*(--[\w-]+)(?:[ =]+(\S+))?")
_FLAGS = {"--quiet"}
_VALUED = {"--limit"}
USAGE = "usage: %%sql [NAME <<] [--limit N] [--quiet]   (%sql takes the same, then the SQL)"


@dataclass(frozen=True)
class SqlArgs:
    target: str | None
    limit: int | None
    quiet: bool
    sql: str


def parse_sql_line(line: str) -> SqlArgs:
    """Split a magic line into options and SQL text; bad options raise ``UsageError``."""
    rest = line
    target = None
    if m := _TARGET.match(rest):
        target = m.group(1)
        rest = rest[m.end() :]
    limit: int | None = None
    quiet = False
    while m := _OPTION.match(rest):
        name, value = m.group(1), m.group(2)
        if name in _FLAGS:
            quiet = True
            rest = rest[m.start(1) + len(name) :]
            continue
        if name not in _VALUED:
            raise UsageError(f"unknown option {name}\n{USAGE}")
        if value is None or not value.isdigit():
            raise UsageError(f"{name} needs a whole number, got {value!r}\n{USAGE}")
        limit = int(value)
        rest = rest[m.end() :]
    return SqlArgs(target, limit, quiet, rest.strip())
