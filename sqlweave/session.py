"""``Session``: the public Python API. The magics are a thin skin over it.

At about 540 lines this module is a little over the house's ~500: what a statement reports
lives in :mod:`.statement_reports`, and what stays is one class whose statement loop and
notebook-DataFrame registration share its engine, listeners and retry state.

>>> import sqlweave
>>> s = sqlweave.Session()
>>> s.sql("CREATE TABLE t AS SELECT 1 AS x; SELECT x + 1 AS y FROM t").to_arrow().to_pylist()
[{'y': 2}]
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa

from . import frames, guard, params
from .engines.engine import Engine, ProgressCallback
from .engines.paths_policy import Effects, PathPolicy
from .engines.registry import EngineSpec, engine_kind, make_engine
from .engines.sqlerrors import did_you_mean
from .errors import QueryCancelled, SqlError, SqlWeaveError, UsageError
from .events import Listener, StatementEvent, Status
from .file_schemas import columns_of_file, looks_like_file
from .result import Result
from .statement_reports import explain_exists, name_parameters, outcome, relocate
from .statements import Kind, Statement, explained, split, tables_read, tokenize
from .warehouse import Warehouse, project_warehouse_with

log = logging.getLogger(__name__)

_NAME_TOKENS = ("VAR", "IDENTIFIER")
#: tokens that may hold a file path (a quoted table name, a read_parquet argument)
_PATH_TOKENS = ("STRING", "IDENTIFIER")
_NOTHING = contextlib.nullcontext()


class Session:
    """Runs SQL scripts on one engine and keeps the tables registered with it.

    Args:
        engine: ``"local"`` (embedded DataFusion, the default), ``"duckdb"``, a
            cluster address such as ``"tcp://127.0.0.1:5555"``, a ``LocalCluster``,
            or an ``Engine`` instance.
        display_limit: rows shown when a result is displayed.
        warehouse: a folder where created and changed tables are saved and from which
            they are registered at start (see :mod:`sqlweave.warehouse`).
        keys: for a cluster address, its CURVE keys (a directory from ``sqlweave cluster
            keys`` or a ``NAME.key_secret`` file); default ``$SQLWEAVE_KEYS``.
        allowed_paths: opt in to the cluster's least privilege in this process: SQL run
            on embedded DataFusion may then only use files under the working directory,
            these directories and paths given to :meth:`register` (see
            :mod:`sqlweave.engines.paths_policy`). By default a local user's SQL reaches
            whatever the user can.
    """

    def __init__(
        self,
        engine: EngineSpec = "local",
        display_limit: int = 20,
        warehouse: str | os.PathLike[str] | None = None,
        keys: Any = None,
        allowed_paths: Sequence[str | os.PathLike[str]] | None = None,
    ) -> None:
        self.engine: Engine = make_engine(engine, keys)
        self.paths = PathPolicy.configured(allowed_paths) if allowed_paths is not None else None
        self.display_limit = display_limit
        self._listeners: list[Listener] = []
        # name -> (source, format): replayed on a new engine by set_engine
        self._registered: dict[str, tuple[Any, str | None]] = {}
        #: tables the last :meth:`set_engine` left with the old engine
        self.left_behind: tuple[str, ...] = ()
        # embedded engines switched away from, by kind, kept (with their tables) until
        # switched back to or the session closes, the way notebook SQL tools keep connections
        self._parked: dict[str, Engine] = {}
        self.warehouse: Warehouse | None = None
        if warehouse is not None:
            self.set_warehouse(warehouse)

    # ----- engines --------------------------------------------------------------------
    def set_engine(self, engine: EngineSpec) -> Engine:
        """Switch engines; tables registered with :meth:`register` (and those saved in the
        warehouse) follow along. Tables made with SQL (``CREATE TABLE``) stay with the old
        engine, which is kept: switching back to it finds them again. :attr:`left_behind`
        names them after the switch.

        >>> s = Session()
        >>> _ = s.sql("CREATE TABLE kept AS SELECT 1 AS a")
        >>> _ = s.set_engine("duckdb"); s.left_behind
        ('kept',)
        >>> _ = s.set_engine("local"); s.sql("SELECT a FROM kept").to_arrow().to_pylist()
        [{'a': 1}]
        """
        self.left_behind = ()
        if isinstance(engine, str) and _same_engine(engine, self.engine):
            return self.engine  # switching to the engine in use keeps its tables
        kind = engine_kind(engine) if isinstance(engine, str) else None
        new = self._parked.pop(kind, None) if kind in _PARKABLE else None
        if new is None:
            new = make_engine(engine)
        if new is self.engine:
            return new
        if self.warehouse is not None:
            self.warehouse.attach(new)
        for name, (source, fmt) in self._registered.items():
            self._register_on(new, name, source, fmt)
        try:
            followed = {n.lower() for n in new.tables()}
            self.left_behind = tuple(
                sorted(n for n in self.engine.tables() if n.lower() not in followed)
            )
        except Exception:  # a cluster gone away: nothing to name
            self.left_behind = ()
        old, self.engine = self.engine, new
        old_kind = engine_kind(old.name)
        if old_kind in _PARKABLE and old_kind not in self._parked:
            self._parked[old_kind] = old  # its CREATE TABLEs wait for a switch back
        else:
            old.close()  # a cluster keeps its own tables; a client holds none
        return new

    def parked_with(self, table: str) -> str | None:
        """The kept engine (``"duckdb"``, ``"datafusion"``) that has ``table``, if one has."""
        for kind, engine in self._parked.items():
            try:
                if table.lower() in {n.lower() for n in engine.tables()}:
                    return kind
            except Exception:  # a parked engine that cannot list is no hint
                continue
        return None

    def set_warehouse(self, path: str | os.PathLike[str] | None) -> list[str]:
        """Save tables to the folder ``path`` from now on and register the tables saved
        there; ``None`` stops saving. Returns the names registered."""
        if path is None or not os.fspath(path):
            self.warehouse = None
            return []
        self.warehouse = Warehouse(path)
        return self.warehouse.attach(self.engine)

    def close(self) -> None:
        for engine in self._parked.values():
            engine.close()
        self._parked.clear()
        self.engine.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- catalog --------------------------------------------------------------------
    def register(self, name: str, source: Any, format: str | None = None) -> None:
        """Register a file/directory/glob path, or an Arrow/pandas/polars object, as ``name``.

        >>> s = Session()
        >>> import pyarrow as pa
        >>> s.register("nums", pa.table({"n": [1, 2, 3]}))
        >>> s.sql("SELECT sum(n) AS total FROM nums").to_arrow().to_pylist()
        [{'total': 6}]
        """
        if not name or not isinstance(name, str):
            raise UsageError("a table name is required")
        if isinstance(source, (str, os.PathLike)):
            source = os.fspath(source)
        elif frames.is_frame(source):
            source = frames.to_arrow(source)
        else:
            raise UsageError(
                f"cannot register a {type(source).__name__}: give a path or an Arrow/pandas/polars object"
            )
        self._register_on(self.engine, name, source, format)
        self._registered[name] = (source, format)
        if self.paths is not None and isinstance(source, str):
            self.paths.register(name, source)

    def _check_paths(self, sql: str) -> Effects:
        """With ``allowed_paths``, refuse a statement using files outside them; what it
        changes in the table locations once it has run."""
        if self.paths is None or self.engine.name == "cluster":
            return Effects()  # a coordinator enforces its own roots
        ctx = getattr(self.engine, "ctx", None)
        if self.engine.name != "datafusion" or ctx is None:
            raise UsageError(
                f"allowed_paths is enforced on embedded DataFusion only, not {self.engine.name}"
            )
        return self.paths.check_statement(ctx, sql)

    @staticmethod
    def _register_on(engine: Engine, name: str, source: Any, fmt: str | None) -> None:
        if isinstance(source, str):
            engine.register_path(name, source, fmt)
        else:
            engine.register_arrow(name, source)

    def deregister(self, name: str) -> None:
        self._registered.pop(name, None)
        self.engine.deregister(name)
        if self.paths is not None:
            self.paths.forget(name)

    def registered_files(self) -> dict[str, str]:
        """``{name: path}`` of the tables registered from files."""
        return {n: src for n, (src, _) in self._registered.items() if isinstance(src, str)}

    def tables(self) -> list[str]:
        """Names of the tables and views in the engine's catalog."""
        return self.engine.tables()

    def schema(self, name: str) -> pa.Schema:
        """Arrow schema of table ``name``."""
        return self.engine.schema(name)

    def catalog(self) -> dict[str, list[str]]:
        """``{table: [column, ...]}`` for every table (used by lineage to expand ``*``)."""
        return catalog_of(self.engine)

    def explain(self, sql: str) -> str:
        return self.engine.explain(sql)

    # ----- listeners ------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(StatementEvent)`` after every statement, successful or not."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # ----- running SQL ----------------------------------------------------------------
    def sql(
        self,
        script: str,
        params: Mapping[str, Any] | None = None,
        namespace: Mapping[str, Any] | None = None,
        feedback: Callable[[str], None] | None = None,
        progress: ProgressCallback | None = None,
        result_name: str | None = None,
    ) -> Result:
        """Run every statement of ``script``; return the last statement's result.

        Args:
            script: one or more statements separated by ``;``.
            params: values for ``:name`` parameters (they win over ``namespace``).
            namespace: variables visible to the SQL: ``:name`` parameters bind from it and
                DataFrames in it are queryable by name (the notebook passes its user
                namespace).
            feedback: called with what each statement but the last did ("created table t").
            progress: passed to engines that report progress (the cluster).
            result_name: the variable the caller binds the result to (``%%sql name <<``);
                listeners (lineage) see the last statement's rows written to it.

        Raises:
            SqlError: with the position inside ``script`` when known.
        """
        guard.check_script(script)  # before tokenizing it
        statements = split(script, self.engine.dialect)
        if not statements:
            raise UsageError("no SQL statement to run")
        ns = namespace if namespace is not None else {}
        result: Result | None = None
        messages: list[str] = []
        for i, stmt in enumerate(statements):
            last = i == len(statements) - 1
            saving = self.warehouse.statement(stmt, self.engine) if self.warehouse else _NOTHING
            with saving:
                result = self._run_statement(
                    script, stmt, ns, params, progress, result_name if last else None
                )
            if result.message:
                messages.append(result.message)
                if feedback is not None and i < len(statements) - 1:
                    feedback(result.message)
        assert result is not None
        result.messages = tuple(messages)
        return result

    def _run_statement(
        self,
        script: str,
        stmt: Statement,
        namespace: Mapping[str, Any],
        explicit: Mapping[str, Any] | None,
        progress: ProgressCallback | None,
        result_name: str | None = None,
    ) -> Result:
        started = datetime.now(timezone.utc)
        t0 = time.perf_counter()
        values: dict[str, Any] = {}
        try:
            guard.check(stmt.text, stmt.tokens, stmt.start)
            text, values = params.bind(
                stmt.text, namespace, explicit, stmt.tokens or None, stmt.start
            )
            effects = self._check_paths(text)
            with self._frames_in(stmt, namespace) as scope:
                while True:
                    try:
                        table = self.engine.execute(text, values or None, progress)
                        explained = getattr(self.engine, "last_explain", None)
                        break
                    except SqlError as exc:
                        # a DataFrame named like a keyword (`FROM temp`) that sqlglot did not
                        # read as a table: the engine says which name it missed; retry with it
                        if not self._register_missing(exc, stmt, namespace, scope):
                            explain_exists(exc, stmt, scope.frames)
                            if self.warehouse is not None:
                                self.warehouse.explain_missing(exc)
                            raise
                if effects and self.paths is not None:
                    self.paths.apply(effects)
                elapsed = time.perf_counter() - t0
                rows, message = outcome(stmt, table)
                if stmt.kind is not Kind.QUERY and message is not None:
                    table = pa.table({})
                self._emit(
                    script,
                    stmt,
                    Status.COMPLETE,
                    started,
                    elapsed,
                    rows,
                    None,
                    frames=tuple(scope.frames),
                    frame_values=scope.values,
                    result_name=result_name,
                )
        except SqlError as exc:
            if values:
                name_parameters(exc, values)
            self._suggest_frames(exc, namespace or {})
            relocate(exc, script, stmt)
            self._emit(script, stmt, Status.FAIL, started, time.perf_counter() - t0, None, str(exc))
            raise
        except KeyboardInterrupt:  # outside an engine's wait (binding, registering frames)
            cancelled = QueryCancelled()
            self._emit(
                script, stmt, Status.FAIL, started, time.perf_counter() - t0, None, str(cancelled)
            )
            raise cancelled from None
        return Result(
            table=table,
            sql=stmt.text,
            engine=self.engine.name,
            elapsed_s=elapsed,
            message=message,
            notices=tuple(scope.notices),
            display_limit=self.display_limit,
            explain=explained,
        )

    def _suggest_frames(self, exc: SqlError, namespace: Mapping[str, Any]) -> None:
        """For an unknown table, name the kept engine that has it (after an engine switch),
        or suggest the closest name among the engine's tables and the notebook's DataFrames
        and saved results (``%%sql name <<``), which engines do not know of."""
        m = _MISSING_TABLE.search(exc.message)
        if m is None:
            return
        parked = self.parked_with((m.group("name") or m.group("name2")).strip("'\"`"))
        if parked is not None:
            exc.hint = f"it is on the {parked} engine: %sqlweave engine {parked} switches back"
            return
        saved = project_warehouse_with(
            (m.group("name") or m.group("name2")).strip("'\"`"),
            self.warehouse.root if self.warehouse is not None else None,
        )
        if saved is not None:  # a pipeline saved it; this session does not use that warehouse
            exc.hint = (
                f"it is saved in the project warehouse {saved}: "
                f"%config SqlWeave.warehouse = '{saved}' (or Session(warehouse=...)) loads it"
            )
            return
        frames_here = [
            name
            for name, value in namespace.items()
            if not name.startswith("_") and frames.is_frame(value)
        ]
        if not frames_here:
            return
        try:
            known = self.engine.tables()
        except Exception:
            known = []
        missing = (m.group("name") or m.group("name2")).strip('"')
        hint = did_you_mean(missing, [*frames_here, *known])
        if hint is not None:
            exc.hint = hint

    def _register_frame(
        self, engine_name: str, variable: str, value: Any, unless_table: bool = False
    ) -> bool:
        """Register a notebook DataFrame (with ``unless_table``, only if the catalog has no
        table of that name); whether it did. One that cannot become a table (mixed-type or
        duplicate pandas columns) is a short error naming the variable, not a traceback."""
        try:
            if unless_table:
                return self.engine.register_frame_unless_table(engine_name, value)
            self.engine.register_frame(engine_name, value)
            return True
        except (SqlWeaveError, KeyboardInterrupt):
            raise
        except Exception as exc:
            raise UsageError(frames.why_not_a_table(variable, value, exc)) from None

    def _register_missing(
        self, exc: SqlError, stmt: Statement, namespace: Mapping[str, Any], scope: _FrameScope
    ) -> bool:
        """Register the notebook DataFrame an engine reported as a missing table, if there is
        one the statement names and it is not the statement's target; say whether it did."""
        m = _MISSING_TABLE.search(exc.message)
        if m is None or not namespace:
            return False
        missing = (m.group("name") or m.group("name2")).strip("'\"`")
        if missing in scope.frames or missing.lower() == (stmt.target or "").lower():
            return False
        words = {tok.text for tok in _name_tokens(stmt, self.engine.dialect)}
        for name in (missing, *sorted(words)):
            if (
                name.lower() == missing.lower()
                and name in words
                and name in namespace
                and frames.is_frame(namespace[name])
            ):
                self._register_frame(missing, name, namespace[name])
                scope.frames.append(missing)
                scope.values[missing] = namespace[name]
                return True
        return False

    @contextlib.contextmanager
    def _frames_in(self, stmt: Statement, namespace: Mapping[str, Any]) -> Iterator[_FrameScope]:
        """Register the notebook DataFrames ``stmt`` reads, for the statement's duration."""
        scope = _FrameScope()
        if not namespace:
            yield scope
            return
        candidates = {
            tok.text: tok
            for tok in _name_tokens(stmt, self.engine.dialect)
            if tok.token_type.name in _NAME_TOKENS
            and tok.text in namespace
            and frames.is_frame(namespace[tok.text])
        }
        if candidates:
            candidates = {
                k: v for k, v in candidates.items() if k in tables_read(stmt, self.engine.dialect)
            }
        registered = scope.frames  # and those _register_missing adds
        try:
            for name, tok in candidates.items():
                engine_name = name if tok.token_type.name == "IDENTIFIER" else name.lower()
                if not self._register_frame(engine_name, name, namespace[name], unless_table=True):
                    scope.notices.append(
                        f"note: {name} is the catalog table, not the notebook variable of the same name"
                    )
                    continue
                registered.append(engine_name)
                scope.values[engine_name] = namespace[name]
            yield scope
        finally:
            for name in registered:
                with contextlib.suppress(Exception):
                    self.engine.unregister_frame(name)

    def _emit(
        self,
        script: str,
        stmt: Statement,
        status: Status,
        started: datetime,
        duration: float,
        rows: int | None,
        error: str | None,
        *,
        frames: tuple[str, ...] = (),
        frame_values: Mapping[str, Any] | None = None,
        result_name: str | None = None,
    ) -> None:
        if not self._listeners:
            return
        event = StatementEvent(
            sql=stmt.text,
            script=script,
            span=(stmt.start, stmt.end),
            engine=self.engine.name,
            dialect=self.engine.dialect,
            status=status,
            started_at=started,
            duration_s=duration,
            rows=rows,
            error=error,
            # taken now, while the statement's DataFrames are registered and before later
            # statements change the tables: lineage expands `*` against it afterwards
            catalog=self._catalog_for(stmt, frame_values or {})
            if status is Status.COMPLETE
            else {},
            frames=frames,
            result_name=result_name,
            shared_catalog=self.warehouse is not None or self.engine.name == "cluster",
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener never fails the statement
                log.exception("sqlweave listener %r failed", listener)

    def _catalog_for(
        self, stmt: Statement, frame_values: Mapping[str, Any]
    ) -> dict[str, list[str]]:
        """Columns of the catalog tables ``stmt`` names (a name token matching a table) and of
        the local files it names by path. The statement's own DataFrames (``frame_values``,
        by engine name) say their columns themselves: asking the engine cost a thread
        handoff and a bind of the frame (1-2 ms a cell on DuckDB)."""
        out: dict[str, list[str]] = {}
        # files read by path ('data/x.parquet', read_csv('y.csv')): lineage names them so
        for tok in stmt.tokens:
            if tok.token_type.name in _PATH_TOKENS and looks_like_file(tok.text):
                columns = columns_of_file(tok.text)
                if columns is not None:
                    out[tok.text] = columns
        words = {tok.text.lower() for tok in stmt.tokens if tok.token_type.name in _NAME_TOKENS}
        if not words:  # e.g. SELECT 1: no need to list the catalog
            return out
        try:
            by_lower = {t.lower(): t for t in self.engine.tables()}
        except Exception:
            return out
        named = {by_lower[word] for word in words if word in by_lower}
        for name in sorted(named):
            value = frame_values.get(name)
            columns = frames.column_names(value) if value is not None else None
            if columns is not None:
                out[name] = columns
                continue
            with contextlib.suppress(Exception):
                out[name] = self.engine.schema(name).names
        return out


def catalog_of(engine: Engine) -> dict[str, list[str]]:
    """``{table: [column, ...]}`` of every table of ``engine``."""
    out: dict[str, list[str]] = {}
    for name in engine.tables():
        with contextlib.suppress(SqlError):
            out[name] = engine.schema(name).names
    return out


@dataclass
class _FrameScope:
    """What registering a statement's DataFrames produced."""

    notices: list[str] = field(default_factory=list)
    #: engine names of the notebook DataFrames registered for the statement
    frames: list[str] = field(default_factory=list)
    #: those DataFrames, by engine name
    values: dict[str, Any] = field(default_factory=dict)


#: engine kinds whose tables live in this process, kept when switched away from
_PARKABLE = frozenset({"datafusion", "duckdb"})


def _same_engine(spec: str, engine: Engine) -> bool:
    kind = engine_kind(spec)
    if kind == "cluster":
        return getattr(engine, "address", None) == spec.strip()
    return kind is not None and engine.name == kind


def _name_tokens(stmt: Statement, dialect: str) -> list[Any]:
    """The statement's tokens; for ``EXPLAIN <statement>`` (which tokenizes as a command and
    one string) the explained statement's tokens, as ``dialect`` reads them."""
    inner = explained(stmt)
    tokens = tokenize(inner.text, dialect) if inner is not None else None
    return list(stmt.tokens) if tokens is None else tokens


#: an engine's words for an unknown table: DataFusion's (as sqlerrors words it), DuckDB's
_MISSING_TABLE = re.compile(
    r"^table (?P<name>\S+) not found|^Table with name (?P<name2>\S+) does not exist"
)
