"""The distributed engine: a coordinator and DataFusion workers over ZeroMQ, with its
planner (:mod:`.planning`), scheduler, protocol and transport. The in-process engines live in
:mod:`sqlweave.engines`.

Never imports IPython: usable from plain Python and the CLI.
"""

from __future__ import annotations

from ..lazy import lazy_attributes

_LAZY = {
    "LocalCluster": ".localcluster",
    "ClusterEngine": ".client",
}

__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["ClusterEngine", "LocalCluster"]
