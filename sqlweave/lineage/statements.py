"""Which handler analyses which statement: the dispatch table of lineage extraction.

Handlers are tried in order; the first whose sqlglot node type matches wins. Statement types
not listed (TRUNCATE, SET, USE, GRANT, ...) have no lineage.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from . import ddl, dml
from .analysis import Facts, StatementAnalyzer
from .model import StatementKind

Handler = Callable[[StatementAnalyzer, exp.Expression], Facts]

#: statement node type -> handler, tried in order
HANDLERS: tuple[tuple[type[exp.Expression], Handler], ...] = (
    (exp.Query, dml.query_statement),
    (exp.MultitableInserts, dml.multi_insert),
    (exp.Insert, dml.insert),
    (exp.Create, ddl.create),
    (exp.Update, dml.update),
    (exp.Delete, dml.delete),
    (exp.Merge, dml.merge),
    (exp.Drop, ddl.drop),
    (exp.Alter, ddl.alter),
    (exp.Copy, dml.copy),
    (exp.Export, dml.export),
    (exp.Cache, dml.cache),
    (exp.LoadData, dml.load_data),
    (exp.Command, ddl.command),
    (exp.Execute, ddl.execute),
    (exp.Values, dml.query_statement),
)


def _block(analyzer: StatementAnalyzer, statement: exp.Expression) -> Facts:
    """T-SQL ``IF ... BEGIN ... END`` and friends: the union of the inner statements' facts."""
    inner = [
        s for arg in ("true", "false") if isinstance(s := statement.args.get(arg), exp.Expression)
    ]
    statements = [e for b in inner for e in (b.expressions if isinstance(b, exp.Block) else [b])]
    if isinstance(statement, exp.Block):
        statements = list(statement.expressions)
    parts = [analyze(analyzer, s) for s in statements]
    kinds = [p.kind for p in parts if p.kind is not StatementKind.NO_LINEAGE]
    facts = Facts(kinds[0] if len(set(kinds)) == 1 else StatementKind.NO_LINEAGE)
    condition = statement.args.get("this")
    if isinstance(condition, exp.Expression):
        facts.reads |= analyzer.reads_of(condition)
    for part in parts:
        facts.reads |= part.reads
        facts.writes |= part.writes
        facts.rewrites |= part.rewrites
        facts.edges |= part.edges
        facts.drops |= part.drops
        facts.renames.extend(part.renames)
    if len(set(kinds)) > 1:
        facts.notes.append("block of " + ", ".join(k.value for k in kinds))
    return facts


#: statements that wrap other statements
_COMPOSITES: tuple[tuple[type[exp.Expression], Handler], ...] = (
    (exp.IfBlock, _block),
    (exp.Block, _block),
)


def analyze(analyzer: StatementAnalyzer, statement: exp.Expression) -> Facts:
    """Facts about one parsed statement; unknown statement types have kind NO_LINEAGE."""
    for node_type, handler in HANDLERS + _COMPOSITES:
        if isinstance(statement, node_type):
            facts = handler(analyzer, statement)
            if isinstance(statement.args.get("returning"), exp.Returning):
                dml.output_into(analyzer, statement, facts)
            return facts
    # SET x = (SELECT ...), DECLARE ... DEFAULT (SELECT ...): no rows written, tables read
    reads = analyzer.reads_of(statement) if statement.find(exp.Query) else set()
    return Facts(StatementKind.NO_LINEAGE, reads=reads)
