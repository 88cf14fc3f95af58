"""Engines and the distributed cluster (coordinator + DataFusion workers over ZeroMQ).

Never imports IPython: usable from plain Python and the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

from .engine import Engine, Progress

_LAZY = {
    "LocalCluster": ".localcluster",
    "ClusterEngine": ".client",
    "DataFusionEngine": ".local",
    "DuckDBEngine": ".duck",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


__all__ = [
    "ClusterEngine",
    "DataFusionEngine",
    "DuckDBEngine",
    "Engine",
    "LocalCluster",
    "Progress",
]
