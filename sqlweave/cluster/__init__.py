"""The distributed engine: a coordinator and DataFusion workers over ZeroMQ, with its
planner, scheduler, protocol and transport. The in-process engines live in
:mod:`sqlweave.engines`.

Never imports IPython: usable from plain Python and the CLI.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "LocalCluster": ".localcluster",
    "ClusterEngine": ".client",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(name)


__all__ = ["ClusterEngine", "LocalCluster"]
