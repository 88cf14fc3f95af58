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

Re-running a notebook must work, so a plain ``CREATE TABLE t`` replaces a ``t`` that was
loaded from the warehouse (not one created earlier in the same session).

>>> import tempfile, sqlweave
>>> folder = tempfile.TemporaryDirectory()
>>> sqlweave.Session(warehouse=folder.name).sql("CREATE TABLE kept AS SELECT 42 AS answer").message
'created table kept'
>>> sqlweave.Session(warehouse=folder.name).sql("SELECT answer FROM kept").to_arrow().to_pylist()
[{'answer': 42}]
>>> folder.cleanup()
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from .engines.engine import Engine
from .errors import UsageError
from .statements import Kind, Statement

#: environment variable naming the warehouse folder (set by the pipeline runner for kernels)
WAREHOUSE_ENV = "SQLWEAVE_WAREHOUSE"
SUFFIX = ".parquet"
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

    def __repr__(self) -> str:
        return f"Warehouse({str(self.root)!r})"

    def tables(self) -> dict[str, Path]:
        """``{table: parquet file}`` of every saved table."""
        return {
            p.name[: -len(SUFFIX)]: p
            for p in sorted(self.root.glob(f"*{SUFFIX}"))
            if not p.name.startswith(".")
        }

    def file(self, name: str) -> Path:
        """Where table ``name`` is saved."""
        if not name or name.startswith(".") or any(c in name for c in "/\\\0"):
            raise UsageError(f"{name!r} cannot be saved in the warehouse (not a plain table name)")
        return self.root / f"{name}{SUFFIX}"

    def attach(self, engine: Engine) -> list[str]:
        """Register every saved table with ``engine``; returns their names."""
        if engine.name in _UNSUPPORTED_ENGINES:
            return []
        names = []
        for name, path in self.tables().items():
            engine.register_path(name, str(path), "parquet")
            self._loaded.add(name)
            names.append(name)
        return names

    @contextlib.contextmanager
    def statement(self, stmt: Statement, engine: Engine) -> Iterator[None]:
        """Wrap one statement: prepare its target, then save or remove it once it succeeded."""
        name = _target(stmt)
        if name is None or engine.name in _UNSUPPORTED_ENGINES:
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


def from_env() -> str | None:
    """The warehouse folder named by :data:`WAREHOUSE_ENV`, if set."""
    return os.environ.get(WAREHOUSE_ENV) or None


def _target(stmt: Statement) -> str | None:
    """The unqualified table ``stmt`` creates, changes or drops, as the engine names it."""
    if stmt.kind not in (*_SAVED_KINDS, Kind.DROP) or not stmt.target or "." in stmt.target:
        return None
    if stmt.kind is Kind.DROP and not any(t.text.upper() == "TABLE" for t in stmt.tokens[:3]):
        return None
    return stmt.table


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


def _sync_dir(path: Path) -> None:
    """Make a rename durable (the directory entry is what changed)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
