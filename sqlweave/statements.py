"""Split a SQL script into statements and say what each one does.

Splitting uses sqlglot's tokenizer, so semicolons inside strings, quoted
identifiers and comments never split a statement.

>>> [s.text for s in split("CREATE TABLE t AS SELECT 1 AS a; SELECT ';' FROM t")]
['CREATE TABLE t AS SELECT 1 AS a', "SELECT ';' FROM t"]
>>> split("INSERT INTO t VALUES (1)")[0].kind
<Kind.INSERT: 'insert'>
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from sqlglot.dialects import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType


class Kind(str, Enum):
    """What a statement does, as the notebook reports it."""

    QUERY = "query"
    CREATE_TABLE = "create table"
    CREATE_VIEW = "create view"
    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    DROP = "drop"
    OTHER = "other"


@dataclass(frozen=True)
class Statement:
    """One statement of a script: its text, where it starts, and its tokens."""

    text: str
    start: int  # 0-based offset of ``text`` inside the script
    kind: Kind
    target: str | None  # table/view created, inserted into, dropped...
    tokens: tuple[Token, ...] = ()

    @property
    def end(self) -> int:
        return self.start + len(self.text)


@lru_cache(maxsize=8)
def _tokenizer(dialect: str):
    return Dialect.get_or_raise(dialect).tokenizer_class()


def tokenize(text: str, dialect: str = "postgres") -> list[Token] | None:
    """Tokens of ``text``, or ``None`` when the tokenizer cannot read it."""
    try:
        return _tokenizer(dialect).tokenize(text)
    except (TokenError, ValueError, IndexError):
        return None


def expand_commands(
    sql: str, tokens: list[Token] | tuple[Token, ...], base: int = 0
) -> list[Token]:
    """``tokens`` with the text sqlglot keeps whole after a command word (``EXPLAIN …``
    arrives as COMMAND plus one STRING) tokenized too, at its place in ``sql``.

    ``tokens`` may come from a larger script in which ``sql`` starts at offset ``base``.

    >>> [t.text for t in expand_commands("EXPLAIN SELECT :x", tokenize("EXPLAIN SELECT :x"))]
    ['EXPLAIN', 'SELECT', ':', 'x']
    """
    out: list[Token] = []
    skip = False
    for tok, nxt in zip(tokens, [*tokens[1:], None]):
        if skip:
            skip = False
            continue
        out.append(tok)
        if tok.token_type is not TokenType.COMMAND or nxt is None:
            continue
        if nxt.token_type is not TokenType.STRING:
            continue
        at = sql.find(nxt.text, tok.end + 1 - base)
        inner = tokenize(nxt.text) if at >= 0 else None
        if inner is None:
            continue
        shift = at + base
        out.extend(
            Token(t.token_type, t.text, t.line, t.col, t.start + shift, t.end + shift, t.comments)
            for t in inner
        )
        skip = True
    return out


_QUERY_STARTS = {
    TokenType.SELECT,
    TokenType.WITH,
    TokenType.VALUES,
    TokenType.L_PAREN,
    TokenType.FROM,
    TokenType.SHOW,
    TokenType.DESCRIBE,
    TokenType.TABLE,
}
_QUERY_WORDS = {"EXPLAIN", "SHOW", "DESCRIBE", "DESC", "SUMMARIZE", "PIVOT", "UNPIVOT"}


def split(script: str, dialect: str = "postgres") -> list[Statement]:
    """Statements of ``script`` (empty ones dropped), each with its offset and kind."""
    tokens = tokenize(script, dialect)
    if tokens is None:  # unreadable: hand the whole text to the engine, which reports the error
        text = script.strip().rstrip(";")
        return [Statement(text, script.find(text), Kind.OTHER, None)] if text else []
    statements: list[Statement] = []
    current: list[Token] = []
    for tok in [*tokens, None]:
        if tok is not None and tok.token_type != TokenType.SEMICOLON:
            current.append(tok)
            continue
        if current:
            start = current[0].start  # a quoted token's start includes its quote
            end = current[-1].end + 1
            kind, target = classify(current)
            statements.append(Statement(script[start:end], start, kind, target, tuple(current)))
        current = []
    return statements


def classify(tokens: list[Token] | tuple[Token, ...]) -> tuple[Kind, str | None]:
    """Kind of the statement made of ``tokens`` and the object it targets, if any."""
    words = [t.text.upper() for t in tokens[:8]]
    first = tokens[0].token_type if tokens else None
    if first in _QUERY_STARTS or (words and words[0] in _QUERY_WORDS):
        return Kind.QUERY, None
    if first == TokenType.INSERT or (words and words[0] == "INSERT"):
        return Kind.INSERT, _name_after(tokens, {"INTO", "TABLE", "OVERWRITE"})
    if first == TokenType.UPDATE:
        return Kind.UPDATE, _name_after(tokens, {"UPDATE"})
    if first == TokenType.DELETE:
        return Kind.DELETE, _name_after(tokens, {"FROM"})
    if first == TokenType.CREATE:
        if "VIEW" in words:
            return Kind.CREATE_VIEW, _name_after(tokens, {"VIEW", "EXISTS"})
        if "TABLE" in words:
            return Kind.CREATE_TABLE, _name_after(tokens, {"TABLE", "EXISTS"})
    if first == TokenType.DROP:
        return Kind.DROP, _name_after(tokens, {"TABLE", "VIEW", "EXISTS"})
    return Kind.OTHER, None


def _name_after(tokens: list[Token] | tuple[Token, ...], keywords: set[str]) -> str | None:
    """The dotted name following the last of ``keywords`` among the leading tokens."""
    idx = -1
    for i, tok in enumerate(tokens[:12]):
        if tok.text.upper() in keywords and tok.token_type not in (
            TokenType.STRING,
            TokenType.IDENTIFIER,
        ):
            idx = i
    if idx < 0:
        return None
    parts: list[str] = []
    for tok in tokens[idx + 1 :]:
        if tok.token_type == TokenType.DOT:
            continue
        if tok.token_type in (TokenType.VAR, TokenType.IDENTIFIER, TokenType.STRING) or (
            tok.text.isidentifier() and tok.text.upper() not in {"IF", "NOT", "EXISTS", "AS"}
        ):
            parts.append(tok.text)
            nxt = tokens.index(tok) + 1
            if nxt < len(tokens) and tokens[nxt].token_type == TokenType.DOT:
                continue
        break
    return ".".join(parts) or None
