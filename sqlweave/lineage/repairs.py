"""T-SQL that sqlglot's parser rejects although its lineage is plain: repaired, then parsed.

* ``SET v += 1`` (compound assignment) is read as ``SET v = v + 1``.
* Hive/Spark ``INSERT OVERWRITE TABLE t PARTITION (...) IF NOT EXISTS SELECT ...``: the
  ``IF NOT EXISTS`` only skips the write when the partition exists; it is dropped.
* Teradata's column attribute phrases ``name (TITLE 'Name')``, ``(FORMAT '...')``,
  ``(NAMED x)`` are dropped (they label or format a column, they don't change its lineage).
* ``OUTPUT inserted.id, deleted.v INTO dbo.audit (id, v)`` on INSERT/UPDATE/DELETE/MERGE:
  sqlglot takes only a bare name after INTO, and none on DELETE. The clause is blanked out
  of the text (positions stay put), and given back as a ``Returning`` node for the statement
  handlers (:func:`sqlweave.lineage.dml.output_into`).

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

_I = re.IGNORECASE
_COMPOUND = re.compile(r"(?P<target>[\w@#$.\[\]\"]+)\s*(?P<op>[-+*/%&|^])=(?!=)")
_OUTPUT = re.compile(
    r"\bOUTPUT\b(?P<list>.+?)\bINTO\s+(?P<name>[\w@#$.\[\]\"]+)\s*(?P<columns>\([^()]*\))?",
    _I | re.DOTALL,
)
_TSQL = frozenset({"tsql", "fabric"})
_HIVE = frozenset({"hive", "spark", "spark2", "databricks"})
_PARTITION_IF_NOT_EXISTS = re.compile(r"(?<=\))\s*IF\s+NOT\s+EXISTS\b", _I)
_ATTRIBUTE = re.compile(r"\(\s*(?:TITLE|FORMAT|NAMED)\s+[^()]*\)", _I)


@dataclass(frozen=True)
class Repaired:
    """A parseable text for a statement, and the ``OUTPUT ... INTO`` it had, if any."""

    text: str
    output: exp.Returning | None = None


def repair(text: str, dialect: Dialect) -> Repaired | None:
    """A parseable rewrite of ``text`` (one statement), or None when no repair applies."""
    name = type(dialect).__name__.lower()
    if name == "teradata":
        return _teradata(text)
    if name in _HIVE:
        return _hive(text)
    if name not in _TSQL:
        return None
    masked = mask(text)
    output = None
    found = _OUTPUT.search(masked)
    if found is not None:
        output = _returning(text, found, dialect)
        if output is not None:
            blank = " " * (found.end() - found.start())
            text = text[: found.start()] + blank + text[found.end() :]
            masked = masked[: found.start()] + blank + masked[found.end() :]
    compound = [m for m in _COMPOUND.finditer(masked) if _in_set_clause(masked, m.start())]
    for m in reversed(compound):
        target = text[m.start("target") : m.end("target")]
        text = f"{text[: m.start()]}{target} = {target} {m['op']} {text[m.end() :]}"
    if output is None and not compound:
        return None
    return Repaired(text, output)


def _hive(text: str) -> Repaired | None:
    masked = mask(text)
    if not re.match(r"\s*INSERT\s+OVERWRITE\b", masked, _I):
        return None
    found = _PARTITION_IF_NOT_EXISTS.search(masked)
    if found is None:
        return None
    blank = " " * (found.end() - found.start())
    return Repaired(text[: found.start()] + blank + text[found.end() :])


def _teradata(text: str) -> Repaired | None:
    phrases = list(_ATTRIBUTE.finditer(mask(text)))
    for m in reversed(phrases):
        text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return Repaired(text) if phrases else None


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
