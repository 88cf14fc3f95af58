"""Arrow data as ZeroMQ frames: the encoding under :mod:`.protocol`.

Arrow tables travel out of band without serialisation: one small layout frame (schema
and buffer layout), then every Arrow buffer as a frame of its own. Sending copies
nothing (``send_multipart(copy=False)``); the receiver rebuilds the arrays in place from
``pa.py_buffer(frame.buffer)`` with ``pa.Array.from_buffers`` (see "Arrow tables as
frames" below for the layout, slices and alignment). The plain values around them
(dataclasses, enums, bytes) become tagged JSON in :mod:`.json_values`.

At about 560 lines this module is a little over the house's ~500: the sender's and the
receiver's halves of the one frame layout are kept side by side so they change together.

>>> frames = table_frames(pa.table({"x": [1, 2]}))
>>> read_table(frames).to_pylist()
[{'x': 1}, {'x': 2}]
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import struct
from typing import Any

import numpy as np
import pyarrow as pa
import zmq


class ProtocolError(Exception):
    """A frame sequence that is not a valid message of this protocol version."""


# ----- Arrow tables as frames -----------------------------------------------------------
#
# A table travels as one layout frame, then each Arrow buffer as a frame of its own:
#
#   layout frame = b"SWA2" + uint32 little-endian schema length + IPC schema + JSON layout
#   JSON layout  = [batch, ...]; batch = [rows, [node per column]] (raw buffers)
#                                   or [rows, frame size]          (one IPC frame: fallback)
#   node         = [length, null count, [buffer size, ...], [child node, ...]]
#
# A buffer size of -1 is an absent buffer (no validity bitmap), 0 an empty buffer (no
# frame), anything else the size of the next frame. Every array is rebased to offset 0 on
# the sender: sliced fixed-width buffers are sent as zero-copy sub-buffers, bitmaps whose
# slice does not start on a byte are re-packed (1/8 byte a row), offsets that do not start
# at 0 are rebased (a copy of the offsets only) and string data / list children are cut to
# the range the offsets use, so a slice of a big table never drags its parent's buffers
# along. Views (string_view, binary_view) keep their variadic data buffers whole unless they
# hold more than twice what the views use, then the column is compacted first.
#
# The receiver wraps each frame with ``pa.py_buffer`` and rebuilds the arrays with
# ``pa.Array.from_buffers`` (zero copy), except for buffers that are not at their type's
# natural alignment: ZeroMQ hands out frames at any address (small frames are cut from a
# shared receive buffer, large ones start 8 bytes past a 16-byte boundary), and arrow-rs
# (DataFusion) silently copies a misaligned buffer on import, slowly (0.75 GB/s for a
# decimal128 column); :func:`_aligned` copies those into 64-byte aligned Arrow memory first.

_MAGIC = b"SWA2"
_PREFIX = struct.Struct("<4sI")
_EMPTY = pa.py_buffer(b"")
#: column chunks smaller than this on average: merge batches before sending
_SMALL_CHUNK = 128 << 10
#: the size merged batches grow to
_MERGED_BATCH = 16 << 20
#: variadic view data up to this size is always sent as is
_VIEW_SLACK = 1 << 16


class _Unsupported(Exception):
    """A type :func:`_encode_array` cannot frame: its batch travels as one IPC frame."""


def _type_ids(*types: pa.DataType) -> frozenset[int]:
    return frozenset(t.id for t in types)


_OFFSETS32 = _type_ids(pa.string(), pa.binary())
_OFFSETS64 = _type_ids(pa.large_string(), pa.large_binary())
_VIEWS = _type_ids(pa.string_view(), pa.binary_view())
_LISTS32 = _type_ids(pa.list_(pa.null()), pa.map_(pa.int8(), pa.null()))
_LISTS64 = _type_ids(pa.large_list(pa.null()))
_FIXED_LIST = pa.list_(pa.null(), 1).id
#: fixed-width types: one data buffer of ``bit_width`` bits a value
_FIXED = _type_ids(
    *(pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()),
    *(pa.uint64(), pa.float16(), pa.float32(), pa.float64(), pa.decimal128(1), pa.decimal256(1)),
    *(pa.date32(), pa.date64(), pa.time32("s"), pa.time64("us"), pa.timestamp("s")),
    *(pa.duration("s"), pa.month_day_nano_interval(), pa.binary(1)),
    *(getattr(pa, name)(1) for name in ("decimal32", "decimal64") if hasattr(pa, name)),
)
_STRUCT = pa.struct([]).id
_BOOL = pa.bool_().id
_NULL = pa.null().id
#: every type whose arrays travel as raw buffers (anything else goes as IPC)
_RAW = _FIXED | _OFFSETS32 | _OFFSETS64 | _VIEWS | _LISTS32 | _LISTS64
_RAW |= {_FIXED_LIST, _STRUCT, _BOOL, _NULL}


def _plain_types(table: pa.Table, nested_only: bool = False) -> pa.Table:
    """Dictionary columns travel as their values (receivers expect plain column types).

    ``nested_only``: only dictionaries of dictionaries, which Arrow IPC cannot carry
    (pyarrow's reader fails on them), travel as their inner dictionary; a field metadata
    entry tells :func:`read_table` the outer index type to put back.
    """

    def flatten(t: pa.DataType) -> bool:
        if not pa.types.is_dictionary(t):
            return False
        return not nested_only or pa.types.is_dictionary(t.value_type)

    if not any(flatten(f.type) for f in table.schema):
        return table

    def field(f: pa.Field) -> pa.Field:
        if not flatten(f.type):
            return f
        meta = dict(f.metadata or {})
        if nested_only:
            meta[_OUTER_INDEX] = str(f.type.index_type).encode()
        return pa.field(f.name, f.type.value_type, f.nullable, meta or None)

    fields = [field(f) for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def table_frames(
    table: pa.Table | pa.RecordBatch | pa.Schema, plain: bool = True
) -> list[pa.Buffer]:
    """A layout frame, then the Arrow buffers of every non-empty batch (no copy of the data).

    ``plain``: dictionary columns travel as their values (what exchanges between stages
    expect); else they keep their type (a query's result, as the user's engine gave it).
    """
    if isinstance(table, pa.Schema):
        return [_layout_frame(table, [])]
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    table = _plain_types(table, nested_only=not plain)
    buffers: list[pa.Buffer] = []
    layout = [_encode_batch(b, buffers) for b in _batches(table)]
    return [_layout_frame(table.schema, layout), *buffers]


def _batches(table: pa.Table) -> list[pa.RecordBatch]:
    """The non-empty batches of ``table``; many small ones are merged first.

    Every zero-copy frame costs pyzmq a round trip through its garbage-collector thread
    (and us a few Python calls on each side): about as much as copying 64 KiB. So when
    the column chunks average under :data:`_SMALL_CHUNK` bytes (DataFusion's default of
    8192 rows a batch), consecutive batches are concatenated (one copy) into batches of
    about :data:`_MERGED_BATCH` bytes.
    """
    batches = [b for b in table.to_batches() if b.num_rows]
    chunks = len(batches) * table.num_columns
    if len(batches) < 2 or not chunks or table.nbytes >= chunks * _SMALL_CHUNK:
        return batches
    merged: list[pa.RecordBatch] = []
    group: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        group.append(batch)
        size += batch.nbytes
        if size >= _MERGED_BATCH:
            merged.append(_concat(group))
            group, size = [], 0
    if group:
        merged.append(_concat(group))
    return merged


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _layout_frame(schema: pa.Schema, layout: list[Any]) -> pa.Buffer:
    head = schema.serialize().to_pybytes()
    body = json.dumps(layout, separators=(",", ":")).encode()
    return pa.py_buffer(_PREFIX.pack(_MAGIC, len(head)) + head + body)


def _encode_batch(batch: pa.RecordBatch, out: list[pa.Buffer]) -> list[Any]:
    """The layout of ``batch``, its buffers appended to ``out``."""
    mark = len(out)
    try:
        # (pyarrow has no Python array class for some types, such as day_time_interval:
        # touching such a column raises KeyError, but IPC still carries it)
        return [batch.num_rows, [_encode_array(col, out) for col in batch.columns]]
    except (_Unsupported, KeyError, NotImplementedError):
        # no from_buffers path for one of its types: the batch goes as one IPC frame
        del out[mark:]
        if _has_dictionary(batch.schema.types):
            # a bare IPC batch has no dictionaries: send a whole stream (schema,
            # dictionaries, batch) instead
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as writer:
                writer.write_batch(batch)
            frame = sink.getvalue()
            out.append(frame)
            return [batch.num_rows, {"stream": frame.size}]
        frame = batch.serialize()
        out.append(frame)
        return [batch.num_rows, frame.size]


def _has_dictionary(types: list[pa.DataType]) -> bool:
    return any(
        pa.types.is_dictionary(t) or _has_dictionary([t.field(i).type for i in range(t.num_fields)])
        for t in types
    )


def _encode_array(arr: pa.Array, out: list[pa.Buffer], compacted: bool = False) -> list[Any]:
    """The layout node of ``arr`` rebased to offset 0; its buffers are appended to ``out``."""
    kind, n, off = arr.type.id, len(arr), arr.offset
    if kind == _NULL:
        return [n, n, [-1], []]
    bufs = arr.buffers()
    own: list[pa.Buffer | None] = [_validity(arr, bufs[0])]
    children: list[pa.Array] = []
    if kind == _BOOL:
        own.append(_bits(bufs[1], off, n))
    elif kind in _OFFSETS32 or kind in _OFFSETS64:
        offsets, first, last = _offsets(bufs[1], off, n, kind in _OFFSETS64)
        own += [offsets, _span(bufs[2], first, last - first)]
    elif kind in _VIEWS:
        views = _span(bufs[1], off * 16, n * 16)
        # (once: a cast may keep a data buffer even when every string fits in its view)
        if not compacted and _wasteful_views(views, n, bufs[2:]):
            return _encode_array(_compact_views(arr), out, compacted=True)
        own += [views, *bufs[2:]]
    elif kind in _LISTS32 or kind in _LISTS64:
        offsets, first, last = _offsets(bufs[1], off, n, kind in _LISTS64)
        own.append(offsets)
        children.append(arr.values.slice(first, last - first))
    elif kind == _FIXED_LIST:
        size = arr.type.list_size
        children.append(arr.values.slice(off * size, n * size))
    elif kind == _STRUCT:
        children.extend(arr.field(i) for i in range(arr.type.num_fields))
    elif kind in _FIXED:
        own.append(_fixed_width(arr.type, bufs, off, n))
    else:
        # unions, run-end encoded, list views, extension and (nested) dictionary types
        raise _Unsupported(arr.type)
    sizes = []
    for buf in own:
        sizes.append(-1 if buf is None else buf.size)
        if buf is not None and buf.size:
            out.append(buf)
    return [n, arr.null_count, sizes, [_encode_array(c, out) for c in children]]


def _fixed_width(typ: pa.DataType, bufs: list[pa.Buffer | None], off: int, n: int) -> pa.Buffer:
    """The data buffer of a fixed-width array (ints, floats, decimals, dates, times...)."""
    width = typ.bit_width
    return _span(bufs[1], off * width // 8, n * width // 8)


def _span(buf: pa.Buffer | None, start: int, size: int) -> pa.Buffer:
    """``size`` bytes of ``buf`` from ``start``, without copying."""
    if size == 0:
        return _EMPTY
    if buf is None or start + size > buf.size:
        raise ValueError(f"buffer too small for {start}+{size} bytes")
    return buf if start == 0 and buf.size == size else buf.slice(start, size)


def _validity(arr: pa.Array, buf: pa.Buffer | None) -> pa.Buffer | None:
    """The validity bitmap rebased to offset 0; none at all when nothing is null."""
    if buf is None or arr.null_count == 0:
        return None
    return _bits(buf, arr.offset, len(arr))


def _bits(buf: pa.Buffer, off: int, n: int) -> pa.Buffer:
    """Bits ``off .. off + n`` of a bitmap from bit 0: zero copy when ``off`` is whole bytes."""
    shift = off % 8
    if shift == 0:
        return _span(buf, off // 8, (n + 7) // 8)
    raw = np.frombuffer(buf, np.uint8, count=(shift + n + 7) // 8, offset=off // 8)
    bits = np.unpackbits(raw, bitorder="little")[shift : shift + n]
    return pa.py_buffer(np.packbits(bits, bitorder="little"))


def _offsets(buf: pa.Buffer | None, off: int, n: int, wide: bool) -> tuple[pa.Buffer, int, int]:
    """Offsets of elements ``off .. off + n`` starting at 0, and the data range they span."""
    dtype = np.dtype(np.int64 if wide else np.int32)
    if n == 0:
        return pa.py_buffer(np.zeros(1, dtype)), 0, 0
    values = np.frombuffer(buf, dtype, count=n + 1, offset=off * dtype.itemsize)
    first, last = int(values[0]), int(values[-1])
    if first == 0:
        return _span(buf, off * dtype.itemsize, (n + 1) * dtype.itemsize), 0, last
    return pa.py_buffer(values - values.dtype.type(first)), first, last


def _wasteful_views(views: pa.Buffer, n: int, data: list[pa.Buffer | None]) -> bool:
    """Whether the variadic buffers hold much more than the views (e.g. of a slice) use."""
    held = sum(b.size for b in data if b is not None)
    if held <= _VIEW_SLACK:
        return False
    lengths = np.frombuffer(views, np.int32, count=4 * n)[::4]
    return held > 2 * int(lengths[lengths > 12].sum(dtype=np.int64))


def _compact_views(arr: pa.Array) -> pa.Array:
    """``arr`` with fresh variadic buffers holding only its own strings."""
    wide = pa.large_string() if pa.types.is_string_view(arr.type) else pa.large_binary()
    return arr.cast(wide).cast(arr.type)


# ----- receiving ------------------------------------------------------------------------


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Let glibc reuse freed heap pages for large received frames; False where it cannot.

    libzmq allocates every large incoming frame with ``malloc``. By default glibc maps
    such blocks fresh from the kernel (or trims the heap as soon as they are freed), so
    each received table pays a page fault per 4 KiB: in ``bench/transport.py`` that
    halved throughput (``--fresh-pages``). Blocks up to 32 MiB then come from the heap,
    and up to ``trim_threshold`` bytes of freed heap stay mapped for the next message.
    Process-wide: meant to be called once when a worker or coordinator starts.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    return all(
        mallopt(option, value) == 1
        for option, value in (
            (m_mmap_threshold, 32 << 20),
            (m_trim_threshold, trim_threshold),
            (m_top_pad, 64 << 20),
        )
    )


def frame_buffer(frame: Any) -> pa.Buffer:
    """A zero-copy Arrow view of a received frame (``zmq.Frame``, bytes or a buffer)."""
    if isinstance(frame, pa.Buffer):
        return frame
    if isinstance(frame, zmq.Frame):
        return pa.py_buffer(frame.buffer)
    return pa.py_buffer(frame)


def _aligned(buf: pa.Buffer, align: int) -> pa.Buffer:
    """``buf`` itself when it sits at a multiple of ``align``, else a 64-byte aligned copy."""
    if buf.address % align == 0:
        return buf
    copy = pa.allocate_buffer(buf.size)
    np.frombuffer(copy, np.uint8)[:] = np.frombuffer(buf, np.uint8)
    return copy


class _Frames:
    """The buffer frames of one table, handed out in order and checked against the layout."""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames
        self.pos = 0

    def take(self, size: int, align: int) -> pa.Buffer | None:
        if not isinstance(size, int) or size < -1:
            raise ProtocolError(f"bad buffer size {size!r} in the layout")
        if size == -1:
            return None
        if size == 0:
            return _EMPTY
        if self.pos >= len(self.frames):
            raise ProtocolError("the layout names more buffers than were sent")
        buf = frame_buffer(self.frames[self.pos])
        self.pos += 1
        if buf.size != size:
            raise ProtocolError(f"buffer frame of {buf.size} bytes, layout says {size}")
        return _aligned(buf, align)


def read_table(frames: list[Any]) -> pa.Table:
    """Inverse of :func:`table_frames`; :class:`ProtocolError` if the frames are not one."""
    if not frames:
        raise ProtocolError("no layout frame")
    try:
        schema, layout = _read_layout(frame_buffer(frames[0]))
        source = _Frames(frames[1:])
        plans = [_Plan.of(f.type) for f in schema]
        batches = [_decode_batch(schema, plans, entry, source) for entry in layout]
        if source.pos != len(source.frames):
            raise ProtocolError(f"{len(source.frames) - source.pos} buffer frames left over")
        return _nest_dictionaries(pa.Table.from_batches(batches, schema=schema))
    except ProtocolError:
        raise
    except (RecursionError, MemoryError) as exc:
        raise ProtocolError(f"bad Arrow frames: {type(exc).__name__}") from None
    except Exception as exc:  # pyarrow raises OSError, ArrowInvalid, ... on corrupt input
        raise ProtocolError(f"bad Arrow frames: {exc}") from None


#: field metadata: the outer index type of a dictionary of dictionaries sent as its inner one
_OUTER_INDEX = b"sqlweave.outer_dictionary_index"
_INDEX_TYPES = {
    str(t): t
    for bits in (8, 16, 32, 64)
    for t in (getattr(pa, f"int{bits}")(), getattr(pa, f"uint{bits}")())
}


def _nest_dictionaries(table: pa.Table) -> pa.Table:
    """Put back the outer level of dictionaries of dictionaries (see :func:`_plain_types`):
    each row its own entry, which keeps the values and the type."""
    marked = [i for i, f in enumerate(table.schema) if f.metadata and _OUTER_INDEX in f.metadata]
    for i in marked:
        f = table.schema.field(i)
        index = _INDEX_TYPES.get(f.metadata[_OUTER_INDEX].decode())
        if index is None or not pa.types.is_dictionary(f.type):
            raise ProtocolError(f"bad outer dictionary index for column {f.name!r}")
        chunks = [
            pa.DictionaryArray.from_arrays(pa.array(range(len(c)), index), c)
            for c in table.column(i).chunks
        ]
        meta = {k: v for k, v in f.metadata.items() if k != _OUTER_INDEX} or None
        outer = pa.field(f.name, pa.dictionary(index, f.type), f.nullable, meta)
        table = table.set_column(i, outer, pa.chunked_array(chunks, outer.type))
    return table


def _read_layout(buf: pa.Buffer) -> tuple[pa.Schema, list[Any]]:
    magic, size = _PREFIX.unpack_from(buf)
    if magic != _MAGIC or _PREFIX.size + size > buf.size:
        raise ProtocolError("not an Arrow layout frame")
    schema = pa.ipc.read_schema(buf.slice(_PREFIX.size, size))
    layout = json.loads(buf.slice(_PREFIX.size + size).to_pybytes())
    if not isinstance(layout, list):
        raise ProtocolError("the Arrow layout is not a list of batches")
    return schema, layout


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What rebuilding an array of ``typ`` needs, worked out once per column and table."""

    typ: pa.DataType
    aligns: tuple[int, ...]
    children: tuple[_Plan, ...]
    #: whether table_frames sends this type as raw buffers (else only inside IPC frames;
    #: from_buffers must never see it: a dictionary type there aborts the process)
    raw: bool

    @classmethod
    def of(cls, typ: pa.DataType) -> _Plan:
        children = tuple(cls.of(t) for t in _child_types(typ))
        raw = typ.id in _RAW
        return cls(typ, _alignments(typ) if raw else (), children, raw)


def _decode_batch(schema: pa.Schema, plans: list[_Plan], entry: Any, source: _Frames) -> Any:
    rows, columns = entry
    if isinstance(columns, dict) and isinstance(columns.get("stream"), int):
        batch = pa.ipc.open_stream(source.take(columns["stream"], 8)).read_next_batch()
        if not batch.schema.equals(schema):
            raise ProtocolError("an IPC stream frame does not match the table's schema")
        batch.validate(full=True)
        return batch
    if isinstance(columns, int):
        # IPC flatbuffers want 8-byte alignment; rare types only: full validation is affordable
        batch = pa.ipc.read_record_batch(source.take(columns, 8), schema)
        batch.validate(full=True)
        return batch
    if not isinstance(columns, list) or len(columns) != len(plans):
        raise ProtocolError("the layout does not match the schema's columns")
    arrays = [_decode_array(plan, node, source) for plan, node in zip(plans, columns)]
    if any(len(a) != rows for a in arrays):
        raise ProtocolError("column lengths do not match the batch's row count")
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _decode_array(plan: _Plan, node: list[Any], source: _Frames) -> pa.Array:
    """Rebuild one array of ``node`` (see the layout above) from the next frames."""
    length, nulls, sizes, children = node
    if not plan.raw:
        raise ProtocolError(f"{plan.typ} cannot travel as raw buffers")
    if len(sizes) > len(plan.aligns) or len(children) != len(plan.children):
        raise ProtocolError(f"array node does not fit {plan.typ}")
    kind = plan.typ.id
    if kind not in _VIEWS and len(sizes) != len(plan.aligns):
        raise ProtocolError(f"array node does not fit {plan.typ}")
    if kind in _VIEWS and len(sizes) < 2:
        raise ProtocolError(f"array node does not fit {plan.typ}")
    buffers = [source.take(size, align) for size, align in zip(sizes, plan.aligns)]
    kids = [_decode_array(p, c, source) for p, c in zip(plan.children, children)]
    arr = pa.Array.from_buffers(plan.typ, length, buffers, nulls, 0, kids or None)
    _check_bounds(arr, buffers, kids)
    return arr


def _check_bounds(arr: pa.Array, buffers: list[pa.Buffer | None], kids: list[pa.Array]) -> None:
    """Offsets and views must stay inside their data: Arrow trusts them, and a bad one read
    later would crash the process instead of raising (a cheap check, no UTF-8 pass)."""
    kind, n = arr.type.id, len(arr)
    if n == 0:
        return
    if kind in _OFFSETS32 or kind in _OFFSETS64 or kind in _LISTS32 or kind in _LISTS64:
        wide = kind in _OFFSETS64 or kind in _LISTS64
        if buffers[1] is None or buffers[1].size < (n + 1) * (8 if wide else 4):
            raise ProtocolError(f"{arr.type}: offsets buffer too small")
        offsets = np.frombuffer(buffers[1], np.int64 if wide else np.int32, count=n + 1)
        if kind in _OFFSETS32 or kind in _OFFSETS64:
            end = buffers[2].size if len(buffers) > 2 and buffers[2] is not None else 0
        else:
            end = len(kids[0])
        if offsets[0] < 0 or offsets[-1] > end or (n > 1 and (np.diff(offsets) < 0).any()):
            raise ProtocolError(f"{arr.type}: offsets out of order or out of bounds")
    elif kind in _VIEWS:
        if buffers[1] is None or buffers[1].size < n * 16:
            raise ProtocolError(f"{arr.type}: views buffer too small")
        views = np.frombuffer(buffers[1], np.int32, count=4 * n).reshape(n, 4)
        if arr.null_count:
            views = views[np.asarray(arr.is_valid())]
        lengths = views[:, 0]
        if (lengths < 0).any():
            raise ProtocolError(f"{arr.type}: negative view length")
        long = views[lengths > 12]
        if len(long):
            sizes = np.array([b.size if b is not None else 0 for b in buffers[2:]], np.int64)
            index, start = long[:, 2], long[:, 3].astype(np.int64)
            if (index < 0).any() or (index >= len(sizes)).any() or (start < 0).any():
                raise ProtocolError(f"{arr.type}: view points outside its data buffers")
            if (start + long[:, 0] > sizes[index]).any():
                raise ProtocolError(f"{arr.type}: view points outside its data buffers")


#: how many variadic data buffers a view array may have
_MAX_VARIADIC = 1 << 16


def _alignments(typ: pa.DataType) -> tuple[int, ...]:
    """The natural alignment of each buffer of ``typ`` (arrow-rs needs it, see above)."""
    kind = typ.id
    if kind in _OFFSETS32 or kind in _LISTS32:
        return (1, 4, 1)[: typ.num_buffers]
    if kind in _OFFSETS64 or kind in _LISTS64:
        return (1, 8, 1)[: typ.num_buffers]
    if kind in _VIEWS:
        return (1, 16) + (1,) * _MAX_VARIADIC
    if kind in _FIXED:
        width = typ.bit_width // 8
        return (1, min(width, 16) if width in (1, 2, 4, 8, 16, 32) else 1)
    return (1,) * typ.num_buffers


def _child_types(typ: pa.DataType) -> list[pa.DataType]:
    if pa.types.is_map(typ):
        return [pa.struct([typ.key_field, typ.item_field])]
    if typ.id in _LISTS32 or typ.id in _LISTS64 or typ.id == _FIXED_LIST:
        return [typ.value_type]
    if typ.id == _STRUCT:
        return [typ.field(i).type for i in range(typ.num_fields)]
    return []
