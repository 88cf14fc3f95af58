"""The one small interface every engine implements.

``Session`` talks only to this interface; the embedded DataFusion engine
(:mod:`sqlweave.engines.local`), DuckDB (:mod:`sqlweave.engines.duck`) and the
cluster client (:mod:`sqlweave.cluster.client`) plug in behind it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ..explained import DistributedExplain


@dataclass(frozen=True)
class Progress:
    """Progress of a running query, reported by engines that can (the cluster).

    ``rows``: rows the query's fragments produced so far; ``rows_scanned`` and
    ``bytes_scanned``: what their scans read so far (running fragments included);
    ``elapsed_s``: seconds since the query started.
    """

    fragments_done: int
    fragments_total: int
    rows: int = 0
    rows_scanned: int = 0
    bytes_scanned: int = 0
    elapsed_s: float = 0.0


ProgressCallback = Callable[[Progress], None]


class Engine(abc.ABC):
    """A SQL engine: runs one statement at a time and keeps a catalog of tables.

    Implementations translate their native errors into :mod:`sqlweave.errors`
    (``ParseError``/``PlanError`` with a ``Position`` when the engine reports one,
    ``QueryCancelled`` on KeyboardInterrupt) so callers never see engine-specific
    exception types.
    """

    #: short name shown next to results ("datafusion", "duckdb", "cluster")
    name: str = "engine"
    #: sqlglot dialect used to parse this engine's SQL (lineage, parameters)
    dialect: str = "postgres"
    #: the typed plan of the last statement :meth:`execute` ran, when that was EXPLAIN of
    #: a distributed query (engines that distribute set it; ``Result.explain`` carries it)
    last_explain: DistributedExplain | None = None

    @abc.abstractmethod
    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        """Run one statement; ``$name`` placeholders take typed values from ``params``.

        Returns the result as an Arrow table (an empty table for statements
        without a result).
        """

    @abc.abstractmethod
    def register_path(self, name: str, path: str, format: str | None = None) -> None:
        """Register a parquet/csv/json file, directory or glob as table ``name``."""

    @abc.abstractmethod
    def register_arrow(self, name: str, data: pa.Table) -> None:
        """Register an in-memory Arrow table as ``name`` (without copying where possible)."""

    def register_frame(self, name: str, frame: Any) -> None:
        """Register a notebook DataFrame (pandas, polars, Arrow…) for one statement;
        engines that read such frames natively, or can cache them, override this."""
        from ..frames import to_arrow

        self.register_arrow(name, to_arrow(frame))

    def register_frame_unless_table(self, name: str, frame: Any) -> bool:
        """:meth:`register_frame`, unless the catalog has a table ``name`` (a catalog table
        wins over a notebook variable of the same name); whether it registered the frame.
        Engines that can ask their catalog while they prepare the frame override this."""
        has = getattr(self, "has_table", None)
        if has(name) if has is not None else name in self.tables():
            return False
        self.register_frame(name, frame)
        return True

    def unregister_frame(self, name: str) -> None:
        """Undo :meth:`register_frame`."""
        self.deregister(name)

    @abc.abstractmethod
    def deregister(self, name: str) -> None:
        """Forget table ``name``; a missing name is not an error."""

    @abc.abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables and views in the catalog, sorted."""

    @abc.abstractmethod
    def schema(self, name: str) -> pa.Schema:
        """Arrow schema of table ``name``; raises ``PlanError`` if unknown."""

    def explain(self, sql: str) -> str:
        """The engine's plan for ``sql`` as text."""
        table = self.execute(f"EXPLAIN {sql}")
        return "\n".join(str(v) for v in table.column(table.num_columns - 1).to_pylist())

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (connections, sockets)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
