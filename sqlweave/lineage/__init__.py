"""SQL lineage: sqlglot -> table and column lineage in a networkx graph.

Usable without IPython::

    >>> from sqlweave.lineage import extract
    >>> [s.reads for s in extract("INSERT INTO b SELECT x FROM a")]
    [frozenset({'a'})]
"""

from __future__ import annotations

from ..lazy import lazy_attributes
from .extract import extract  # eager: the submodule of the same name must not shadow it
from .model import (
    ColumnEdge,
    ColumnRef,
    Span,
    StatementKind,
    StatementLineage,
    TransformSubtype,
    TransformType,
)

# public name -> module that defines it (imported on first use, keeps `import sqlweave` fast)
_LAZY = {
    "LineageGraph": ".graph",
    "LineageStore": ".store",
    "LineageCapture": ".capture",
    "draw": ".svg",
    "export": ".exports",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "ColumnEdge",
    "ColumnRef",
    "LineageCapture",
    "LineageGraph",
    "LineageStore",
    "Span",
    "StatementKind",
    "StatementLineage",
    "TransformSubtype",
    "TransformType",
    "draw",
    "export",
    "extract",
]
