"""The cluster catalog: table name -> schema + where its rows live, and how to split them.

A table is either a list of files (workers read their share straight from disk) or an
in-memory Arrow table that the coordinator cut into partitions (workers cache each
partition by content hash). :meth:`Catalog.shares` hands each of ``n`` tasks its share;
the split is a pure function of the catalog entry, so every re-run gets the same rows.

>>> cat = Catalog()
>>> _ = cat.add_arrow("t", pa.table({"x": [1, 2, 3]}), partitions=2)
>>> [len(s) for s in cat.shares("t", 2)]
[1, 1]
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from datafusion import SessionContext

from .fragments import EmptyShare, FilesShare, MemoryShare, TaskInput


@dataclass(frozen=True)
class FileUnit:
    """One schedulable piece of a file-backed table: a file, or some row groups of it."""

    path: str
    rows: int
    row_groups: tuple[int, ...] = ()  # empty = the whole file


@dataclass(frozen=True)
class FileSource:
    paths: tuple[str, ...]
    format: str = "parquet"
    #: rows per file, same order as ``paths``
    rows: tuple[int, ...] = ()
    #: rows per row group, per file (parquet only)
    row_group_rows: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class MemorySource:
    #: content hash of each partition, in order
    hashes: tuple[str, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True)
class StatisticsSource:
    """A row count and no rows: a table the planner can plan for but nothing can read
    (golden plan tests and examples describe TPC-H at SF 1 without generating it)."""

    rows: tuple[int, ...]


@dataclass(frozen=True)
class TableEntry:
    name: str
    schema: pa.Schema
    source: FileSource | MemorySource | StatisticsSource

    @property
    def rows(self) -> int:
        return sum(self.source.rows)


def schema_to_bytes(schema: pa.Schema) -> bytes:
    return schema.serialize().to_pybytes()


def schema_from_bytes(data: bytes) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(data))


def content_hash(table: pa.Table) -> str:
    """A hash of a table's schema and values (its IPC stream), stable across processes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.blake2b(sink.getvalue(), digest_size=16).hexdigest()


def _expand(path: str | os.PathLike[str] | Iterable[str], format: str) -> tuple[str, ...]:
    if not isinstance(path, (str, os.PathLike)):
        return tuple(sorted(str(p) for p in path))
    path = str(path)
    if os.path.isdir(path):
        found = glob.glob(os.path.join(path, "**", f"*.{format}"), recursive=True)
    elif any(c in path for c in "*?["):
        found = glob.glob(path, recursive=True)
    else:
        found = [path]
    if not found:
        raise FileNotFoundError(f"no .{format} files at {path}")
    return tuple(sorted(os.path.abspath(p) for p in found))


def datafusion_schema(paths: tuple[str, ...], format: str) -> pa.Schema:
    """The schema DataFusion gives these files when a worker registers them (string_view etc.)."""
    ctx = SessionContext()
    reader = {"parquet": ctx.register_parquet, "csv": ctx.register_csv, "json": ctx.register_json}
    reader[format]("t", paths[0], file_extension=os.path.splitext(paths[0])[1])
    return ctx.table("t").schema()


def files_entry(
    name: str, path: str | os.PathLike[str] | Iterable[str], format: str = "parquet"
) -> TableEntry:
    """The catalog entry of files (a file, directory, glob or list), read from their
    listing and parquet footers: slow on a slow file system, so the coordinator calls it
    off its loop and adds the entry with :meth:`Catalog.add_entry`."""
    paths = _expand(path, format)
    rows: list[int] = []
    rg_rows: list[tuple[int, ...]] = []
    if format == "parquet":
        for p in paths:
            meta = pq.ParquetFile(p).metadata
            rows.append(meta.num_rows)
            rg_rows.append(tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups)))
    else:
        rows = [max(1, os.path.getsize(p) // 100) for p in paths]  # a size-based guess
    return TableEntry(
        name,
        datafusion_schema(paths, format),
        FileSource(paths, format, tuple(rows), tuple(rg_rows)),
    )


def arrow_entry(
    name: str, table: pa.Table, partitions: int = 1
) -> tuple[TableEntry, dict[str, pa.Table]]:
    """The catalog entry of an in-memory table cut into ``partitions`` slices of equal
    row counts, and the slices by content hash.

    Slices share the parent's schema exactly (integer widths, string types), which
    Substrait fragments need on every worker.

    >>> entry, parts = arrow_entry("t", pa.table({"x": [1, 2, 3]}), partitions=2)
    >>> entry.source.rows, len(parts)
    ((1, 2), 2)
    """
    partitions = max(1, min(partitions, max(1, table.num_rows)))
    bounds = [table.num_rows * i // partitions for i in range(partitions + 1)]
    hashes, rows = [], []
    parts: dict[str, pa.Table] = {}
    for lo, hi in itertools.pairwise(bounds):
        part = table.slice(lo, hi - lo)
        h = content_hash(part)
        parts[h] = part
        hashes.append(h)
        rows.append(part.num_rows)
    return TableEntry(name, table.schema, MemorySource(tuple(hashes), tuple(rows))), parts


class Catalog:
    """Tables known to the cluster. Mutable registry; entries are immutable values."""

    def __init__(self) -> None:
        self._entries: dict[str, TableEntry] = {}
        #: partitions of in-memory tables by content hash (kept on the coordinator)
        self.partitions: dict[str, pa.Table] = {}

    # -- registration ---------------------------------------------------------

    def add_files(
        self, name: str, path: str | os.PathLike[str] | Iterable[str], format: str = "parquet"
    ) -> TableEntry:
        """Register files (a file, directory, glob or list) as table ``name``."""
        entry = files_entry(name, path, format)
        self._entries[name] = entry
        return entry

    def add_arrow(self, name: str, table: pa.Table, partitions: int = 1) -> TableEntry:
        """Register an in-memory table, cut into ``partitions`` slices of equal row counts
        (see :func:`arrow_entry`)."""
        entry, parts = arrow_entry(name, table, partitions)
        self.add_entry(entry, parts)
        return entry

    def add_statistics(self, name: str, schema: pa.Schema, rows: int) -> TableEntry:
        """Register table ``name`` by its schema and row count only, for planning.

        >>> cat = Catalog()
        >>> cat.add_statistics("big", pa.schema([("k", pa.int64())]), rows=10_000_000).rows
        10000000
        >>> cat.shares("big", 2)
        Traceback (most recent call last):
        ...
        ValueError: table big has statistics only (Catalog.add_statistics): it has no rows to read
        """
        entry = TableEntry(name, schema, StatisticsSource((rows,)))
        self._entries[name] = entry
        return entry

    def add_entry(self, entry: TableEntry, partitions: Mapping[str, pa.Table]) -> None:
        """Register again what :meth:`add_arrow` built (under ``entry.name``), without
        slicing and hashing the data anew."""
        self.partitions.update(partitions)
        self._entries[entry.name] = entry

    def remove(self, name: str) -> None:
        entry = self._entries.pop(name, None)
        if entry is not None and isinstance(entry.source, MemorySource):
            for h in entry.source.hashes:
                self.partitions.pop(h, None)

    # -- queries --------------------------------------------------------------

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> TableEntry:
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def planning_context(self, settings: Iterable[tuple[str, str]] = ()) -> SessionContext:
        """A context with an empty table of each catalog schema, for planning only,
        with the client's session ``settings`` (dialect, null ordering, time zone...)."""
        from ..engines.local import apply_settings

        ctx = SessionContext()
        apply_settings(ctx, settings)
        for entry in self._entries.values():
            register_table(ctx, entry.name, entry.schema.empty_table())
        return ctx

    def shares(self, name: str, n: int) -> list[tuple[TaskInput, ...]]:
        """Split table ``name`` between ``n`` tasks: one tuple of inputs per task.

        Files are balanced by row count (largest first onto the lightest task); when there
        are fewer files than tasks, files are split into row groups. A task without rows
        gets an :class:`EmptyShare` carrying the schema.
        """
        entry = self._entries[name]
        empty = (EmptyShare(name, schema_to_bytes(entry.schema)),)
        source = _readable(entry)
        if isinstance(source, MemorySource):
            out: list[list[TaskInput]] = [[] for _ in range(n)]
            for i, h in enumerate(source.hashes):
                out[i % n].append(MemoryShare(name, h))
            return [tuple(s) or empty for s in out]
        groups = assign_units(file_units(source, n), n)
        result: list[tuple[TaskInput, ...]] = []
        for units in groups:
            if not units:
                result.append(empty)
                continue
            paths = tuple(u.path for u in units)
            rgs = tuple(u.row_groups for u in units)
            whole = all(not rg for rg in rgs)
            share = FilesShare(name, paths, source.format, () if whole else rgs, empty[0].schema)
            result.append((share,))
        return result

    def whole(self, name: str, alias: str) -> tuple[TaskInput, ...]:
        """All of table ``name``, for one task, registered there as ``alias``.

        >>> cat = Catalog()
        >>> _ = cat.add_arrow("t", pa.table({"x": [1, 2, 3]}), partitions=2)
        >>> [(s.table, type(s).__name__) for s in cat.whole("t", "all_t")]
        [('all_t', 'MemoryShare'), ('all_t', 'MemoryShare')]
        """
        entry = self._entries[name]
        source = _readable(entry)
        if isinstance(source, MemorySource):
            shares: tuple[TaskInput, ...] = tuple(MemoryShare(alias, h) for h in source.hashes)
        else:
            schema = schema_to_bytes(entry.schema)
            shares = (FilesShare(alias, source.paths, source.format, (), schema),)
        return shares or (EmptyShare(alias, schema_to_bytes(entry.schema)),)


def _readable(entry: TableEntry) -> FileSource | MemorySource:
    if isinstance(entry.source, StatisticsSource):
        raise ValueError(
            f"table {entry.name} has statistics only (Catalog.add_statistics): it has no rows to read"
        )
    return entry.source


def file_units(source: FileSource, n: int) -> list[FileUnit]:
    """Whole files when there are at least ``n`` of them, else row groups."""
    if len(source.paths) >= n or not source.row_group_rows:
        return [FileUnit(p, r) for p, r in zip(source.paths, source.rows)]
    units = []
    for path, rgs in zip(source.paths, source.row_group_rows):
        if len(rgs) <= 1:
            units.append(FileUnit(path, sum(rgs)))
        else:
            units.extend(FileUnit(path, r, (i,)) for i, r in enumerate(rgs))
    return units


def assign_units(units: list[FileUnit], n: int) -> list[list[FileUnit]]:
    """Greedy balance by rows; each task's units keep file order (deterministic)."""
    order = sorted(range(len(units)), key=lambda i: (-units[i].rows, i))
    load = [0] * n
    chosen: list[list[int]] = [[] for _ in range(n)]
    for i in order:
        t = min(range(n), key=lambda k: (load[k], k))
        load[t] += units[i].rows
        chosen[t].append(i)
    return [merge_row_groups([units[i] for i in sorted(c)]) for c in chosen]


def merge_row_groups(units: list[FileUnit]) -> list[FileUnit]:
    """Fold row-group units of the same file into one unit."""
    out: list[FileUnit] = []
    for u in units:
        if out and u.row_groups and out[-1].path == u.path and out[-1].row_groups:
            last = out[-1]
            out[-1] = FileUnit(u.path, last.rows + u.rows, last.row_groups + u.row_groups)
        else:
            out.append(u)
    return out


def register_table(ctx: SessionContext, name: str, table: pa.Table) -> None:
    """Register an Arrow table (possibly empty) under ``name`` without copying."""
    batches = table.to_batches() or [pa.RecordBatch.from_pylist([], schema=table.schema)]
    ctx.register_record_batches(name, [batches])
