"""The project warehouse: tables that outlive a kernel.

With a warehouse folder, every table a statement creates or changes (``CREATE TABLE``,
CTAS, ``INSERT``, ``UPDATE``, ``DELETE``) is saved as ``<folder>/<table>.parquet`` once the
statement has succeeded, and ``DROP TABLE`` removes the file. A new session registers every
saved table by name, so the next kernel (the next notebook of a pipeline, or the same
notebook after a restart) finds them.

Saving is atomic: the table is written to a temporary file in the same folder, flushed to
disk and renamed over the previous version, so a failed statement (nothing is saved) or a
kill during the write leaves the previous version intact and readable.

Parquet for DataFusion *and* DuckDB: a pipeline runs notebooks in parallel kernels, and a
DuckDB database file admits one writing process at a time. The cluster engine is left alone:
its tables live in the coordinator's catalog, which outlives kernels already (and restarts
too, with ``sqlweave coordinator --state-dir``).

Views are kept too, as their SQL text in ``<folder>/<view>.view.sql`` (written the same
atomic way; ``DROP VIEW`` removes it; ``TEMP`` views and views whose SQL binds ``:name``
parameters are left to their session). A new session re-creates them after registering the
tables, in dependency order (a view over another view comes after it); a view that no
longer runs (its table was dropped, it was written for another engine) is named in a
:class:`WarehouseWarning` with the engine's error, and the other views still load.

Re-running a notebook must work, so a plain ``CREATE TABLE t`` (``CREATE VIEW v``) replaces
a ``t`` (``v``) that was loaded from the warehouse (not one created earlier in the same
session).

>>> import tempfile, sqlweave
>>> folder = tempfile.TemporaryDirectory()
>>> sqlweave.Session(warehouse=folder.name).sql("CREATE TABLE kept AS SELECT 42 AS answer").message
'created table kept'
>>> sqlweave.Session(warehouse=folder.name).sql("CREATE VIEW doubled AS SELECT 2 * answer AS a FROM kept").message
'created view doubled'
>>> sqlweave.Session(warehouse=folder.name).sql("SELECT * FROM doubled").to_arrow().to_pylist()
[{'a': 84}]
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import graphlib
import os
import re
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from .engines.engine import Engine
from .errors import SqlError, UsageError
from .params import find as find_parameters
from .project import WAREHOUSE_PARTS, kernel_notebook, project_folders
from .statements import Kind, Statement, split, tables_read

#: environment variable naming the warehouse folder (set by the pipeline runner for kernels)
WAREHOUSE_ENV = "SQLWEAVE_WAREHOUSE"
SUFFIX = ".parquet"
VIEW_SUFFIX = ".view.sql"
_TEMPORARY = ("TEMP", "TEMPORARY")


class WarehouseWarning(UserWarning):
    """Something saved in the warehouse could not be loaded (a view that no longer runs)."""


_SAVED_KINDS = (Kind.CREATE_TABLE, Kind.INSERT, Kind.UPDATE, Kind.DELETE)
_CHANGES = (Kind.INSERT, Kind.UPDATE, Kind.DELETE)
_UNSUPPORTED_ENGINES = ("cluster",)


class Warehouse:
    """A folder of Parquet tables, one file per table.

    Args:
        path: the folder; created if missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot use {self.root} as the warehouse: {exc}") from None
        # tables registered from their files and not yet replaced in this session
        self._loaded: set[str] = set()
        self._loaded_views: set[str] = set()  # views re-created from their SQL, likewise
        #: views :meth:`attach` could not re-create, with the engine's error
        self.broken_views: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Warehouse({str(self.root)!r})"

    def tables(self) -> dict[str, Path]:
        """``{table: parquet file}`` of every saved table."""
        return {
            p.name[: -len(SUFFIX)]: p
            for p in sorted(self.root.glob(f"*{SUFFIX}"))
            if not p.name.startswith(".")
        }

    def views(self) -> dict[str, Path]:
        """``{view: SQL file}`` of every saved view."""
        return {
            p.name[: -len(VIEW_SUFFIX)]: p
            for p in sorted(self.root.glob(f"*{VIEW_SUFFIX}"))
            if not p.name.startswith(".")
        }

    def file(self, name: str, suffix: str = SUFFIX) -> Path:
        """Where table ``name`` (or, with :data:`VIEW_SUFFIX`, view ``name``) is saved."""
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise UsageError(f"{name!r} cannot be saved in the warehouse (not a plain table name)")
        return self.root / f"{name}{suffix}"

    def attach(self, engine: Engine) -> list[str]:
        """Register every saved table with ``engine``, then re-create the saved views;
        returns the names of both. A view that fails is named in a
        :class:`WarehouseWarning` (and :attr:`broken_views`); the others still load."""
        if engine.name in _UNSUPPORTED_ENGINES:
            return []
        names = []
        for name, path in self.tables().items():
            engine.register_path(name, str(path), "parquet")
            self._loaded.add(name)
            names.append(name)
        self.broken_views = {}
        for name, sql in self._views_in_order().items():
            try:
                engine.deregister(name)
                engine.execute(sql)
            except Exception as exc:  # any engine error: the view is named, the rest load
                error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                self.broken_views[name] = error
                # told at the view's file, so the warning's source line is its SQL
                warnings.warn_explicit(
                    f"view {name} saved in the warehouse could not be re-created: {error}",
                    WarehouseWarning,
                    str(self.file(name, VIEW_SUFFIX)),
                    1,
                )
                continue
            self._loaded_views.add(name)
            names.append(name)
        return names

    def explain_missing(self, exc: SqlError) -> None:
        """Say so when a statement failed for want of a view the warehouse could not
        re-create (the engine only says the name is unknown)."""
        message = exc.message.lower()
        if "not found" not in message and "does not exist" not in message:
            return
        for name, error in self.broken_views.items():
            if re.search(rf"(?<![\w.]){re.escape(name.lower())}(?!\w)", message):
                exc.hint = (
                    f"{name} is a view saved in the warehouse that could not be re-created: {error}"
                )
                exc.args = (str(exc),)
                return

    def _views_in_order(self) -> dict[str, str]:
        """``{view: SQL}`` of the saved views, every view after the views it reads."""
        texts = {name: path.read_text(encoding="utf-8") for name, path in self.views().items()}
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for name in sorted(texts):
            stmts = split(texts[name])
            reads = tables_read(stmts[0]) if stmts else set()
            sorter.add(name, *sorted(r for r in reads if r in texts and r != name))
        try:
            order = list(sorter.static_order())
        except graphlib.CycleError:  # views reading each other: each fails with its own error
            order = sorted(texts)
        return {name: texts[name] for name in order}

    @contextlib.contextmanager
    def statement(self, stmt: Statement, engine: Engine) -> Iterator[None]:
        """Wrap one statement: prepare its target, then save or remove it once it succeeded."""
        name = _target(stmt)
        if name is None or engine.name in _UNSUPPORTED_ENGINES:
            yield
            return
        if _is_view(stmt):
            with self._view_statement(stmt, name, engine):
                yield
            return
        replaced = False
        if name in self._loaded and stmt.kind is Kind.CREATE_TABLE and not _if_not_exists(stmt):
            engine.deregister(name)
            replaced = True
        elif name in self._loaded and stmt.kind in (*_CHANGES, Kind.DROP):
            # DuckDB registers a file as a view: DROP TABLE must find a table
            _into_memory(engine, name, self.file(name))
            self._loaded.discard(name)
        try:
            yield
        except BaseException:
            if replaced:  # the statement failed: the saved version is still the table
                engine.register_path(name, str(self.file(name)), "parquet")
            raise
        if stmt.kind is Kind.DROP:
            self.remove(name)
        elif stmt.kind in _SAVED_KINDS and _has(engine, name):
            self._loaded.discard(name)
            self.save(name, engine)
            self.remove_view(name)  # a table now has the name

    @contextlib.contextmanager
    def _view_statement(self, stmt: Statement, name: str, engine: Engine) -> Iterator[None]:
        """:meth:`statement` for ``CREATE VIEW`` and ``DROP VIEW``."""
        # re-running the notebook that made it: a plain CREATE VIEW replaces the loaded one
        replaced = (
            name in self._loaded_views
            and stmt.kind is Kind.CREATE_VIEW
            and not _or_replace(stmt)
            and not _if_not_exists(stmt)
        )
        if replaced:
            engine.deregister(name)
        try:
            yield
        except BaseException:
            if replaced:  # the statement failed: the saved view is still the view
                with contextlib.suppress(Exception):
                    engine.execute(self.file(name, VIEW_SUFFIX).read_text(encoding="utf-8"))
            raise
        self._loaded_views.discard(name)
        if stmt.kind is Kind.DROP:
            self.remove_view(name)
        elif find_parameters(stmt.text, stmt.tokens or None):
            # its text runs only with this session's values: it stays in this session
            self.remove_view(name)
        elif not (_if_not_exists(stmt) and self.file(name, VIEW_SUFFIX).exists()):
            self.save_view(name, stmt.text)
            self.remove(name)  # a view now has the name

    def save_view(self, name: str, sql: str) -> Path:
        """Keep view ``name``'s SQL (``CREATE VIEW ...``), atomically."""
        target = self.file(name, VIEW_SUFFIX)
        _write_atomic(target, sql.strip().encode("utf-8") + b"\n")
        _sync_dir(self.root)
        return target

    def remove_view(self, name: str) -> None:
        """Forget view ``name`` (a missing file is not an error)."""
        self._loaded_views.discard(name)
        with contextlib.suppress(FileNotFoundError, UsageError):
            self.file(name, VIEW_SUFFIX).unlink()
            _sync_dir(self.root)

    def save(self, name: str, engine: Engine) -> Path:
        """Write table ``name`` of ``engine`` to its file, atomically."""
        target = self.file(name)
        data = engine.execute(f"SELECT * FROM {_quoted(name)}")
        tmp = self.root / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(data, tmp)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _sync_dir(self.root)
        return target

    def remove(self, name: str) -> None:
        """Forget table ``name`` (a missing file is not an error)."""
        self._loaded.discard(name)
        with contextlib.suppress(FileNotFoundError, UsageError):
            self.file(name).unlink()
            _sync_dir(self.root)


def project_warehouse_with(name: str, current: Path | None = None) -> Path | None:
    """A project warehouse (other than ``current``) that saved table or view ``name``, looked
    for as ``sqlweave run`` looks for one (see :func:`sqlweave.project.project_warehouse`),
    from the kernel's notebook's folder, else the working folder; None when there is none.
    """
    notebook = kernel_notebook()
    start = notebook.parent if notebook is not None else Path.cwd()
    for folder in project_folders(start.resolve()):
        root = folder.joinpath(*WAREHOUSE_PARTS)
        if current is not None and root.resolve() == current:
            continue
        for candidate in {name, name.lower()}:
            if (root / f"{candidate}{SUFFIX}").is_file() or (
                root / f"{candidate}{VIEW_SUFFIX}"
            ).is_file():
                return root.resolve()
    return None


def from_env() -> str | None:
    """The warehouse folder named by :data:`WAREHOUSE_ENV`, if set."""
    return os.environ.get(WAREHOUSE_ENV) or None


def _target(stmt: Statement) -> str | None:
    """The unqualified table or view ``stmt`` creates, changes or drops, as the engine
    names it (None for a temporary view: it lives in its session only)."""
    kinds = (*_SAVED_KINDS, Kind.CREATE_VIEW, Kind.DROP)
    if stmt.kind not in kinds or not stmt.target or "." in stmt.target:
        return None
    words = [t.text.upper() for t in stmt.tokens[:4]]
    if stmt.kind is Kind.DROP and "TABLE" not in words[:3] and "VIEW" not in words[:3]:
        return None
    if stmt.kind is Kind.CREATE_VIEW and any(w in _TEMPORARY for w in words):
        return None
    return stmt.table


def _is_view(stmt: Statement) -> bool:
    words = [t.text.upper() for t in stmt.tokens[:3]]
    return stmt.kind is Kind.CREATE_VIEW or (stmt.kind is Kind.DROP and "VIEW" in words)


def _or_replace(stmt: Statement) -> bool:
    return [t.text.upper() for t in stmt.tokens[1:3]] == ["OR", "REPLACE"]


def _if_not_exists(stmt: Statement) -> bool:
    words = [t.text.upper() for t in stmt.tokens[:8]]
    return "EXISTS" in words


def _has(engine: Engine, name: str) -> bool:
    has = getattr(engine, "has_table", None)
    return bool(has(name)) if has else name in engine.tables()


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _into_memory(engine: Engine, name: str, path: Path) -> None:
    """Make a table registered from its file writable (an engine cannot INSERT into a file
    listing): load it as an ordinary table of the same name."""
    scratch = f"__sqlweave_load_{uuid.uuid4().hex[:8]}"
    engine.register_arrow(scratch, pq.read_table(path))
    try:
        engine.deregister(name)
        engine.execute(f"CREATE TABLE {_quoted(name)} AS SELECT * FROM {scratch}")
    finally:
        engine.deregister(scratch)


def _write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``target``, fsync it, rename it over."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _sync_dir(path: Path) -> None:
    """Make a rename durable (the directory entry is what changed)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
