"""What to do with a statement the dialect's parser (or lexer) rejects.

Two rescues, tried in order by :mod:`.extract`:

1. :func:`boundaries`: T-SQL scripts often leave out ``;`` (``SELECT ... INTO #t FROM a
   INSERT INTO b SELECT * FROM #t``). Where a statement keyword starts a new statement, the
   text is cut there and each piece is parsed on its own.
2. :func:`approximate_tables`: the tables the text names after ``FROM``/``JOIN``/``USING``
   (read) and ``INTO``/``UPDATE``/``CREATE TABLE`` (written), found by patterns on the text
   with strings and comments masked. The result is marked *approximate*: better than no
   tables at all, but not a parse.

>>> from sqlglot.dialects.dialect import Dialect
>>> from sqlweave.lineage.names import Namer
>>> namer = Namer(Dialect.get_or_raise("postgres"))
>>> reads, writes = approximate_tables("INSERT INTO t SELECT ?? FROM a JOIN b.c ON", namer)
>>> sorted(reads), sorted(writes)
(['a', 'b.c'], ['t'])
"""

from __future__ import annotations

import re

from .names import Namer
from .procedural import mask

_I = re.IGNORECASE
_PART = r'(?:"[^"]*"|`[^`]*`|\[[^\]]*\]|[\w$#@]+)'
_NAME = rf"(?P<name>{_PART}(?:\s*\.\s*{_PART}){{0,3}})"
_READ = re.compile(rf"\b(?:FROM|JOIN|USING)\s+(?:\(\s*)*(?:ONLY\s+)?{_NAME}", _I)
#: words that end a ``FROM a x, b y`` list or cannot be a table alias
_CLAUSE = (
    r"(?:WHERE|GROUP|ORDER|HAVING|LIMIT|JOIN|INNER|LEFT|RIGHT|FULL|CROSS|OUTER|NATURAL|ON|"
    r"UNION|EXCEPT|INTERSECT|MINUS|WINDOW|QUALIFY|SET|VALUES|SELECT|INTO|LATERAL|PIVOT|"
    r"UNPIVOT|WITH|USING|FOR|OFFSET|FETCH)\b"
)
#: one more item of a comma-separated FROM list, after the previous item's optional alias
_NEXT_ITEM = re.compile(
    rf"\s*(?:(?:AS\s+)?(?!{_CLAUSE}){_PART}\s*)?,\s*(?:\(\s*)*(?!{_CLAUSE}){_NAME}", _I
)
_WRITE = re.compile(
    rf"\b(?:INSERT\s+(?:OVERWRITE\s+|INTO\s+)?(?:TABLE\s+)?|INTO\s+(?:TABLE\s+)?|UPDATE\s+|"
    rf"MERGE\s+(?:INTO\s+)?|CREATE\s+(?:OR\s+REPLACE\s+)?(?:\w+\s+){{0,3}}?(?:TABLE|VIEW)\s+"
    rf"(?:IF\s+NOT\s+EXISTS\s+)?){_NAME}",
    _I,
)
_CTE = re.compile(rf"(?:\bWITH\s+(?:RECURSIVE\s+)?|,\s*){_NAME}\s*(?:\([^)]*\)\s*)?AS\s*\(", _I)
_VARIABLES = re.compile(r"\s*,")
_INFILE = re.compile(r"\bINFILE\s+'([^']*)'", _I)
#: words that follow FROM/INTO but are not tables
_NOT_TABLES = frozenset(
    {"select", "values", "lateral", "unnest", "table", "where", "set", "dual", "as", "on", "top"}
)
#: where a new statement can start inside a chunk that has no ``;``
_STARTS = re.compile(
    r"\b(?:INSERT|UPDATE|DELETE|MERGE|CREATE|DROP|ALTER|TRUNCATE|EXEC|EXECUTE|DECLARE|SET|"
    r"PRINT|SELECT|WITH|GO|USE)\b",
    _I,
)
#: words before SELECT/WITH/SET that make them part of the same statement
_CONTINUES = re.compile(
    r"(?:\(|\bUNION(?:\s+ALL)?|\bEXCEPT|\bINTERSECT|\bMINUS|\bAS|\bALL|\bDISTINCT|\bINSERT\s+"
    r"INTO\s+\S+(?:\s*\([^)]*\))?|\bUPDATE\s+\S+|\bON\s+DUPLICATE\s+KEY)\s*$",
    _I,
)
MAX_PIECES = 40


def approximate_tables(text: str, namer: Namer) -> tuple[set[str], set[str]]:
    """``(reads, writes)`` named by ``text``, by patterns (CTE names left out)."""
    masked = _mask_keeping_names(text)
    ctes = {_name(m, text, namer) for m in _CTE.finditer(masked)}
    writes = {
        _name(m, text, namer)
        for m in _WRITE.finditer(masked)
        if not _VARIABLES.match(masked, m.end())  # MySQL SELECT ... INTO v1, v2: variables
    }
    reads = set()
    for m in _READ.finditer(masked):
        first = _name(m, text, namer)
        reads.add(first)
        if masked[m.start() : m.start() + 4].upper() != "FROM" or first.lower() in _NOT_TABLES:
            continue
        while following := _NEXT_ITEM.match(masked, m.end()):  # FROM a x, b y, c
            reads.add(_name(following, text, namer))
            m = following
    drop = ctes | {""}
    writes = {w for w in writes if w not in drop and w.lower() not in _NOT_TABLES}
    reads = {r for r in reads if r not in drop and r.lower() not in _NOT_TABLES}
    reads |= {m.group(1) for m in _INFILE.finditer(text)}  # MySQL LOAD DATA INFILE 'path'
    return reads - writes if writes else reads, writes


def boundaries(text: str) -> list[int]:
    """Offsets in ``text`` where a new statement may start (never 0)."""
    masked = mask(text)
    found = []
    depth = 0
    last = 0
    for m in _STARTS.finditer(masked):
        depth += masked.count("(", last, m.start()) - masked.count(")", last, m.start())
        last = m.start()
        if depth != 0 or m.start() == 0 or not masked[: m.start()].strip():
            continue
        if _CONTINUES.search(masked[max(0, m.start() - 120) : m.start()]):
            continue
        found.append(m.start())
    return found[:MAX_PIECES]


def _mask_keeping_names(text: str) -> str:
    """Mask strings and comments but keep double-quoted, backquoted and bracketed names."""
    masked = list(mask(text))
    for m in re.finditer(r'"[^"]*"|`[^`]*`|\[[^\]]*\]', text):
        masked[m.start() : m.end()] = text[m.start() : m.end()]
    return "".join(masked)


def _name(match: re.Match[str], text: str, namer: Namer) -> str:
    raw = text[match.start("name") : match.end("name")]
    parts = [p.strip() for p in re.findall(_PART, raw)]
    names = []
    for part in parts:
        if part[0] in '"`[':
            names.append(part[1:-1])
        else:
            names.append(namer.ident(part))
    return ".".join(names)
