"""Handlers for statements that define, drop or rename datasets.

``CREATE TABLE/VIEW ... AS`` writes through a query; ``CREATE EXTERNAL TABLE ... LOCATION``
reads its rows from the location; DataFusion's external-table options and MySQL's ``RENAME
TABLE``, which sqlglot keeps as raw commands, are recognised by small patterns.
"""

from __future__ import annotations

import re

from sqlglot import exp

from . import dml
from .analysis import (
    Facts,
    StatementAnalyzer,
    copy_edges,
    exchange_facts,
    option_path,
    target_columns,
    with_ctes,
)
from .model import StatementKind
from .names import Namer


def create(analyzer: StatementAnalyzer, statement: exp.Create) -> Facts:
    kind = (statement.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW", "MATERIALIZED VIEW", "DYNAMIC TABLE", "STREAMING TABLE"):
        return Facts(StatementKind.NO_LINEAGE)
    target_node = statement.this
    target = analyzer.dataset(target_node)
    if target is None:
        return Facts(StatementKind.NO_LINEAGE)
    table_node = target_node.this if isinstance(target_node, exp.Schema) else target_node
    query = with_ctes(statement, statement.expression)  # WITH c AS (...) CREATE TABLE ...
    properties = statement.args.get("properties")
    # Spark: CREATE VIEW v USING parquet OPTIONS (path '...') reads the files at the path
    location = _location(properties) or option_path(properties, "path")
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
    columns = target_columns(analyzer, target_node)
    if isinstance(query, exp.Query):
        facts.edges = analyzer.query_edges(query, target, columns, define=True)
    elif columns:
        analyzer.catalog.define(target, columns)
    if location is not None and not isinstance(query, exp.Query):
        # the table reads its rows from LOCATION (a CTAS writes there instead)
        facts.reads.add(location)
        facts.edges |= copy_edges(location, target, columns)
    clone = statement.args.get("clone")
    if isinstance(clone, exp.Clone) and (source := analyzer.dataset(clone.this)):
        known = analyzer.catalog.columns(source)
        facts.edges |= copy_edges(source, target, known)
        if known:
            analyzer.catalog.define(target, known)
    return facts


def _location(properties: exp.Expression | None) -> str | None:
    if properties is None:
        return None
    found = properties.find(exp.LocationProperty)
    if found is not None and isinstance(found.this, exp.Literal):
        return found.this.name
    return None


def _has(properties: exp.Expression | None, kind: type[exp.Expression]) -> bool:
    return properties is not None and properties.find(kind) is not None


def drop(analyzer: StatementAnalyzer, statement: exp.Drop) -> Facts:
    kind = (statement.args.get("kind") or "").upper()
    if kind not in ("TABLE", "VIEW", "MATERIALIZED VIEW", "EXTERNAL TABLE", "DYNAMIC TABLE"):
        return Facts(StatementKind.NO_LINEAGE)
    tables = statement.args.get("tables") or [statement.this]
    drops = {name for t in tables if (name := analyzer.dataset(t))}
    for name in drops:
        analyzer.catalog.forget(name)
    return Facts(StatementKind.DROP, drops=drops)


def alter(analyzer: StatementAnalyzer, statement: exp.Alter) -> Facts:
    renames = []
    old = analyzer.dataset(statement.this)
    for action in statement.args.get("actions") or ():
        if isinstance(action, exp.SwapTable) and old:
            source = analyzer.dataset(action.this)
            if source:
                return exchange_facts(analyzer, source, old)
        if isinstance(action, exp.AlterRename) and old:
            new = _qualify_like(action.this, statement.this)
            name = analyzer.dataset(new)
            if name:
                renames.append((old, name))
    if renames:
        for old_name, new_name in renames:
            analyzer.catalog.rename(old_name, new_name)
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


_EXTERNAL = re.compile(
    r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:UNBOUNDED\s+)?EXTERNAL\s+TABLE\s+"
    r"(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[^\s(]+)\s*(?P<columns>\((?:[^()]|\([^()]*\))*\))?"
    r".*?\bLOCATION\s+'(?P<location>[^']*)'",
    re.IGNORECASE | re.DOTALL,
)
_REPLACE_INTO = re.compile(r"^\s*REPLACE\s+(?P<rest>INTO\s.+)$", re.IGNORECASE | re.DOTALL)
_UNLOAD = re.compile(
    r"^\s*UNLOAD\s*\(\s*'(?P<query>(?:[^']|'')*)'\s*\)\s*TO\s*'(?P<path>[^']*)'",
    re.IGNORECASE | re.DOTALL,
)
_EXCHANGE = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?P<target>\S+)\s+EXCHANGE\s+PARTITION\s*\(.*?\)\s*WITH\s+TABLE\s+"
    r"(?P<source>[^\s;]+)",
    re.IGNORECASE | re.DOTALL,
)
_APPEND = re.compile(
    r"^\s*ALTER\s+TABLE\s+(?P<target>\S+)\s+APPEND\s+FROM\s+(?P<source>[^\s;]+)",
    re.IGNORECASE,
)
_RENAME = re.compile(r"^\s*RENAME\s+TABLE\s+(?P<pairs>.+)$", re.IGNORECASE | re.DOTALL)


def command(analyzer: StatementAnalyzer, statement: exp.Command) -> Facts:
    """Statements sqlglot keeps as raw text: DataFusion's external tables, MySQL RENAME."""
    rest = statement.expression
    text = f"{statement.name} {rest.name if isinstance(rest, exp.Expression) else rest or ''}"
    if match := _EXTERNAL.match(text):
        target = analyzer.namer.dotted(match["name"])
        location = match["location"]
        columns = _column_names(match["columns"] or "", analyzer.namer)
        if columns:
            analyzer.catalog.define(target, columns)
        return Facts(
            StatementKind.CREATE_EXTERNAL_TABLE,
            reads={location},
            writes={target},
            edges=copy_edges(location, target, columns),
        )
    if match := _EXCHANGE.match(text):
        namer = analyzer.namer
        return exchange_facts(
            analyzer, namer.dotted(match["source"]), namer.dotted(match["target"])
        )
    if match := _APPEND.match(text):  # Redshift: moves the source's rows into the target
        source, target = (
            analyzer.namer.dotted(match["source"]),
            analyzer.namer.dotted(match["target"]),
        )
        return Facts(
            StatementKind.INSERT,
            reads={source},
            writes={target},
            edges=copy_edges(source, target, analyzer.catalog.columns(source)),
        )
    if match := _RENAME.match(text):
        renames = []
        for pair in match["pairs"].split(","):
            parts = re.split(r"\s+TO\s+", pair.strip(), flags=re.IGNORECASE)
            if len(parts) == 2:
                renames.append((analyzer.namer.dotted(parts[0]), analyzer.namer.dotted(parts[1])))
        if renames:
            return Facts(StatementKind.RENAME, renames=renames)
    if match := _REPLACE_INTO.match(text):
        parsed = analyzer.parse("INSERT " + match["rest"])
        if isinstance(parsed, exp.Insert):
            return dml.insert(analyzer, parsed)
    if match := _UNLOAD.match(text):
        return _unload(analyzer, match["query"].replace("''", "'"), match["path"])
    return Facts(StatementKind.NO_LINEAGE, notes=[f"not analysed: {statement.name.upper()}"])


def _unload(analyzer: StatementAnalyzer, sql: str, path: str) -> Facts:
    """Redshift ``UNLOAD ('<query>') TO 's3://...'``: the query's rows land at the path."""
    query = analyzer.parse(sql)
    facts = Facts(StatementKind.INSERT, writes={path})
    if isinstance(query, exp.Query):
        facts.reads = analyzer.reads_of(query)
        facts.edges = analyzer.query_edges(query, path)
    return facts


def execute(analyzer: StatementAnalyzer, statement: exp.Execute) -> Facts:
    """T-SQL ``EXEC sp_rename 'schema.old', 'new'`` renames; other procedures are opaque."""
    procedure = statement.this.name.lower() if statement.this else ""
    arguments = [a for a in statement.expressions if isinstance(a, exp.Literal)]
    if procedure == "sp_rename" and len(arguments) >= 2 and len(statement.expressions) == 2:
        old = analyzer.namer.dotted(arguments[0].name)
        new = analyzer.namer.dotted(arguments[1].name)
        if "." in old and "." not in new:  # the new name stays in the old schema
            new = old.rsplit(".", 1)[0] + "." + new
        return Facts(StatementKind.RENAME, renames=[(old, new)])
    return Facts(StatementKind.NO_LINEAGE, notes=[f"not analysed: EXEC {procedure}"])


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
