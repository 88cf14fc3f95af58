"""The in-process engines: embedded DataFusion (``local``), DuckDB, the ``Engine``
interface they and the cluster's client implement, SQL error mapping, DataFusion tuning,
the path policy, and the engine registry.

Never imports IPython: usable from plain Python, workers and the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

from .engine import Engine, Progress

_LAZY = {
    "DataFusionEngine": ".local",
    "DuckDBEngine": ".duck",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


__all__ = ["DataFusionEngine", "DuckDBEngine", "Engine", "Progress"]
