"""Walkers over one sqlglot query tree, for the column resolver (:mod:`.columns`).

:func:`scope_ready` makes a query fit sqlglot's scopes (CTE references spelled like their
CTE, unnamed derived tables named, row locks dropped); :func:`own_columns` and
:func:`own_subqueries` find what belongs to one scope; :func:`role_of` says how a column
influences the projection it is in; :func:`value_branches` and :func:`filter_branches` split
a set operation's branches.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from .model import TransformSubtype

_IDENTITY = TransformSubtype.IDENTITY
_TRANSFORMATION = TransformSubtype.TRANSFORMATION
_AGGREGATION = TransformSubtype.AGGREGATION
_RANK = {_IDENTITY: 0, _TRANSFORMATION: 1, _AGGREGATION: 2}

#: window functions that copy a value from another row rather than aggregate
_VALUE_PICKERS = (exp.Lag, exp.Lead, exp.FirstValue, exp.LastValue, exp.NthValue)


def stronger(a: TransformSubtype, b: TransformSubtype) -> TransformSubtype:
    """The DIRECT subtype of a chain of two steps: IDENTITY < TRANSFORMATION < AGGREGATION."""
    return a if _RANK[a] >= _RANK[b] else b


def scope_ready(query: exp.Expression) -> exp.Expression:
    """``query`` as sqlglot's scopes read it right (a copy when anything had to change).

    >>> import sqlglot
    >>> query = sqlglot.parse_one("SELECT x FROM (SELECT x FROM a) JOIN (SELECT y FROM b) ON x = y")
    >>> [s.alias for s in scope_ready(query).find_all(exp.Subquery)]
    ['_derived_0', '_derived_1']
    """
    return _derived_tables_named(_canonical_cte_references(_without_locks(query)))


def _without_locks(query: exp.Expression) -> exp.Expression:
    """``FOR SHARE OF t1, t2`` names tables sqlglot's scopes would count as FROM items."""
    if not any(s.args.get("locks") for s in query.find_all(exp.Select)):
        return query
    query = query.copy()
    for select in query.find_all(exp.Select):
        select.set("locks", None)
    return query


def _derived_tables_named(query: exp.Expression) -> exp.Expression:
    """``FROM (SELECT ...) JOIN (SELECT ...) USING (k)`` (no aliases: MySQL, Hive, ...):
    sqlglot's scopes need a distinct name per FROM item, so each gets one (in a copy)."""

    def unnamed(node: exp.Expression) -> bool:
        return (
            isinstance(node, exp.Subquery)
            and not node.alias
            and isinstance(node.parent, (exp.From, exp.Join))
        )

    if sum(1 for s in query.find_all(exp.Subquery) if unnamed(s)) < 2:
        return query
    query = query.copy()
    for index, subquery in enumerate(s for s in list(query.find_all(exp.Subquery)) if unnamed(s)):
        subquery.set("alias", exp.TableAlias(this=exp.to_identifier(f"_derived_{index}")))
    return query


def _canonical_cte_references(query: exp.Expression) -> exp.Expression:
    """CTE names compare case-insensitively (``WITH Foo AS ... FROM FOO``); sqlglot's scopes
    compare them as written, so references are spelled like their CTE (in a copy)."""
    ctes = {c.alias.lower(): c.alias for c in query.find_all(exp.CTE) if c.alias}
    if not ctes:
        return query

    def misspelled(table: exp.Table) -> bool:
        name = table.name
        return (
            not table.args.get("db")
            and isinstance(table.this, exp.Identifier)
            and name.lower() in ctes
            and name != ctes[name.lower()]
        )

    if not any(misspelled(t) for t in query.find_all(exp.Table)):
        return query
    query = query.copy()
    for table in list(query.find_all(exp.Table)):
        if misspelled(table):
            written = table.name
            table.set("this", exp.to_identifier(ctes[written.lower()]))
            if table.args.get("alias") is None:  # columns may still say FOO.x
                table.set("alias", exp.TableAlias(this=exp.to_identifier(written)))
    return query


def is_star(node: exp.Expression) -> bool:
    return isinstance(node, exp.Star) or (
        isinstance(node, exp.Column) and isinstance(node.this, exp.Star)
    )


def own_columns(node: exp.Expression) -> Iterator[exp.Column]:
    """Columns under ``node`` that belong to its scope (not to nested queries)."""
    if isinstance(node, exp.Column):
        if not isinstance(node.this, exp.Star):
            yield node
        return
    for child in node.iter_expressions():
        if isinstance(child, exp.Query):
            continue
        yield from own_columns(child)


def own_subqueries(node: exp.Expression) -> Iterator[exp.Query]:
    """Outermost queries nested under ``node``."""
    for child in node.iter_expressions():
        if isinstance(child, exp.Query):
            yield child.this if isinstance(child, exp.Subquery) else child
        else:
            yield from own_subqueries(child)


def role_of(node: exp.Expression, root: exp.Expression) -> TransformSubtype:
    """How ``node`` influences the value of ``root``: a DIRECT or an INDIRECT subtype."""
    if node is root or (isinstance(root, exp.Subquery) and node.parent is root):
        return _IDENTITY
    direct = _IDENTITY  # stays so while only parentheses wrap the node
    child, parent = node, node.parent
    while parent is not None and child is not root:
        if isinstance(parent, exp.Window) and child is not parent.this:
            return TransformSubtype.WINDOW
        if isinstance(parent, exp.If) and child is parent.this:
            return TransformSubtype.CONDITIONAL
        if isinstance(parent, exp.Case) and child is parent.this:
            return TransformSubtype.CONDITIONAL
        if isinstance(parent, exp.Filter) and child is parent.expression:
            return TransformSubtype.FILTER
        if isinstance(parent, exp.AggFunc) and not isinstance(parent, _VALUE_PICKERS):
            direct = _AGGREGATION
        elif not isinstance(parent, exp.Paren):
            direct = stronger(direct, _TRANSFORMATION)
        child, parent = parent, parent.parent
    return direct


def value_branches(scope: Scope) -> list[Scope]:
    """The branches of a set operation whose rows make its output: all of them for UNION and
    INTERSECT (an INTERSECT row's values are in both), the left one only for EXCEPT."""
    branches = list(scope.set_operation_scopes)
    return branches[:1] if isinstance(scope.expression, exp.Except) else branches


def filter_branches(scope: Scope) -> list[Scope]:
    """The right side of an EXCEPT: it only removes rows from the left one's."""
    branches = list(scope.set_operation_scopes)
    return branches[1:] if isinstance(scope.expression, exp.Except) else []
