"""Split a SQL script into statements that can be parsed one by one.

Splitting happens on ``;`` tokens from sqlglot's tokenizer, so semicolons inside strings and
comments are safe. If the whole script cannot be tokenized (an unterminated string, say), a
small quote-aware scanner splits it instead and each piece is tokenized on its own: one bad
statement never hides the others.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlglot.dialects.dialect import Dialect
from sqlglot.tokens import Token, TokenType

from .procedural import flatten, is_procedural, mask, separators


@dataclass(frozen=True)
class Chunk:
    """One statement's text and tokens; ``tokens`` is None when it could not be tokenized."""

    start: int
    end: int
    tokens: tuple[Token, ...] | None
    error: str | None = None


def split(sql: str, dialect: Dialect) -> list[Chunk]:
    """Split ``sql`` into statement chunks (empty statements are dropped).

    >>> from sqlglot.dialects.dialect import Dialect
    >>> [(c.start, c.end) for c in split("select 1; select 2;", Dialect.get_or_raise("duckdb"))]
    [(0, 8), (10, 18)]
    """
    try:
        tokens = dialect.tokenize(sql)
    except Exception:
        tokens = None
    if tokens is not None:
        chunks = _split_tokens(tokens)
        if not any(_may_open_block(c.tokens or ()) for c in chunks):
            return chunks
    if is_procedural(mask(separators(sql))):  # procedure bodies, scripting blocks: their statements
        spans = flatten(sql)
    elif tokens is not None:
        return chunks
    else:
        spans = _scan(sql)
    return [c for start, end in spans for c in _tokenize_piece(sql, start, end, dialect)]


#: first words of statements that may be procedural (confirmed on the text by ``procedural``)
_BLOCK_WORDS = frozenset(
    {"BEGIN", "END", "IF", "ELSE", "ELSEIF", "ELSIF", "WHILE", "LOOP", "REPEAT", "EXCEPTION"}
    | {"FOR", "DECLARE", "DO", "DELIMITER", "GO"}
)
_ROUTINES = frozenset({"PROCEDURE", "PROC", "FUNCTION"})


def _may_open_block(tokens: tuple[Token, ...]) -> bool:
    if not tokens:
        return False
    first = tokens[0].text.upper()
    if first == "CREATE":
        return any(t.text.upper() in _ROUTINES for t in tokens[1:8])
    if first == "EXECUTE":
        return len(tokens) > 1 and tokens[1].text.upper().lstrip().startswith("IMMEDIATE")
    return first in _BLOCK_WORDS


def _split_tokens(tokens: list[Token]) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: list[Token] = []
    for index, token in enumerate(tokens):
        if token.token_type is TokenType.SEMICOLON or _is_go(tokens, index):
            if current:
                chunks.append(Chunk(current[0].start, current[-1].end + 1, tuple(current)))
            current = []
        else:
            current.append(token)
    if current:
        chunks.append(Chunk(current[0].start, current[-1].end + 1, tuple(current)))
    return chunks


def split_piece(sql: str, start: int, end: int, dialect: Dialect) -> list[Chunk]:
    """``sql[start:end]`` as chunks, tokens in script coordinates (one unless it must be
    cut because it does not tokenize)."""
    return _tokenize_piece(sql, start, end, dialect)


def _is_go(tokens: list[Token], index: int) -> bool:
    """T-SQL's ``GO`` batch separator: the word alone on its line."""
    token = tokens[index]
    if token.text.upper() != "GO" or token.token_type is TokenType.STRING:
        return False
    before = tokens[index - 1].line < token.line if index else True
    after = tokens[index + 1].line > token.line if index + 1 < len(tokens) else True
    return before and after


def _tokenize_piece(sql: str, start: int, end: int, dialect: Dialect) -> list[Chunk]:
    try:
        tokens = dialect.tokenize(sql[start:end])
    except Exception as error:
        return _retry_raw(sql, start, end, dialect, str(error) or type(error).__name__)
    return [Chunk(start, end, tuple(_shift(t, start, sql) for t in tokens))]


def _retry_raw(sql: str, start: int, end: int, dialect: Dialect, error: str) -> list[Chunk]:
    """An untokenizable piece (say ``'oops; SELECT 1``): split on every ``;`` regardless of
    quotes, so statements after an unterminated string still get their lineage."""
    bounds = [start] + [i + 1 for i in range(start, end) if sql[i] == ";"] + [end + 1]
    pieces = [_strip(sql, a, b - 1) for a, b in itertools.pairwise(bounds)]
    pieces = [(a, b) for a, b in pieces if b > a]
    if len(pieces) <= 1:
        return [Chunk(start, end, None, error)]
    chunks: list[Chunk] = []
    for a, b in pieces:
        try:
            tokens = dialect.tokenize(sql[a:b])
        except Exception as piece_error:
            chunks.append(Chunk(a, b, None, str(piece_error) or type(piece_error).__name__))
        else:
            chunks.append(Chunk(a, b, tuple(_shift(t, a, sql) for t in tokens)))
    return chunks


def _shift(token: Token, offset: int, sql: str) -> Token:
    """Move a token tokenized from a slice back to script coordinates."""
    if not offset:
        return token
    start = token.start + offset
    line = sql.count("\n", 0, start) + 1
    col = token.end + offset - sql.rfind("\n", 0, start)
    return Token(
        token.token_type,
        token.text,
        line=line,
        col=col,
        start=start,
        end=token.end + offset,
        comments=token.comments,
    )


def _scan(sql: str) -> list[tuple[int, int]]:
    """Quote- and comment-aware ``;`` splitting without a tokenizer."""
    pieces: list[tuple[int, int]] = []
    i, start, n = 0, 0, len(sql)
    quote: str | None = None
    while i < n:
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 1
        elif ch == ";":
            pieces.append((start, i))
            start = i + 1
        i += 1
    pieces.append((start, n))
    return [(s, e) for s, e in (_strip(sql, s, e) for s, e in pieces) if e > s]


def _strip(sql: str, start: int, end: int) -> tuple[int, int]:
    while start < end and sql[start].isspace():
        start += 1
    while end > start and sql[end - 1].isspace():
        end -= 1
    return start, end
