"""Embedded DuckDB engine (``Session(engine="duckdb")``)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import duckdb
import pyarrow as pa

from .. import frames
from ..errors import PlanError, QueryCancelled, UsageError
from . import paths, sqlerrors
from .engine import Engine, ProgressCallback

#: DuckDB's words for a statement kind that cannot take parameters (CREATE VIEW)
_UNPREPARABLE = "can't be prepared"
_READERS = {
    "parquet": "read_parquet",
    "csv": "read_csv_auto",
    "json": "read_json_auto",
}


#: statements that cannot change the catalog (anything else forgets the known names)
_READ_ONLY = re.compile(
    r"^(\s|--[^\n]*\n|/\*.*?\*/)*(\(|select\b|from\b|values\b|table\b|explain\b"
    r"|describe\b|show\b|summarize\b)",
    re.I | re.S,
)


#: DuckDB's words for a name it found neither in the catalog nor among the frame's variables
_NO_TABLE = re.compile(r"Table with name (?P<name>\S+) does not exist")

#: Runs a statement where DuckDB's replacement scan looks for the tables it does not know:
#: the calling frame's variables. ``exec`` makes that frame's locals exactly the statement's
#: notebook DataFrames (and the globals only these dunder names), so DuckDB reads the frames
#: as it reads a notebook variable: bound afresh by every statement (an in-place change is
#: always seen), with no catalog change to make and undo around it (``register`` plus
#: ``unregister`` cost ~1.2 ms a statement). The result is fetched inside the same frame.
_IN_FRAME_SCOPE = compile(
    "__sqlweave_rel__ = __sqlweave_sql__(__sqlweave_query__, **__sqlweave_kwargs__)\n"
    "__sqlweave_out__ = None if __sqlweave_rel__ is None else __sqlweave_rel__.to_arrow_table()",
    "<sqlweave statement>",
    "exec",
)


def _scans_natively(frame: Any) -> bool:
    module = type(frame).__module__.split(".")[0]
    return isinstance(frame, pa.Table) or (
        module in ("pandas", "polars") and type(frame).__name__ == "DataFrame"
    )


class DuckDBEngine(Engine):
    """DuckDB in this process.

    >>> DuckDBEngine().execute("SELECT 42 AS x").to_pylist()
    [{'x': 42}]
    """

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, database: str = ":memory:") -> None:
        self.con = duckdb.connect(database)
        # Every use of the connection runs on this one thread: the main thread stays
        # interruptible (DuckDB does not notice SIGINT while it holds the calling thread
        # in native code), and other threads (lineage reading the catalog) never use the
        # connection concurrently, which DuckDB refuses.
        self._runner = ThreadPoolExecutor(1, thread_name_prefix="sqlweave-duckdb")
        self._closed = False
        #: lower-case names of the catalog's tables and views, or None when unknown
        self._names: set[str] | None = None
        #: what :meth:`tables` answered, kept as long as ``_names`` (lineage lists the
        #: catalog after every statement)
        self._listing: list[str] | None = None
        #: the notebook DataFrames registered (:meth:`register_frame`), by name: never in
        #: DuckDB's catalog, given to each statement as the variables its scan finds
        self._frames: dict[str, Any] = {}

    def _submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """Run ``fn(*args)`` on the connection's thread."""
        return self._runner.submit(fn, *args)

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        if not _READ_ONLY.match(sql):
            self._forget_names()  # the statement may create or drop tables
        # a copy: the statement sees the frames registered when it was asked to run
        future = self._submit(self._run, sql, params, dict(self._frames))
        try:
            return future.result()
        except KeyboardInterrupt:
            self.con.interrupt()  # the one call meant to come from another thread
            with contextlib.suppress(BaseException):
                future.result(timeout=10)
            raise QueryCancelled() from None
        except duckdb.InterruptException:
            raise QueryCancelled() from None
        except duckdb.Error as exc:
            if "interrupted" in str(exc).lower():
                raise QueryCancelled() from None
            if params and _UNPREPARABLE in str(exc):
                raise PlanError(
                    "DuckDB cannot bind :parameters in this kind of statement (a view keeps"
                    " its SQL text): write the value into the SQL, or create a table instead",
                    sql=sql,
                    engine=self.name,
                ) from None
            raise sqlerrors.from_duckdb(exc, sql) from None

    def _run(
        self, sql: str, params: Mapping[str, Any] | None, frames: Mapping[str, Any]
    ) -> pa.Table:
        """Run one statement on the connection's thread, reading ``frames`` by name."""
        kwargs = {"params": dict(params)} if params else {}
        scope = dict(frames)
        try:
            exec(  # a fixed code object: see _IN_FRAME_SCOPE
                _IN_FRAME_SCOPE,
                {
                    "__sqlweave_sql__": self.con.sql,
                    "__sqlweave_query__": sql,
                    "__sqlweave_kwargs__": kwargs,
                },
                scope,
            )
        except duckdb.CatalogException as exc:
            missed = _NO_TABLE.search(str(exc))
            lower = {name.lower() for name in frames}
            if missed is None or missed.group("name").strip('"').lower() not in lower:
                raise
            # the scan looks names up as written (`FROM Flights` misses `flights`) and a
            # statement may turn it off (SET python_enable_replacements = false): register
            # the frames in the catalog, which resolves names as SQL does, for this one run
            return self._run_registered(sql, params, frames)
        out = scope["__sqlweave_out__"]
        return pa.table({}) if out is None else out

    def _run_registered(
        self, sql: str, params: Mapping[str, Any] | None, frames: Mapping[str, Any]
    ) -> pa.Table:
        for name, frame in frames.items():
            self.con.register(name, frame)
        try:
            rel = self.con.sql(sql, params=dict(params)) if params else self.con.sql(sql)
            return pa.table({}) if rel is None else rel.to_arrow_table()
        finally:
            for name in frames:
                with contextlib.suppress(duckdb.Error):
                    self.con.unregister(name)

    def register_path(self, name: str, path: str, format: str | None = None) -> None:
        try:
            fmt = paths.detect_format(path, format)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        files = paths.expand(path)
        if fmt == "arrow":
            import pyarrow.feather as feather

            self.register_arrow(name, feather.read_table(files[0]))
            return
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        self.deregister(name)
        self._fetch(f'CREATE VIEW "{name}" AS SELECT * FROM {_READERS[fmt]}([{listing}])')

    def register_arrow(self, name: str, data: pa.Table) -> None:
        self.deregister(name)
        self._forget_names()
        self._submit(self.con.register, name, data).result()

    def register_frame(self, name: str, frame: Any) -> None:
        # DuckDB scans pandas and polars frames and Arrow tables in place: converting
        # them to Arrow first cost more than the query (32 ms for flights)
        if not _scans_natively(frame):
            frame = frames.to_arrow(frame)
        self._frames[name] = frame  # read by the statements run from now on

    def unregister_frame(self, name: str) -> None:
        self._frames.pop(name, None)

    def deregister(self, name: str) -> None:
        self._forget_names()
        kind = self._kind(name)
        if kind is None:
            return
        registered = {r.lower(): r for r in self._registered()}
        try:
            if kind == "VIEW" and name.lower() in registered:
                self._submit(self.con.unregister, registered[name.lower()]).result()
            elif kind == "VIEW":
                self._fetch(f'DROP VIEW IF EXISTS "{name}"')
            else:
                self._fetch(f'DROP TABLE IF EXISTS "{name}"')
        except duckdb.Error as exc:
            raise sqlerrors.from_duckdb(exc, f"DROP {kind} {name}") from None

    def _registered(self) -> set[str]:
        rows = self._fetch("SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal")
        return {r[0] for r in rows}

    def _kind(self, name: str) -> str | None:
        """ "VIEW" or "TABLE" for ``name`` (DuckDB resolves names case-insensitively);
        a registered (temporary) view first, as DuckDB itself resolves it."""
        rows = self._fetch(
            "SELECT table_type FROM information_schema.tables WHERE lower(table_name) = lower(?)"
            " ORDER BY table_type = 'VIEW' DESC LIMIT 1",
            [name],
        )
        if not rows:
            return None
        return "VIEW" if "VIEW" in rows[0][0] else "TABLE"

    def tables(self) -> list[str]:
        listing = self._listing
        if listing is None:
            rows = self._fetch(
                "SELECT DISTINCT table_name FROM information_schema.tables"
                " WHERE table_schema NOT IN ('information_schema', 'pg_catalog') ORDER BY 1"
            )
            listing = [r[0] for r in rows]
            if self._names is not None:  # nothing changed the catalog meanwhile
                self._listing = listing
        if not self._frames:
            return list(listing)
        known = {n.lower() for n in listing}
        return sorted([*listing, *(n for n in self._frames if n.lower() not in known)])

    def _forget_names(self) -> None:
        """The catalog may change: list it again when asked."""
        self._names = None
        self._listing = None

    def has_table(self, name: str) -> bool:
        # asked before every statement that reads a notebook DataFrame: answered from a
        # list of names kept until a statement that may change the catalog
        if self._names is None:
            rows = self._fetch("SELECT DISTINCT lower(table_name) FROM information_schema.tables")
            self._names = {r[0] for r in rows}
        return name.lower() in self._names or any(n.lower() == name.lower() for n in self._frames)

    def schema(self, name: str) -> pa.Schema:
        if not self.has_table(name):
            raise PlanError(
                f"table {name} not found", hint=sqlerrors.did_you_mean(name, self.tables())
            )
        query = f'SELECT * FROM "{name}" LIMIT 0'
        return self._submit(self._run, query, None, dict(self._frames)).result().schema

    def _fetch(self, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
        if not _READ_ONLY.match(sql):
            self._forget_names()
        if threading.current_thread().name.startswith("sqlweave-duckdb"):
            # DuckDB 2 refuses new work on a connection until the last result is drained
            cur = self.con.execute(sql, args) if args else self.con.execute(sql)
            return cur.fetchall()
        return self._submit(self._fetch, sql, args).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._frames.clear()
        self._runner.submit(self.con.close).result()
        self._runner.shutdown(wait=True)
