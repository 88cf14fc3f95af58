"""SQL lineage: sqlglot -> table and column lineage in a networkx graph.

Usable without IPython::

    >>> from sqlweave.lineage import extract
    >>> [s.reads for s in extract("INSERT INTO b SELECT x FROM a")]
    [frozenset({'a'})]
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


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
