"""Statements sqlglot's parser rejects although their lineage is plain: repaired, then parsed.

Clauses that change no lineage are blanked out (spaces keep every position), per dialect
(:data:`BLANKED`): ``WHERE CURRENT OF cursor``; Hive/Spark ``PARTITION (...) IF NOT
EXISTS``; Teradata's ``(TITLE '...')``/``(FORMAT '...')``/``(NAMED x)`` column phrases;
Postgres view options ``WITH (security_barrier)``; MySQL ``INTO OUTFILE|DUMPFILE '...'``,
``INTO`` variables, ``SELECT SQL_CACHE``-style and ``DELETE LOW_PRIORITY QUICK IGNORE``
modifiers, ``DELETE t1.*`` and MariaDB's ``FOR PORTION OF`` / ``BEFORE SYSTEM_TIME``; Oracle ``RETURNING ... INTO`` and ``LOG ERRORS INTO ...``;
T-SQL index hints ``WITH (INDEX = ...)``, ``TOP (n) PERCENT`` and a trailing ``OPTION (...)``.

Oracle operators sqlglot does not know are rewritten to ones with the same operands
(:data:`REWRITTEN`). T-SQL gets two rewrites besides:

* ``SET v += 1`` (compound assignment) is read as ``SET v = v + 1``.
* ``OUTPUT inserted.id, deleted.v INTO dbo.audit (id, v)`` on INSERT/UPDATE/DELETE/MERGE:
  sqlglot takes only a bare name after INTO, and none on DELETE. The clause is blanked out
  and given back as a ``Returning`` node for the statement handlers
  (:func:`sqlweave.lineage.dml.output_into`).

:func:`repair` returns None when nothing applies; :mod:`.extract` then tries its other
rescues. The statement's text and span stay the original ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from .procedural import mask

_I = re.IGNORECASE | re.DOTALL
_COMPOUND = re.compile(r"(?P<target>[\w@#$.\[\]\"]+)\s*(?P<op>[-+*/%&|^])=(?!=)")
_OUTPUT = re.compile(
    r"\bOUTPUT\b(?P<list>.+?)\bINTO\s+(?P<name>[\w@#$.\[\]\"]+)\s*(?P<columns>\([^()]*\))?", _I
)
_TSQL = frozenset({"tsql", "fabric"})
_PARENS = r"\((?:[^()]|\([^()]*\))*\)"  # one pair of parentheses, one level nested inside
_ALL = None

#: dialects (sqlglot class names, lower case; None: every dialect) -> clauses to blank
BLANKED: tuple[tuple[frozenset[str] | None, re.Pattern[str]], ...] = (
    (_ALL, re.compile(r"\bWHERE\s+CURRENT\s+OF\s+[\w$#@]+", _I)),
    (
        frozenset({"hive", "spark", "spark2", "databricks"}),
        re.compile(r"(?<=\))\s*IF\s+NOT\s+EXISTS\b(?=\s*(?:SELECT|WITH|FROM|VALUES|\())", _I),
    ),
    (frozenset({"teradata"}), re.compile(r"\(\s*(?:TITLE|FORMAT|NAMED)\s+[^()]*\)", _I)),
    (
        frozenset({"postgres", "materialize", "risingwave"}),
        re.compile(rf"(?<=\bVIEW)(\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w$.\"]+)\s+WITH\s*{_PARENS}", _I),
    ),
    (
        frozenset({"mysql", "singlestore", "doris", "starrocks"}),
        re.compile(
            r"\bINTO\s+(?:OUTFILE|DUMPFILE)\s+'[^']*'(?:\s+(?:FIELDS|COLUMNS|LINES|TERMINATED|"
            r"ENCLOSED|ESCAPED|OPTIONALLY|STARTING|BY|CHARACTER\s+SET\s+\w+)|\s+'[^']*')*|"
            r"\bINTO\s+@[\w$]+(?:\s*,\s*@[\w$]+)*\s*$|"
            r"\bINTO\s+@?[\w$]+(?:\s*,\s*@?[\w$]+)+(?=\s+FROM\b)|"
            r"(?<=\bSELECT)\s+(?:(?:SQL_CACHE|SQL_NO_CACHE|SQL_CALC_FOUND_ROWS|HIGH_PRIORITY|"
            r"STRAIGHT_JOIN|SQL_SMALL_RESULT|SQL_BIG_RESULT|SQL_BUFFER_RESULT)\b\s*)+|"
            r"(?<=\bDELETE)\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE|HISTORY)\b\s*)+|"
            r"(?<=[\w`])\.\*(?=\s*(?:,|\bFROM\b|\bUSING\b))|"
            r"\bFOR\s+PORTION\s+OF\s+\w+\s+FROM\s+.+?\s+TO\s+(?:'[^']*'|\S+)|"
            r"\bBEFORE\s+SYSTEM_TIME\b.+$",
            _I,
        ),
    ),
    (
        frozenset({"oracle"}),
        re.compile(
            r"\bRETURNING\b.+?\b(?:BULK\s+COLLECT\s+)?INTO\b.+$|"
            rf"\bLOG\s+ERRORS\b(?:\s+INTO\s+[\w$.\"]+)?(?:\s*{_PARENS})?(?:\s+REJECT\s+LIMIT\s+"
            r"(?:\d+|UNLIMITED))?",
            _I,
        ),
    ),
    (
        _TSQL,
        re.compile(
            rf"\bWITH\s*\(\s*INDEX\b(?:[^()]|{_PARENS})*\)|(\b(?:INSERT|UPDATE))\s+TOP\s*{_PARENS}(?:\s+PERCENT\b)?|"
            rf"\bOPTION\s*{_PARENS}\s*$",
            _I,
        ),
    ),
)


@dataclass(frozen=True)
class Repaired:
    """A parseable text for a statement, and the ``OUTPUT ... INTO`` it had, if any."""

    text: str
    output: exp.Returning | None = None


#: dialects -> (operator pattern, same-length replacement with the same operands): Oracle's
#: ``a ** 2`` and ``a MOD b`` read as ``*`` and ``%``, ``MULTISET UNION`` as ``||``, and
#: SQL*Plus substitution variables ``&v`` / ``&&v`` as bind variables
REWRITTEN: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    (frozenset({"oracle"}), re.compile(r"\*\*"), "* "),
    (frozenset({"oracle"}), re.compile(r"(?<=\s)MOD(?=\s)", _I), "%  "),
    (
        frozenset({"oracle"}),
        re.compile(r"\bMULTISET\s+(?:UNION|EXCEPT|INTERSECT)(?:\s+(?:ALL|DISTINCT))?\b", _I),
        "||",
    ),
    (frozenset({"oracle"}), re.compile(r"&&?(?=[\w$])"), ":"),
)


def repair(text: str, dialect: Dialect) -> Repaired | None:
    """A parseable rewrite of ``text`` (one statement), or None when no repair applies.

    >>> tsql = Dialect.get_or_raise("tsql")
    >>> repair("UPDATE t SET v += 1 WHERE CURRENT OF c", tsql).text.rstrip()
    'UPDATE t SET v = v + 1'
    >>> repair("SELECT 1", tsql) is None
    True
    """
    name = type(dialect).__name__.lower()
    masked = mask(text)
    changed = False
    for dialects, pattern in BLANKED:
        if dialects is not None and name not in dialects:
            continue
        for m in reversed(list(pattern.finditer(masked))):
            # a pattern's first group, when it has one, is kept (it locates the clause)
            start = m.end(1) if pattern.groups and m.group(1) is not None else m.start()
            text, masked = _blank(text, start, m.end()), _blank(masked, start, m.end())
            changed = True
    for dialects, pattern, replacement in REWRITTEN:
        if name not in dialects:
            continue
        for m in reversed(list(pattern.finditer(masked))):
            same = replacement.ljust(m.end() - m.start())  # every position stays put
            text = text[: m.start()] + same + text[m.end() :]
            masked = masked[: m.start()] + same + masked[m.end() :]
            changed = True
    output = None
    compound: list[re.Match[str]] = []
    if name in _TSQL:
        found = _OUTPUT.search(masked)
        if found is not None:
            output = _returning(text, found, dialect)
            if output is not None:
                text = _blank(text, found.start(), found.end())
                masked = _blank(masked, found.start(), found.end())
        compound = [m for m in _COMPOUND.finditer(masked) if _in_set_clause(masked, m.start())]
        for m in reversed(compound):
            target = text[m.start("target") : m.end("target")]
            text = f"{text[: m.start()]}{target} = {target} {m['op']} {text[m.end() :].lstrip()}"
    if not changed and output is None and not compound:
        return None
    return Repaired(text, output)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _in_set_clause(masked: str, offset: int) -> bool:
    before = masked[:offset]
    return re.search(r"\bSET\b", before, _I) is not None


def _returning(text: str, found: re.Match[str], dialect: Dialect) -> exp.Returning | None:
    try:
        select = sqlglot.parse_one(
            f"SELECT {text[found.start('list') : found.end('list')]}", dialect=dialect
        )
        table = exp.to_table(found["name"], dialect=dialect)
    except Exception:
        return None
    if not isinstance(select, exp.Select):
        return None
    into: exp.Expression = table
    if found["columns"]:
        names = [c.strip() for c in found["columns"][1:-1].split(",") if c.strip()]
        into = exp.Schema(
            this=table, expressions=[exp.to_identifier(n.strip('[]"')) for n in names]
        )
    return exp.Returning(expressions=select.expressions, into=into)
