"""SQL completion that needs no IPython: context analysis, name sources, matching.

The IPython face (:mod:`sqlweave.magics.complete`) finds the SQL in a cell and hands it here.
"""

from __future__ import annotations

from .catalog import Catalog, ColumnInfo, FunctionInfo, SessionCatalog, TableInfo, TableKind
from .complete import Completions, Match, MatchKind, complete
from .context import Expect, SqlContext, analyze

__all__ = [
    "Catalog",
    "ColumnInfo",
    "Completions",
    "Expect",
    "FunctionInfo",
    "Match",
    "MatchKind",
    "SessionCatalog",
    "SqlContext",
    "TableInfo",
    "TableKind",
    "analyze",
    "complete",
]
