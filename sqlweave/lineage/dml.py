"""Handlers for statements that move rows: SELECT, INSERT, UPDATE, DELETE, MERGE, COPY.

UPDATE and MERGE are analysed as the SELECT they amount to (``SELECT <new values> FROM
target JOIN source``), so column edges come from the same resolver as queries.
"""

from __future__ import annotations

from sqlglot import exp

from .analysis import (
    RESULT,
    Facts,
    StatementAnalyzer,
    aliased,
    copy_edges,
    exchange_facts,
    option_path,
    target_columns,
    with_ctes,
)
from .model import StatementKind


def query_statement(analyzer: StatementAnalyzer, statement: exp.Query) -> Facts:
    holder = _into_holder(statement)
    into = holder.args.get("into")
    if isinstance(into, exp.Into) and isinstance(into.this, exp.Table):
        target = analyzer.dataset(into.this)
        facts = Facts(
            StatementKind.CREATE_TABLE_AS, reads=analyzer.reads_of(statement, [into.this])
        )
        if target:
            facts.writes.add(target)
            query = statement.copy()
            _into_holder(query).set("into", None)
            facts.edges = analyzer.query_edges(query, target, define=True)
        return facts
    if (swapped := _swap_partitions(analyzer, statement)) is not None:
        return swapped
    facts = Facts(StatementKind.SELECT, reads=analyzer.reads_of(statement))
    facts.edges = analyzer.query_edges(statement, RESULT)
    return facts


def _into_holder(statement: exp.Expression) -> exp.Expression:
    """``SELECT ... INTO t FROM a UNION SELECT ... FROM b``: the INTO sits on the first
    branch of the set operation, yet the whole union fills ``t``."""
    while isinstance(statement, exp.SetOperation) and not statement.args.get("into"):
        statement = statement.this
    return statement


def _swap_partitions(analyzer: StatementAnalyzer, statement: exp.Query) -> Facts | None:
    """Vertica ``SELECT SWAP_PARTITIONS_BETWEEN_TABLES('staging', min, max, 'target')``."""
    if not isinstance(statement, exp.Select) or statement.args.get("from_"):
        return None
    for call in statement.find_all(exp.Anonymous):
        args = call.expressions
        if (
            call.name.lower() == "swap_partitions_between_tables"
            and len(args) == 4
            and all(isinstance(a, exp.Literal) and a.is_string for a in (args[0], args[3]))
        ):
            namer = analyzer.namer
            return exchange_facts(analyzer, namer.dotted(args[0].name), namer.dotted(args[3].name))
    return None


def insert(analyzer: StatementAnalyzer, statement: exp.Insert) -> Facts:
    target_node = statement.this
    target = analyzer.dataset(target_node)
    skip = [target_node, target_node.this] if isinstance(target_node, exp.Schema) else [target_node]
    facts = Facts(StatementKind.INSERT, reads=analyzer.reads_of(statement, skip))
    if target is None:
        return facts
    facts.writes.add(target)
    query = with_ctes(statement, statement.expression)
    if isinstance(query, exp.Query):
        columns = target_columns(analyzer, target_node)
        facts.edges = analyzer.query_edges(query, target, columns, existing_target=True)
    return facts


def multi_insert(analyzer: StatementAnalyzer, statement: exp.MultitableInserts) -> Facts:
    """Hive ``FROM src INSERT ... INSERT ...`` and Snowflake ``INSERT ALL INTO ... SELECT``."""
    facts = Facts(StatementKind.INSERT)
    source = statement.args.get("source")
    if source is not None:
        facts.reads |= analyzer.reads_of(source)
    for branch in statement.expressions:
        node = branch.this if isinstance(branch, exp.ConditionalInsert) else branch
        if not isinstance(node, exp.Insert):
            continue
        part = insert(analyzer, _with_source(node, source))
        facts.reads |= part.reads
        facts.writes |= part.writes
        facts.rewrites |= part.rewrites
        facts.edges |= part.edges
    return facts


def _with_source(node: exp.Insert, source: exp.Expression | None) -> exp.Insert:
    """One branch of a multi-table insert as a stand-alone INSERT ... SELECT."""
    if source is None:
        return node
    query = node.expression
    if isinstance(query, exp.Select) and not query.args.get("from_"):
        # Hive: FROM src INSERT ... SELECT x  (the shared FROM is the source)
        query = query.copy()
        query.set("from_", exp.From(this=source.copy()))
    elif isinstance(query, exp.Values) and len(query.expressions) == 1:
        # Snowflake: INTO t (a) VALUES (x) -- x names a column of the shared SELECT
        derived = exp.Subquery(this=source.copy(), alias=exp.TableAlias(this="_source"))
        values = query.expressions[0].expressions
        query = exp.Select(expressions=[v.copy() for v in values]).from_(derived, copy=False)
    elif query is None and isinstance(source, exp.Query):
        query = source.copy()
    else:
        return node
    standalone = node.copy()
    standalone.set("expression", query)
    return standalone


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


def update(analyzer: StatementAnalyzer, statement: exp.Update) -> Facts:
    target_node = statement.this
    from_tables = _from_tables(statement)
    # T-SQL: UPDATE x SET ... FROM dbo.t AS x JOIN s ...  (x is an alias of the real target)
    for table in from_tables:
        if (
            isinstance(table, exp.Table)
            and table.alias
            and not target_node.args.get("db")
            and table.alias.lower() == target_node.name.lower()
        ):
            target_node = table
            break
    target = analyzer.dataset(target_node)
    aliases = [target_node, *_target_aliases(analyzer, statement, target)]
    facts = Facts(
        StatementKind.UPDATE, reads=analyzer.reads_of(statement, [statement.this, *aliases])
    )
    if target is None:
        return facts
    facts.writes.add(target)
    assignments = [a for a in statement.expressions if isinstance(a, exp.EQ)]
    skipped = {id(a) for a in aliases}
    joins = [j.copy() for j in statement.this.args.get("joins") or ()]
    for table in from_tables:
        if id(table) not in skipped:
            joins.append(exp.Join(this=_without_joins(table)))
    from_ = statement.args.get("from_")
    if from_ is not None:
        joins.extend(j.copy() for j in from_.this.args.get("joins") or ())
    joins.extend(j.copy() for j in statement.args.get("joins") or ())
    base = _without_joins(target_node)
    select = exp.Select(expressions=[_assign(a) for a in assignments]).from_(base, copy=False)
    if joins:
        select.set("joins", joins)
    if statement.args.get("where"):
        select.set("where", statement.args["where"].copy())
    facts.edges = analyzer.query_edges(with_ctes(statement, select), target)
    if any(edge.source.dataset == target for edge in facts.edges):
        # SET or WHERE reads the target's own rows: the new version comes from the old
        facts.rewrites.add(target)
    return facts


def _from_tables(statement: exp.Expression) -> list[exp.Expression]:
    """The first FROM item of an UPDATE/DELETE (its joins are handled separately)."""
    from_ = statement.args.get("from_")
    return [from_.this] if from_ is not None else []


def _without_joins(node: exp.Expression) -> exp.Expression:
    copy = node.copy()
    if copy.args.get("joins"):
        copy.set("joins", None)
    return copy


def _assign(assignment: exp.EQ) -> exp.Expression:
    return aliased(assignment.expression, assignment.this)


def delete(analyzer: StatementAnalyzer, statement: exp.Delete) -> Facts:
    # MySQL's multi-table DELETE lists its targets in ``tables``; ``this`` is then the FROM
    tables = [t for t in statement.args.get("tables") or () if not _is_top(t)]
    targets = tables or [statement.this]
    # DELETE x, y FROM dbo.t AS x JOIN u AS y ...: x and y name the FROM tables' rows
    aliases = {
        item.alias.lower(): item
        for item in _delete_from_items(statement)
        if isinstance(item, exp.Table) and item.alias
    }
    targets = [
        aliases.get(t.name.lower(), t) if isinstance(t, exp.Table) and not t.args.get("db") else t
        for t in targets
    ]
    writes = {name for t in targets if (name := analyzer.dataset(t))}
    skip = [
        *targets,
        *(statement.args.get("tables") or ()),
        *_target_aliases(analyzer, statement, next(iter(writes), None)),
    ]
    skip += [t for t in _delete_from_items(statement) if analyzer.dataset(t) in writes]
    facts = Facts(StatementKind.DELETE, reads=analyzer.reads_of(statement, skip))
    facts.writes = writes
    facts.rewrites |= _filtered_targets(analyzer, statement, targets, writes)
    return facts


def _delete_from_items(statement: exp.Delete) -> list[exp.Expression]:
    """The FROM side of a DELETE: ``this`` and its joins, the statement's joins, USING."""
    items: list[exp.Expression] = []
    this = statement.this
    if isinstance(this, exp.Expression):
        items.append(this)
        items += [j.this for j in this.args.get("joins") or ()]
    items += [j.this for j in statement.args.get("joins") or ()]
    items += list(statement.args.get("using") or ())
    return items


def _filtered_targets(
    analyzer: StatementAnalyzer,
    statement: exp.Delete,
    targets: list[exp.Expression],
    writes: set[str],
) -> set[str]:
    """Targets whose own columns the WHERE or a join condition reads (``DELETE FROM t WHERE
    t.d < 5`` reads ``t``): the condition resolved as a query over the same FROM items."""
    conditions = [statement.args.get("where")]
    conditions += [j.args.get("on") for j in statement.args.get("joins") or ()]
    this = statement.this if isinstance(statement.this, exp.Table) else None
    if this is not None:
        conditions += [j.args.get("on") for j in this.args.get("joins") or ()]
    present = [c.this if isinstance(c, exp.Where) else c for c in conditions if c is not None]
    if not present or not writes:
        return set()
    items = [_without_joins(t) for t in targets if isinstance(t, exp.Table)]
    if this is not None:
        if all(analyzer.dataset(t) != analyzer.dataset(this) for t in targets):
            items.append(_without_joins(this))
        items += [j.this.copy() for j in this.args.get("joins") or ()]
    items += [j.this.copy() for j in statement.args.get("joins") or ()]
    items += [u.copy() for u in statement.args.get("using") or ()]
    if not items:
        return set()
    condition = exp.and_(*(c.copy() for c in present))
    select = exp.Select(expressions=[exp.alias_(condition, "_condition")]).from_(
        items[0], copy=False
    )
    if items[1:]:
        select.set("joins", [exp.Join(this=item) for item in items[1:]])
    edges = analyzer.query_edges(with_ctes(statement, select), "<condition>")
    return {e.source.dataset for e in edges} & writes


def _is_top(table: exp.Expression) -> bool:
    """T-SQL ``DELETE TOP (n) FROM t`` parses ``TOP (n)`` as a table named TOP."""
    alias = table.args.get("alias")
    return (
        isinstance(table, exp.Table)
        and table.name.upper() == "TOP"
        and not table.args.get("db")
        and isinstance(alias, exp.TableAlias)
        and bool(alias.columns)
    )


def merge(analyzer: StatementAnalyzer, statement: exp.Merge) -> Facts:
    target_node = statement.this
    target = analyzer.dataset(target_node)
    facts = Facts(StatementKind.MERGE, reads=analyzer.reads_of(statement, [target_node]))
    if target is None:
        return facts
    # ON matches the target's rows against the source's: the new version comes from the old
    facts.rewrites.add(target)
    facts.writes.add(target)
    using = statement.args.get("using")
    if using is None:
        return facts
    projections, star = _merge_projections(analyzer, statement, target)
    if star:  # Databricks' UPDATE SET * / INSERT *: every source column, by name
        projections.append(exp.Star())
    if not projections:
        return facts
    select = exp.Select(expressions=projections).from_(target_node.copy(), copy=False)
    on = statement.args.get("on")
    select.set("joins", [exp.Join(this=using.copy(), on=on.copy() if on else None)])
    if star:
        source_alias = using.alias_or_name
        select.set("expressions", [*projections[:-1], exp.column("*", table=source_alias)])
    facts.edges = analyzer.query_edges(with_ctes(statement, select), target)
    return facts


def _merge_projections(
    analyzer: StatementAnalyzer, statement: exp.Merge, target: str
) -> tuple[list[exp.Expression], bool]:
    """``value AS target_column`` for every assignment of every WHEN branch."""
    projections: list[exp.Expression] = []
    star = False
    whens = statement.args.get("whens")
    for when in whens.expressions if whens else ():
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            star |= any(isinstance(a, exp.Star) for a in then.expressions)
            projections.extend(_assign(a) for a in then.expressions if isinstance(a, exp.EQ))
        elif isinstance(then, exp.Insert):
            if isinstance(then.this, exp.Star):
                star = True
                continue
            values = then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
            names: list[exp.Expression | str] = (
                list(then.this.expressions) if isinstance(then.this, exp.Tuple) else []
            )
            if not names:  # INSERT VALUES (...) without a column list: the table's columns
                names = list(analyzer.catalog.columns(target) or ())
            for column, value in zip(names, values):
                if isinstance(column, str):
                    column = exp.to_identifier(column)
                projections.append(aliased(value, column))
    return projections, star


def copy(analyzer: StatementAnalyzer, statement: exp.Copy) -> Facts:
    files = [analyzer.dataset(f) for f in statement.args.get("files") or ()]
    paths = {f for f in files if f}
    this = statement.this
    if statement.args.get("kind"):  # COPY INTO table FROM files
        target = analyzer.dataset(this)
        facts = Facts(StatementKind.INSERT, reads=paths, writes={target} if target else set())
        if target:
            for path in paths:
                facts.edges |= copy_edges(path, target, None)
            for source in statement.args.get("files") or ():
                if isinstance(source, exp.Subquery):  # COPY INTO @stage FROM (SELECT ...)
                    facts.reads |= analyzer.reads_of(source)
                    facts.edges |= analyzer.query_edges(source.unnest(), target)
        return facts
    reads = analyzer.reads_of(this) if isinstance(this, exp.Expression) else set()
    facts = Facts(StatementKind.INSERT, reads=reads, writes=paths)
    query = this.unnest() if isinstance(this, exp.Subquery) else None
    for path in paths:
        if isinstance(query, exp.Query):
            facts.edges |= analyzer.query_edges(query, path)
        else:
            for source in reads:
                facts.edges |= copy_edges(source, path, analyzer.catalog.columns(source))
    return facts


def cache(analyzer: StatementAnalyzer, statement: exp.Cache) -> Facts:
    target = analyzer.dataset(statement.this)
    facts = Facts(
        StatementKind.CREATE_TABLE_AS, reads=analyzer.reads_of(statement, [statement.this])
    )
    if target:
        facts.writes.add(target)
        facts.edges = analyzer.query_edges(statement.expression, target, define=True)
    return facts


def load_data(analyzer: StatementAnalyzer, statement: exp.LoadData) -> Facts:
    """Hive ``LOAD DATA INPATH 'path' INTO TABLE t``: the files flow into the table."""
    target = analyzer.dataset(statement.this)
    inpath = statement.args.get("inpath")
    path = inpath.name if isinstance(inpath, exp.Literal) else None
    facts = Facts(StatementKind.INSERT)
    if target:
        facts.writes.add(target)
    if path:
        facts.reads.add(path)
        if target:
            facts.edges = copy_edges(path, target, analyzer.catalog.columns(target))
    return facts


def export(analyzer: StatementAnalyzer, statement: exp.Export) -> Facts:
    """BigQuery ``EXPORT DATA OPTIONS (uri='gs://...') AS SELECT ...``: rows go to the files."""
    query = statement.this
    facts = Facts(StatementKind.INSERT, reads=analyzer.reads_of(statement))
    uri = option_path(statement.args.get("options"), "uri")
    if uri and isinstance(query, exp.Query):
        facts.writes.add(uri)
        facts.edges = analyzer.query_edges(query, uri)
    return facts


#: T-SQL's names for a changed row's new and old values in an OUTPUT clause
_CHANGED_ROWS = ("inserted", "deleted")


def output_into(analyzer: StatementAnalyzer, statement: exp.Expression, facts: Facts) -> None:
    """T-SQL ``OUTPUT inserted.id, deleted.v INTO audit (id, v)``: the changed rows of the
    target (and, for MERGE, the source's columns) flow into ``audit``."""
    returning = statement.args["returning"]
    into = returning.args.get("into")
    table = into.this if isinstance(into, exp.Schema) else into
    if isinstance(table, exp.Identifier):
        table = exp.Table(this=table.copy())
    name = analyzer.dataset(table)
    target_node = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
    if name is None or not isinstance(target_node, exp.Table):
        return
    facts.writes.add(name)
    facts.reads.discard(name)  # the INTO table is only written
    rows = target_node.alias_or_name
    projections = []
    for expression in returning.expressions:
        expression = expression.copy()
        for column in list(expression.find_all(exp.Column)):
            if column.name.startswith("$"):  # $action: which WHEN branch ran, no column
                column = column.replace(exp.null())
                if column is not None and column.parent is None:
                    expression = column
            elif column.table.lower() in _CHANGED_ROWS:
                column.set("table", exp.to_identifier(rows))
        projections.append(expression)
    select = exp.Select(expressions=projections).from_(_without_joins(target_node), copy=False)
    using = statement.args.get("using")
    if isinstance(statement, exp.Merge) and isinstance(using, exp.Expression):
        on = statement.args.get("on")
        select.set("joins", [exp.Join(this=using.copy(), on=on.copy() if on else None)])
    columns = target_columns(analyzer, into) if isinstance(into, exp.Schema) else None
    edges = analyzer.query_edges(select, name, columns)
    facts.edges |= edges
    facts.reads |= {e.source.dataset for e in edges}
