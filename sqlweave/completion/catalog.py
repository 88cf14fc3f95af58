"""Where completion finds names: the engine's catalog, notebook variables, engine functions.

Reading a :class:`SessionCatalog` never runs a user query: table lists and schemas come from
the engine's catalog metadata, notebook variables give their schemas directly (Arrow
schemas, pandas dtypes, polars schemas), and the engine's function list is read once per
engine and kept. Every read is guarded: a failing source contributes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import pyarrow as pa

from .. import frames
from ..params import SCALAR_TYPES

log = logging.getLogger(__name__)

#: after the catalog failed to answer, completion waits this long before asking again
RETRY_AFTER_S = 60.0


class TableKind(str, Enum):
    """Where a table name comes from; shown as the completion's type."""

    TABLE = "table"  # in the engine's catalog
    FILE = "file"  # registered from a path
    DATAFRAME = "dataframe"  # a pandas or polars variable
    ARROW = "arrow"  # an Arrow table, batch or stream variable
    RESULT = "result"  # an earlier sqlweave result (``%%sql name <<``)
    CTE = "cte"  # a WITH name of the statement


@dataclass(frozen=True)
class TableInfo:
    name: str
    kind: TableKind


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    type: str = ""


@dataclass(frozen=True)
class FunctionInfo:
    name: str
    kind: str = "scalar"  # scalar, aggregate, window, table


class Catalog(Protocol):
    """The names completion can offer. Implementations never raise."""

    def tables(self) -> Sequence[TableInfo]:
        """Every table name visible to SQL."""
        ...

    def columns(self, table: str) -> Sequence[ColumnInfo] | None:
        """Columns of ``table`` (``None`` when unknown)."""
        ...

    def functions(self) -> Sequence[FunctionInfo]:
        """The engine's functions."""
        ...

    def parameters(self) -> Sequence[tuple[str, str]]:
        """``(name, python type)`` of each variable that can bind as ``:name``."""
        ...


class SessionCatalog:
    """A :class:`Catalog` over a ``Session`` and a namespace of notebook variables.

    Table lists and schemas are kept until :meth:`refresh` is given a new ``generation``
    (the notebook passes its execution count, so running any cell re-reads them).

    >>> import pyarrow as pa, sqlweave
    >>> s = sqlweave.Session()
    >>> s.register("flights", pa.table({"dep_delay": [1]}))
    >>> cat = SessionCatalog(s)
    >>> [c.type for c in cat.columns("flights")]
    ['int64']
    """

    def __init__(self, session: Any, namespace: Mapping[str, Any] | None = None) -> None:
        self.session = session
        self.namespace: Mapping[str, Any] = namespace or {}
        self._generation: Hashable = None
        self._engine_id: int | None = None
        self._tables: list[TableInfo] | None = None
        self._schemas: dict[str, list[ColumnInfo] | None] = {}
        self._functions: dict[int, list[FunctionInfo]] = {}
        self._quiet_until = 0.0  # no catalog reads before this time.monotonic()

    def refresh(self, namespace: Mapping[str, Any] | None, generation: Hashable) -> None:
        """Use ``namespace``; forget what was read if ``generation`` or the engine changed."""
        self.namespace = namespace or {}
        engine_id = id(self.session.engine)
        if generation != self._generation or engine_id != self._engine_id:
            self._generation, self._engine_id = generation, engine_id
            self._tables = None
            self._schemas = {}

    # ----- Catalog ---------------------------------------------------------------------
    def tables(self) -> list[TableInfo]:
        catalog = self._catalog_tables()
        taken = {t.name.lower() for t in catalog}
        variables = [
            TableInfo(name, kind)
            for name, kind in self._frame_variables().items()
            if name.lower() not in taken  # a catalog table wins over a same-named variable
        ]
        return catalog + variables

    def columns(self, table: str) -> list[ColumnInfo] | None:
        name = table.rsplit(".", 1)[-1]
        value = self.namespace.get(name)
        if value is not None and not self._in_catalog(name) and _is_frame(value):
            return frame_columns(value)
        key = self._catalog_name(name)
        if key is None:
            return None
        if key not in self._schemas:
            self._schemas[key] = self._read_schema(key)
        return self._schemas[key]

    def functions(self) -> list[FunctionInfo]:
        engine = self.session.engine
        key = id(engine)
        if key not in self._functions:
            self._functions = {key: engine_functions(engine)}  # one engine's list at a time
        return self._functions[key]

    def parameters(self) -> list[tuple[str, str]]:
        out = []
        for name, value in list(self.namespace.items()):
            if name.startswith("_") or not isinstance(name, str):
                continue
            if isinstance(value, SCALAR_TYPES) or _is_numpy_scalar(value):
                out.append((name, type(value).__name__))
        return sorted(out)

    # ----- reading ---------------------------------------------------------------------
    def _catalog_tables(self) -> list[TableInfo]:
        if self._tables is None:
            files: set[str] = set()
            with contextlib.suppress(Exception):
                files = set(self.session.registered_files())
            names: list[str] = []
            if time.monotonic() >= self._quiet_until:
                try:
                    names = self.session.tables()
                except Exception:
                    # e.g. a cluster that stopped answering: each read may wait for its
                    # timeout, so completion leaves the catalog alone for a while
                    log.debug("completion could not list tables", exc_info=True)
                    self._quiet_until = time.monotonic() + RETRY_AFTER_S
            self._tables = [
                TableInfo(n, TableKind.FILE if n in files else TableKind.TABLE) for n in names
            ]
        return self._tables

    def _catalog_name(self, name: str) -> str | None:
        """The catalog's spelling of ``name``: exact, else the one differing only in case."""
        tables = [t.name for t in self._catalog_tables()]
        if name in tables:
            return name
        lowered = name.lower()
        return next((t for t in tables if t.lower() == lowered), None)

    def _in_catalog(self, name: str) -> bool:
        return self._catalog_name(name) is not None

    def _read_schema(self, name: str) -> list[ColumnInfo] | None:
        try:
            schema = self.session.schema(name)
        except Exception:
            log.debug("completion could not read the schema of %s", name, exc_info=True)
            return None
        return arrow_columns(schema)

    def _frame_variables(self) -> dict[str, TableKind]:
        out: dict[str, TableKind] = {}
        for name, value in list(self.namespace.items()):
            if not isinstance(name, str) or name.startswith("_") or not name.isidentifier():
                continue
            kind = frame_kind(value)
            if kind is not None:
                out[name] = kind
        return out


def frame_kind(value: Any) -> TableKind | None:
    """The kind of a queryable notebook variable, ``None`` if it is not one."""
    if not _is_frame(value):
        return None
    module = type(value).__module__.split(".")[0]
    if module in ("pandas", "polars"):
        return TableKind.DATAFRAME
    if module == "sqlweave":
        return TableKind.RESULT
    return TableKind.ARROW


def frame_columns(value: Any) -> list[ColumnInfo] | None:
    """Column names and types of a frame-like value, read from its schema, never its data."""
    try:
        schema = getattr(value, "schema", None)
        if isinstance(schema, pa.Schema):  # Arrow tables, batches, readers, sqlweave results
            return arrow_columns(schema)
        module = type(value).__module__.split(".")[0]
        if module == "pandas":
            return [ColumnInfo(str(c), str(t)) for c, t in value.dtypes.items()]
        if module == "polars":
            pl_schema = value.collect_schema() if hasattr(value, "collect_schema") else schema
            return [ColumnInfo(str(c), str(t)) for c, t in pl_schema.items()]
    except Exception:
        log.debug("completion could not read a variable's schema", exc_info=True)
    return None


def arrow_columns(schema: pa.Schema) -> list[ColumnInfo]:
    return [ColumnInfo(f.name, str(f.type)) for f in schema]


def engine_functions(engine: Any) -> list[FunctionInfo]:
    """The functions ``engine`` knows, read from its own function catalog.

    A cluster runs DataFusion, so it offers DataFusion's list. This reads metadata, not
    data: DataFusion's ``information_schema.routines``, DuckDB's ``duckdb_functions()``.
    """
    try:
        if engine.name == "duckdb":
            rows = engine.execute(
                "SELECT DISTINCT function_name, function_type FROM duckdb_functions()"
                " WHERE function_type IN ('scalar', 'aggregate', 'window', 'macro', 'table')"
            ).to_pylist()
            pairs = [(r["function_name"], r["function_type"]) for r in rows]
        else:
            pairs = _datafusion_functions(engine)
    except Exception:
        log.debug("completion could not list the engine's functions", exc_info=True)
        return []
    seen: dict[str, FunctionInfo] = {}
    for name, kind in pairs:
        if name and name.isidentifier() and name not in seen:
            seen[name] = FunctionInfo(name, _function_kind(kind))
    return sorted(seen.values(), key=lambda f: f.name)


_ROUTINES = "SELECT DISTINCT routine_name, function_type FROM information_schema.routines"


def _datafusion_functions(engine: Any) -> list[tuple[str, str]]:
    if engine.name == "datafusion":
        table = engine.execute(_ROUTINES)
    else:  # a cluster: its workers run this DataFusion version
        from ..engines.local import make_context

        table = make_context().sql(_ROUTINES).to_arrow_table()
    return [(r["routine_name"], r["function_type"]) for r in table.to_pylist()]


def _function_kind(kind: str | None) -> str:
    kind = (kind or "scalar").lower()
    return "scalar" if kind == "macro" else kind


def _is_frame(value: Any) -> bool:
    """:func:`sqlweave.frames.is_frame`, asking the type rather than the object: completion
    looks at every notebook variable, and an object's ``__getattr__`` may do real work."""
    kind = type(value)
    if isinstance(value, type) or not hasattr(kind, "__arrow_c_stream__"):
        module = kind.__module__.split(".")[0]
        if module not in ("pandas", "polars", "pyarrow"):
            return False
    try:
        return frames.is_frame(value)
    except Exception:
        return False


def _is_numpy_scalar(value: Any) -> bool:
    return type(value).__module__ == "numpy" and hasattr(value, "item") and hasattr(value, "dtype")
