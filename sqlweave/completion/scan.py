"""A tolerant SQL scanner for completion: half-typed text is the normal case.

sqlglot's tokenizer refuses an unterminated string or quoted name; while the user types,
those are everywhere, so completion reads the text with this small scanner instead. It
never raises: anything it does not recognise becomes a one-character ``PUNCT`` token.

>>> [(t.kind.name, t.value) for t in scan('SELECT f."Dep", \\'x FROM')]
[('WORD', 'SELECT'), ('WORD', 'f'), ('PUNCT', '.'), ('QUOTED', 'Dep'), ('PUNCT', ','), ('STRING', "'x FROM")]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class TokenKind(Enum):
    """What a scanned token is."""

    WORD = "word"  # a keyword or an unquoted name
    QUOTED = "quoted"  # a "quoted" or `quoted` name; ``value`` has the quotes removed
    STRING = "string"  # a string literal, possibly unterminated
    NUMBER = "number"
    COMMENT = "comment"
    PUNCT = "punct"  # operators and punctuation, one token per symbol


@dataclass(frozen=True)
class Token:
    """One token: ``start``/``end`` are offsets in the scanned text (``end`` exclusive)."""

    kind: TokenKind
    value: str
    start: int
    end: int

    @property
    def upper(self) -> str:
        """The keyword spelling of a ``WORD`` token (empty for other kinds)."""
        return self.value.upper() if self.kind is TokenKind.WORD else ""

    @property
    def is_name(self) -> bool:
        return self.kind in (TokenKind.WORD, TokenKind.QUOTED)


_PATTERNS = (
    (TokenKind.COMMENT, r"--[^\n]*|/\*(?:.|\n)*?(?:\*/|\Z)"),
    (TokenKind.STRING, r"'(?:[^']|'')*(?:'|\Z)"),
    (TokenKind.QUOTED, r'"(?:[^"]|"")*(?:"|\Z)|`[^`]*(?:`|\Z)'),
    (TokenKind.NUMBER, r"\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"),
    (TokenKind.WORD, r"[^\W\d]\w*|\$\w+"),
    (TokenKind.PUNCT, r"::|<<|>>|<=|>=|<>|!=|\|\||\S"),
)
_SCANNER = re.compile("|".join(f"(?P<{kind.name}>{pat})" for kind, pat in _PATTERNS))
_SPACE = re.compile(r"\s+")


def scan(text: str) -> list[Token]:
    """Tokens of ``text``, comments included; never raises."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        space = _SPACE.match(text, pos)
        if space:
            pos = space.end()
            continue
        m = _SCANNER.match(text, pos)
        assert m is not None and m.lastgroup is not None  # PUNCT matches any non-space
        kind = TokenKind[m.lastgroup]
        raw = m.group()
        value = raw
        if kind is TokenKind.QUOTED:
            quote = raw[0]
            body = raw[1:-1] if len(raw) > 1 and raw.endswith(quote) else raw[1:]
            value = body.replace(quote * 2, quote)
        tokens.append(Token(kind, value, m.start(), m.end()))
        pos = m.end()
    return tokens


def code_tokens(tokens: list[Token]) -> list[Token]:
    """``tokens`` without comments."""
    return [t for t in tokens if t.kind is not TokenKind.COMMENT]
