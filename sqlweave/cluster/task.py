"""Run one :class:`TaskSpec` on a DataFusion ``SessionContext``.

The caller (a worker process, the coordinator for its own stage, or :mod:`.simulate`)
supplies a context factory and a resolver for the inputs it holds (cached in-memory
partitions, received exchange pieces); files are read here. The output is split as
the spec says: ``{partition: batches}``, every piece holding at least one batch.

Hash partitioning uses our own hash (:func:`hash_rows`) over the key columns: the same
value lands in the same partition on every worker and in every process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datafusion import SessionContext
from datafusion import substrait as ss

from ..engines.local import collect_table
from ..engines.metering import PlanMeter, collect_metered
from .catalog import register_table, schema_from_bytes
from .fragments import (
    EmptyShare,
    ExchangeShare,
    FilesShare,
    Fragment,
    FragmentFormat,
    MemoryShare,
    OutputMode,
    TaskInput,
    TaskSpec,
)

#: what a resolver returns for a MemoryShare or ExchangeShare
Resolved = pa.Table | Sequence[pa.RecordBatch]
InputResolver = Callable[[TaskInput], Resolved]
#: runs a planned fragment (a DataFusion DataFrame) to one table, measured by the meter if given
Collector = Callable[[SessionContext, Any, PlanMeter | None], pa.Table]


def collect_fragment(ctx: SessionContext, df: Any, meter: PlanMeter | None = None) -> pa.Table:
    """The default :data:`Collector`: ``collect``, measured while it runs when ``meter`` is given."""
    return collect_table(df) if meter is None else collect_metered(ctx, df, meter)


def run_task(
    ctx_factory: Callable[[], SessionContext],
    spec: TaskSpec,
    resolve_input: InputResolver,
    links: FileLinks | None = None,
    meter: PlanMeter | None = None,
    collect: Collector = collect_fragment,
) -> dict[int, list[pa.RecordBatch]]:
    """Run ``spec`` and return its output pieces by destination partition.

    Args:
        ctx_factory: returns the SessionContext to run in (configured as the caller
            likes); it may be the same one every time: the task's tables are
            deregistered afterwards.
        spec: the task.
        resolve_input: returns the data of a MemoryShare (a cached partition) or an
            ExchangeShare (the concatenated pieces of all producers); FilesShare and
            EmptyShare are handled here.
        links: where file shares are linked from (default: a directory for this task).
        meter: measures the run while it goes (see :mod:`sqlweave.engines.metering`).
        collect: runs the planned fragment (a worker's stops at once when cancelled).

    Returns:
        GATHER: ``{0: batches}``; BROADCAST: the same batches under every partition
        ``0..partitions-1``; HASH: ``{p: rows whose key hash % partitions == p}``.
    """
    ctx = ctx_factory()
    with contextlib.ExitStack() as stack:
        if links is None:
            links = FileLinks(stack.enter_context(tempfile.TemporaryDirectory(prefix="sqlweave-")))
        # the context may be shared between tasks (a worker keeps one, so DataFusion's
        # caches stay warm): leave it as it was found
        names: list[str] = []
        stack.callback(_deregister, ctx, names)
        register_inputs(ctx, spec.inputs, resolve_input, links, names)
        table = execute_fragment(ctx, spec.fragment, meter, collect)
    return split_output(table, spec.output.mode, spec.output.keys, spec.output.partitions)


def _deregister(ctx: SessionContext, names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(Exception):
            ctx.deregister_table(name)


class FileLinks:
    """Directories of symlinks under ``root``, one per distinct list of files.

    A task's file share becomes one listing table over exactly its files. The directory
    for a given list is made once and reused, so DataFusion's caches, which key parquet
    footers and statistics by path, hit for every later task over the same files.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def folder(self, paths: Sequence[str], format: str) -> str:
        key = hashlib.blake2b("\0".join([format, *paths]).encode(), digest_size=12).hexdigest()
        folder = os.path.join(self.root, f"files-{key}")
        if not os.path.isdir(folder):
            staging = tempfile.mkdtemp(dir=self.root, prefix=".staging-")
            for i, path in enumerate(paths):
                os.symlink(os.path.abspath(path), os.path.join(staging, f"{i:06d}.{format}"))
            try:
                os.rename(staging, folder)
            except OSError:  # made meanwhile by another task
                shutil.rmtree(staging, ignore_errors=True)
        return folder


def register_inputs(
    ctx: SessionContext,
    inputs: Sequence[TaskInput],
    resolve: InputResolver,
    links: FileLinks,
    registered: list[str] | None = None,
) -> None:
    """Register every input under its table name; several inputs of one table are concatenated.

    File shares are read through ``links`` (which must outlive the query); the names
    registered are appended to ``registered``.
    """
    by_table: dict[str, list[TaskInput]] = {}
    for inp in inputs:
        by_table.setdefault(inp.table, []).append(inp)
    for name, items in by_table.items():
        if registered is not None:
            registered.append(name)
        files = [i for i in items if isinstance(i, FilesShare)]
        formats = {f.format for f in files}
        if len(files) == len(items) and len(formats) == 1 and not any(f.row_groups for f in files):
            fmt = formats.pop()
            folder = links.folder([p for f in files for p in f.paths], fmt)
            schema = schema_from_bytes(files[0].schema) if files[0].schema else None
            _register_files(ctx, name, folder, fmt, schema)
            continue
        tables = [_load(item, resolve) for item in items]
        register_table(ctx, name, concat_tables(tables))


_REGISTER = {
    "parquet": SessionContext.register_parquet,
    "csv": SessionContext.register_csv,
    "json": SessionContext.register_json,
}


def _register_files(
    ctx: SessionContext, name: str, folder: str, format: str, schema: pa.Schema | None = None
) -> None:
    """A directory of links to exactly a share's files as one listing table.

    Keeps DataFusion's pushdown (filters, projections, parquet row-group pruning), reads
    the files with the catalog's schema (inferred the same way when not given), and gives
    Substrait a real table scan to resolve by name.
    """
    options: dict[str, Any] = {"file_extension": f".{format}"}
    if schema is not None:
        options["schema"] = schema
    _REGISTER[format](ctx, name, folder, **options)


def _load(inp: TaskInput, resolve: InputResolver) -> pa.Table:
    if isinstance(inp, EmptyShare):
        return schema_from_bytes(inp.schema).empty_table()
    if isinstance(inp, FilesShare):
        return _read_files(inp)
    if isinstance(inp, (MemoryShare, ExchangeShare)):
        data = resolve(inp)
        if isinstance(data, pa.Table):
            return data
        batches = list(data)
        if not batches:
            raise ValueError(f"no data (not even a schema) for input {inp}")
        return pa.Table.from_batches(batches)
    raise TypeError(f"unknown task input {inp!r}")


def _read_files(share: FilesShare) -> pa.Table:
    """Some row groups of parquet files, read into memory."""
    tables = []
    for i, path in enumerate(share.paths):
        f = pq.ParquetFile(path)
        groups = share.row_groups[i] if share.row_groups else ()
        tables.append(f.read_row_groups(list(groups)) if groups else f.read())
    table = concat_tables(tables)
    # the schema DataFusion gives these files (string_view etc.), as on other tasks
    if share.schema:
        target = schema_from_bytes(share.schema)
    else:
        ctx = SessionContext()
        ctx.register_parquet("t", share.paths[0])
        target = ctx.table("t").schema()
    return table.cast(target) if table.schema != target else table


def concat_tables(tables: list[pa.Table]) -> pa.Table:
    """One table from pieces of the same columns, by position.

    Pieces from different tasks may disagree on nullability (an empty piece says "not
    null") or have a NULL-typed column where others have values: every piece is cast to
    a schema that admits them all (the first piece's names, nullable where any is).

    >>> a = pa.table({"x": pa.array([1], pa.int64())})
    >>> b = pa.table({"y": pa.array([None], pa.null())})
    >>> concat_tables([a, b]).to_pydict()
    {'x': [1, None]}
    """
    if not tables:
        return pa.table({})
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema == first for t in tables):
        return pa.concat_tables(tables)
    target = _common_schema([t.schema for t in tables])
    pieces = []
    for t in tables:
        if t.schema.names != target.names:
            t = t.rename_columns(target.names)
        pieces.append(t if t.schema == target else t.cast(target))
    return pa.concat_tables(pieces)


def _common_schema(schemas: list[pa.Schema]) -> pa.Schema:
    """The first schema, widened so that every one of ``schemas`` casts to it."""
    first = schemas[0]
    fields = []
    for i, field in enumerate(first):
        column = [s.field(i) for s in schemas]
        types = [f.type for f in column if not pa.types.is_null(f.type)]
        typ = types[0] if types else field.type
        for other in types[1:]:
            if other != typ:
                try:
                    typ = (
                        pa.unify_schemas(
                            [pa.schema([("c", typ)]), pa.schema([("c", other)])],
                            promote_options="permissive",
                        )
                        .field(0)
                        .type
                    )
                except (pa.ArrowInvalid, pa.ArrowTypeError, NotImplementedError):
                    pass  # left to the cast, which says what does not fit
        nullable = any(f.nullable for f in column) or len(types) < len(column)
        fields.append(pa.field(field.name, typ, nullable, field.metadata))
    return pa.schema(fields, metadata=first.metadata)


def execute_fragment(
    ctx: SessionContext,
    fragment: Fragment,
    meter: PlanMeter | None = None,
    collect: Collector = collect_fragment,
) -> pa.Table:
    """Run a fragment over the registered inputs and collect its output as one table
    (measured by ``meter`` while it runs, when given) with ``collect``."""
    if fragment.format == FragmentFormat.SUBSTRAIT:
        payload = fragment.payload
        plan = ss.Serde.deserialize_bytes(
            payload if isinstance(payload, bytes) else payload.encode()
        )
        df = ctx.create_dataframe_from_logical_plan(ss.Consumer.from_substrait_plan(ctx, plan))
    else:
        df = ctx.sql(str(fragment.payload))
    return collect(ctx, df, meter)


def split_output(
    table: pa.Table, mode: OutputMode, keys: Sequence[str], partitions: int
) -> dict[int, list[pa.RecordBatch]]:
    """Cut a task's output into its destination pieces (each with at least one batch)."""

    def pieces(t: pa.Table) -> list[pa.RecordBatch]:
        return t.to_batches() or [pa.RecordBatch.from_pylist([], schema=t.schema)]

    if mode != OutputMode.HASH:
        table = _compact_views(table)  # (the hash split below copies the strings anyway)
    if mode == OutputMode.GATHER:
        return {0: pieces(table)}
    if mode == OutputMode.BROADCAST:
        whole = pieces(table)
        return {p: whole for p in range(max(1, partitions))}
    n = max(1, partitions)
    out: dict[int, list[pa.RecordBatch]] = {p: [] for p in range(n)}
    plain = _plain_schema(table.schema)
    # whole chunks of rows at once: per-batch kernel calls cost more than the work itself
    for begin in range(0, table.num_rows, _SPLIT_ROWS):
        chunk = table.slice(begin, _SPLIT_ROWS)
        part = hash_rows(chunk, keys) % np.uint64(n)
        # small integers sort by radix: one O(rows) pass groups the rows by partition
        part = part.astype(np.uint16 if n <= 1 << 16 else np.int64)
        order = pa.array(np.argsort(part, kind="stable"), type=pa.int64())
        counts = np.bincount(part, minlength=n)
        taken = _take(chunk, order, plain)
        start = 0
        for p in range(n):
            if counts[p]:
                piece = taken.slice(start, int(counts[p]))
                out[p].extend(b for b in piece.to_batches(max_chunksize=_PIECE_ROWS) if b.num_rows)
                start += int(counts[p])
    empty = pa.RecordBatch.from_pylist([], schema=table.schema)
    return {p: batches or [empty] for p, batches in out.items()}


#: rows hashed and reordered at once by :func:`split_output`
_SPLIT_ROWS = 1 << 20
#: rows per output batch (DataFusion spreads an input over its threads batch by batch)
_PIECE_ROWS = 1 << 16


def _take(table: pa.Table, order: pa.Array, plain: pa.Schema) -> pa.Table:
    """``table.take(order)`` as one chunk per column; view columns go through plain types."""
    columns = []
    for column, want in zip(table.columns, plain.types):
        if column.type == want:
            columns.append(column.take(order))
        else:
            columns.append(column.cast(want).take(order).cast(column.type))
    return pa.Table.from_arrays(columns, schema=table.schema)


_VIEW_TO_PLAIN = {pa.string_view(): pa.large_string(), pa.binary_view(): pa.large_binary()}


def _compact_views(table: pa.Table) -> pa.Table:
    """Copy out the strings of view columns whose batches share big data buffers.

    A join's output batches point into the data buffers of its whole input, and IPC sends
    every buffer a batch references with every batch: pushing 750k joined rows would send
    hundreds of MB. Such a column is rebuilt with just the strings it uses.
    """
    columns: list[pa.ChunkedArray] | None = None
    for i, field in enumerate(table.schema):
        if field.type not in _VIEW_TO_PLAIN:
            continue
        column = table.column(i)
        sent = needed = 0
        for chunk in column.chunks:
            buffers = chunk.buffers()
            sent += sum(b.size for b in buffers[2:] if b is not None)
            if len(chunk) and buffers[1] is not None:
                # each view is 16 bytes: int32 length first; values over 12 bytes live outside
                views = np.frombuffer(buffers[1], dtype=np.int32)
                lengths = views[4 * chunk.offset : 4 * (chunk.offset + len(chunk)) : 4]
                needed += int(lengths[lengths > 12].sum(dtype=np.int64))
        if sent > 2 * needed + (1 << 20):
            columns = columns or list(table.columns)
            columns[i] = column.cast(_VIEW_TO_PLAIN[field.type]).cast(field.type)
    return table if columns is None else pa.Table.from_arrays(columns, schema=table.schema)


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    """Arrow has no take kernel for view types: rows are selected on a plain-typed copy."""
    fields = [f.with_type(_VIEW_TO_PLAIN.get(f.type, f.type)) for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


_MUL = np.uint64(0x9E3779B97F4A7C15)
_P = np.uint64(0x100000001B3)


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads low-entropy keys (small integers) over all bits."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def hash_rows(table: pa.Table | pa.RecordBatch, keys: Sequence[str]) -> np.ndarray:
    """A uint64 hash per row of the ``keys`` columns, identical in every process.

    Integers and dates hash by their int64 value (so int32 and int64 keys agree), strings
    by their UTF-8 bytes (string, large_string and string_view agree), NULLs as 0.

    >>> t = pa.table({"k": [1, 2, 1]})
    >>> h = hash_rows(t, ["k"]); bool(h[0] == h[2] and h[0] != h[1])
    True
    """
    n = table.num_rows
    h = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for key in keys:
            col = table.column(key)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks() if n else pa.array([], pa.int64())
            h = (h * _MUL) ^ _hash_column(col)
            h = _mix(h)
    return h


def _hash_column(arr: pa.Array) -> np.ndarray:
    t = arr.type
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid())
    if pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_temporal(t):
        if pa.types.is_temporal(t):
            width = 32 if t in (pa.date32(), pa.time32("s"), pa.time32("ms")) else 64
            arr = arr.view(pa.int32() if width == 32 else pa.int64())
        vals = np.asarray(pc.cast(arr, pa.int64()).fill_null(0)).view(np.uint64)
    elif pa.types.is_floating(t):
        floats = np.asarray(pc.cast(arr, pa.float64()).fill_null(0.0)) + 0.0  # -0.0 -> 0.0
        vals = np.where(np.isnan(floats), np.nan, floats).view(np.uint64)  # one NaN
    elif pa.types.is_decimal(t):
        scaled = pc.cast(arr, pa.decimal128(38, t.scale)) if t.bit_width != 128 else arr
        buf = np.frombuffer(scaled.buffers()[1], dtype=np.uint64)
        pairs = buf[2 * scaled.offset : 2 * (scaled.offset + n)].reshape(n, 2)
        vals = (pairs[:, 0] * _P) ^ pairs[:, 1]
    elif (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_binary(t)
        or (pa.types.is_large_binary(t) or pa.types.is_string_view(t) or pa.types.is_binary_view(t))
    ):
        vals = _hash_binary(pc.cast(arr, pa.large_binary()))
    else:
        vals = _hash_binary(pc.cast(pc.cast(arr, pa.large_string()), pa.large_binary()))
    if arr.null_count == 0:
        return vals
    return np.where(valid, vals, np.uint64(0))


_CHUNK_ROWS = 1 << 16


def _hash_binary(arr: pa.Array) -> np.ndarray:
    """:func:`_hash_bytes` over slices, so the temporary arrays stay small."""
    if len(arr) <= _CHUNK_ROWS:
        return _hash_bytes(arr)
    parts = [_hash_bytes(arr.slice(i, _CHUNK_ROWS)) for i in range(0, len(arr), _CHUNK_ROWS)]
    return np.concatenate(parts)


def _hash_bytes(arr: pa.Array) -> np.ndarray:
    """Polynomial hash of each value's bytes, independent of where the value sits in the buffer."""
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = arr.buffers()[2]
    start, end = int(offsets[0]), int(offsets[-1])
    raw = (
        np.frombuffer(data, dtype=np.uint8)[start:end].astype(np.uint64)
        if data
        else np.zeros(0, dtype=np.uint64)
    )
    rel = offsets - start
    lengths = np.diff(rel)
    # h(value) = sum(b_j * P^(j - value_start)): weights P^j over the whole buffer, then
    # multiplied by P^-value_start (P is odd, so invertible modulo 2^64)
    pw = np.cumprod(np.full(len(raw), _P, dtype=np.uint64)) if len(raw) else raw
    weights = np.concatenate([np.ones(1, dtype=np.uint64), pw[:-1]]) if len(raw) else raw
    inv = np.uint64(pow(int(_P), -1, 2**64))
    inv_pw = np.cumprod(np.full(len(raw) + 1, inv, dtype=np.uint64))
    inv_pw = np.concatenate([np.ones(1, dtype=np.uint64), inv_pw[:-1]])
    out = np.zeros(n, dtype=np.uint64)
    nonempty = lengths > 0
    if len(raw):
        sums = np.add.reduceat(raw * weights, rel[:-1][nonempty])
        out[nonempty] = sums * inv_pw[rel[:-1][nonempty]]
    return out + lengths.astype(np.uint64)
