"""Turn engine error texts into short ``sqlweave.errors`` with positions and hints.

>>> e = from_datafusion(ValueError("Schema error: No field named nme.\\nValid fields are t.name."), "SELECT nme FROM t")
>>> str(e)
'column nme not found (line 1, column 8) Did you mean name?'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from ..errors import ExecutionError, ParseError, PlanError, Position, SqlError
from . import syntax_hints

_LINE_COL = re.compile(r"at Line: (\d+), Column: (\d+)")
_DF_TABLE = re.compile(r"table '([^']+)' not found")
_DF_FIELD = re.compile(r"No field named ([^\s]+?)\.?(?:\s|$)")
_DF_VALID = re.compile(r"Valid fields are (.+?)\.?$", re.S)
_DF_NOT_BOOLEAN = re.compile(r"non-boolean predicate '(.+)' returning (\w+)")
_QUALIFIER = re.compile(r"\b[A-Za-z_]\w*\.(?=[A-Za-z_\"])")
_DF_PREFIXES = (
    "SQL error: ",
    "Error during planning: ",
    "Schema error: ",
    "Execution error: ",
    "Internal error: ",
    "This feature is not implemented: ",
    "Arrow error: ",
    "External error: ",
)


def did_you_mean(name: str, candidates: Iterable[str], *, folds_case: bool = False) -> str | None:
    """``"Did you mean X?"`` for the closest candidate, or ``None``.

    ``folds_case``: the engine lower-cases unquoted names (DataFusion), so a candidate with
    capitals is suggested quoted, the only way to name it:

    >>> did_you_mean("amount", ["t.Amount"], folds_case=True)
    'Did you mean "Amount"? (unquoted names are read in lower case)'
    """
    pool = {c.split(".")[-1].strip('"'): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), [c.lower() for c in pool], n=1, cutoff=0.6)
    if not match:
        return None
    original = next(c for c in pool if c.lower() == match[0])
    if folds_case and original != original.lower():
        return f'Did you mean "{original}"? (unquoted names are read in lower case)'
    return f"Did you mean {original}?"


def locate(sql: str, name: str) -> Position | None:
    """Position of the first word ``name`` in ``sql`` (outside string literals, roughly)."""
    bare = name.split(".")[-1].strip('"')
    m = re.search(rf'(?<![\w\'"]){re.escape(bare)}(?![\w])', sql, re.I) or re.search(
        rf'"{re.escape(bare)}"', sql
    )
    return Position.from_offset(sql, m.start()) if m else None


def from_datafusion(exc: BaseException, sql: str, tables: Iterable[str] = ()) -> SqlError:
    """A ``SqlError`` for a DataFusion exception raised while running ``sql``."""
    text = str(exc).strip()
    if text.startswith("DataFusion error: "):
        text = text[len("DataFusion error: ") :]
    if "\ncaused by\n" in text:  # the cause is the last line of the chain
        text = text.rsplit("\ncaused by\n", 1)[1].strip()
    kind: type[SqlError] = PlanError
    if "TokenizerError(" in text:
        kind = ParseError
        inner = re.search(r'TokenizerError\("(.*)"\)', text, re.S)
        text = (inner.group(1) if inner else text).strip()
    elif text.startswith("SQL error: ParserError") or "ParserError(" in text:
        kind = ParseError
        inner = re.search(r'ParserError\("(.*)"\)', text, re.S)
        text = inner.group(1) if inner else text
    elif text.startswith(
        ("Execution error", "Arrow error", "External error", "Resources exhausted", "Cast error")
    ):
        kind = ExecutionError
    for prefix in _DF_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
    position = None
    hint = None
    if m := _LINE_COL.search(text):
        position = Position(int(m.group(1)), int(m.group(2)))
        text = _LINE_COL.sub("", text).rstrip()
    elif m := _DF_TABLE.search(text):
        name = m.group(1).split(".")[-1]
        text = f"table {name} not found"
        position = locate(sql, name)
        hint = did_you_mean(name, tables)
    elif m := _DF_FIELD.search(text):
        name = m.group(1).strip('"')
        valid = _DF_VALID.search(text)
        fields = [f.strip() for f in valid.group(1).split(",")] if valid else []
        text = f"column {name.split('.')[-1]} not found"
        position = locate(sql, name)
        hint = did_you_mean(name.split(".")[-1], fields, folds_case=True)
    first = text.strip().splitlines()[0] if text.strip() else str(exc)
    if m := _DF_NOT_BOOLEAN.search(first):
        first, position, hint = _not_boolean(sql, m.group(1), m.group(2))
    if kind is ParseError and first.endswith("found: EOF"):
        position = Position.from_offset(sql, len(sql.rstrip()))
    if kind is ParseError:
        return _parse_error(first.strip(), sql, position, hint, "datafusion", "postgres")
    return kind(first.strip(), sql=sql, position=position, hint=hint, engine="datafusion")


def _not_boolean(sql: str, predicate: str, type_name: str) -> tuple[str, Position | None, str]:
    """DataFusion's "non-boolean predicate 'count(Int64(1)) AS count(*)' returning Int64"
    as the user wrote it: which clause, which condition, where."""
    written = predicate.rsplit(" AS ", 1)[-1]
    found = syntax_hints.condition_clause(sql, written)
    if found is None:  # the columns as DataFusion qualified them: sum(flights.dep_delay)
        written = _QUALIFIER.sub("", written)
        found = syntax_hints.condition_clause(sql, written)
    if found is None:
        return (
            f"a condition ({written}) is {type_name}, not true or false",
            None,
            "A condition compares something: >, =, IS NULL, LIKE…",
        )
    return (
        f"the {found[0]} condition {written} is {type_name}, not true or false",
        Position.from_offset(sql, found[1]),
        f"Compare it with something, e.g. {written} > 1.",
    )


def _parse_error(
    message: str,
    sql: str,
    position: Position | None,
    hint: str | None,
    engine: str,
    dialect: str,
) -> ParseError:
    """A ``ParseError`` in the engine's words, or in plainer ones with the caret on the
    mistake itself when :mod:`syntax_hints` recognises it."""
    if position is not None:
        found = syntax_hints.diagnose(sql, position.to_offset(sql), dialect)
        if found is not None:
            message, hint = found.message, found.hint or hint
            position = Position.from_offset(sql, found.offset)
    return ParseError(message, sql=sql, position=position, hint=hint, engine=engine)


_DUCK_NEAR = re.compile(r'at or near "([^"]+)"')
_DUCK_NAME = re.compile(r'(?:Table|column|Column) (?:with name )?"?([\w.]+)"?')
_DUCK_HINT = re.compile(r'(Did you mean "[^"]+"\?|Candidate bindings: .+)')
#: DuckDB's excerpt of the line at fault, and its caret line under it
_DUCK_LINE = re.compile(r"\nLINE (\d+): (.*)\n( *)\^")
_ELLIPSIS = "..."


def duckdb_position(text: str, sql: str) -> Position | None:
    r"""Where DuckDB's caret points in ``sql``: the excerpt it quotes (``...``-cut when the
    line is long) is found in the line it names, so a word that also occurs earlier in the
    statement is not taken for the one at fault.

    >>> duckdb_position('x\n\nLINE 1: ...b FROM t WHER b\n                         ^', "SELECT a, b FROM t WHER b")
    Position(line=1, column=25)
    """
    m = _DUCK_LINE.search(text)
    if m is None:
        return None
    number, shown = int(m.group(1)), m.group(2)
    caret = len(m.group(3)) - len(f"LINE {number}: ")
    if shown.startswith(_ELLIPSIS):
        shown, caret = shown[len(_ELLIPSIS) :], caret - len(_ELLIPSIS)
    shown = shown.removesuffix(_ELLIPSIS)
    lines = sql.split("\n")
    if not 1 <= number <= len(lines) or not shown or caret < 0:
        return None
    start = lines[number - 1].find(shown)
    return None if start < 0 else Position(number, start + caret + 1)


def from_duckdb(exc: BaseException, sql: str) -> SqlError:
    """A ``SqlError`` for a DuckDB exception raised while running ``sql``."""
    name = type(exc).__name__
    text = str(exc)
    body = text.split("\n\nLINE", 1)[0]
    first = body.splitlines()[0] if body else text
    first = re.sub(r"^[A-Z][a-z]+ Error: ", "", first)
    kind: type[SqlError] = {
        "ParserException": ParseError,
        "CatalogException": PlanError,
        "BinderException": PlanError,
    }.get(name, ExecutionError)
    position = None
    if kind is ParseError:
        position = duckdb_position(text, sql)
    if position is None and ((m := _DUCK_NEAR.search(first)) or (m := _DUCK_NAME.search(first))):
        position = locate(sql, m.group(1))
    if position is None and kind is ParseError and "end of input" in first:
        position = Position.from_offset(sql, len(sql.rstrip()))
    hint_m = _DUCK_HINT.search(body)
    hint = hint_m.group(1) if hint_m else None
    if kind is ParseError:
        return _parse_error(first.strip(), sql, position, hint, "duckdb", "duckdb")
    return kind(first.strip(), sql=sql, position=position, hint=hint, engine="duckdb")
