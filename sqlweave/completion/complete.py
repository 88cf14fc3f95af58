"""Completions for SQL text at a cursor: keywords, functions, tables, columns, CTEs, params.

>>> import pyarrow as pa, sqlweave
>>> s = sqlweave.Session()
>>> s.register("flights", pa.table({"dep_delay": [1.5], "carrier": ["AA"]}))
>>> found = complete("SELECT f.dep FROM flights f", 12, SessionCatalog(s))
>>> [(m.text, m.type) for m in found.matches], found.start
([('dep_delay', 'column double')], 9)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from .catalog import Catalog, ColumnInfo, SessionCatalog, TableKind
from .context import Cte, Expect, SqlContext, TableRef, analyze
from .keywords import FOLLOWERS, KEYWORDS, TYPES

__all__ = ["Completions", "Match", "MatchKind", "SessionCatalog", "complete"]

#: most matches returned (IPython shows at most 500)
LIMIT = 500
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")


class MatchKind(str, Enum):
    """What a completion is; the first word of its type."""

    KEYWORD = "keyword"
    COLUMN = "column"
    FUNCTION = "function"
    ALIAS = "alias"
    PARAMETER = "parameter"
    TYPE = "type"


@dataclass(frozen=True)
class Match:
    """One completion: the text inserted, its kind and a detail (a column's type...)."""

    text: str
    kind: str
    detail: str = ""

    @property
    def type(self) -> str:
        """What frontends show beside the match: ``"column int64"``, ``"table"``."""
        return f"{self.kind} {self.detail}".strip()


@dataclass(frozen=True)
class Completions:
    """Matches replacing ``text[start:end]``."""

    start: int
    end: int
    matches: tuple[Match, ...]


def complete(sql: str, cursor: int, catalog: Catalog, limit: int = LIMIT) -> Completions:
    """Completions for ``sql`` with the cursor at offset ``cursor``; never raises for bad SQL."""
    cursor = max(0, min(cursor, len(sql)))
    ctx = analyze(sql, cursor)
    found = _dedupe(_candidates(ctx, catalog))
    matches = []
    for m in found:
        matches.append(m)
        if len(matches) >= limit:
            break
    return Completions(ctx.start, cursor, tuple(matches))


def _candidates(ctx: SqlContext, catalog: Catalog) -> Iterator[Match]:
    if ctx.expect is Expect.NOTHING:
        return
    if ctx.expect is Expect.PARAMETER:
        for name, type_name in catalog.parameters():
            if _starts(name, ctx.prefix):
                yield Match(name, MatchKind.PARAMETER.value, type_name)
        return
    if ctx.expect is Expect.TYPE:
        for word in TYPES:
            if _starts(word, ctx.prefix):
                yield Match(_case_like(word, ctx.prefix), MatchKind.TYPE.value)
        return
    if ctx.expect is Expect.MEMBER:
        for col in _qualified_columns(ctx, catalog):
            if _starts(col.name, ctx.prefix):
                yield Match(_name(col.name, ctx), MatchKind.COLUMN.value, col.type)
        return
    if ctx.expect is Expect.TABLE:
        yield from _tables(ctx, catalog)
        return
    if ctx.expect is Expect.KEYWORD or ctx.after_expression:
        yield from _keywords(ctx)
    if ctx.expect is Expect.COLUMN:
        yield from _columns_in_scope(ctx, catalog)
        for label in _labels(ctx):
            if _starts(label, ctx.prefix):
                yield Match(_name(label, ctx), MatchKind.ALIAS.value)
        if not ctx.quoted:
            for fn in catalog.functions():
                if _starts(fn.name, ctx.prefix):
                    detail = "" if fn.kind == "scalar" else fn.kind
                    yield Match(_case_like(fn.name, ctx.prefix), MatchKind.FUNCTION.value, detail)
            if not ctx.after_expression:
                yield from _keywords(ctx)


def _keywords(ctx: SqlContext) -> Iterator[Match]:
    if ctx.quoted:
        return
    # after a table or an expression, the words that continue the statement come first
    words = (*FOLLOWERS, *KEYWORDS) if ctx.after_expression else KEYWORDS
    for word in dict.fromkeys(words):
        if _starts(word, ctx.prefix):
            yield Match(_case_like(word, ctx.prefix), MatchKind.KEYWORD.value)


def _tables(ctx: SqlContext, catalog: Catalog) -> Iterator[Match]:
    for cte in ctx.ctes:
        if _starts(cte.name, ctx.prefix):
            yield Match(_name(cte.name, ctx), TableKind.CTE.value)
    for table in catalog.tables():
        if _starts(table.name, ctx.prefix):
            yield Match(_name(table.name, ctx), table.kind.value)


def _columns_in_scope(ctx: SqlContext, catalog: Catalog) -> Iterator[Match]:
    """Columns of the tables the statement reads (CTE columns included)."""
    for ref in ctx.tables:
        for col in _ref_columns(ref, ctx, catalog, depth=0):
            if _starts(col.name, ctx.prefix):
                yield Match(_name(col.name, ctx), MatchKind.COLUMN.value, col.type)


def _qualified_columns(ctx: SqlContext, catalog: Catalog) -> list[ColumnInfo]:
    """Columns of ``qualifier.``: an alias, then a table of the statement, a CTE, the catalog."""
    q = (ctx.qualifier or "").lower()
    for ref in ctx.tables:
        if ref.alias and ref.alias.lower() == q:
            return _ref_columns(ref, ctx, catalog, depth=0)
    for ref in ctx.tables:
        if not ref.alias and ref.name and ref.name.rsplit(".", 1)[-1].lower() == q:
            return _ref_columns(ref, ctx, catalog, depth=0)
    cte = _cte(ctx, q)
    if cte is not None:
        return _cte_columns(cte, ctx, catalog, depth=0)
    return list(catalog.columns(ctx.qualifier or "") or [])


def _ref_columns(ref: TableRef, ctx: SqlContext, catalog: Catalog, depth: int) -> list[ColumnInfo]:
    if depth > 8:  # a CTE reading itself (WITH RECURSIVE) must not loop
        return []
    if ref.name is None:
        out = [ColumnInfo(c) for c in ref.columns or ()]
        for source in ref.sources:
            out.extend(_ref_columns(source, ctx, catalog, depth + 1))
        return out
    cte = _cte(ctx, ref.name.lower())
    if cte is not None:
        return _cte_columns(cte, ctx, catalog, depth + 1)
    return list(catalog.columns(ref.name) or [])


def _cte_columns(cte: Cte, ctx: SqlContext, catalog: Catalog, depth: int) -> list[ColumnInfo]:
    out = [ColumnInfo(c) for c in cte.columns]
    for source in cte.sources:
        out.extend(_ref_columns(source, ctx, catalog, depth + 1))
    return out


def _cte(ctx: SqlContext, lowered: str) -> Cte | None:
    return next((c for c in ctx.ctes if c.name.lower() == lowered), None)


def _labels(ctx: SqlContext) -> Iterator[str]:
    for ref in ctx.tables:
        if ref.label:
            yield ref.label.rsplit(".", 1)[-1]


def _starts(name: str, prefix: str) -> bool:
    return name.lower().startswith(prefix.lower())


def _name(name: str, ctx: SqlContext) -> str:
    """``name`` as it must be typed: quoted unless it is a plain lower-case name."""
    if not ctx.quoted and _PLAIN_NAME.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _case_like(word: str, prefix: str) -> str:
    """A keyword or function in the letter case the user is typing in."""
    return word.lower() if prefix.islower() else word


def _dedupe(matches: Iterable[Match]) -> list[Match]:
    seen: set[str] = set()
    out = []
    for m in matches:
        if m.text not in seen:
            seen.add(m.text)
            out.append(m)
    return out
