"""Lineage of one parsed statement: what it reads, writes, drops or renames, and column edges.

Each statement type has one small handler; :data:`HANDLERS` maps sqlglot node types to
them, in the order they are tried. Handlers return a :class:`Facts`, which
:mod:`sqlweave.lineage.extract` turns into the public :class:`StatementLineage`.

Conventions (as in sqllineage and OpenLineage):

* CTE names and derived-table aliases are never datasets; tables only written are not reads.
* INSERT/UPDATE/DELETE/MERGE targets are writes only (a target that is also read in a
  FROM clause or subquery is a read as well).
* A query with no write target flows into the dataset :data:`RESULT` (``"<result>"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlglot import exp

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

    def __init__(self, namer: Namer, catalog: Catalog) -> None:
        self.namer = namer
        self.catalog = catalog

    def analyze(self, statement: exp.Expression) -> Facts:
        """Facts about ``statement``; unknown statement types have kind NO_LINEAGE."""
        for node_type, handler in HANDLERS:
            if isinstance(statement, node_type):
                return handler(self, statement)
        return Facts(StatementKind.NO_LINEAGE)

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
            return spark_path(table) or self.namer.dataset(table)
        return None

    def reads_of(self, node: exp.Expression, skip: Iterable[exp.Expression] = ()) -> set[str]:
        """Datasets read anywhere under ``node``, except CTE references and ``skip`` nodes."""
        skipped = {id(s) for s in skip}
        found: set[str] = set()
        for table in node.find_all(exp.Table):
            if id(table) in skipped or _is_cte_reference(table):
                continue
            name = self.dataset(table)
            if name:
                found.add(name)
        return found

    def resolver(self) -> ColumnResolver:
        """A fresh column resolver for one statement."""
        return ColumnResolver(self.namer, self.catalog, self.dataset)

    # -- column edges ---------------------------------------------------------------------

    def query_edges(
        self,
        query: exp.Expression | None,
        target: str,
        columns: list[str] | None = None,
    ) -> set[ColumnEdge]:
        """End-to-end edges from ``query``'s base columns to ``target``.

        Args:
            query: the query feeding ``target``.
            target: written dataset.
            columns: explicit target columns matched by position (INSERT column list,
                view column list), else the target's known columns, else output names.
        """
        if query is None:
            return set()
        lineage = self.resolver().query(query)
        if lineage is None:
            return set()
        if columns is None and target != RESULT:
            known = self.catalog.columns(target)
            if known and len(known) == len(lineage.outputs):
                columns = list(known)
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
            if ref.column == STAR and name != STAR and columns is not None:
                ref = ColumnRef(ref.dataset, name, unresolved=True)
            edges.add(ColumnEdge(ref, out, TransformType.DIRECT, subtype))
        for ref, subtype in flow.indirect | lineage.indirect:
            edges.add(ColumnEdge(ref, out, TransformType.INDIRECT, subtype))
    return edges


def _is_cte_reference(table: exp.Table) -> bool:
    """Whether an unqualified table name refers to a CTE visible where it appears."""
    if table.args.get("db") or table.args.get("catalog") or not isinstance(table.this, exp.Identifier):
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
            if isinstance(with_, exp.With) and with_ is not previous:
                if name in {c.alias.lower() for c in with_.expressions}:
                    return True
        previous, node = node, node.parent
    return False


def _with_ctes(statement: exp.Expression, query: exp.Expression | None) -> exp.Expression | None:
    """``WITH c AS (...) INSERT ... SELECT`` keeps the CTEs on the INSERT: move them in."""
    with_ = statement.args.get("with_")
    if query is None or not isinstance(with_, exp.With) or not isinstance(query, exp.Query):
        return query
    query = query.copy()
    inner = query.args.get("with_")
    ctes = [c.copy() for c in with_.expressions] + (list(inner.expressions) if inner else [])
    query.set("with_", exp.With(expressions=ctes, recursive=with_.args.get("recursive")))
    return query


def _target_columns(analyzer: StatementAnalyzer, target: exp.Expression) -> list[str] | None:
    if not isinstance(target, exp.Schema) or not target.expressions:
        return None
    names = []
    for column in target.expressions:
        node = column.this if isinstance(column, exp.ColumnDef) else column
        names.append(analyzer.namer.column(node) if isinstance(node, exp.Column) else analyzer.namer.identifier(node))
    return names


def _query_statement(analyzer: StatementAnalyzer, statement: exp.Query) -> Facts:
    into = statement.args.get("into")
    if isinstance(into, exp.Into) and isinstance(into.this, exp.Table):
        target = analyzer.dataset(into.this)
        facts = Facts(StatementKind.CREATE_TABLE_AS, reads=analyzer.reads_of(statement, [into.this]))
        if target:
            facts.writes.add(target)
            query = statement.copy()
            query.set("into", None)
            facts.edges = analyzer.query_edges(query, target)
        return facts
    facts = Facts(StatementKind.SELECT, reads=analyzer.reads_of(statement))
    facts.edges = analyzer.query_edges(statement, RESULT)
    return facts


def _insert(analyzer: StatementAnalyzer, statement: exp.Insert) -> Facts:
    target_node = statement.this
    target = analyzer.dataset(target_node)
    skip = [target_node, target_node.this] if isinstance(target_node, exp.Schema) else [target_node]
    facts = Facts(StatementKind.INSERT, reads=analyzer.reads_of(statement, skip))
    if target is None:
        return facts
    facts.writes.add(target)
    query = _with_ctes(statement, statement.expression)
    if isinstance(query, exp.Query):
        facts.edges = analyzer.query_edges(query, target, _target_columns(analyzer, target_node))
    return facts


def _multi_insert(analyzer: StatementAnalyzer, statement: exp.MultitableInserts) -> Facts:
    facts = Facts(StatementKind.INSERT)
    source = statement.args.get("source")
    for insert in statement.expressions:
        if not isinstance(insert, exp.Insert):
            continue
        query = insert.expression
        if isinstance(query, exp.Select) and source is not None and not query.args.get("from_"):
            query = query.copy()
            query.set("from_", exp.From(this=source.copy()))
        part = _insert(analyzer, insert.copy() if query is insert.expression else _replace(insert, query))
        facts.reads |= part.reads
        facts.writes |= part.writes
        facts.edges |= part.edges
    if source is not None:
        facts.reads |= analyzer.reads_of(source)
    return facts


def _replace(insert: exp.Insert, query: exp.Expression) -> exp.Insert:
    copy = insert.copy()
    copy.set("expression", query)
    return copy


def _create(analyzer: StatementAnalyzer, statement: exp.Create) -> Facts:
    kind = (statement.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW", "MATERIALIZED VIEW", "DYNAMIC TABLE", "STREAMING TABLE"):
        return Facts(StatementKind.NO_LINEAGE)
    target_node = statement.this
    target = analyzer.dataset(target_node)
    if target is None:
        return Facts(StatementKind.NO_LINEAGE)
    table_node = target_node.this if isinstance(target_node, exp.Schema) else target_node
    query = statement.expression
    properties = statement.args.get("properties")
    location = _location(properties)
    if "VIEW" in kind:
        result = StatementKind.CREATE_VIEW
    elif query is not None:
        result = StatementKind.CREATE_TABLE_AS
    elif location is not None or _has(properties, exp.ExternalProperty):
        result = StatementKind.CREATE_EXTERNAL_TABLE
    else:
        result = StatementKind.CREATE_TABLE
    facts = Facts(result, writes={target})
    facts.reads = analyzer.reads_of(statement, [target_node, table_node])
    columns = _target_columns(analyzer, target_node)
    if isinstance(query, exp.Query):
        facts.edges = analyzer.query_edges(query, target, columns)
    if location is not None:
        facts.reads.add(location)
        facts.edges |= _copy_edges(location, target, columns)
    clone = statement.args.get("clone")
    if isinstance(clone, exp.Clone) and (source := analyzer.dataset(clone.this)):
        facts.edges |= _copy_edges(source, target, analyzer.catalog.columns(source))
    return facts


def _copy_edges(source: str, target: str, columns: Iterable[str] | None) -> set[ColumnEdge]:
    """Identity edges for a whole-table copy (declared columns, else ``*``)."""
    return {
        ColumnEdge(ColumnRef(source, c), ColumnRef(target, c))
        for c in (list(columns) if columns else [STAR])
    }


def _location(properties: exp.Expression | None) -> str | None:
    if properties is None:
        return None
    found = properties.find(exp.LocationProperty)
    if found is not None and isinstance(found.this, exp.Literal):
        return found.this.name
    return None


def _has(properties: exp.Expression | None, kind: type[exp.Expression]) -> bool:
    return properties is not None and properties.find(kind) is not None


def _target_aliases(
    analyzer: StatementAnalyzer, statement: exp.Expression, target: str | None
) -> list[exp.Expression]:
    """``UPDATE t ... FROM t JOIN s`` (T-SQL) and ``DELETE t FROM t JOIN s`` (MySQL): the
    FROM-clause mention of the target names the written rows, it is not a read."""
    found: list[exp.Expression] = []
    from_ = statement.args.get("from_")
    tables = [from_.this] if from_ is not None else []
    tables += [j.this for j in statement.args.get("joins") or ()]
    if from_ is not None:
        tables += [j.this for j in from_.this.args.get("joins") or ()]
    tables += list(statement.args.get("using") or ())
    for table in tables:
        if isinstance(table, exp.Table) and target and analyzer.dataset(table) == target:
            found.append(table)
    return found


def _update(analyzer: StatementAnalyzer, statement: exp.Update) -> Facts:
    target_node = statement.this
    target = analyzer.dataset(target_node)
    skip = [target_node, *_target_aliases(analyzer, statement, target)]
    facts = Facts(StatementKind.UPDATE, reads=analyzer.reads_of(statement, skip))
    if target is None:
        return facts
    facts.writes.add(target)
    assignments = [a for a in statement.expressions if isinstance(a, exp.EQ)]
    from_ = statement.args.get("from_")
    joins = [j.copy() for j in target_node.args.get("joins") or ()]
    base = target_node.copy()
    base.set("joins", None)
    select = exp.Select(expressions=[_assign(a) for a in assignments]).from_(base, copy=False)
    if from_ is not None:
        joins.append(exp.Join(this=from_.this.copy()))
        joins.extend(j.copy() for j in from_.this.args.get("joins") or ())
    if joins:
        select.set("joins", joins)
    if statement.args.get("where"):
        select.set("where", statement.args["where"].copy())
    facts.edges = analyzer.query_edges(_with_ctes(statement, select), target)
    return facts


def _assign(assignment: exp.EQ) -> exp.Expression:
    return _aliased(assignment.expression, assignment.this)


def _aliased(value: exp.Expression, column: exp.Expression) -> exp.Alias:
    """``value AS column`` (exp.alias_ would turn a subquery alias into a table alias)."""
    name = column.this if isinstance(column, exp.Column) else column
    identifier = name.copy() if isinstance(name, exp.Identifier) else exp.to_identifier(name.name)
    return exp.Alias(this=value.copy(), alias=identifier)


def _delete(analyzer: StatementAnalyzer, statement: exp.Delete) -> Facts:
    # MySQL's multi-table DELETE lists its targets in ``tables``; ``this`` is then the FROM
    targets = list(statement.args.get("tables") or [statement.this])
    writes = {name for t in targets if (name := analyzer.dataset(t))}
    skip = [*targets, *_target_aliases(analyzer, statement, next(iter(writes), None))]
    if analyzer.dataset(statement.this) in writes:
        skip.append(statement.this)
    facts = Facts(StatementKind.DELETE, reads=analyzer.reads_of(statement, skip))
    facts.writes = writes
    return facts


def _merge(analyzer: StatementAnalyzer, statement: exp.Merge) -> Facts:
    target_node = statement.this
    target = analyzer.dataset(target_node)
    facts = Facts(StatementKind.MERGE, reads=analyzer.reads_of(statement, [target_node]))
    if target is None:
        return facts
    facts.writes.add(target)
    projections: list[exp.Expression] = []
    whens = statement.args.get("whens")
    for when in whens.expressions if whens else ():
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            projections.extend(_assign(a) for a in then.expressions if isinstance(a, exp.EQ))
        elif isinstance(then, exp.Insert):
            names = then.this.expressions if isinstance(then.this, exp.Tuple) else []
            values = then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
            for column, value in zip(names, values):
                projections.append(_aliased(value, column))
    using = statement.args.get("using")
    if not projections or using is None:
        return facts
    select = exp.Select(expressions=projections).from_(target_node.copy(), copy=False)
    on = statement.args.get("on")
    select.set("joins", [exp.Join(this=using.copy(), on=on.copy() if on else None)])
    facts.edges = analyzer.query_edges(_with_ctes(statement, select), target)
    return facts


def _drop(analyzer: StatementAnalyzer, statement: exp.Drop) -> Facts:
    kind = (statement.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW", "MATERIALIZED VIEW", "EXTERNAL TABLE", "DYNAMIC TABLE"):
        return Facts(StatementKind.NO_LINEAGE)
    tables = statement.args.get("tables") or [statement.this]
    drops = {name for t in tables if (name := analyzer.dataset(t))}
    return Facts(StatementKind.DROP, drops=drops)


def _alter(analyzer: StatementAnalyzer, statement: exp.Alter) -> Facts:
    renames = []
    old = analyzer.dataset(statement.this)
    for action in statement.args.get("actions") or ():
        if isinstance(action, exp.AlterRename) and old:
            new = _qualify_like(action.this, statement.this)
            name = analyzer.dataset(new)
            if name:
                renames.append((old, name))
    if renames:
        return Facts(StatementKind.RENAME, renames=renames)
    return Facts(StatementKind.NO_LINEAGE)


def _qualify_like(new: exp.Expression, old: exp.Expression) -> exp.Expression:
    """``ALTER TABLE s.a RENAME TO b`` keeps ``b`` in schema ``s``."""
    if isinstance(new, exp.Table) and isinstance(old, exp.Table) and not new.args.get("db"):
        new = new.copy()
        for part in ("db", "catalog"):
            if old.args.get(part):
                new.set(part, old.args[part].copy())
    return new


def _copy(analyzer: StatementAnalyzer, statement: exp.Copy) -> Facts:
    files = [analyzer.dataset(f) for f in statement.args.get("files") or ()]
    paths = {f for f in files if f}
    this = statement.this
    if statement.args.get("kind"):  # COPY INTO table FROM files
        target = analyzer.dataset(this)
        facts = Facts(StatementKind.INSERT, reads=paths, writes={target} if target else set())
        if target:
            for path in paths:
                facts.edges |= _copy_edges(path, target, None)
        return facts
    reads = analyzer.reads_of(this) if isinstance(this, exp.Expression) else set()
    facts = Facts(StatementKind.INSERT, reads=reads, writes=paths)
    for path in paths:
        for source in reads:
            facts.edges |= _copy_edges(source, path, None)
    return facts


def _cache(analyzer: StatementAnalyzer, statement: exp.Cache) -> Facts:
    target = analyzer.dataset(statement.this)
    facts = Facts(StatementKind.CREATE_TABLE_AS, reads=analyzer.reads_of(statement, [statement.this]))
    if target:
        facts.writes.add(target)
        facts.edges = analyzer.query_edges(statement.expression, target)
    return facts


_EXTERNAL = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNBOUNDED\s+)?EXTERNAL\s+TABLE\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[^\s(]+)\s*(?P<columns>\((?:[^()]|\([^()]*\))*\))?"
    r".*?\bLOCATION\s+'(?P<location>[^']*)'",
    re.IGNORECASE | re.DOTALL,
)
_RENAME = re.compile(r"^\s*RENAME\s+TABLE\s+(?P<pairs>.+)$", re.IGNORECASE | re.DOTALL)


def _command(analyzer: StatementAnalyzer, statement: exp.Command) -> Facts:
    """Statements sqlglot keeps as raw text: DataFusion's external tables, MySQL RENAME."""
    rest = statement.expression
    text = f"{statement.name} {rest.name if isinstance(rest, exp.Expression) else rest or ''}"
    if match := _EXTERNAL.match(text):
        target = analyzer.namer.dotted(match["name"])
        location = match["location"]
        columns = _column_names(match["columns"] or "", analyzer.namer)
        return Facts(
            StatementKind.CREATE_EXTERNAL_TABLE,
            reads={location},
            writes={target},
            edges=_copy_edges(location, target, columns),
        )
    if match := _RENAME.match(text):
        renames = []
        for pair in match["pairs"].split(","):
            parts = re.split(r"\s+TO\s+", pair.strip(), flags=re.IGNORECASE)
            if len(parts) == 2:
                renames.append((analyzer.namer.dotted(parts[0]), analyzer.namer.dotted(parts[1])))
        if renames:
            return Facts(StatementKind.RENAME, renames=renames)
    return Facts(StatementKind.NO_LINEAGE, notes=[f"not analysed: {statement.name.upper()}"])


def _column_names(columns: str, namer: Namer) -> list[str]:
    inner = columns.strip()[1:-1]
    names = []
    depth, current = 0, ""
    for ch in inner + ",":
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            words = current.split()
            if words and words[0].upper() not in ("PRIMARY", "CONSTRAINT", "UNIQUE", "FOREIGN"):
                names.append(namer.dotted(words[0]))
            current = ""
        else:
            current += ch
    return names


Handler = Callable[[StatementAnalyzer, exp.Expression], Facts]

#: statement node type -> handler, tried in order
HANDLERS: tuple[tuple[type[exp.Expression], Handler], ...] = (
    (exp.Query, _query_statement),
    (exp.MultitableInserts, _multi_insert),
    (exp.Insert, _insert),
    (exp.Create, _create),
    (exp.Update, _update),
    (exp.Delete, _delete),
    (exp.Merge, _merge),
    (exp.Drop, _drop),
    (exp.Alter, _alter),
    (exp.Copy, _copy),
    (exp.Cache, _cache),
    (exp.Command, _command),
)

