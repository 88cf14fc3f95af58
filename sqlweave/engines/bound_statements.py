"""Plan DataFusion statements with bound ``$name`` parameters, in every statement kind.

DataFusion binds parameter values into a plan after planning, but it runs DDL while
planning: ``CREATE TABLE … AS SELECT … WHERE c = $c`` fails ("Placeholder '$c' was not
provided a value") and ``CREATE VIEW`` stores the placeholder, to fail at every later
read. ``INSERT … VALUES`` accepts only numbered placeholders. So:

- ``CREATE [OR REPLACE] TABLE|VIEW … AS <query>``: the query is planned with its values
  bound, registered under a temporary name, and the statement runs as
  ``CREATE … AS SELECT * FROM <temporary>``; DataFusion's plan keeps the bound query,
  not the name, so the view stays valid once the temporary name is gone;
- ``INSERT … VALUES``: ``$name`` becomes ``$1``, ``$2``…;
- anything else binds the usual way.

Values never become SQL text.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

from datafusion import DataFrame, SessionContext
from sqlglot.tokens import Token, TokenType

from ..errors import Position, SqlError
from ..statements import Kind, classify, tokenize

_QUERY_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN, TokenType.VALUES}
_serial = itertools.count()


def plan(
    ctx: SessionContext,
    sql: str,
    params: Mapping[str, Any] | None,
    to_error: Callable[[BaseException, str], SqlError],
) -> DataFrame:
    """``ctx.sql(sql)`` with ``params`` bound whatever the statement kind.

    ``to_error(exc, text)`` turns a DataFusion exception raised for ``text`` into a
    ``SqlError``; errors inside an inner query point into ``sql``.
    """
    if not params:
        return ctx.sql(sql)
    tokens = tokenize(sql) or []
    kind, _ = classify(tokens) if tokens else (Kind.OTHER, None)
    if kind in (Kind.CREATE_TABLE, Kind.CREATE_VIEW):
        start = _query_start(tokens)
        if start is not None:
            return _create_from_bound_query(ctx, sql, start, params, to_error)
    if kind is Kind.INSERT and any(t.token_type is TokenType.VALUES for t in tokens):
        sql, params = _numbered(sql, tokens, params)
    return ctx.sql(sql, param_values=dict(params))


def _query_start(tokens: list[Token]) -> int | None:
    """Offset of the query after the first top-level ``AS`` of a CREATE statement."""
    depth = 0
    for tok, nxt in itertools.pairwise(tokens):
        if tok.token_type is TokenType.L_PAREN:
            depth += 1
        elif tok.token_type is TokenType.R_PAREN:
            depth -= 1
        elif depth == 0 and tok.token_type is TokenType.ALIAS and nxt.token_type in _QUERY_STARTS:
            return nxt.start
    return None


def _create_from_bound_query(
    ctx: SessionContext,
    sql: str,
    start: int,
    params: Mapping[str, Any],
    to_error: Callable[[BaseException, str], SqlError],
) -> DataFrame:
    query = sql[start:]
    try:
        bound = ctx.sql(query, param_values=dict(params))
    except Exception as exc:
        err = to_error(exc, query)
        if err.position is not None:
            err.position = Position.from_offset(sql, start + err.position.to_offset(query))
        err.sql = sql
        raise err from None
    temporary = f"__sqlweave_bound_{next(_serial)}"
    ctx.register_view(temporary, bound)
    try:
        return ctx.sql(f"{sql[:start]}SELECT * FROM {temporary}")
    finally:
        ctx.deregister_table(temporary)


def _numbered(
    sql: str, tokens: list[Token], params: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """``$name`` placeholders renumbered ``$1``, ``$2``… with their values."""
    numbers: dict[str, str] = {}
    out: list[str] = []
    last = 0
    for tok, nxt in itertools.pairwise(tokens):
        if (
            tok.token_type is TokenType.PARAMETER
            and nxt.start == tok.end + 1
            and nxt.text in params
        ):
            number = numbers.setdefault(nxt.text, str(len(numbers) + 1))
            out.append(sql[last : tok.start])
            out.append(f"${number}")
            last = nxt.end + 1
    out.append(sql[last:])
    return "".join(out), {number: params[name] for name, number in numbers.items()}
