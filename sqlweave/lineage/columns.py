"""End-to-end column lineage of one query, resolved over sqlglot scopes.

Every output column of a query gets a :class:`Flow`: the *base* columns it is computed from
(through CTEs, derived tables, subqueries and set operations) with an OpenLineage DIRECT
subtype, plus the columns that influence it INDIRECTLY. The right side of ``EXCEPT`` only
removes rows: its columns FILTER every output column (as a ``NOT EXISTS`` would). Clauses that shape every row (JOIN
conditions, WHERE/HAVING/QUALIFY, GROUP BY, ORDER BY) give query-wide indirect columns;
window PARTITION/ORDER and CASE conditions belong to the one output column they appear in.

Resolution never guesses: an unqualified column that several sources could own (no schema)
becomes one ``unresolved`` reference per candidate table; ``*`` without a schema stays a
``dataset.*`` reference.

A ``USING (k)`` column is a value of every joined side that has ``k``; a PIVOT/UNPIVOT
changes its input's columns as :mod:`.pivots` says. The tree walkers the resolver uses are in
:mod:`.query_tree`.

At about 650 lines this module is over the house's ~500 because it is one concept: the
:class:`ColumnResolver`, whose methods recurse into each other over one sqlglot scope tree
(outputs, expressions, clauses, sources).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from .model import ColumnRef, TransformSubtype
from .names import Catalog, Namer
from .pivots import NewColumn, PivotShape, pivot_of, shape
from .query_tree import (
    filter_branches,
    is_star,
    own_columns,
    own_subqueries,
    role_of,
    scope_ready,
    stronger,
    value_branches,
)

STAR = "*"

_IDENTITY = TransformSubtype.IDENTITY
_TRANSFORMATION = TransformSubtype.TRANSFORMATION
_AGGREGATION = TransformSubtype.AGGREGATION
_RANK = {_IDENTITY: 0, _TRANSFORMATION: 1, _AGGREGATION: 2}  # the DIRECT subtypes

#: query-wide clauses and the INDIRECT subtype their columns get
_CLAUSES = (
    ("where", TransformSubtype.FILTER),
    ("having", TransformSubtype.FILTER),
    ("qualify", TransformSubtype.FILTER),
    ("group", TransformSubtype.GROUP_BY),
    ("order", TransformSubtype.SORT),
)


Indirect = frozenset[tuple[ColumnRef, TransformSubtype]]


@dataclass
class Flow:
    """Where one output column comes from: DIRECT sources and per-column INDIRECT ones."""

    direct: dict[ColumnRef, TransformSubtype] = field(default_factory=dict)
    indirect: set[tuple[ColumnRef, TransformSubtype]] = field(default_factory=set)

    def add_direct(self, ref: ColumnRef, subtype: TransformSubtype) -> None:
        """Record ``ref`` as a direct source, keeping the strongest subtype seen."""
        known = self.direct.get(ref)
        self.direct[ref] = subtype if known is None else stronger(known, subtype)

    def merge(self, other: Flow, local: TransformSubtype = _IDENTITY) -> None:
        """Add ``other``'s sources, seen through a step of subtype ``local``."""
        for ref, subtype in other.direct.items():
            self.add_direct(ref, stronger(subtype, local))
        self.indirect |= other.indirect

    def as_indirect(self, subtype: TransformSubtype) -> set[tuple[ColumnRef, TransformSubtype]]:
        """Every source of this flow, used as an INDIRECT influence of ``subtype``."""
        found = {(ref, subtype) for ref in self.direct}
        found |= {(ref, subtype) for ref, _ in self.indirect}
        return found


@dataclass(frozen=True)
class QueryColumns:
    """Output columns of a query, in order, with their flows, plus query-wide influences."""

    outputs: tuple[tuple[str, Flow], ...]
    indirect: Indirect


_EMPTY = Flow()


class ColumnResolver:
    """Computes :class:`QueryColumns` for queries of one statement.

    Args:
        namer: identifier normalisation for the dialect.
        catalog: known columns per dataset.
        dataset_of: maps a ``Table`` node to its dataset name (None for table functions).
    """

    def __init__(
        self, namer: Namer, catalog: Catalog, dataset_of: Callable[[exp.Table], str | None]
    ) -> None:
        self._namer = namer
        self._catalog = catalog
        self._dataset_of_node = dataset_of
        self._datasets: dict[int, str | None] = {}
        self._unqualified: dict[tuple[int, str, bool], Flow | None] = {}
        self._outputs: dict[int, list[tuple[str, Flow]]] = {}
        self._indirect: dict[int, set[tuple[ColumnRef, TransformSubtype]]] = {}
        self._sources: dict[int, dict[str, exp.Table | Scope]] = {}
        self._children: dict[int, dict[int, Scope]] = {}
        self._pivots: dict[int, PivotShape | None] = {}
        self._pivot_nodes: dict[int, exp.Pivot] = {}
        self._using_cache: dict[int, set[str]] = {}

    def query(self, query: exp.Expression) -> QueryColumns | None:
        """Column lineage of ``query`` (a SELECT, set operation, ...), None if not a query."""
        while isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
            query = query.this  # ``CREATE TABLE x AS (SELECT ...)``: the parentheses only
        try:
            scope = build_scope(scope_ready(query))
        except Exception:
            return None
        if scope is None:
            return None
        outputs = self._scope_outputs(scope)
        return QueryColumns(tuple(outputs), frozenset(self._scope_indirect(scope)))

    # -- outputs --------------------------------------------------------------------------

    def _scope_outputs(self, scope: Scope) -> list[tuple[str, Flow]]:
        key = id(scope)
        if key in self._outputs:
            return self._outputs[key]
        self._outputs[key] = []  # cycle guard for recursive CTEs
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            outputs = self._set_outputs(scope)
        elif isinstance(expression, exp.Select):
            outputs = self._select_outputs(scope, expression)
        else:
            outputs = self._udtf_outputs(scope)
        outputs = self._renamed(scope, outputs)
        self._outputs[key] = outputs
        return outputs

    def _renamed(self, scope: Scope, outputs: list[tuple[str, Flow]]) -> list[tuple[str, Flow]]:
        """``WITH c (p, q) AS (...)`` and ``(...) AS d (p, q)`` rename outputs by position."""
        parent = scope.expression.parent
        if not isinstance(parent, (exp.CTE, exp.Subquery)) or scope.is_udtf:
            return outputs
        alias = parent.args.get("alias")
        columns = alias.columns if isinstance(alias, exp.TableAlias) else []
        if not columns or any(name == STAR for name, _ in outputs):
            return outputs
        names = [self._namer.identifier(c) for c in columns]
        return [
            (names[i] if i < len(names) else name, flow) for i, (name, flow) in enumerate(outputs)
        ]

    def _set_outputs(self, scope: Scope) -> list[tuple[str, Flow]]:
        branches = [self._scope_outputs(s) for s in value_branches(scope)]
        if not branches:
            return []
        first = branches[0]
        outputs = [(name, Flow()) for name, _ in first]
        for branch in branches:
            if len(branch) != len(first):
                return self._merge_by_star(branches)
            for (_, flow), (_, other) in zip(outputs, branch):
                flow.merge(other)
        return outputs

    def _merge_by_star(self, branches: list[list[tuple[str, Flow]]]) -> list[tuple[str, Flow]]:
        """Branches of different widths (``*`` without schema): one ``*`` output for all."""
        flow = Flow()
        for branch in branches:
            for _, other in branch:
                flow.merge(other)
        return [(STAR, flow)]

    def _select_outputs(self, scope: Scope, select: exp.Select) -> list[tuple[str, Flow]]:
        outputs: list[tuple[str, Flow]] = []
        for index, projection in enumerate(select.expressions):
            if is_star(projection):
                outputs.extend(self._star_outputs(scope, projection))
                continue
            name = self._output_name(projection, index)
            outputs.append((name, self._expression_flow(scope, projection, dict(outputs))))
        return outputs

    def _output_name(self, projection: exp.Expression, index: int) -> str:
        if isinstance(projection, exp.Alias):
            return self._namer.identifier(projection.args.get("alias"))
        if isinstance(projection, exp.Column):
            return self._namer.column(projection)
        if isinstance(projection, exp.Dot) and projection.name:
            return self._namer.ident(projection.name)
        if isinstance(projection, exp.Cast) and isinstance(projection.this, exp.Column):
            return self._namer.column(projection.this)  # ``amount::int`` is still ``amount``
        return f"_col_{index}"

    def _star_outputs(self, scope: Scope, star: exp.Expression) -> list[tuple[str, Flow]]:
        sources = self._scope_sources(scope)
        if isinstance(star, exp.Column) and star.table:
            chosen = [sources.get(star.table.lower()) or self._by_table_name(scope, star)]
        else:
            chosen = [sources.get(name.lower()) for name in _selected_sources(scope)]
        outputs: list[tuple[str, Flow]] = []
        for source in chosen:
            if source is not None:
                outputs.extend(self._source_star(source))
        return self._star_modified(
            scope, star.this if isinstance(star, exp.Column) else star, outputs
        )

    def _star_modified(
        self, scope: Scope, star: exp.Expression, outputs: list[tuple[str, Flow]]
    ) -> list[tuple[str, Flow]]:
        """``* EXCLUDE (a)`` / ``* EXCEPT (a)`` drop columns, ``* REPLACE (a + 1 AS a)``
        computes one in its place, ``* RENAME (a AS b)`` renames it (DuckDB, Snowflake,
        BigQuery, DataFusion). Without a schema (one ``*`` output) nothing can be told apart."""
        if not isinstance(star, exp.Star) or any(name == STAR for name, _ in outputs):
            return outputs
        dropped = {self._star_name(c) for c in star.args.get("except_") or ()}
        replaced = {
            self._star_name(a.args.get("alias")): self._expression_flow(scope, a)
            for a in star.args.get("replace") or ()
            if isinstance(a, exp.Alias)
        }
        renamed = {
            self._star_name(a.this): self._star_name(a.args.get("alias"))
            for a in star.args.get("rename") or ()
            if isinstance(a, exp.Alias)
        }
        return [
            (renamed.get(name, name), replaced.get(name, flow))
            for name, flow in outputs
            if name not in dropped
        ]

    def _star_name(self, node: exp.Expression | None) -> str:
        """The column a star modifier names (``year``, ``f.year``, ``"Year"``)."""
        if isinstance(node, exp.Column):
            return self._namer.column(node)
        return self._namer.identifier(node) if isinstance(node, exp.Identifier) else ""

    def _source_star(self, source: exp.Table | Scope) -> list[tuple[str, Flow]]:
        """Every column of one FROM item, in order (through its PIVOT/UNPIVOT, if any)."""
        if isinstance(source, Scope):
            outputs = list(self._scope_outputs(source))
        else:
            dataset = self._dataset_of(source)
            if dataset is None:
                return []
            columns = self._catalog.columns(dataset) or (STAR,)
            outputs = [(c, Flow({ColumnRef(dataset, c): _IDENTITY})) for c in columns]
        pivot = self._pivot_shape(source)
        if pivot is None:
            return outputs
        kept = [(name, flow) for name, flow in outputs if name not in pivot.consumed]
        pivoted = kept + [(c.name, self._made(source, c)) for c in pivot.made]
        if pivot.renamed and STAR not in (name for name, _ in kept):
            names = pivot.renamed  # ``PIVOT (...) AS p (id, jan, feb)``: by position
            pivoted = [(names[i] if i < len(names) else n, f) for i, (n, f) in enumerate(pivoted)]
        return pivoted

    def _udtf_outputs(self, scope: Scope) -> list[tuple[str, Flow]]:
        """UNNEST / LATERAL / table functions: every output depends on every input column."""
        expression = scope.expression
        inner = [s for s in scope.subquery_scopes + scope.derived_table_scopes]
        alias = expression.args.get("alias")
        if len(inner) == 1 and not (isinstance(alias, exp.TableAlias) and alias.columns):
            return self._scope_outputs(inner[0])
        flow = Flow()
        if inner:
            for child in inner:
                for _, child_flow in self._scope_outputs(child):
                    flow.merge(child_flow, _TRANSFORMATION)
        else:
            parent = scope.parent or scope
            for column in own_columns(expression):
                flow.merge(self._resolve(parent, column), _TRANSFORMATION)
        names = []
        if isinstance(alias, exp.TableAlias):
            names = [self._namer.identifier(c) for c in alias.columns]
            if not names and isinstance(expression, exp.Unnest) and alias.name:
                names = [self._namer.identifier(alias.this)]
        if not names:
            names = ["value"]
        return [(name, flow) for name in names]

    # -- flows of expressions -------------------------------------------------------------

    def _expression_flow(
        self, scope: Scope, projection: exp.Expression, earlier: dict[str, Flow] | None = None
    ) -> Flow:
        """Flow of one projection; ``earlier`` projections may be referenced by alias
        (``SELECT a * b AS total, total * 0.2 AS tax``) unless a source owns the name."""
        node = projection.this if isinstance(projection, exp.Alias) else projection
        flow = Flow()
        children = self._child_scopes(scope)
        for column in own_columns(node):
            role = role_of(column, node)
            resolved = self._lateral_alias(scope, column, earlier) or self._resolve(scope, column)
            if role in _RANK:
                flow.merge(resolved, role)
            else:
                flow.indirect |= resolved.as_indirect(role)
        for window in self._named_windows(scope, node):
            for column in own_columns(window):
                flow.indirect |= self._resolve(scope, column).as_indirect(TransformSubtype.WINDOW)
        for query in own_subqueries(node):
            child = children.get(id(query))
            if child is None:
                continue
            role = role_of(query, node)
            child_flow = Flow()
            for _, output in self._scope_outputs(child):
                child_flow.merge(output)
            child_flow.indirect |= self._scope_indirect(child)
            if role in _RANK:
                flow.merge(child_flow, role)
            else:
                flow.indirect |= child_flow.as_indirect(role)
        return flow

    def _named_windows(self, scope: Scope, node: exp.Expression) -> list[exp.Expression]:
        """``OVER w`` ... ``WINDOW w AS (PARTITION BY k ORDER BY ts)``: the definitions used."""
        named = (
            scope.expression.args.get("windows")
            if isinstance(scope.expression, exp.Select)
            else None
        )
        if not named:
            return []
        used = {w.alias.lower() for w in node.find_all(exp.Window) if w.alias}
        return [w for w in named if w.name.lower() in used]

    def _lateral_alias(
        self, scope: Scope, column: exp.Column, earlier: dict[str, Flow] | None
    ) -> Flow | None:
        if not earlier or column.table:
            return None
        name = self._namer.column(column)
        flow = earlier.get(name)
        if flow is None or any(ref.column == name for ref in flow.direct):
            return None  # ``x * 2 AS x, x + 1``: the source has an ``x`` of its own
        known = [self._knows(s, name) for s in self._selected(scope)]
        if any(k is True for k in known):
            return None
        if not self._namer.alias_refs and not (known and all(k is False for k in known)):
            # where the dialect has no lateral column aliases, only a name the schema says
            # no source has can mean the earlier projection
            return None
        return flow

    def _clause_indirect(
        self, scope: Scope, node: exp.Expression, subtype: TransformSubtype
    ) -> set[tuple[ColumnRef, TransformSubtype]]:
        found: set[tuple[ColumnRef, TransformSubtype]] = set()
        for column in own_columns(node):
            found |= self._resolve(scope, column, allow_alias=True).as_indirect(subtype)
        if subtype in (TransformSubtype.GROUP_BY, TransformSubtype.SORT):
            found |= self._positional(scope, node, subtype)
        children = self._child_scopes(scope)
        for query in own_subqueries(node):
            child = children.get(id(query))
            if child is None:
                continue
            for _, output in self._scope_outputs(child):
                found |= output.as_indirect(subtype)
            found |= {(ref, subtype) for ref, _ in self._scope_indirect(child)}
        return found

    def _positional(
        self, scope: Scope, node: exp.Expression, subtype: TransformSubtype
    ) -> set[tuple[ColumnRef, TransformSubtype]]:
        """``GROUP BY 1`` / ``ORDER BY 2``: the influence of that output column."""
        items = node.expressions if isinstance(node, exp.Group) else []
        if isinstance(node, exp.Order):
            items = [o.this for o in node.expressions]
        found: set[tuple[ColumnRef, TransformSubtype]] = set()
        outputs = None
        for item in items:
            if isinstance(item, exp.Literal) and item.is_int:
                outputs = outputs or self._scope_outputs(scope)
                position = int(item.this) - 1
                if 0 <= position < len(outputs):
                    found |= outputs[position][1].as_indirect(subtype)
        return found

    def _scope_indirect(self, scope: Scope) -> set[tuple[ColumnRef, TransformSubtype]]:
        key = id(scope)
        if key in self._indirect:
            return self._indirect[key]
        self._indirect[key] = set()  # cycle guard
        found: set[tuple[ColumnRef, TransformSubtype]] = set()
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            for branch in value_branches(scope):
                found |= self._scope_indirect(branch)
            for branch in filter_branches(scope):
                found |= self._removed_rows(branch)
        for join in expression.args.get("joins") or ():
            if join.args.get("on"):
                found |= self._clause_indirect(scope, join.args["on"], TransformSubtype.JOIN)
            for name in join.args.get("using") or ():
                found |= self._using(scope, name)
        for arg, subtype in _CLAUSES:
            clause = expression.args.get(arg)
            if clause is not None:
                found |= self._clause_indirect(scope, clause, subtype)
        group = expression.args.get("group")
        if isinstance(group, exp.Group) and group.args.get("all"):
            found |= self._group_by_all(scope, expression)
        for source in self._selected(scope):
            if isinstance(source, Scope) and source is not scope:
                found |= self._scope_indirect(source)
        if scope.is_udtf:
            for child in scope.subquery_scopes + scope.derived_table_scopes:
                found |= self._scope_indirect(child)
        self._indirect[key] = found
        return found

    def _removed_rows(self, branch: Scope) -> set[tuple[ColumnRef, TransformSubtype]]:
        """The right side of ``EXCEPT``: every column it reads decides which rows are removed,
        so it FILTERs every output column and supplies none of their values."""
        found = {(ref, TransformSubtype.FILTER) for ref, _ in self._scope_indirect(branch)}
        for _, flow in self._scope_outputs(branch):
            found |= flow.as_indirect(TransformSubtype.FILTER)
        return found

    def _group_by_all(
        self, scope: Scope, select: exp.Expression
    ) -> set[tuple[ColumnRef, TransformSubtype]]:
        """``GROUP BY ALL`` groups by every projection that is not an aggregate."""
        found: set[tuple[ColumnRef, TransformSubtype]] = set()
        for projection in select.expressions:
            if not is_star(projection) and projection.find(exp.AggFunc) is None:
                flow = self._expression_flow(scope, projection)
                found |= flow.as_indirect(TransformSubtype.GROUP_BY)
        return found

    def _using(self, scope: Scope, name: exp.Expression) -> set[tuple[ColumnRef, TransformSubtype]]:
        """``JOIN ... USING (c)``: column ``c`` of every joined source that may have it."""
        column = self._namer.identifier(name)
        found: set[tuple[ColumnRef, TransformSubtype]] = set()
        for source in self._selected(scope):
            if self._knows(source, column) is not False:
                found |= self._from_source(source, column).as_indirect(TransformSubtype.JOIN)
        return found

    # -- resolving one column -------------------------------------------------------------

    def _resolve(self, scope: Scope, column: exp.Column, allow_alias: bool = False) -> Flow:
        name = self._namer.column(column)
        table = column.table
        current: Scope | None = scope
        if table:
            while current is not None:
                source = self._scope_sources(current).get(table.lower())
                if source is not None:
                    return self._from_source(source, name)
                current = current.parent
            named = self._by_table_name(scope, column)
            if named is not None:
                return self._from_source(named, name)
            return self._struct_field(scope, column, allow_alias)
        while current is not None:
            flow = self._resolve_unqualified(current, name, allow_alias)
            if flow is not None:
                return flow
            current = current.parent
        return self._unknown(scope, name)

    def _unknown(self, scope: Scope, name: str) -> Flow:
        """A column no source is known to have (the schema disagrees): flag, don't drop."""
        flow = Flow()
        for key in _selected_sources(scope):
            source = self._scope_sources(scope).get(key.lower())
            if isinstance(source, exp.Table) and (dataset := self._dataset_of(source)):
                flow.add_direct(ColumnRef(dataset, name, unresolved=True), _IDENTITY)
        return flow

    def _by_table_name(self, scope: Scope, column: exp.Column) -> exp.Table | None:
        """``SELECT db.t.x ... FROM db.t AS t1``: a qualifier naming an aliased table."""
        parts = [p for p in (column.args.get("catalog"), column.args.get("db")) if p]
        qualifier = ".".join(self._namer.identifier(p) for p in [*parts, column.args["table"]])
        current: Scope | None = scope
        while current is not None:
            for source in self._selected(current):
                dataset = self._dataset_of(source) if isinstance(source, exp.Table) else None
                if dataset and (dataset == qualifier or dataset.endswith("." + qualifier)):
                    return source
            current = current.parent
        return None

    def _struct_field(self, scope: Scope, column: exp.Column, allow_alias: bool) -> Flow:
        """``t.info.city`` / ``info.city``: a field of struct column ``info``."""
        struct = column.table
        holder = column.args.get("db")
        qualified = exp.column(struct, holder.name if holder else None)
        flow = Flow()
        flow.merge(self._resolve(scope, qualified, allow_alias) if holder else _EMPTY)
        if not flow.direct:
            current: Scope | None = scope
            while current is not None and not flow.direct:
                found = self._resolve_unqualified(current, self._namer.ident(struct), False)
                if found is not None:
                    flow.merge(found)
                current = current.parent
        if not flow.direct:
            unknown = ColumnRef(self._namer.ident(struct), self._namer.column(column), True)
            return Flow({unknown: _IDENTITY})
        result = Flow()
        result.merge(flow, _TRANSFORMATION)
        return result

    def _resolve_unqualified(self, scope: Scope, name: str, allow_alias: bool) -> Flow | None:
        key = (id(scope), name, allow_alias)
        if key not in self._unqualified:
            self._unqualified[key] = None  # cycle guard
            self._unqualified[key] = self._find_unqualified(scope, name, allow_alias)
        return self._unqualified[key]

    def _find_unqualified(self, scope: Scope, name: str, allow_alias: bool) -> Flow | None:
        sources = self._selected(scope)
        if allow_alias and isinstance(scope.expression, exp.Select):
            owners = [s for s in sources if self._knows(s, name) is True]
            if not owners:
                for index, projection in enumerate(scope.expression.expressions):
                    if (
                        isinstance(projection, exp.Alias)
                        and self._output_name(projection, index) == name
                    ):
                        return self._expression_flow(scope, projection)
        if not sources:
            return None
        if len(sources) == 1:
            return self._from_source(sources[0], name)
        if name in self._using_names(scope):
            # ``a JOIN b USING (k)``: k is COALESCE(a.k, b.k), a value of both sides
            flow = Flow()
            for source in sources:
                if self._knows(source, name) is not False:
                    flow.merge(self._from_source(source, name))
            return flow
        known = [self._knows(s, name) for s in sources]
        owners = [s for s, k in zip(sources, known) if k is True]
        if owners:
            return self._from_source(owners[0], name)
        candidates = [s for s, k in zip(sources, known) if k is None]
        if not candidates:
            return None
        if len(candidates) == 1:
            return self._from_source(candidates[0], name)
        flow = Flow()
        for source in candidates:
            for ref, subtype in self._from_source(source, name).direct.items():
                flow.add_direct(ColumnRef(ref.dataset, ref.column, unresolved=True), subtype)
        return flow

    def _using_names(self, scope: Scope) -> set[str]:
        """Columns named in ``JOIN ... USING (...)`` clauses of ``scope``."""
        key = id(scope)
        found = self._using_cache.get(key)
        if found is None:
            found = {
                self._namer.identifier(name)
                for join in scope.expression.args.get("joins") or ()
                for name in join.args.get("using") or ()
            }
            self._using_cache[key] = found
        return found

    def _knows(self, source: exp.Table | Scope, name: str) -> bool | None:
        """Whether ``source`` has column ``name``: True, False, or None when unknown."""
        pivot = self._pivot_shape(source)
        if pivot is not None:
            if pivot.renamed:
                return name in pivot.renamed
            if pivot.made_column(name) is not None:
                return True
            if name in pivot.consumed:
                return False
        if isinstance(source, Scope):
            names = [n for n, _ in self._scope_outputs(source)]
            if name in names:
                return True
            return None if STAR in names else False
        dataset = self._dataset_of(source)
        columns = self._catalog.columns(dataset) if dataset else None
        if columns is None:
            return None
        return name in columns

    def _from_source(self, source: exp.Table | Scope, name: str) -> Flow:
        pivot = self._pivot_shape(source)
        if pivot is None:
            return self._unpivoted(source, name)
        if pivot.renamed:
            outputs = self._source_star(source)
            return next((flow for output, flow in outputs if output == name), _EMPTY)
        made = pivot.made_column(name)
        if made is not None:
            return self._made(source, made)
        return _EMPTY if name in pivot.consumed else self._unpivoted(source, name)

    def _made(self, source: exp.Table | Scope, made: NewColumn) -> Flow:
        """Flow of a column a PIVOT/UNPIVOT makes from its input's columns."""
        flow = Flow()
        for column in made.direct:
            flow.merge(self._unpivoted(source, column), made.subtype)
        for column in made.filters:
            flow.indirect |= self._unpivoted(source, column).as_indirect(TransformSubtype.FILTER)
        return flow

    def _unpivoted(self, source: exp.Table | Scope, name: str) -> Flow:
        """Column ``name`` of a FROM item before any PIVOT applies."""
        if not isinstance(source, Scope):
            dataset = self._dataset_of(source)
            if dataset is None:
                return _EMPTY
            return Flow({ColumnRef(dataset, name): _IDENTITY})
        outputs = self._scope_outputs(source)
        for output, flow in outputs:
            if output == name:
                return flow
        stars = [flow for output, flow in outputs if output == STAR]
        result = Flow()
        if not stars and source.is_udtf and len(outputs) == 1:
            # ``UNNEST(e.items) AS item`` ... ``item.sku``: a field of the one element value
            result.merge(outputs[0][1], _TRANSFORMATION)
            return result
        for flow in stars:
            for ref, subtype in flow.direct.items():
                column = name if ref.column == STAR else ref.column
                unresolved = ref.unresolved or len(stars) > 1
                result.add_direct(ColumnRef(ref.dataset, column, unresolved), subtype)
            result.indirect |= flow.indirect
        return result

    # -- scope bookkeeping ----------------------------------------------------------------

    def _dataset_of(self, table: exp.Table) -> str | None:
        key = id(table)
        if key not in self._datasets:
            self._datasets[key] = self._dataset_of_node(table)
        return self._datasets[key]

    def _scope_sources(self, scope: Scope) -> dict[str, exp.Table | Scope]:
        key = id(scope)
        found = self._sources.get(key)
        if found is None:
            found = {name.lower(): source for name, source in scope.sources.items()}
            for node, source in _selected_sources(scope).values():
                pivot = pivot_of(node)  # the FROM item: a table, derived table or CTE name
                if pivot is not None:
                    self._pivot_nodes[id(source)] = pivot
                    if pivot.alias:  # ``... PIVOT (...) AS p``: p.x
                        found.setdefault(pivot.alias.lower(), source)
            self._sources[key] = found
        return found

    def _pivot_shape(self, source: exp.Table | Scope) -> PivotShape | None:
        key = id(source)
        if key not in self._pivots:
            pivot = self._pivot_nodes.get(key)
            self._pivots[key] = shape(pivot, self._namer) if pivot is not None else None
        return self._pivots[key]

    def _selected(self, scope: Scope) -> list[exp.Table | Scope]:
        """The sources in the FROM/JOIN clauses of ``scope``, in order (no unused CTEs)."""
        sources = self._scope_sources(scope)
        return [
            s for key in _selected_sources(scope) if (s := sources.get(key.lower())) is not None
        ]

    def _child_scopes(self, scope: Scope) -> dict[int, Scope]:
        key = id(scope)
        found = self._children.get(key)
        if found is None:
            found = {id(child.expression): child for child in scope.subquery_scopes}
            self._children[key] = found
        return found


def _selected_sources(scope: Scope) -> dict[str, tuple[exp.Expression, exp.Table | Scope]]:
    """``scope.selected_sources``, or none when sqlglot rejects the FROM clause (one alias
    used twice, as ``FOR SHARE OF t`` makes it look): the sources then stay unknown."""
    try:
        return scope.selected_sources
    except Exception:
        return {}
