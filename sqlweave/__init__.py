"""sqlweave: SQL and lineage for notebooks, on DataFusion, DuckDB or a ZeroMQ cluster.

>>> import sqlweave
>>> sqlweave.Session().sql("SELECT 41 + 1 AS answer").to_arrow().to_pylist()
[{'answer': 42}]

In IPython/Jupyter: ``%load_ext sqlweave``, then ``%%sql`` cells.
"""

from __future__ import annotations

import logging
from typing import Any

from ._version import __version__
from .errors import (
    MissingDependencyError,
    ParameterError,
    ParseError,
    PlanError,
    QueryCancelled,
    SqlError,
    SqlWeaveError,
    UsageError,
)
from .result import Result
from .session import Session

# a library leaves logging to its user: without a handler of their own, Python's fallback
# would print warnings (a cluster's housekeeping) into whichever notebook cell is running
logging.getLogger(__name__).addHandler(logging.NullHandler())


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sqlweave``: register the ``%sql``, ``%%sql``, ``%sqlweave`` and ``%lineage`` magics."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the built extension (``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "sqlweave"}]


__all__ = [
    "MissingDependencyError",
    "ParameterError",
    "ParseError",
    "PlanError",
    "QueryCancelled",
    "Result",
    "Session",
    "SqlError",
    "SqlWeaveError",
    "UsageError",
    "__version__",
]
