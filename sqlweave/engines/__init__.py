"""The in-process engines: embedded DataFusion (``local``), DuckDB, the ``Engine``
interface they and the cluster's client implement, SQL error mapping, DataFusion tuning,
the path policy, and the engine registry.

Never imports IPython: usable from plain Python, workers and the CLI.
"""

from __future__ import annotations

from ..lazy import lazy_attributes
from .engine import Engine, Progress

_LAZY = {
    "DataFusionEngine": ".local",
    "DuckDBEngine": ".duck",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["DataFusionEngine", "DuckDBEngine", "Engine", "Progress"]
