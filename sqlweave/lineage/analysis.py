"""Shared machinery of statement analysis: facts, naming, CTE visibility, column edges.

Conventions (as in sqllineage and OpenLineage):

* CTE names and derived-table aliases are never datasets; tables only written are not reads.
* INSERT/UPDATE/DELETE/MERGE targets are writes only (a target that is also read in a
  FROM clause or subquery is a read as well). A target whose own rows the statement reads
  in place (MERGE's ON, an UPDATE's SET or WHERE, a DELETE's WHERE on its columns) is
  among the ``rewrites``: every column edge's source dataset is in ``reads | rewrites``.
* A query with no write target flows into the dataset :data:`RESULT` (``"<result>"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from .columns import STAR, ColumnResolver, Flow, QueryColumns
from .model import ColumnEdge, ColumnRef, StatementKind, TransformType
from .names import Catalog, Namer, spark_path

#: dataset name for the rows a plain SELECT returns
RESULT = "<result>"


@dataclass
class Facts:
    """What a handler found out about a statement (mutable while it is being built)."""

    kind: StatementKind
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    #: written targets whose own rows are read in place (see StatementLineage.rewrites)
    rewrites: set[str] = field(default_factory=set)
    edges: set[ColumnEdge] = field(default_factory=set)
    drops: set[str] = field(default_factory=set)
    renames: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class StatementAnalyzer:
    """Analyses parsed statements of one dialect against one catalog.

    Args:
        namer: identifier normalisation for the dialect.
        catalog: known columns per dataset (may be empty).
    """

    def __init__(self, namer: Namer, catalog: Catalog, dialect: Dialect | None = None) -> None:
        self.namer = namer
        self.catalog = catalog
        self.dialect = dialect

    def parse(self, sql: str) -> exp.Expression | None:
        """Parse SQL embedded in a statement (``UNLOAD ('...')``); None when it does not parse."""
        try:
            return sqlglot.parse_one(sql, dialect=self.dialect)
        except Exception:
            return None

    # -- names ----------------------------------------------------------------------------

    def dataset(self, table: exp.Expression | None) -> str | None:
        """Dataset name of a table-like node (Table, Schema, Directory, path literal)."""
        if isinstance(table, exp.Schema):
            table = table.this
        if isinstance(table, exp.Directory):
            table = table.this
        if isinstance(table, exp.Literal):
            return table.name
        if isinstance(table, exp.Table):
            if isinstance(table.this, exp.Var) and table.this.name.startswith("@"):
                return table.this.name  # a Snowflake stage: @stage/path
            return spark_path(table) or self.namer.dataset(table)
        return None

    def reads_of(self, node: exp.Expression, skip: Iterable[exp.Expression] = ()) -> set[str]:
        """Datasets read anywhere under ``node``, except CTE references and ``skip`` nodes."""
        skipped = {id(s) for s in skip}
        found: set[str] = set()
        for table in node.find_all(exp.Table):
            if id(table) in skipped or is_cte_reference(table):
                continue
            if isinstance(table.parent, exp.Lock):  # FOR UPDATE OF q: an alias, not a read
                continue
            name = self.dataset(table)
            if name:
                found.add(name)
        return found

    def resolver(self) -> ColumnResolver:
        """A fresh column resolver for one statement."""
        return ColumnResolver(self.namer, self.catalog, self._column_source)

    def _column_source(self, table: exp.Table) -> str | None:
        """Dataset behind a FROM item; None for CTE self-references sqlglot leaves as tables."""
        return None if is_cte_reference(table) else self.dataset(table)

    # -- column edges ---------------------------------------------------------------------

    def query_edges(
        self,
        query: exp.Expression | None,
        target: str,
        columns: list[str] | None = None,
        *,
        existing_target: bool = False,
        define: bool = False,
    ) -> set[ColumnEdge]:
        """End-to-end edges from ``query``'s base columns to ``target``.

        Args:
            query: the query feeding ``target``.
            target: written dataset.
            columns: explicit target columns matched by position (INSERT column list,
                view column list); otherwise output names.
            existing_target: the target exists already (INSERT), so without ``columns``
                its catalog columns, when known, are matched by position. A CTAS or view
                defines its columns and never uses the catalog's (possibly stale) ones.
            define: the statement creates ``target``: later statements of the script see
                its columns (script-level schema tracking).
        """
        if query is None:
            return set()
        lineage = self.resolver().query(query)
        if lineage is None:
            return set()
        if columns is None and existing_target:
            known = self.catalog.columns(target)
            if known and len(known) == len(lineage.outputs):
                columns = list(known)
        if define:
            names = columns or [name for name, _ in lineage.outputs]
            if STAR not in names and len(set(names)) == len(names):
                self.catalog.define(target, names)
        return edges_for(lineage, target, columns)


def edges_for(lineage: QueryColumns, target: str, columns: list[str] | None) -> set[ColumnEdge]:
    """Turn resolved output flows into edges, matching ``columns`` by position."""
    outputs = lineage.outputs
    has_star = any(name == STAR for name, _ in outputs)
    if columns is not None and not has_star:
        pairs = list(zip(columns, (flow for _, flow in outputs)))
    elif columns is not None and has_star:
        merged = Flow()
        for _, flow in outputs:
            merged.merge(flow)
        pairs = [(c, merged) for c in columns]
    else:
        pairs = [(name, flow) for name, flow in outputs]
    edges: set[ColumnEdge] = set()
    for name, flow in pairs:
        out = ColumnRef(target, name)
        for ref, subtype in flow.direct.items():
            edges.add(ColumnEdge(ref, out, TransformType.DIRECT, subtype))
        for ref, subtype in flow.indirect | lineage.indirect:
            edges.add(ColumnEdge(ref, out, TransformType.INDIRECT, subtype))
    return edges


def is_cte_reference(table: exp.Table) -> bool:
    """Whether an unqualified table name refers to a CTE visible where it appears."""
    if (
        table.args.get("db")
        or table.args.get("catalog")
        or not isinstance(table.this, exp.Identifier)
    ):
        return False
    name = table.name.lower()
    previous: exp.Expression = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            ctes = node.expressions
            index = next((i for i, c in enumerate(ctes) if c is previous), len(ctes))
            visible = {c.alias.lower() for c in ctes[:index]}
            if index < len(ctes):
                own = ctes[index]
                if node.args.get("recursive") or isinstance(own.this, exp.SetOperation):
                    visible.add(own.alias.lower())
            if name in visible:
                return True
        else:
            with_ = node.args.get("with_")
            if (
                isinstance(with_, exp.With)
                and with_ is not previous
                and name in {c.alias.lower() for c in with_.expressions}
            ):
                return True
        previous, node = node, node.parent
    return False


def with_ctes(statement: exp.Expression, query: exp.Expression | None) -> exp.Expression | None:
    """``WITH c AS (...) INSERT ... SELECT`` keeps the CTEs on the INSERT: move them in."""
    with_ = statement.args.get("with_")
    if query is None or not isinstance(with_, exp.With) or not isinstance(query, exp.Query):
        return query
    query = query.copy()
    inner = query.args.get("with_")
    ctes = [c.copy() for c in with_.expressions] + (list(inner.expressions) if inner else [])
    query.set("with_", exp.With(expressions=ctes, recursive=with_.args.get("recursive")))
    return query


def target_columns(analyzer: StatementAnalyzer, target: exp.Expression) -> list[str] | None:
    if not isinstance(target, exp.Schema) or not target.expressions:
        return None
    names = []
    for column in target.expressions:
        node = column.this if isinstance(column, exp.ColumnDef) else column
        names.append(
            analyzer.namer.column(node)
            if isinstance(node, exp.Column)
            else analyzer.namer.identifier(node)
        )
    return names


def copy_edges(source: str, target: str, columns: Iterable[str] | None) -> set[ColumnEdge]:
    """Identity edges for a whole-table copy (declared columns, else ``*``)."""
    return {
        ColumnEdge(ColumnRef(source, c), ColumnRef(target, c))
        for c in (list(columns) if columns else [STAR])
    }


def option_path(node: exp.Expression | None, *names: str) -> str | None:
    """The string value of an ``OPTIONS (path '...')`` / ``(uri='...')`` property."""
    if node is None:
        return None
    for prop in node.find_all(exp.Property):
        key = prop.this.name.lower() if isinstance(prop.this, exp.Expression) else ""
        value = prop.args.get("value")
        if key in names and isinstance(value, exp.Literal) and value.is_string:
            return value.name
    return None


def exchange_facts(analyzer: StatementAnalyzer, source: str, target: str) -> Facts:
    """``target`` takes ``source``'s rows (a partition of them, or all of them)."""
    known = analyzer.catalog.columns(source)
    return Facts(
        StatementKind.EXCHANGE,
        reads={source},
        writes={target},
        edges=copy_edges(source, target, known),
    )


def aliased(value: exp.Expression, column: exp.Expression) -> exp.Alias:
    """``value AS column`` (exp.alias_ would turn a subquery alias into a table alias)."""
    name = column.this if isinstance(column, exp.Column) else column
    identifier = name.copy() if isinstance(name, exp.Identifier) else exp.to_identifier(name.name)
    return exp.Alias(this=value.copy(), alias=identifier)
