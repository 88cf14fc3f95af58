"""What the cursor is in: which statement, what is being typed and what fits there.

IPython-free and engine-free: it reads only the text. A half-typed statement is the normal
case, so nothing here raises on bad SQL.

>>> ctx = analyze("SELECT f.dep FROM flights f", 12)
>>> ctx.expect, ctx.prefix, ctx.qualifier
(<Expect.MEMBER: 'member'>, 'dep', 'f')
>>> [(t.name, t.alias) for t in ctx.tables]
[('flights', 'f')]
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .keywords import EXPRESSION_CLAUSES, NOT_ALIAS, TABLE_CLAUSES
from .scan import Token, TokenKind, code_tokens, scan


class Expect(Enum):
    """What fits at the cursor."""

    NOTHING = "nothing"  # inside a string or a comment
    KEYWORD = "keyword"  # start of a statement, after a table name, ...
    TABLE = "table"  # after FROM, JOIN, INTO, ...
    COLUMN = "column"  # an expression: columns, functions, keywords
    MEMBER = "member"  # after ``qualifier.``: that table's columns
    PARAMETER = "parameter"  # after ``:``
    TYPE = "type"  # after ``::`` or ``CAST(x AS``


@dataclass(frozen=True)
class TableRef:
    """A table the statement reads: ``name`` (``None`` for a subquery) and its alias.

    ``columns`` is known for subqueries whose select list could be read; ``sources`` are
    the tables a subquery's ``*`` expands from.
    """

    name: str | None
    alias: str | None = None
    columns: tuple[str, ...] | None = None
    sources: tuple[TableRef, ...] = ()

    @property
    def label(self) -> str | None:
        """How the statement calls this table: its alias, else its name."""
        return self.alias or self.name


@dataclass(frozen=True)
class Cte:
    """A ``WITH name AS (...)`` of the statement: its columns and, for ``*``, its sources."""

    name: str
    columns: tuple[str, ...]
    sources: tuple[TableRef, ...] = ()


@dataclass(frozen=True)
class SqlContext:
    """The analysis of one completion request.

    ``start`` is the offset where the replaced text begins (the prefix, or its opening
    quote); ``prefix`` is what was typed there, without quotes.
    """

    expect: Expect
    prefix: str = ""
    start: int = 0
    qualifier: str | None = None
    quoted: bool = False
    tables: tuple[TableRef, ...] = ()
    ctes: tuple[Cte, ...] = ()
    after_expression: bool = False


def analyze(sql: str, cursor: int) -> SqlContext:
    """The completion context of ``sql`` with the cursor at offset ``cursor``."""
    cursor = max(0, min(cursor, len(sql)))
    tokens = scan(sql)
    for tok in tokens:
        if tok.kind in (TokenKind.STRING, TokenKind.COMMENT) and tok.start < cursor:
            open_end = not _closed(tok, sql)
            if cursor < tok.end or (cursor == tok.end and open_end):
                return SqlContext(Expect.NOTHING, start=cursor)
    statement = _statement_at(code_tokens(tokens), cursor)
    current = _token_at(statement, cursor)
    if current is not None:
        start = current.start
        quoted = current.kind is TokenKind.QUOTED
        prefix = sql[start + int(quoted) : cursor]
        before = [t for t in statement if t.end <= current.start]
    else:
        start, quoted, prefix = cursor, False, ""
        before = [t for t in statement if t.end <= cursor]
    tables, ctes = tables_in_scope(statement, sql, cursor), read_ctes(statement, sql)
    common = {"prefix": prefix, "start": start, "quoted": quoted, "tables": tables, "ctes": ctes}

    if _is_member_access(before, start):
        return SqlContext(Expect.MEMBER, qualifier=before[-2].value, **common)
    if before and before[-1].value == ":" and before[-1].end == start and not quoted:
        glued = len(before) >= 2 and before[-2].end == before[-1].start
        if not (glued and before[-2].kind is not TokenKind.PUNCT):
            return SqlContext(Expect.PARAMETER, **common)
    if before and (before[-1].value == "::" or _in_cast_as(before)):
        return SqlContext(Expect.TYPE, **common)
    expect, after_expression = _clause_expectation(before)
    return SqlContext(expect, after_expression=after_expression, **common)


def _is_member_access(before: list[Token], start: int) -> bool:
    """Whether ``before`` ends with ``name.`` glued to the word being typed."""
    if len(before) < 2 or before[-1].value != "." or before[-1].end != start:
        return False
    return before[-2].is_name and before[-2].end == before[-1].start


def _in_cast_as(before: list[Token]) -> bool:
    """Whether ``before`` ends with ``CAST(<expression> AS``."""
    if not before or before[-1].upper != "AS":
        return False
    depth = 0
    for i in range(len(before) - 2, -1, -1):
        tok = before[i]
        if tok.value == ")":
            depth += 1
        elif tok.value == "(":
            if depth == 0:
                return i > 0 and before[i - 1].upper in ("CAST", "TRY_CAST")
            depth -= 1
    return False


def _closed(tok: Token, sql: str) -> bool:
    """Whether a string or comment token is terminated (a line comment ends at a newline)."""
    raw = sql[tok.start : tok.end]
    if tok.kind is TokenKind.STRING:
        return len(raw) > 1 and raw.endswith("'")
    if raw.startswith("--"):
        return tok.end < len(sql)  # the newline after it ends it
    return len(raw) > 3 and raw.endswith("*/")


def _statement_at(tokens: list[Token], cursor: int) -> list[Token]:
    """The tokens of the statement holding ``cursor`` (statements end at ``;``)."""
    current: list[Token] = []
    for tok in tokens:
        if tok.value == ";" and tok.kind is TokenKind.PUNCT:
            if tok.start >= cursor:
                return current
            current = []
            continue
        current.append(tok)
    return current


def _token_at(tokens: list[Token], cursor: int) -> Token | None:
    """The name token being typed at ``cursor`` (the cursor is inside it or at its end)."""
    for tok in tokens:
        if tok.start < cursor <= tok.end and tok.is_name:
            return tok
    return None


def _clause_expectation(before: list[Token]) -> tuple[Expect, bool]:
    """What the nearest clause keyword before the cursor asks for.

    Groups in parentheses that close before the cursor are skipped; an open parenthesis
    is walked out of (``count(|`` is still in the SELECT list).
    """
    if not before:
        return Expect.KEYWORD, False
    last = before[-1]
    if last.value == "(" and _opens_query(before):
        return Expect.KEYWORD, False
    depth = 0
    since: list[Token] = []  # tokens between the clause keyword and the cursor, same level
    for tok in reversed(before):
        if tok.value == ")":
            depth += 1
        elif tok.value == "(":
            if depth == 0:
                since = []  # walking out of an open parenthesis
                continue
            depth -= 1
        if depth > 0 or tok.value == ")":
            since.append(tok)
            continue
        word = tok.upper
        if word in TABLE_CLAUSES:
            if word == "TABLE" and since:
                return Expect.KEYWORD, False
            return _after_table_clause(word, list(reversed(since)))
        if word in EXPRESSION_CLAUSES:
            return Expect.COLUMN, _ends_expression(last)
        since.append(tok)
    return Expect.KEYWORD, False


def _opens_query(before: list[Token]) -> bool:
    """Whether the ``(`` ending ``before`` opens a subquery, not a call or a list."""
    if len(before) < 2:
        return True
    prev = before[-2]
    return prev.upper in {"FROM", "JOIN", "IN", "EXISTS", "AS", "UNION", "ALL"} or prev.value in (
        "(",
        ",",
    )


def _after_table_clause(word: str, since: list[Token]) -> tuple[Expect, bool]:
    """After FROM/JOIN/...: a table name is expected right after it or after a comma."""
    if not since or (word == "FROM" and since[-1].value == ","):
        return Expect.TABLE, False
    return Expect.KEYWORD, True


def _ends_expression(tok: Token) -> bool:
    """Whether ``tok`` can end an expression (then a keyword such as AS or FROM is next)."""
    if tok.kind in (TokenKind.NUMBER, TokenKind.STRING, TokenKind.QUOTED):
        return True
    if tok.kind is TokenKind.WORD:
        return tok.upper not in EXPRESSION_CLAUSES | {
            "AND",
            "OR",
            "NOT",
            "DISTINCT",
            "CASE",
            "WHEN",
            "THEN",
            "ELSE",
            "AS",
            "IN",
            "IS",
            "LIKE",
            "ILIKE",
            "BETWEEN",
        }
    return tok.value == ")"


# ----- the tables a statement reads --------------------------------------------------


def tables_in_scope(tokens: list[Token], sql: str, cursor: int) -> tuple[TableRef, ...]:
    """Tables visible at ``cursor``: those of the innermost query around it first, then
    those of the queries enclosing it (a correlated subquery sees them too).

    Tables of subqueries and CTE bodies the cursor is not in are not visible.
    """
    refs: list[TableRef] = []
    for lo, hi in _query_groups_around(tokens, cursor):
        for ref in table_refs(tokens[lo:hi], sql):
            if ref not in refs:
                refs.append(ref)
    return tuple(refs)


def _query_groups_around(tokens: list[Token], cursor: int) -> list[tuple[int, int]]:
    """``(start, end)`` token ranges of the queries holding ``cursor``, innermost first."""
    groups = []
    stack: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.start >= cursor:
            break
        if tok.value == "(":
            stack.append(i)
        elif tok.value == ")" and stack:
            stack.pop()
    for open_at in reversed(stack):
        nxt = tokens[open_at + 1] if open_at + 1 < len(tokens) else None
        if nxt is not None and nxt.upper in ("SELECT", "WITH"):
            groups.append((open_at + 1, _matching(tokens, open_at)))
    groups.append((0, len(tokens)))
    return groups


def table_refs(tokens: list[Token], sql: str) -> tuple[TableRef, ...]:
    """Tables named after FROM / JOIN / UPDATE at the top level of ``tokens``.

    Subqueries in FROM become refs without a name whose columns come from their select
    list when it reads as SQL; other parenthesised groups (subqueries in WHERE, CTE
    bodies) are separate scopes and are skipped.
    """
    refs: list[TableRef] = []
    i = 0
    while i < len(tokens):
        word = tokens[i].upper
        if word in ("FROM", "JOIN", "UPDATE"):
            i = _read_ref_list(tokens, i + 1, sql, refs, many=word == "FROM")
        elif tokens[i].value == "(":
            i = _matching(tokens, i) + 1
        else:
            i += 1
    return tuple(refs)


def _read_ref_list(tokens: list[Token], i: int, sql: str, out: list[TableRef], many: bool) -> int:
    while i < len(tokens):
        ref, i = _read_ref(tokens, i, sql)
        if ref is not None:
            out.append(ref)
        if many and i < len(tokens) and tokens[i].value == ",":
            i += 1
            continue
        return i
    return i


def _read_ref(tokens: list[Token], i: int, sql: str) -> tuple[TableRef | None, int]:
    """One ``name [AS] alias`` or ``(subquery) [AS] alias`` starting at ``tokens[i]``."""
    if i >= len(tokens):
        return None, i
    tok = tokens[i]
    if tok.value == "(":
        close = _matching(tokens, i)
        inner = tokens[i + 1 : close]
        end_offset = tokens[close].start if close < len(tokens) else len(sql)
        body = sql[tokens[i].end : end_offset]
        columns = select_names(body)
        alias, nxt = _read_alias(tokens, close + 1)
        sources = table_refs(inner, sql) if columns is None or "*" in columns else ()
        cols = tuple(c for c in columns if c != "*") if columns is not None else None
        return TableRef(None, alias, cols, sources), nxt
    if not tok.is_name or (tok.kind is TokenKind.WORD and tok.upper in NOT_ALIAS):
        return None, i
    parts = [tok.value]
    i += 1
    while i + 1 < len(tokens) and tokens[i].value == "." and tokens[i + 1].is_name:
        parts.append(tokens[i + 1].value)
        i += 2
    if i < len(tokens) and tokens[i].value == "(":  # a table function: read_parquet('x')
        i = _matching(tokens, i) + 1
        alias, i = _read_alias(tokens, i)
        return (TableRef(None, alias, None) if alias else None), i
    alias, i = _read_alias(tokens, i)
    return TableRef(".".join(parts), alias), i


def _read_alias(tokens: list[Token], i: int) -> tuple[str | None, int]:
    if i < len(tokens) and tokens[i].upper == "AS":
        i += 1
    if i < len(tokens) and tokens[i].is_name:
        tok = tokens[i]
        if tok.kind is TokenKind.QUOTED or tok.upper not in NOT_ALIAS:
            return tok.value, i + 1
    return None, i


def _matching(tokens: list[Token], i: int) -> int:
    """Index of the ``)`` closing the ``(`` at ``i`` (``len(tokens)`` if it is open)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].value == "(":
            depth += 1
        elif tokens[j].value == ")":
            depth -= 1
            if depth == 0:
                return j
    return len(tokens)


# ----- common table expressions ------------------------------------------------------


def read_ctes(tokens: list[Token], sql: str) -> tuple[Cte, ...]:
    """The ``WITH`` list heading the statement: names, columns and ``*`` sources."""
    if not tokens or tokens[0].upper != "WITH":
        return ()
    i = 1
    if i < len(tokens) and tokens[i].upper == "RECURSIVE":
        i += 1
    ctes: list[Cte] = []
    while i < len(tokens) and tokens[i].is_name:
        name = tokens[i].value
        i += 1
        declared: list[str] = []
        if i < len(tokens) and tokens[i].value == "(":
            close = _matching(tokens, i)
            declared = [t.value for t in tokens[i + 1 : close] if t.is_name]
            i = close + 1
        while i < len(tokens) and tokens[i].upper in ("AS", "NOT", "MATERIALIZED"):
            i += 1
        if i >= len(tokens) or tokens[i].value != "(":
            ctes.append(Cte(name, tuple(declared)))
            break
        close = _matching(tokens, i)
        end_offset = tokens[close].start if close < len(tokens) else len(sql)
        selected = select_names(sql[tokens[i].end : end_offset]) or []
        sources = table_refs(tokens[i + 1 : close], sql) if "*" in selected else ()
        columns = declared or [c for c in selected if c != "*"]
        ctes.append(Cte(name, tuple(columns), sources))
        i = close + 1
        if i < len(tokens) and tokens[i].value == ",":
            i += 1
            continue
        break
    return tuple(ctes)


def select_names(body: str) -> list[str] | None:
    """Output column names of the query ``body`` (``"*"`` for a star), ``None`` if unreadable."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(body, read="postgres")
    except Exception:  # a half-typed body is normal
        return None
    if not isinstance(tree, exp.Query):
        return None
    try:
        return list(tree.named_selects)
    except Exception:
        return None
