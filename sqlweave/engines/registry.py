"""The engine registry: which engine a name or address means, and making one.

``"local"``/``"datafusion"`` is embedded DataFusion, ``"duckdb"`` DuckDB, a
``tcp://``/``ipc://`` address a cluster. The cluster's client is imported only when an
address is given: the one arrow from ``engines/`` into ``cluster/`` (see ARCHITECTURE.md).
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from .engine import Engine

#: "local", "duckdb", a cluster address, an Engine, or anything with an ``address`` (LocalCluster)
EngineSpec = Any
ENGINE_USAGE = "use 'local' (DataFusion), 'duckdb' or a cluster address like tcp://127.0.0.1:5555"


def engine_kind(spec: str) -> str | None:
    """``"datafusion"``, ``"duckdb"`` or ``"cluster"`` for an engine name, ``None`` if unknown.

    >>> engine_kind("local"), engine_kind("tcp://127.0.0.1:5555"), engine_kind("oracle")
    ('datafusion', 'cluster', None)
    """
    name = spec.strip()
    if name in ("local", "datafusion", ""):
        return "datafusion"
    if name == "duckdb":
        return "duckdb"
    if name.startswith(("tcp://", "ipc://")):
        return "cluster"
    return None


def make_engine(spec: EngineSpec, keys: Any = None) -> Engine:
    """An engine from ``"local"``/``"datafusion"``, ``"duckdb"``, a cluster address
    (``tcp://…``, ``ipc://…``), an ``Engine``, or an object with an ``address`` (a LocalCluster)."""
    if isinstance(spec, Engine):
        return spec
    if not isinstance(spec, str) and hasattr(spec, "address"):
        keys = keys if keys is not None else getattr(spec, "keys", None)
        spec = spec.address
    if not isinstance(spec, str):
        raise UsageError(
            f"engine must be a name or a cluster address, not {spec!r}: {ENGINE_USAGE}"
        )
    kind = engine_kind(spec)
    if kind == "datafusion":
        from .local import DataFusionEngine

        return DataFusionEngine()
    if kind == "duckdb":
        from .duck import DuckDBEngine

        return DuckDBEngine()
    if kind == "cluster":
        from ..cluster.client import ClusterEngine

        return ClusterEngine(spec.strip(), keys=keys)
    raise UsageError(f"unknown engine {spec!r}: {ENGINE_USAGE}")
