"""The columns a ``PIVOT`` or ``UNPIVOT`` makes of its input (T-SQL, Snowflake, Oracle, ...).

``src PIVOT (SUM(amount) FOR quarter IN ('Q1', 'Q2'))`` keeps the input's other columns and
replaces ``amount`` and ``quarter`` by one column per IN value, each an aggregate of
``amount`` over the rows whose ``quarter`` matches (``quarter`` FILTERs it).

``src UNPIVOT (v FOR q IN (q1, q2))`` keeps the other columns and replaces ``q1`` and
``q2`` by ``v`` (their values, one row each) and ``q`` (their names: no column's value).

:func:`shape` reads the pivot node only; the column resolver applies the shape to whatever
it knows of the input's columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from .model import TransformSubtype
from .names import Namer


@dataclass(frozen=True)
class NewColumn:
    """An output column the pivot makes, from ``direct`` input columns by ``subtype``;
    ``filters`` are input columns choosing which rows feed it."""

    name: str
    direct: tuple[str, ...]
    subtype: TransformSubtype
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class PivotShape:
    """Input columns the pivot consumes and the columns it makes instead."""

    consumed: frozenset[str]
    made: tuple[NewColumn, ...]
    #: ``PIVOT (...) AS p (a, b, c)``: every output column renamed by position
    renamed: tuple[str, ...] = ()

    def made_column(self, name: str) -> NewColumn | None:
        """The made column called ``name``, if any."""
        return next((c for c in self.made if c.name == name), None)


def pivot_of(node: exp.Expression | None) -> exp.Pivot | None:
    """The (first) PIVOT/UNPIVOT applied to a FROM item (a table or a derived table)."""
    pivots = node.args.get("pivots") if node is not None else None
    return pivots[0] if pivots else None


def shape(pivot: exp.Pivot, namer: Namer) -> PivotShape:
    """What ``pivot`` does to its input's columns.

    >>> import sqlglot
    >>> from sqlglot.dialects.dialect import Dialect
    >>> sql = "SELECT * FROM t PIVOT (SUM(v) FOR k IN ('a', 'b'))"
    >>> pivot = sqlglot.parse_one(sql, read="spark").find(exp.Pivot)
    >>> found = shape(pivot, Namer(Dialect.get_or_raise("spark")))
    >>> sorted(found.consumed), [c.name for c in found.made]
    (['k', 'v'], ['a', 'b'])
    """
    fields = [f for f in pivot.args.get("fields") or () if isinstance(f, exp.In)]
    alias = pivot.args.get("alias")
    renamed = tuple(namer.identifier(c) for c in alias.columns) if alias else ()
    found = (
        _unpivot(pivot, fields, namer)
        if pivot.args.get("unpivot")
        else _pivot(pivot, fields, namer)
    )
    return PivotShape(found.consumed, found.made, renamed)


def _pivot(pivot: exp.Pivot, fields: list[exp.In], namer: Namer) -> PivotShape:
    inputs: list[str] = []
    for aggregate in pivot.expressions:
        inputs += [namer.column(c) for c in aggregate.find_all(exp.Column)]
    keys = [_name(f.this, namer) for f in fields]
    names = [_unquoted(namer.identifier(c)) for c in pivot.args.get("columns") or ()]
    if not names:
        names = [_value_name(v, namer) for f in fields for v in f.expressions]
    made = tuple(
        NewColumn(n, tuple(inputs), TransformSubtype.AGGREGATION, tuple(keys)) for n in names
    )
    return PivotShape(frozenset(inputs) | frozenset(keys), made)


def _unpivot(pivot: exp.Pivot, fields: list[exp.In], namer: Namer) -> PivotShape:
    values = [_name(v, namer) for v in pivot.expressions]
    consumed: list[str] = []
    made: list[NewColumn] = []
    for field in fields:
        sources = []
        for item in field.expressions:
            item = item.this if isinstance(item, exp.PivotAlias | exp.Alias) else item
            sources += [namer.column(c) for c in _columns(item, namer)]
        consumed += sources
        made.append(NewColumn(_name(field.this, namer), (), TransformSubtype.IDENTITY))
    made = [NewColumn(v, tuple(consumed), TransformSubtype.IDENTITY) for v in values] + made
    return PivotShape(frozenset(consumed), tuple(made))


def _columns(node: exp.Expression, namer: Namer) -> list[exp.Column]:
    if isinstance(node, exp.Column):
        return [node]
    if isinstance(node, exp.Identifier):
        return [exp.column(node.copy())]
    return list(node.find_all(exp.Column))


def _name(node: exp.Expression, namer: Namer) -> str:
    if isinstance(node, exp.Column):
        return namer.column(node)
    return namer.identifier(node)


def _value_name(value: exp.Expression, namer: Namer) -> str:
    if isinstance(value, exp.PivotAlias | exp.Alias):
        return namer.identifier(value.args.get("alias"))
    if isinstance(value, exp.Literal):
        return value.name
    return _name(value, namer)


def _unquoted(name: str) -> str:
    """sqlglot names a column made from a string value ``'JAN'`` with its quotes."""
    if len(name) > 1 and name[0] == name[-1] == "'":
        return name[1:-1]
    return name
