"""Bind ``:name`` parameters from a namespace as typed values.

``:name`` is rewritten to the engine's ``$name`` placeholder and its value is
passed to the engine separately, so a value is never pasted into SQL text.
Text inside string literals, quoted identifiers, comments and ``::`` casts is
left alone.

>>> sql, values = bind("SELECT * FROM t WHERE a > :lo AND b = ':lo' AND c::int = 1", {"lo": 3})
>>> sql
"SELECT * FROM t WHERE a > $lo AND b = ':lo' AND c::int = 1"
>>> values
{'lo': 3}
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Mapping
from typing import Any

from sqlglot.tokens import Token, TokenType

from .errors import ParameterError, Position
from .statements import expand_commands, tokenize

#: Python types that bind as typed SQL values
SCALAR_TYPES = (
    bool,
    int,
    float,
    str,
    bytes,
    decimal.Decimal,
    datetime.date,
    datetime.datetime,
    datetime.time,
    type(None),
)
_NAME_TOKENS = {TokenType.VAR}
_GLUED = {
    TokenType.VAR,
    TokenType.IDENTIFIER,
    TokenType.NUMBER,
    TokenType.STRING,
    TokenType.R_BRACKET,
    TokenType.R_PAREN,
}


def find(
    sql: str, tokens: list[Token] | tuple[Token, ...] | None = None, base: int = 0
) -> list[tuple[str, int, int]]:
    """``(name, start, end)`` of each ``:name`` in ``sql`` (``end`` exclusive).

    ``tokens`` may come from a larger script in which ``sql`` starts at offset ``base``.
    """
    if ":" not in sql:
        return []
    toks = list(tokens) if tokens is not None else tokenize(sql)
    if not toks:
        return []
    toks = expand_commands(sql, toks, base if tokens is not None else 0)
    found = []
    for prev, colon, name in zip([None, *toks], toks, toks[1:]):
        if colon.token_type != TokenType.COLON or name.start != colon.end + 1:
            continue
        if not (name.token_type in _NAME_TOKENS or name.text.isidentifier()):
            continue
        if name.token_type == TokenType.IDENTIFIER:  # :"quoted" is not a parameter
            continue
        # `a[1:n]` slices and `col:name` JSON paths are not parameters: a value glued
        # right before the colon disqualifies it (an operator, `(` or `,` does not)
        if prev is not None and prev.end + 1 == colon.start and prev.token_type in _GLUED:
            continue
        found.append((name.text, colon.start - base, name.end + 1 - base))
    return found


def bind(
    sql: str,
    namespace: Mapping[str, Any],
    explicit: Mapping[str, Any] | None = None,
    tokens: list[Token] | tuple[Token, ...] | None = None,
    base: int = 0,
) -> tuple[str, dict[str, Any]]:
    """Rewrite ``:name`` to ``$name`` and collect typed values.

    ``explicit`` values win over ``namespace`` ones; ``tokens``/``base`` as in :func:`find`. Raises ``ParameterError``
    (with the position) for an unbound name or a value that is not a scalar.
    """
    hits = find(sql, tokens, base)
    if not hits:
        return sql, {}
    values: dict[str, Any] = {}
    out: list[str] = []
    last = 0
    for name, start, end in hits:
        if explicit is not None and name in explicit:
            value = explicit[name]
        elif name in namespace:
            value = namespace[name]
        else:
            raise ParameterError(
                f"parameter :{name} is not bound: define a variable named {name!r}",
                sql=sql,
                position=Position.from_offset(sql, start),
            )
        if hasattr(value, "item") and callable(value.item) and not isinstance(value, SCALAR_TYPES):
            value = value.item()  # numpy scalars
        if not isinstance(value, SCALAR_TYPES):
            raise ParameterError(
                f"parameter :{name} is a {type(value).__name__}; only scalars"
                " (int, float, str, bool, date, datetime, Decimal, None) can be bound",
                sql=sql,
                position=Position.from_offset(sql, start),
            )
        values[name] = value
        out.append(sql[last:start])
        out.append(f"${name}")
        last = end
    out.append(sql[last:])
    return "".join(out), values
