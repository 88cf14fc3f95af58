"""Procedural SQL: the plain statements inside procedure bodies and scripting blocks.

``CREATE PROCEDURE p() BEGIN INSERT ...; UPDATE ...; END`` (BigQuery, T-SQL, Oracle, MySQL),
Snowflake and Postgres bodies in ``$$ ... $$``, anonymous ``BEGIN ... END`` / ``DECLARE``
blocks and ``IF ... THEN ... END IF`` / ``WHILE ... DO`` / ``FOR ... LOOP`` control flow: the
parser knows none of it, so :func:`flatten` finds the statements a body runs and returns their
spans in the script; each is then analysed like a top-level statement. A procedure's lineage
is the lineage of what it runs.

Matching works on a *masked* copy of the text (strings and comments blanked to spaces, so
positions stay put), with regular expressions for the few control-flow shapes.

>>> sql = "CREATE PROCEDURE p() BEGIN INSERT INTO t SELECT a FROM s; END"
>>> [sql[a:b] for a, b in flatten(sql)]
['INSERT INTO t SELECT a FROM s']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

_I = re.IGNORECASE | re.DOTALL
_CREATE = re.compile(
    r"CREATE\s+(?:OR\s+(?:REPLACE|ALTER)\s+)?(?:(?:DEFINER\s*=\s*\S+|TEMP|TEMPORARY|SECURE|"
    r"AGGREGATE|TABLE|EDITIONABLE|NONEDITIONABLE)\s+)*"
    r"(?:PROCEDURE|PROC|FUNCTION|TRIGGER|PACKAGE\s+BODY)\b",
    _I,
)
_TRANSACTION = r"(?!\s+(?:TRAN|TRANSACTION|WORK|DISTRIBUTED)\b)"
_BEGIN = re.compile(r"BEGIN\b" + _TRANSACTION + r"(?:\s+(?:ATOMIC|TRY|CATCH)\b)?", _I)
_END = re.compile(r"END\b(?:\s+(?:IF|LOOP|WHILE|FOR|REPEAT|CASE|TRY|CATCH)\b)?", _I)
#: members of an Oracle package body: ``PROCEDURE p IS ... BEGIN``
_MEMBER = re.compile(r"(?:PROCEDURE|FUNCTION)\s+[\w$#.\"]+", _I)
_SIMPLE = re.compile(r"(?:ELSE|LOOP|REPEAT|DO|EXCEPTION)\b", _I)
_CONDITION = re.compile(r"(?:IF|ELSEIF|ELSIF|WHILE|WHEN)\b", _I)
#: statements whose only lineage is in the queries they contain
_RETURN = re.compile(
    r"(?:RETURN|RAISE|SIGNAL|LEAVE|ITERATE|CONTINUE|BREAK|EXIT|NULL|DECLARE|LET)\b", _I
)
#: a quoted body run as it stands: Snowflake EXECUTE IMMEDIATE $$...$$, Postgres DO $$...$$
_IMMEDIATE = re.compile(r"(?:EXECUTE\s+IMMEDIATE|DO(?:\s+LANGUAGE\s+\w+)?)\s+(?=\$|')", _I)
#: MySQL clients' ``DELIMITER //`` (a line of its own) and T-SQL's ``GO`` batch separator
_DELIMITER = re.compile(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*$", _I | re.MULTILINE)
_GO = re.compile(r"^[ \t]*GO[ \t]*$", _I | re.MULTILINE)
_FOR = re.compile(r"FOR\b", _I)
_UNTIL = re.compile(r"UNTIL\b", _I)
_LOOP_OR_DO = re.compile(r"\b(?:LOOP|DO)\b", _I)
_STATEMENT = (
    r"(?:SELECT|INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|WITH|EXEC|EXECUTE|"
    r"CALL|SET|DECLARE|RETURN|PRINT|RAISERROR|THROW|REPLACE|UPSERT|COPY|UNLOAD)\b"
)
_BODY_AFTER_CONDITION = re.compile(
    r"\b(?:THEN|DO|LOOP)\b|\bBEGIN\b" + _TRANSACTION + "|(?=\\b" + _STATEMENT + ")", _I
)
_DOLLAR = re.compile(r"\$(\w*)\$")
_AS = re.compile(r"\b(?:AS|IS)\b", _I)
_LANGUAGE = re.compile(r"\bLANGUAGE\s+(\w+)", _I)
_SQL_LANGUAGES = frozenset({"sql", "plpgsql", "plsql", "snowflake"})
_LABEL = re.compile(r"[\w$#@.\"`\[\]]+\s*:?\s*$", _I)
_SUBQUERY = re.compile(r"\(\s*(?=(?:SELECT|WITH)\b)", _I)
#: a statement that starts with one of these needs flattening (fast check on masked text)
_PROCEDURAL_START = re.compile(
    r"(?:^|;)\s*(?:" + _CREATE.pattern + r"|BEGIN\b" + _TRANSACTION + r"(?!\s*(?:;|$))|END\b|"
    r"ELSE\b|ELSEIF\b|"
    r"ELSIF\b|LOOP\b|WHILE\b|REPEAT\b|EXCEPTION\b|DECLARE\b[^;]*;\s*BEGIN\b|"
    r"IF\b[^;]*\bTHEN\b|FOR\b[^;]*\b(?:LOOP|DO)\b|EXECUTE\s+IMMEDIATE\s*[$']|DO\s*[$']|"
    r"DELIMITER\b|PACKAGE\b)",
    _I,
)


def mask(sql: str) -> str:
    """``sql`` with the insides of strings, quoted names and comments replaced by spaces
    (dollar-quoted bodies too); every character keeps its position.

    >>> mask("SELECT 'a;b' -- c;\\nFROM t")
    "SELECT '   '      \\nFROM t"
    """
    out = list(sql)
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n and not (sql[j] == close and not sql.startswith(close * 2, j)):
                j += 2 if sql[j] == close else 1  # a doubled quote stays inside
            _blank(out, i + 1, j)
            i = j + 1
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            _blank(out, i, j)
            i = j
        elif sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            j = n if j < 0 else j + 2
            _blank(out, i, j)
            i = j
        elif ch == "$" and (dollar := _DOLLAR.match(sql, i)):
            j = sql.find(dollar.group(0), dollar.end())
            _blank(out, dollar.end(), n if j < 0 else j)
            i = n if j < 0 else j + len(dollar.group(0))
        else:
            i += 1
    return "".join(out)


def _blank(out: list[str], start: int, end: int) -> None:
    for k in range(start, min(end, len(out))):
        if out[k] != "\n":
            out[k] = " "


def _outside_parens(
    pattern: re.Pattern[str], masked: str, start: int, end: int
) -> re.Match[str] | None:
    """The first match of ``pattern`` in ``masked[start:end]`` not inside parentheses."""
    depth, last = 0, start
    for found in pattern.finditer(masked, start, end):
        depth += masked.count("(", last, found.start()) - masked.count(")", last, found.start())
        last = found.start()
        if depth <= 0:
            return found
    return None


def is_procedural(masked: str) -> bool:
    """Whether any statement of the (masked) script starts with procedural syntax."""
    return _PROCEDURAL_START.search(masked) is not None


def flatten(sql: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of the plain statements of ``sql[start:end]``, control flow and
    procedure headers removed, procedure bodies (also ``$$``-quoted ones) opened up."""
    end = len(sql) if end is None else end
    return list(_flatten(sql, mask(separators(sql)), start, end))


def separators(sql: str) -> str:
    """``sql`` with client-side statement separators turned into ``;`` (same positions):
    ``GO`` lines, and the custom delimiter set by ``DELIMITER //`` lines (which go blank)."""
    out = list(sql)
    for go in _GO.finditer(sql):
        out[go.start() : go.end()] = ";" + " " * (go.end() - go.start() - 1)
    lines = list(_DELIMITER.finditer(sql))
    for index, line in enumerate(lines):
        out[line.start() : line.end()] = " " * (line.end() - line.start())
        delimiter = line.group(1)
        if delimiter == ";":
            continue
        stop = lines[index + 1].start() if index + 1 < len(lines) else len(sql)
        at = sql.find(delimiter, line.end(), stop)
        while at >= 0:
            out[at : at + len(delimiter)] = ";" + " " * (len(delimiter) - 1)
            at = sql.find(delimiter, at + len(delimiter), stop)
    return "".join(out)


def _flatten(sql: str, masked: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    skipping_declarations = False
    for a, b in _pieces(masked, start, end):
        if skipping_declarations:
            m = _BEGIN.match(masked, _skip_space(masked, a, b))
            if m is None:
                continue  # Oracle: declarations between IS/AS and BEGIN
            skipping_declarations = False
            a = m.end()
        state = _Piece(sql, masked, a, b)
        yield from state.statements()
        skipping_declarations = state.declarations


def _pieces(masked: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    a = start
    for i in range(start, end):
        if masked[i] == ";":
            yield a, i
            a = i + 1
    yield a, end


def _skip_space(text: str, i: int, end: int) -> int:
    while i < end and text[i].isspace():
        i += 1
    return i


class _Piece:
    """One ``;``-delimited piece: strip control flow off its start, find its statement."""

    def __init__(self, sql: str, masked: str, start: int, end: int) -> None:
        self.sql, self.masked, self.start, self.end = sql, masked, start, end
        self.declarations = False

    def statements(self) -> Iterator[tuple[int, int]]:
        m, i, end = self.masked, self.start, self.end
        while True:
            i = _skip_space(m, i, end)
            if i >= end:
                return
            if found := _IMMEDIATE.match(m, i):
                yield from self._quoted(found.end())
                return
            if (header := _CREATE.match(m, i)) or (header := _MEMBER.match(m, i)):
                body = self._body(header.end())
                if body is None:
                    return
                if isinstance(body, list):
                    yield from body
                    return
                i = body
            elif (found := _BEGIN.match(m, i)) or (found := _SIMPLE.match(m, i)):
                i = found.end()
            elif found := _END.match(m, i):
                i = found.end()
                rest = _skip_space(m, i, end)
                if _LABEL.match(m[rest:end]) and not re.match(_STATEMENT, m[rest:end], _I):
                    return  # END proc_name / END label
            elif found := _CONDITION.match(m, i):
                body = _outside_parens(_BODY_AFTER_CONDITION, m, found.end(), end)
                yield from self._subqueries(found.end(), body.start() if body else end)
                if body is None:
                    return
                i = body.end()
            elif _FOR.match(m, i):
                body = _outside_parens(_LOOP_OR_DO, m, i, end)
                if body is None:
                    return
                yield from self._subqueries(i, body.start())
                i = body.end()
            elif _UNTIL.match(m, i) or _RETURN.match(m, i):
                yield from self._subqueries(i, end)
                return
            else:
                yield from self._statement(i, end)
                return

    def _statement(self, i: int, end: int) -> Iterator[tuple[int, int]]:
        """The rest of the piece is one statement; a dangling END (T-SQL blocks without
        semicolons) is not part of it."""
        m = self.masked
        text = m[i:end]
        ends = list(re.finditer(r"\bEND\b", text, _I))
        cases = len(re.findall(r"\bCASE\b", text, _I))
        while ends and len(ends) > cases:
            end = i + ends.pop().start()
        while end > i and m[end - 1].isspace():
            end -= 1
        if end > i:
            yield i, end

    def _subqueries(self, i: int, end: int) -> Iterator[tuple[int, int]]:
        """Queries inside a condition (``IF EXISTS (SELECT ...)``) read tables too."""
        m = self.masked
        for found in _SUBQUERY.finditer(m, i, end):
            depth, j = 1, found.start() + 1
            while j < end and depth:
                depth += {"(": 1, ")": -1}.get(m[j], 0)
                j += 1
            if depth == 0:
                yield found.end(), j - 1

    def _quoted(self, i: int) -> Iterator[tuple[int, int]]:
        """The statements of a quoted body starting at ``i`` (``$$...$$``, ``$tag$...$tag$``
        or ``'...'``)."""
        sql, end = self.sql, self.end
        quoted = re.match(r"\$(\w*)\$|'", sql[i:end])
        if quoted is None:
            return
        close = quoted.group(0)
        body_start = i + len(close)
        body_end = sql.find(close, body_start)
        body_end = end if body_end < 0 else body_end
        inner = self.masked[:body_start] + mask(sql[body_start:body_end]) + self.masked[body_end:]
        yield from _flatten(sql, inner, body_start, body_end)

    def _body(self, i: int) -> int | list[tuple[int, int]] | None:
        """After a CREATE PROCEDURE/FUNCTION header: where its body starts (an offset in
        this piece), the statements of a quoted body, or None when there is nothing to read.
        """
        m, sql, end = self.masked, self.sql, self.end
        begin = re.compile(r"\bBEGIN\b" + _TRANSACTION, _I).search(m, i, end)
        as_ = _AS.search(m, i, end)
        if as_ is not None and (begin is None or as_.start() < begin.start()):
            after = _skip_space(sql, as_.end(), end)
            if re.match(r"\$(\w*)\$|'", sql[after:end]):
                language = _LANGUAGE.search(m, self.start, end)
                if language and language.group(1).lower() not in _SQL_LANGUAGES:
                    return None  # a JavaScript/Python body
                return list(self._quoted(after))
            if begin is None:
                if re.match(_STATEMENT, m[after:end], _I) or m.startswith("(", after):
                    return after  # T-SQL body without BEGIN, a SQL function's expression
                self.declarations = True  # Oracle: IS/AS declarations, BEGIN comes later
                return None
        if begin is not None:
            return begin.end()
        return None
