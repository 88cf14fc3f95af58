"""SQL lineage: sqlglot -> table and column lineage in a networkx graph.

Usable without IPython::

    >>> from sqlweave.lineage import extract
    >>> [s.reads for s in extract("INSERT INTO b SELECT x FROM a")]
    [frozenset({'a'})]
"""

from __future__ import annotations

import importlib
from typing import Any

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
    "extract": ".extract",
    "LineageGraph": ".graph",
    "LineageStore": ".store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)


__all__ = [
    "ColumnEdge",
    "ColumnRef",
    "LineageGraph",
    "LineageStore",
    "Span",
    "StatementKind",
    "StatementLineage",
    "TransformSubtype",
    "TransformType",
    "extract",
]
