"""Say what is wrong with SQL an engine could not parse, when its own words are vague.

Engines report the first token their grammar could not take, which is often a word
*after* the mistake: ``FROM flights WHER dep_delay`` reads ``WHER`` as an alias of
``flights`` and stops at ``dep_delay``; ``HAVING ORDER BY 2`` reads ``ORDER`` as a column
and stops at ``BY``. Looking at the tokens around the engine's position finds the mistake
itself: a clause with no condition, a condition ending in an operator, a misspelt keyword.

>>> d = diagnose("SELECT * FROM flights WHER dep_delay > 10", 27)
>>> d.message, d.offset, d.hint
('syntax error at WHER', 22, 'Did you mean WHERE?')
>>> diagnose("SELECT a FROM t GROUP BY a HAVING ORDER BY 1", 43).message
'HAVING has no condition before ORDER BY'
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot.tokens import Token, TokenType

from ..statements import tokenize

#: clauses that take a condition, by the token that opens them
_CONDITION_CLAUSES = {
    TokenType.WHERE: "WHERE",
    TokenType.HAVING: "HAVING",
    TokenType.ON: "ON",
    TokenType.QUALIFY: "QUALIFY",
}
#: tokens that end a condition: the next clause, a closing parenthesis, the statement's end
_CLAUSE_STARTS = frozenset(
    {
        TokenType.GROUP_BY,
        TokenType.ORDER_BY,
        TokenType.HAVING,
        TokenType.LIMIT,
        TokenType.OFFSET,
        TokenType.WINDOW,
        TokenType.QUALIFY,
        TokenType.UNION,
        TokenType.EXCEPT,
        TokenType.INTERSECT,
        TokenType.WHERE,
        TokenType.JOIN,
        TokenType.INNER,
        TokenType.LEFT,
        TokenType.RIGHT,
        TokenType.FULL,
        TokenType.CROSS,
        TokenType.R_PAREN,
        TokenType.SEMICOLON,
    }
)
#: operators that need something on their right
_BINARY_OPERATORS = frozenset(
    {
        TokenType.EQ,
        TokenType.NEQ,
        TokenType.GT,
        TokenType.GTE,
        TokenType.LT,
        TokenType.LTE,
        TokenType.AND,
        TokenType.OR,
        TokenType.PLUS,
        TokenType.DASH,
        TokenType.SLASH,
        TokenType.LIKE,
        TokenType.ILIKE,
        TokenType.IN,
        TokenType.IS,
        TokenType.BETWEEN,
        TokenType.NOT,
    }
)
#: keywords a misspelling is compared with: the words that open a clause or a join
KEYWORDS = (
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "ORDER",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "OUTER",
    "UNION",
    "DISTINCT",
    "QUALIFY",
    "WINDOW",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "VALUES",
)
#: how alike a word must be to a keyword to be taken for its misspelling (WHER: 0.89,
#: ORDR: 0.89, a column order_id: 0.77); a word with a keyword's letters swapped (FORM) is one too
_LIKENESS = 0.8


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong, where (0-based offset in the statement), and what to write instead."""

    message: str
    offset: int
    hint: str | None = None


def diagnose(sql: str, offset: int, dialect: str = "postgres") -> Diagnosis | None:
    """The mistake behind a parse error an engine reported at ``offset`` of ``sql``, or
    ``None`` when none of the known mistakes is there (the engine's words stand)."""
    tokens = tokenize(sql, dialect)
    if not tokens:
        return None
    return _missing_condition(tokens, sql, offset) or _misspelt_keyword(tokens, offset)


def _before(token: Token | None) -> str:
    """`` before ORDER BY``, or nothing at the statement's end."""
    return "" if token is None else " before " + " ".join(token.text.upper().split())


def _missing_condition(tokens: Sequence[Token], sql: str, offset: int) -> Diagnosis | None:
    """A clause that takes a condition followed at once by the next clause (``HAVING ORDER
    BY``), or a condition ending in an operator (``HAVING count(*) > ORDER BY``). Only
    mistakes that begin at or before the engine's position count: the engine stopped at
    the first one."""
    clause: tuple[str, int] | None = None  # the open clause and its parenthesis depth
    depth = 0
    for i, token in enumerate(tokens):
        if token.start > offset:
            break
        kind = token.token_type
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        ends = nxt is None or nxt.token_type in _CLAUSE_STARTS
        where = len(sql.rstrip()) if nxt is None else nxt.start
        if kind in _CONDITION_CLAUSES:
            clause = (_CONDITION_CLAUSES[kind], depth)
            if ends:
                name = clause[0]
                return Diagnosis(
                    f"{name} has no condition{_before(nxt)}",
                    where,
                    f"Write a condition after {name}, or leave {name} out.",
                )
        elif clause and kind in _BINARY_OPERATORS and ends:
            operator = " ".join(token.text.upper().split())
            return Diagnosis(
                f"the {clause[0]} condition is incomplete: {operator} has nothing on its right",
                where,
            )
        elif kind == TokenType.L_PAREN:
            depth += 1
        elif kind == TokenType.R_PAREN:
            depth -= 1
            if clause and depth < clause[1]:
                clause = None
        elif clause and kind in _CLAUSE_STARTS and depth == clause[1]:
            clause = None
    return None


def _misspelt_keyword(tokens: Sequence[Token], offset: int) -> Diagnosis | None:
    """A plain word close to a keyword at the engine's position, or just before it (an
    engine reads ``flights WHER`` as a table and its alias and stops at the next word);
    the closer of the two when both are."""
    at = next((i for i, t in enumerate(tokens) if t.end >= offset), len(tokens) - 1)
    best: tuple[float, Token, str] | None = None
    for i in (at, at - 1):
        if i < 0 or tokens[i].token_type != TokenType.VAR:
            continue
        keyword, likeness = keyword_like(tokens[i].text)
        if keyword and (best is None or likeness > best[0]):
            best = (likeness, tokens[i], keyword)
    if best is None:
        return None
    _, token, keyword = best
    return Diagnosis(f"syntax error at {token.text}", token.start, f"Did you mean {keyword}?")


def keyword_like(word: str) -> tuple[str | None, float]:
    """The keyword ``word`` looks like a misspelling of, and how alike they are.

    >>> keyword_like("FORM"), keyword_like("order_id"), keyword_like("orders")
    (('FROM', 1.0), (None, 0.0), (None, 0.0))
    """
    upper = word.upper()
    if len(upper) < 3 or not upper.isalpha() or upper in KEYWORDS:
        return None, 0.0
    for keyword in KEYWORDS:
        if len(upper) >= 4 and sorted(upper) == sorted(keyword):
            return keyword, 1.0  # letters swapped
    # a slip drops or swaps letters; a longer word is a name of its own (orders, limits)
    scored = [
        (difflib.SequenceMatcher(None, upper, k).ratio(), k)
        for k in KEYWORDS
        if len(k) >= len(upper)
    ]
    likeness, keyword = max(scored)
    return (keyword, likeness) if likeness >= _LIKENESS else (None, 0.0)


def condition_clause(sql: str, condition: str, dialect: str = "postgres") -> tuple[str, int] | None:
    """The clause (``WHERE``, ``HAVING``…) whose condition is written ``condition`` in
    ``sql``, and the offset where the condition starts; ``None`` when none is.

    >>> condition_clause("SELECT a, count(*) FROM t GROUP BY a HAVING count( * )", "count(*)")
    ('HAVING', 44)
    """
    tokens = tokenize(sql, dialect) or []
    wanted = "".join(condition.lower().split())
    for token, nxt in itertools.pairwise(tokens):
        if token.token_type in _CONDITION_CLAUSES:
            written = "".join(sql[nxt.start :].lower().split())
            if written.startswith(wanted):
                return _CONDITION_CLAUSES[token.token_type], nxt.start
    return None
