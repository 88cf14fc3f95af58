"""The wire protocol: codec round trips, Arrow frames, and the coordinator's sockets over inproc://."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest
import zmq

from sqlweave.cluster import protocol as P
from sqlweave.cluster.coordinator import Coordinator
from sqlweave.cluster.fragments import (
    EmptyShare,
    ExchangeShare,
    FilesShare,
    Fragment,
    FragmentFormat,
    MemoryShare,
    Output,
    OutputMode,
    TaskSpec,
)
from sqlweave.cluster.registration import Versions
from sqlweave.explained import DistributedExplain, ExplainEdge, ExplainGraph, ExplainNode, TaskInfo

TABLE = pa.table({"a": list(range(1000)), "s": [f"v{i % 13}" for i in range(1000)]})
SPEC = TaskSpec(
    query_id="q1",
    stage=2,
    index=1,
    fragment=Fragment(FragmentFormat.SUBSTRAIT, b"\x00\x01\xff"),
    inputs=(
        FilesShare("lineitem", ("/d/a.parquet", "/d/b.parquet"), row_groups=((0, 1), (2,))),
        MemoryShare("t", "abc"),
        ExchangeShare("__stage0", 0, 1, 2),
        EmptyShare("e", TABLE.schema.serialize().to_pybytes()),
    ),
    output=Output(OutputMode.HASH, ("a",), 2),
    destinations=("w1", "w2"),
    attempt=3,
)

EXAMPLES: list[P.Message] = [
    P.RegisterWorker("tcp://127.0.0.1:1", 1, "h", 2, "0.1.0", "55.0.0"),
    P.Registered("w1", 0.2),
    P.RegistrationRefused("version mismatch"),
    P.WorkerExiting("w1", "stuck"),
    P.Heartbeat("w1", 10, 3, 1),
    P.PeerDirectory({"w1": "tcp://127.0.0.1:2"}),
    P.RunTask(SPEC),
    P.TaskFailed("w1", "q", 1, 0, 0, "boom", P.ErrorKind.EXECUTION),
    P.CancelQuery("q"),
    P.ReleaseQuery("q"),
    P.Shutdown("bye"),
    P.PushAck("q", 1, 0, 1),
    P.ExecuteQuery("r", "select $x", {"x": 1, "y": "s", "z": None, "f": 1.5}),
    P.CancelRequest("r"),
    P.QueryProgress("r", 1, 3, 10),
    P.QueryProgress("r", 1, 3, 10, 4_000, 32_000, 1.5),
    P.TaskProgress("w1", "q", 1, 0, 2, P.TaskFigures(4_000, 32_000, 1, 8, 0.75)),
    P.QueryFailed("r", P.ErrorKind.PARSE, "bad", None, 1, 5, "hint"),
    P.RegisterPath("r", "t", "/x.parquet", None),
    P.Deregister("r", "t"),
    P.ListTables("r"),
    P.TableList("r", ("a", "b")),
    P.DescribeTable("r", "t"),
    P.StatusRequest("r"),
    P.HistoryRequest("r", 10),
    P.QueryHistory("r", (P.HistoryEntry("select 1", "finished", 0.5, 1, 8, 1.7e9, ""),)),
    P.ConnectInfoRequest("r"),
    P.ConnectInfoReply("r", "tcp://a:1", "tcp://a:2"),
    P.Ok("r"),
    P.ErrorReply("what", "tag", "r"),
    P.RegisterKnown("r", "flights", "pandas:0123abcd"),
]
ARROW_EXAMPLES: list[P.Message] = [
    P.StoreTable("h", TABLE),
    P.TaskDone("w1", "q", 1, 0, 0, 1000, 0.5, TABLE),
    P.TaskDone("w1", "q", 1, 0, 0, 1000, 0.5, None, P.TaskFigures(10, 80, 1000, 8000, 0.5)),
    P.PushPartition("q", 1, 0, 1, 0, TABLE),
    P.QueryResult("r", TABLE, (P.FragmentRun(0, 1, "w1", 5, 0.1),)),
    P.QueryResult(
        "r",
        TABLE,
        explain=DistributedExplain(
            "Distributed plan: 1 stages",
            ExplainGraph(
                (
                    ExplainNode(
                        "stage0", "stage", "scan t", tasks=(TaskInfo(0, "w1", "done", 3, 0.1, 0),)
                    ),
                ),
                (ExplainEdge("table:t", "stage0", "hash", ("k",)),),
                ("a note",),
            ),
        ),
    ),
    P.RegisterArrow("r", "t", TABLE),
    P.RegisterArrow("r", "t", TABLE, "pandas:0123abcd"),
]


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.TAG)
def test_round_trip(msg: P.Message) -> None:
    assert P.decode(P.encode(msg)) == msg


@pytest.mark.parametrize("msg", ARROW_EXAMPLES, ids=lambda m: m.TAG)
def test_arrow_round_trip(msg: P.Message) -> None:
    back = P.decode(P.encode(msg))
    for f in dataclasses.fields(msg):
        a, b = getattr(msg, f.name), getattr(back, f.name)
        assert a.equals(b) if isinstance(a, pa.Table) else a == b


def test_every_message_type_has_an_example() -> None:
    covered = {type(m) for m in EXAMPLES + ARROW_EXAMPLES} | {P.ClusterStatus, P.TableSchema}
    assert covered == set(P._MESSAGES.values())


def test_schema_and_status_round_trip() -> None:
    msg = P.TableSchema("r", TABLE.schema)
    assert P.decode(P.encode(msg)).schema == TABLE.schema
    status = P.ClusterStatus(
        "r",
        7,
        (P.WorkerStatus("w1", "tcp://x", P.WorkerLiveness.LOST, 1, "h", 2, 0.5, 9, 4, 0),),
        2,
    )
    assert P.decode(P.encode(status)) == status


def test_arrow_buffers_travel_as_frames() -> None:
    rows = 40_000  # column chunks of >= 128 KiB: batches are sent as they are
    big = pa.table({"a": range(2 * rows), "s": [f"value {i % 13:03}" for i in range(2 * rows)]})
    table = pa.concat_tables([big.slice(0, rows), big.slice(rows)])
    assert table.column("a").num_chunks == 2
    frames = P.encode(P.StoreTable("h", table))
    # header, layout, then per batch the int64 values, the string offsets and the string data
    assert len(frames) == 1 + 1 + 2 * 3
    assert json.loads(bytes(frames[0]))["arrow"] == [6]
    assert [f.size for f in frames[2:5]] == [rows * 8, (rows + 1) * 4, rows * 9]
    assert P.decode(frames).table.equals(table)
    # many small batches are merged into one before sending
    small = P.encode(P.StoreTable("h", pa.concat_tables([TABLE.slice(0, 400), TABLE.slice(400)])))
    assert len(small) == 1 + 1 + 3
    assert P.decode(small).table.equals(TABLE)
    empty = P.encode(P.StoreTable("h", TABLE.schema.empty_table()))
    assert len(empty) == 2
    assert P.decode(empty).table.num_rows == 0
    assert P.decode(empty).table.schema == TABLE.schema


def test_dictionary_columns_travel_as_values() -> None:
    table = pa.table({"d": pa.array(["x", "y", "x"]).dictionary_encode()})
    back = P.decode(P.encode(P.StoreTable("h", table))).table
    assert back.column("d").to_pylist() == ["x", "y", "x"]


V = P.PROTOCOL_VERSION


@pytest.mark.parametrize(
    ("frames", "words"),
    [
        ([], "empty"),
        ([b"not json"], "not JSON"),
        ([b"[1, 2]"], "not a message"),
        ([b'{"v": %d, "tag": "nope", "body": {}, "arrow": []}' % V], "unknown message tag"),
        (
            [b'{"v": 999, "tag": "ok", "body": {"request_id": "r"}, "arrow": []}'],
            "protocol version",
        ),
        ([b'{"v": %d, "tag": "ok", "body": {"bogus": 1}, "arrow": []}' % V], "ok:"),
        ([b'{"v": %d, "tag": "ok", "body": {"request_id": "r"}, "arrow": [2]}' % V], "frame count"),
        # a layout of non-numbers (141 of 153 fuzz tracebacks were this TypeError)
        ([b'{"v": %d, "tag": "ok", "body": {}, "arrow": ["x", null]}' % V, b""], "frame count"),
        ([b'{"v": %d, "tag": "ok", "body": {}, "arrow": [true]}' % V, b"", b""], "frame count"),
        ([b'{"v": %d, "tag": "ok", "body": {}, "arrow": [-1, 1]}' % V, b""], "frame count"),
        (
            [
                b'{"v": %d, "tag": "ok", "body": {"request_id": {"__dc": "os.system"}}, "arrow": []}'
                % V
            ],
            "unknown value type",
        ),
    ],
)
def test_malformed_frames_raise_protocol_error(frames: list[bytes], words: str) -> None:
    with pytest.raises(P.ProtocolError, match=words):
        P.decode(frames)


# ----- the coordinator over inproc:// ------------------------------------------------


@pytest.fixture
def coordinator() -> Iterator[tuple[zmq.Context, Coordinator]]:
    ctx = zmq.Context()
    coord = Coordinator(
        bind="inproc://clients",
        worker_bind="inproc://workers",
        heartbeat_s=0.2,
        versions=Versions("1.0", "55.0.0"),
        context=ctx,
    )
    thread = threading.Thread(target=coord.serve, daemon=True)
    thread.start()
    yield ctx, coord
    coord.stop()
    thread.join(5)
    ctx.destroy(linger=0)


def _dealer(ctx: zmq.Context, address: str) -> zmq.Socket:
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(address)
    return sock


def _reply(sock: zmq.Socket) -> P.Message:
    assert sock.poll(5000), "no reply"
    return P.recv(sock)[1]


def test_client_socket_answers_garbage_with_error_reply(coordinator) -> None:
    ctx, _ = coordinator
    sock = _dealer(ctx, "inproc://clients")
    sock.send_multipart([b"\x00garbage"])
    reply = _reply(sock)
    assert isinstance(reply, P.ErrorReply) and "not JSON" in reply.error
    sock.send_multipart(
        [b'{"v": %d, "tag": "bogus", "body": {"request_id": "r9"}, "arrow": []}' % V]
    )
    reply = _reply(sock)
    assert isinstance(reply, P.ErrorReply)
    assert reply.tag == "bogus" and reply.request_id == "r9" and "unknown" in reply.error
    # a valid message that belongs to the other socket is refused too, and the loop lives on
    P.send(sock, P.Heartbeat("w1", 0, 0, 0))
    assert isinstance(_reply(sock), P.ErrorReply)
    P.send(sock, P.StatusRequest("r1"))
    status = _reply(sock)
    assert isinstance(status, P.ClusterStatus) and status.workers == ()


def test_connect_info_and_catalog_commands(coordinator) -> None:
    ctx, _coord = coordinator
    sock = _dealer(ctx, "inproc://clients")
    P.send(sock, P.ConnectInfoRequest("r"))
    info = _reply(sock)
    assert isinstance(info, P.ConnectInfoReply) and info.workers == "inproc://workers"
    P.send(sock, P.RegisterArrow("r2", "t", TABLE))
    assert _reply(sock) == P.Ok("r2")
    P.send(sock, P.ListTables("r3"))
    assert _reply(sock) == P.TableList("r3", ("t",))
    P.send(sock, P.DescribeTable("r4", "t"))
    assert _reply(sock).schema == TABLE.schema
    P.send(sock, P.DescribeTable("r5", "missing"))
    failed = _reply(sock)
    assert isinstance(failed, P.QueryFailed) and failed.kind is P.ErrorKind.PLAN
    P.send(sock, P.ExecuteQuery("r6", "select count(*) as n from t"))  # no workers: runs locally
    result = _reply(sock)
    assert isinstance(result, P.QueryResult) and result.table.to_pylist() == [{"n": 1000}]
    P.send(sock, P.ExecuteQuery("r7", "selec 1"))
    failed = _reply(sock)
    assert isinstance(failed, P.QueryFailed) and failed.kind is P.ErrorKind.PARSE


def test_worker_registration_over_inproc(coordinator) -> None:
    ctx, _ = coordinator
    bad = _dealer(ctx, "inproc://workers")
    P.send(bad, P.RegisterWorker("inproc://peer-bad", 1, "h", 1, "0.9", "55.0.0"))
    refused = _reply(bad)
    assert isinstance(refused, P.RegistrationRefused)
    assert "sqlweave 0.9 (coordinator runs 1.0)" in refused.reason

    good = _dealer(ctx, "inproc://workers")
    P.send(good, P.RegisterWorker("inproc://peer-1", 2, "h", 1, "1.0", "55.0.0"))
    assert _reply(good) == P.Registered("w1", 0.2)
    assert _reply(good) == P.PeerDirectory({"w1": "inproc://peer-1"})
    good.send_multipart([b"{}"])
    assert isinstance(_reply(good), P.ErrorReply)
    # a heartbeat from a worker the coordinator does not know is told to go away
    stranger = _dealer(ctx, "inproc://workers")
    P.send(stranger, P.Heartbeat("w77", 0, 0, 0))
    assert isinstance(_reply(stranger), P.Shutdown)


def test_silent_worker_is_declared_lost(coordinator) -> None:
    ctx, _ = coordinator
    worker = _dealer(ctx, "inproc://workers")
    P.send(worker, P.RegisterWorker("inproc://peer-1", 2, "h", 1, "1.0", "55.0.0"))
    assert isinstance(_reply(worker), P.Registered)
    client = _dealer(ctx, "inproc://clients")
    for _ in range(100):  # 5 heartbeat periods of silence = 1 s
        P.send(client, P.StatusRequest("s"))
        [status] = _reply(client).workers
        if status.liveness is P.WorkerLiveness.LOST:
            break
        threading.Event().wait(0.05)
    assert status.liveness is P.WorkerLiveness.LOST
