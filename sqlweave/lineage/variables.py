"""Notebook variables as datasets: a query's rows bound to a name, a DataFrame read by name.

A SELECT writes into :data:`~sqlweave.lineage.analysis.RESULT` (``"<result>"``), which the
graph does not keep. When the notebook binds those rows to a variable (``%%sql name <<``,
``x = %sql ...``, or IPython's ``_`` for a displayed result), the statement writes that
variable instead, so what reads the variable later (``SELECT ... FROM name``) has a producer.

    >>> from sqlweave.lineage import extract
    >>> bound = bind_result(extract("SELECT a FROM t")[0], "x")
    >>> sorted(bound.writes), [str(e.target) for e in bound.column_edges]
    (['x'], ['x.a'])
"""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from .analysis import RESULT
from .model import ColumnEdge, ColumnRef, StatementKind, StatementLineage

#: IPython's name for the last displayed result
LAST_RESULT = "_"


def variable_name(name: str, dialect: str | None) -> str:
    """``name`` as the dialect folds an unquoted identifier (how SQL reads the variable back).

    >>> variable_name("Carrier_Delays", "duckdb")
    'carrier_delays'
    """
    from .extract import dialect_of

    return dialect_of(dialect).normalize_identifier(exp.to_identifier(name, quoted=False)).name


def bind_result(lineage: StatementLineage, name: str) -> StatementLineage:
    """The statement with its result rows written to the variable ``name``.

    Only a statement that writes nothing of its own (a query) is changed; a CTAS bound to a
    name keeps writing its table.
    """
    if lineage.writes or lineage.kind is not StatementKind.SELECT:
        return lineage
    edges = tuple(
        ColumnEdge(e.source, ColumnRef(name, e.target.column), e.type, e.subtype)
        if e.target.dataset == RESULT
        else e
        for e in lineage.column_edges
    )
    return replace(lineage, writes=frozenset({name}), column_edges=edges)
