"""Arrow tables as raw buffer frames: round trips, slices, alignment, malformed layouts."""

from __future__ import annotations

import datetime
import decimal
import json
import platform
import struct

import datafusion
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import zmq

from sqlweave.cluster import protocol as P
from sqlweave.cluster import transport as T

N = 300


def _column(i: int) -> dict:
    return {"x": i, "s": f"n{i}"}


COLUMNS: dict[str, pa.Array] = {
    "i8": pa.array([i % 120 - 60 for i in range(N)], pa.int8()),
    "i16": pa.array(range(N), pa.int16()),
    "i32": pa.array([i if i % 7 else None for i in range(N)], pa.int32()),
    "i64": pa.array(range(-N, 0), pa.int64()),
    "u8": pa.array([i % 256 for i in range(N)], pa.uint8()),
    "u64": pa.array(range(N), pa.uint64()),
    "f64": pa.array([i / 3 if i % 5 else None for i in range(N)], pa.float64()),
    "dec": pa.array(
        [decimal.Decimal(i) / 100 if i % 9 else None for i in range(N)], pa.decimal128(15, 2)
    ),
    "date": pa.array([datetime.date(2020, 1, 1) + datetime.timedelta(i) for i in range(N)]),
    "ts": pa.array(
        [datetime.datetime(2021, 3, 4, 5, 6, i % 60) for i in range(N)],
        pa.timestamp("us", "UTC"),
    ),
    "bool": pa.array([i % 3 == 0 if i % 4 else None for i in range(N)]),
    "str": pa.array([f"s{i}" * (i % 4) if i % 6 else None for i in range(N)]),
    "lstr": pa.array([f"large-{i}" for i in range(N)], pa.large_string()),
    "bin": pa.array([bytes([i % 256]) * (i % 5) for i in range(N)], pa.binary()),
    "sview": pa.array(
        [f"a string longer than twelve {i}" if i % 3 else f"s{i}" for i in range(N)],
        pa.string_view(),
    ),
    "bview": pa.array([b"b" * (i % 40) if i % 8 else None for i in range(N)], pa.binary_view()),
    "null": pa.nulls(N),
    "all_null": pa.nulls(N, pa.int64()),
    "list": pa.array([[i, None, i + 1] if i % 4 else None for i in range(N)], pa.list_(pa.int32())),
    "llist": pa.array([[f"v{i}"] * (i % 3) for i in range(N)], pa.large_list(pa.string())),
    "fsl": pa.array([[i, -i] for i in range(N)], pa.list_(pa.int16(), 2)),
    "struct": pa.array([_column(i) if i % 5 else None for i in range(N)]),
    "map": pa.array([[("k", i), ("j", None)] for i in range(N)], pa.map_(pa.string(), pa.int64())),
    "nested": pa.array(
        [[_column(i), _column(i + 1)] if i % 2 else [] for i in range(N)],
        pa.list_(pa.struct([("x", pa.int64()), ("s", pa.string())])),
    ),
}


def _table() -> pa.Table:
    table = pa.table(COLUMNS)
    fields = [
        f.with_metadata({"doc": f"column {f.name}"}) if f.name.startswith("i") else f
        for f in table.schema
    ]
    fields[table.schema.get_field_index("u64")] = pa.field("u64", pa.uint64(), nullable=False)
    return table.cast(pa.schema(fields, metadata={"origin": "test"}))


TABLE = _table()


def _round_trip(table: pa.Table) -> pa.Table:
    """Frames as a receiver gets them (each one a separate ``bytes``), read back and checked."""
    back = T.read_table([bytes(f) for f in T.table_frames(table)])
    back.validate(full=True)
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.equals(table)
    return back


@pytest.mark.parametrize("name", list(COLUMNS))
def test_each_type_round_trips(name: str) -> None:
    _round_trip(TABLE.select([name]))


def test_schema_metadata_and_nullability_survive() -> None:
    back = _round_trip(TABLE)
    assert back.schema.metadata == {b"origin": b"test"}
    assert back.schema.field("i8").metadata == {b"doc": b"column i8"}
    assert not back.schema.field("u64").nullable


def test_buffers_travel_as_frames_not_ipc() -> None:
    frames = T.table_frames(pa.table({"a": pa.array(range(100), pa.int64())}))
    assert len(frames) == 2  # layout, the values (no validity bitmap: nothing is null)
    assert frames[1].size == 800


@pytest.mark.parametrize(("offset", "length"), [(1, 10), (3, 200), (8, 100), (299, 1), (5, 0)])
def test_sliced_arrays(offset: int, length: int) -> None:
    sliced = TABLE.slice(offset, length)
    assert not length or sliced.column("i64").chunk(0).offset == offset
    _round_trip(sliced)
    batch = TABLE.to_batches()[0].slice(offset, length)
    assert T.read_table(T.table_frames(batch)).equals(pa.Table.from_batches([batch]))


def test_batches_that_are_slices_do_not_send_their_parents_buffers() -> None:
    rows = 100_000
    big = pa.table(
        {
            "i": pa.array(range(rows), pa.int64()),
            "s": pa.array([f"string {i}" for i in range(rows)]),
            "v": pa.array([f"a long string view value {i}" for i in range(rows)], pa.string_view()),
            "l": pa.array([[i, i] for i in range(rows)], pa.list_(pa.int64())),
            "n": pa.array([None if i % 3 else i for i in range(rows)], pa.int64()),
        }
    )
    pieces = pa.Table.from_batches(big.slice(50_001, 2_000).to_batches(max_chunksize=500))
    assert pieces.column("s").num_chunks == 4
    frames = T.table_frames(pieces)
    sent = sum(f.size for f in frames[1:])
    assert sent < 3 * pieces.nbytes, (sent, pieces.nbytes, big.nbytes)
    _round_trip(pieces)


def test_many_small_batches_are_merged_into_few_frames() -> None:
    rows = 200_000
    table = pa.table({"i": pa.array(range(rows), pa.int64()), "s": [f"v{i}" for i in range(rows)]})
    small = pa.Table.from_batches(table.to_batches(max_chunksize=8_192))
    assert small.column("i").num_chunks == 25
    frames = T.table_frames(small)
    assert len(frames) == 1 + 3  # layout; one merged batch: values, offsets, string data
    back = _round_trip(small)
    assert back.column("i").num_chunks == 1
    # batches whose column chunks are large enough travel as they are
    large = pa.Table.from_batches(table.to_batches(max_chunksize=100_000))
    assert len(T.table_frames(large)) == 1 + 2 * 3


def test_zero_row_tables() -> None:
    empty = TABLE.schema.empty_table()
    assert len(T.table_frames(empty)) == 1
    assert _round_trip(empty).num_rows == 0
    assert _round_trip(TABLE.slice(10, 0)).num_rows == 0
    schema_only = T.read_table(T.table_frames(TABLE.schema))
    assert schema_only.schema.equals(TABLE.schema, check_metadata=True)


def test_dictionary_columns_travel_as_values() -> None:
    table = pa.table({"d": pa.array(["x", "y", None, "x"]).dictionary_encode()})
    back = T.read_table(T.table_frames(table))
    assert back.schema.field("d").type == pa.string()
    assert back.column("d").to_pylist() == ["x", "y", None, "x"]


def test_unsupported_types_fall_back_to_one_ipc_frame_per_batch() -> None:
    union = pa.UnionArray.from_sparse(
        pa.array([0, 1, 0], pa.int8()), [pa.array([1, 2, 3]), pa.array(["a", "b", "c"])]
    )
    table = pa.table({"u": union, "i": [1, 2, 3]})
    frames = T.table_frames(table)
    assert len(frames) == 2  # layout, one IPC frame
    _round_trip(table)


def test_view_columns_over_huge_buffers_are_compacted() -> None:
    words = pa.array([f"a long string view value {i}" for i in range(50_000)], pa.string_view())
    piece = words.slice(100, 10)
    assert sum(b.size for b in piece.buffers()[2:]) > 1_000_000
    frames = T.table_frames(pa.table({"v": piece}))
    assert sum(f.size for f in frames[1:]) < 2_000
    assert T.read_table(frames).column("v").to_pylist() == piece.to_pylist()


def test_views_are_compacted_at_most_once(monkeypatch) -> None:
    # DataFusion's hash-split pieces of TPC-H o_orderpriority (every string short enough to
    # live in its view) stayed "wasteful" after compaction, and encoding recursed forever
    words = pa.array([f"a long string view value {i}" for i in range(50_000)], pa.string_view())
    piece = words.slice(100, 10)
    monkeypatch.setattr(T, "_compact_views", lambda arr: arr)  # a compaction that can't shrink
    table = pa.table({"v": piece})
    assert T.read_table(T.table_frames(table)).equals(table)


def _layout(frames: list[pa.Buffer]) -> tuple[bytes, list]:
    raw = frames[0].to_pybytes()
    size = struct.unpack_from("<I", raw, 4)[0]
    return raw[: 8 + size], json.loads(raw[8 + size :])


def _with_layout(frames: list[pa.Buffer], layout: object) -> list[object]:
    head, _ = _layout(frames)
    return [head + json.dumps(layout).encode(), *frames[1:]]


def _mutations(frames: list[pa.Buffer]) -> dict[str, list[object]]:
    _, layout = _layout(frames)
    rows, cols = layout[0]
    size = cols[0][2][1]
    return {
        "bad magic": [b"XXXX" + frames[0].to_pybytes()[4:], *frames[1:]],
        "truncated": [frames[0].to_pybytes()[:6], *frames[1:]],
        "schema too long": [frames[0].to_pybytes()[:4] + b"\xff\xff\xff\x00", *frames[1:]],
        "not a list": _with_layout(frames, {"a": 1}),
        "not JSON": [_layout(frames)[0] + b"{", *frames[1:]],
        "missing frame": frames[:-1],
        "extra frame": [*frames, b"x"],
        "wrong size": _with_layout(frames, [[rows, [[rows, 0, [-1, size + 8], []]]]]),
        "negative size": _with_layout(frames, [[rows, [[rows, 0, [-1, -7], []]]]]),
        "too long": _with_layout(frames, [[rows + 10, [[rows + 10, 0, [-1, size], []]]]]),
        "row count": _with_layout(frames, [[rows + 1, cols]]),
        "no columns": _with_layout(frames, [[rows, []]]),
        "bad node": _with_layout(frames, [[rows, [[rows, 0, "x", []]]]]),
        "short node": _with_layout(frames, [[rows, [[rows]]]]),
        "extra child": _with_layout(frames, [[rows, [[rows, 0, [-1, size], [[1, 0, [], []]]]]]]),
        "not a batch": _with_layout(frames, [7]),
        "string size": _with_layout(frames, [[rows, [[rows, 0, [-1, "800"], []]]]]),
        "huge length": _with_layout(frames, [[10**30, [[10**30, 0, [-1, size], []]]]]),
        "huge null count": _with_layout(frames, [[rows, [[rows, 10**30, [-1, size], []]]]]),
        "negative length": _with_layout(frames, [[-1, [[-1, 0, [-1, size], []]]]]),
    }


MUTATIONS = [
    "bad magic",
    "truncated",
    "schema too long",
    "not a list",
    "not JSON",
    "missing frame",
    "extra frame",
    "wrong size",
    "negative size",
    "too long",
    "row count",
    "no columns",
    "bad node",
    "short node",
    "extra child",
    "not a batch",
    "string size",
    "huge length",
    "huge null count",
    "negative length",
]


@pytest.mark.parametrize("case", MUTATIONS)
def test_malformed_layout_raises_protocol_error(case: str) -> None:
    frames = T.table_frames(pa.table({"a": pa.array(range(100), pa.int64())}))
    mutations = _mutations(frames)
    assert sorted(mutations) == sorted(MUTATIONS)
    bad = mutations[case]
    with pytest.raises(T.ProtocolError):
        T.read_table(bad)
    header = json.dumps({"v": P.PROTOCOL_VERSION, "tag": "store_table", "arrow": [len(bad) - 1]})
    body = {"content_hash": "h", "table": {"__arrow": 0}}
    message = [header[:-1].encode() + b',"body":' + json.dumps(body).encode() + b"}", *bad]
    with pytest.raises(P.ProtocolError):
        P.decode(message)


def _replace_frame(frames: list[pa.Buffer], i: int, data: np.ndarray) -> list[object]:
    return [*frames[:i], pa.py_buffer(data.tobytes()), *frames[i + 1 :]]


def test_corrupt_offsets_and_views_raise_instead_of_crashing_later() -> None:
    # pyarrow trusts offsets and views; reading bad ones later would segfault the process
    strings = T.table_frames(pa.table({"s": pa.array(["ab", "cde", "f", "gh", "i"])}))
    # frames: layout, offsets, data (no validity: nothing is null)
    backwards = np.array([0, 100_000_000, 5, 6, 8, 9], np.int32)
    views = T.table_frames(pa.table({"v": pa.array(["x" * 20, "short"], pa.string_view())}))
    far = np.frombuffer(views[1], np.int32).copy().reshape(2, 4)
    far[0, 3] = 1 << 30  # the long string's offset inside its data buffer
    wrong_buffer = far.copy()
    wrong_buffer[0, 3], wrong_buffer[0, 2] = 0, 7
    _, layout = _layout(views)
    no_data = [[2, [[2, 0, layout[0][1][0][2][:2], []]]]]
    cases = {
        "offsets backwards": _replace_frame(strings, 1, backwards),
        "view far away": _replace_frame(views, 1, far),
        "view in a missing buffer": _replace_frame(views, 1, wrong_buffer),
        "views without data": _with_layout(views[:2], no_data),
        "corrupt schema": [b"SWA2" + frames_prefix_garbage(), *strings[1:]],
    }
    for name, bad in cases.items():
        with pytest.raises(T.ProtocolError):
            T.read_table(bad)
            pytest.fail(name)
    deep = _layout(strings)[0] + b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(T.ProtocolError):
        T.read_table([deep, *strings[1:]])
    with pytest.raises(P.ProtocolError):
        P.decode([b'{"v": 2, "body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])


def frames_prefix_garbage() -> bytes:
    """A layout prefix whose schema bytes are not a flatbuffers message."""
    import struct as _struct

    return _struct.pack("<I", 16) + b"\x07" * 16 + b"[]"


def test_misaligned_frames_are_realigned_for_their_type() -> None:
    values = pa.array([decimal.Decimal(i) for i in range(64)], pa.decimal128(20, 0))
    frames = T.table_frames(pa.table({"d": values}))
    raw = np.zeros(frames[1].size + 64, np.uint8)
    start = (-raw.ctypes.data) % 64 + 8  # 8 bytes past a 64-byte boundary, like ZeroMQ's
    raw[start : start + frames[1].size] = np.frombuffer(frames[1], np.uint8)
    misaligned = pa.py_buffer(raw[start : start + frames[1].size])
    assert misaligned.address % 16 == 8
    back = T.read_table([frames[0], misaligned])
    assert back.column("d").chunk(0).buffers()[1].address % 16 == 0
    assert back.column("d").equals(pa.chunked_array([values]))
    # int64 data at 8 bytes past a boundary is already aligned: no copy
    ints = T.table_frames(pa.table({"i": pa.array(range(64), pa.int64())}))
    raw[start : start + 512] = np.frombuffer(ints[1], np.uint8)
    kept = T.read_table([ints[0], pa.py_buffer(raw[start : start + 512])])
    assert kept.column("i").chunk(0).buffers()[1].address == raw.ctypes.data + start


def _over_sockets(address: str, msg: P.Message) -> P.Message:
    ctx = zmq.Context()
    try:
        pull, push = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
        port = pull.bind_to_random_port(address) if address.startswith("tcp") else None
        if port is None:
            pull.bind(address)
        push.connect(f"{address}:{port}" if port else address)
        P.send(push, msg)
        assert pull.poll(5000)
        return P.recv(pull)[1]
    finally:
        ctx.destroy(linger=0)


@pytest.mark.parametrize("address", ["inproc://transport-test", "tcp://127.0.0.1"])
def test_round_trip_over_zeromq(address: str) -> None:
    table = pa.concat_tables([TABLE, TABLE.slice(7, 100), TABLE.slice(0, 0)])
    back = _over_sockets(address, P.StoreTable("h", table)).table
    back.validate(full=True)
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.equals(table)


def test_received_table_works_in_datafusion_and_pyarrow_compute() -> None:
    rows = 50_000
    table = pa.table(
        {
            "k": pa.array([i % 7 for i in range(rows)], pa.int32()),
            "v": pa.array(range(rows), pa.int64()),
            "d": pa.array([decimal.Decimal(i) / 100 for i in range(rows)], pa.decimal128(15, 2)),
            "s": pa.array([f"name {i % 11}" for i in range(rows)], pa.string_view()),
        }
    )
    parts = pa.Table.from_batches(
        table.to_batches(max_chunksize=8_192) + table.slice(3).to_batches()
    )
    back = _over_sockets("tcp://127.0.0.1", P.StoreTable("h", parts)).table
    for chunk in back.column("d").chunks:
        assert chunk.buffers()[1].address % 16 == 0  # arrow-rs would copy it otherwise
    assert pc.sum(back.column("v")).as_py() == 2 * sum(range(rows)) - 3
    ctx = datafusion.SessionContext()
    ctx.from_arrow(back, name="t")
    got = ctx.sql("select k, sum(v) as v, sum(d) as d, count(distinct s) as s from t group by k")
    expected = pa.concat_tables([table, table.slice(3)])
    ctx.from_arrow(expected, name="e")
    want = ctx.sql("select k, sum(v) as v, sum(d) as d, count(distinct s) as s from e group by k")
    assert got.sort("k").to_arrow_table().equals(want.sort("k").to_arrow_table())


def test_layout_naming_a_dictionary_type_is_refused_not_a_crash() -> None:
    # from_buffers aborts the process on a dictionary type: the receiver must never call it
    schema = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    head = schema.serialize().to_pybytes()
    layout = json.dumps([[2, [[2, 0, [-1, 8], []]]]]).encode()
    frames = [b"SWA2" + struct.pack("<I", len(head)) + head + layout, b"\x00" * 8]
    with pytest.raises(T.ProtocolError, match="raw buffers"):
        T.read_table(frames)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_tunes_glibc() -> None:
    assert T.keep_freed_memory()
