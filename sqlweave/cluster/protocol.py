"""Every message exchanged by the coordinator, workers and clients.

A message is a frozen dataclass with a constant ``TAG``. On the wire it is a
list of ZeroMQ frames::

    [header JSON] [layout] [buffer] [buffer] ... [layout] [buffer] ...

The header carries the tag, the protocol version and the message's fields as
JSON (``"arrow"`` lists how many buffer frames follow each table's layout frame);
every Arrow table inside the message travels out of band as a layout frame (schema
and buffer layout) followed by each of its Arrow buffers as a frame of its own: no
serialisation and no copies on send (``send_multipart(copy=False)``); on receive
the frames are wrapped with ``pa.py_buffer`` and the arrays rebuilt in place with
``pa.Array.from_buffers``; see :mod:`.transport`.

Who sends what (request -> reply):

* worker -> coordinator (workers ROUTER): ``RegisterWorker -> Registered |
  RegistrationRefused``; ``Heartbeat`` (from the worker's heartbeat thread);
  ``TaskProgress`` (while a task runs, from the worker's progress thread);
  ``TaskDone``/``TaskFailed``; ``WorkerExiting``.
* coordinator -> worker: ``PeerDirectory``, ``StoreTable`` (an in-memory partition,
  once per worker), ``RunTask``, ``CancelQuery``, ``ReleaseQuery``, ``Shutdown``.
* worker -> worker (peer ROUTER): ``PushPartition -> PushAck`` (shuffle output).
* client -> coordinator (clients ROUTER): ``ExecuteQuery -> QueryProgress* ->
  QueryResult | QueryFailed``; ``CancelRequest``; ``RegisterPath``/``RegisterArrow``/
  ``Deregister -> Ok``; ``ListTables -> TableList``; ``DescribeTable -> TableSchema``;
  ``StatusRequest -> ClusterStatus``; ``ConnectInfoRequest -> ConnectInfoReply``.
* anything undecodable or unexpected on any socket -> ``ErrorReply``.

Nobody builds message dicts at call sites: construct the dataclass and call
:func:`send`; receive with :func:`recv`, which raises :class:`ProtocolError`
for anything malformed or unknown so each socket's loop can answer with an
:class:`ErrorReply` instead of crashing.

At about 730 lines this module is over the house's ~500 on purpose: the house keeps every
message in one protocol module, so all the message classes, the list above of who sends
what, and the registry :func:`decode` checks tags against are read in one place (the
framing under them is :mod:`.transport` and :mod:`.json_values`).

>>> msg = Heartbeat(worker_id="w1", rss_bytes=1, fragments_run=0, running=0)
>>> decode(encode(msg)) == msg
True
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, TypeVar

import pyarrow as pa
import zmq

from ..explained import VALUE_TYPES as EXPLAIN_TYPES
from ..explained import DistributedExplain
from . import fragments, limits
from .json_values import from_json, register_value, to_json
from .transport import ProtocolError, frame_buffer, read_table, table_frames

#: bumped on any incompatible change to the messages below or their framing
#: (2: Arrow tables as raw buffer frames instead of one IPC frame per batch;
#: 3: tasks carry the client's session settings;
#: 4: TaskProgress, and figures in TaskDone and QueryProgress)
PROTOCOL_VERSION = 4


class ErrorKind(str, Enum):
    """What went wrong, so the client can raise the matching ``sqlweave.errors`` class."""

    PARSE = "parse"
    PLAN = "plan"
    EXECUTION = "execution"
    WORKER = "worker"
    CANCELLED = "cancelled"
    USAGE = "usage"
    PROTOCOL = "protocol"


class WorkerLiveness(str, Enum):
    ALIVE = "alive"
    PROBATION = "probation"
    LOST = "lost"


_MESSAGES: dict[str, type[Message]] = {}
M = TypeVar("M", bound="Message")


@dataclass(frozen=True)
class Message:
    """Base of all messages; subclasses set ``TAG`` and are registered by :func:`message`."""

    TAG: ClassVar[str] = ""
    #: whether the message's Arrow tables keep dictionary types (else sent as values)
    KEEPS_DICTIONARIES: ClassVar[bool] = False


def message(cls: type[M]) -> type[M]:
    """Register a message class under its ``TAG`` (which must be unique)."""
    if not cls.TAG or cls.TAG in _MESSAGES:
        raise TypeError(f"message {cls.__name__} needs a unique TAG, got {cls.TAG!r}")
    _MESSAGES[cls.TAG] = cls
    register_value(cls)
    return cls


# ----- value types carried inside messages ----------------------------------


@dataclass(frozen=True)
class WorkerStatus:
    worker_id: str
    peer_address: str
    liveness: WorkerLiveness
    pid: int
    host: str
    cores: int
    last_seen_s: float
    rss_bytes: int
    fragments_run: int
    running: int


@dataclass(frozen=True)
class FragmentRun:
    """Where and how one task ran, for EXPLAIN."""

    stage: int
    index: int
    worker: str
    rows: int
    seconds: float
    attempt: int = 0


@dataclass(frozen=True)
class TaskFigures:
    """How far one task got: what its scans read and what it produced, so far or in all.

    ``rows_scanned``/``bytes_scanned``: rows DataFusion's scans produced (where a scan
    does not count them, as over in-memory tables, the first operator above it that
    does) and the bytes they read (files) or hold (in-memory inputs, estimated from the
    rows scanned); ``rows_out``/``bytes_out``: the task's output batches; ``seconds``:
    time since the task started.
    """

    rows_scanned: int = 0
    bytes_scanned: int = 0
    rows_out: int = 0
    bytes_out: int = 0
    seconds: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rows_scanned", "bytes_scanned", "rows_out", "bytes_out"):
            _check_count(self, name)
        _check_seconds(self, "seconds")


def _check_count(msg: object, name: str) -> None:
    value = getattr(msg, name)
    if type(value) is not int or value < 0:
        raise ProtocolError(f"{type(msg).__name__}.{name} must be a count, got {value!r}")


def _check_seconds(msg: object, name: str) -> None:
    value = getattr(msg, name)
    if type(value) not in (int, float) or not 0 <= value < float("inf"):
        raise ProtocolError(f"{type(msg).__name__}.{name} must be seconds, got {value!r}")


def _check_text(msg: object, name: str) -> None:
    value = getattr(msg, name)
    if type(value) is not str:
        raise ProtocolError(f"{type(msg).__name__}.{name} must be a string, got {value!r}")


# ----- coordinator <-> worker -----------------------------------------------


@message
@dataclass(frozen=True)
class RegisterWorker(Message):
    """First message from a worker; refused unless versions match the coordinator's."""

    TAG: ClassVar[str] = "register_worker"
    peer_address: str
    pid: int
    host: str
    cores: int
    sqlweave_version: str
    datafusion_version: str
    protocol_version: int = PROTOCOL_VERSION


@message
@dataclass(frozen=True)
class Registered(Message):
    """Welcome: the worker's id and the heartbeat period the coordinator expects."""

    TAG: ClassVar[str] = "registered"
    worker_id: str
    heartbeat_s: float


@message
@dataclass(frozen=True)
class RegistrationRefused(Message):
    TAG: ClassVar[str] = "registration_refused"
    reason: str


@message
@dataclass(frozen=True)
class WorkerExiting(Message):
    """A worker's last word before it ends itself (e.g. to drop a query stuck in native code)."""

    TAG: ClassVar[str] = "worker_exiting"
    worker_id: str
    reason: str


@message
@dataclass(frozen=True)
class Heartbeat(Message):
    """Sent from a worker thread of its own, so a long native query never looks like death."""

    TAG: ClassVar[str] = "heartbeat"
    worker_id: str
    rss_bytes: int
    fragments_run: int
    running: int


@message
@dataclass(frozen=True)
class PeerDirectory(Message):
    """Every live worker's peer address; shuffle output goes worker to worker."""

    TAG: ClassVar[str] = "peer_directory"
    peers: dict[str, str]


@message
@dataclass(frozen=True)
class StoreTable(Message):
    """A partition of an in-memory table, cached by the worker under its content hash."""

    TAG: ClassVar[str] = "store_table"
    content_hash: str
    table: pa.Table


@message
@dataclass(frozen=True)
class RunTask(Message):
    TAG: ClassVar[str] = "run_task"
    spec: fragments.TaskSpec


@message
@dataclass(frozen=True)
class TaskDone(Message):
    """A task finished; ``output`` holds its result when the stage gathers to the coordinator."""

    TAG: ClassVar[str] = "task_done"
    worker_id: str
    query_id: str
    stage: int
    index: int
    attempt: int
    rows: int
    seconds: float
    output: pa.Table | None = None
    #: the task's final figures (None from a sender that does not measure them)
    figures: TaskFigures | None = None


@message
@dataclass(frozen=True)
class TaskProgress(Message):
    """How far a running task got; sent while it runs (see :mod:`.task_progress`)."""

    TAG: ClassVar[str] = "task_progress"
    worker_id: str
    query_id: str
    stage: int
    index: int
    attempt: int
    figures: TaskFigures

    def __post_init__(self) -> None:
        for name in ("worker_id", "query_id"):
            _check_text(self, name)
        for name in ("stage", "index", "attempt"):
            _check_count(self, name)
        if not isinstance(self.figures, TaskFigures):
            raise ProtocolError(f"TaskProgress.figures must be TaskFigures, got {self.figures!r}")


@message
@dataclass(frozen=True)
class TaskFailed(Message):
    """A task raised: the error travels as data and names the worker."""

    TAG: ClassVar[str] = "task_failed"
    worker_id: str
    query_id: str
    stage: int
    index: int
    attempt: int
    error: str
    kind: ErrorKind = ErrorKind.EXECUTION


@message
@dataclass(frozen=True)
class CancelQuery(Message):
    """Stop every task of ``query_id`` now (the worker ends its executor if it must)."""

    TAG: ClassVar[str] = "cancel_query"
    query_id: str


@message
@dataclass(frozen=True)
class ReleaseQuery(Message):
    """The query is over: drop its exchange buffers."""

    TAG: ClassVar[str] = "release_query"
    query_id: str


@message
@dataclass(frozen=True)
class Shutdown(Message):
    TAG: ClassVar[str] = "shutdown"
    reason: str = ""


# ----- worker <-> worker -----------------------------------------------------


@message
@dataclass(frozen=True)
class PushPartition(Message):
    """One producer task's rows for one consumer partition."""

    TAG: ClassVar[str] = "push_partition"
    query_id: str
    stage: int
    partition: int
    producer: int
    attempt: int
    table: pa.Table


@message
@dataclass(frozen=True)
class PushAck(Message):
    TAG: ClassVar[str] = "push_ack"
    query_id: str
    stage: int
    partition: int
    producer: int


# ----- client <-> coordinator -------------------------------------------------


@message
@dataclass(frozen=True)
class ExecuteQuery(Message):
    TAG: ClassVar[str] = "execute_query"
    request_id: str
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


@message
@dataclass(frozen=True)
class CancelRequest(Message):
    TAG: ClassVar[str] = "cancel_request"
    request_id: str


@message
@dataclass(frozen=True)
class QueryProgress(Message):
    TAG: ClassVar[str] = "query_progress"
    request_id: str
    fragments_done: int
    fragments_total: int
    rows: int
    rows_scanned: int = 0
    bytes_scanned: int = 0
    #: since the coordinator started the query
    seconds: float = 0.0

    def __post_init__(self) -> None:
        _check_text(self, "request_id")
        for name in ("fragments_done", "fragments_total", "rows", "rows_scanned", "bytes_scanned"):
            _check_count(self, name)
        _check_seconds(self, "seconds")


@message
@dataclass(frozen=True)
class QueryResult(Message):
    TAG: ClassVar[str] = "query_result"
    KEEPS_DICTIONARIES: ClassVar[bool] = True
    request_id: str
    table: pa.Table
    runs: tuple[FragmentRun, ...] = ()
    #: the plan, typed, when the statement was EXPLAIN of a distributed query
    explain: DistributedExplain | None = None


@message
@dataclass(frozen=True)
class QueryFailed(Message):
    TAG: ClassVar[str] = "query_failed"
    request_id: str
    kind: ErrorKind
    message: str
    worker: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None


@message
@dataclass(frozen=True)
class RegisterPath(Message):
    TAG: ClassVar[str] = "register_path"
    request_id: str
    name: str
    path: str
    format: str | None = None


@message
@dataclass(frozen=True)
class RegisterArrow(Message):
    TAG: ClassVar[str] = "register_arrow"
    KEEPS_DICTIONARIES: ClassVar[bool] = True
    request_id: str
    name: str
    table: pa.Table
    #: a notebook DataFrame's content fingerprint: the coordinator keeps the table under
    #: it, and a later RegisterKnown with the same key needs no data
    key: str = ""


@message
@dataclass(frozen=True)
class RegisterKnown(Message):
    """Register, as ``name``, the table an earlier RegisterArrow sent with ``key``;
    answered Ok, or QueryFailed (USAGE) when the coordinator no longer has it."""

    TAG: ClassVar[str] = "register_known"
    request_id: str
    name: str
    key: str


@message
@dataclass(frozen=True)
class Deregister(Message):
    TAG: ClassVar[str] = "deregister"
    request_id: str
    name: str


@message
@dataclass(frozen=True)
class ListTables(Message):
    TAG: ClassVar[str] = "list_tables"
    request_id: str


@message
@dataclass(frozen=True)
class TableList(Message):
    TAG: ClassVar[str] = "table_list"
    request_id: str
    names: tuple[str, ...]


@message
@dataclass(frozen=True)
class DescribeTable(Message):
    TAG: ClassVar[str] = "describe_table"
    request_id: str
    name: str


@message
@dataclass(frozen=True)
class TableSchema(Message):
    TAG: ClassVar[str] = "table_schema"
    request_id: str
    schema: pa.Schema


@message
@dataclass(frozen=True)
class StatusRequest(Message):
    TAG: ClassVar[str] = "status_request"
    request_id: str


@message
@dataclass(frozen=True)
class ClusterStatus(Message):
    TAG: ClassVar[str] = "cluster_status"
    request_id: str
    coordinator_pid: int
    workers: tuple[WorkerStatus, ...]
    queries_run: int
    #: differs on every coordinator start (clients tell their user it restarted)
    incarnation: str = ""
    #: statements running whole on the coordinator (cancelled ones until they are undone)
    local_running: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    """One finished statement in the coordinator's history."""

    sql: str
    state: str  # finished | failed
    seconds: float
    rows: int
    bytes: int
    at: float  # wall-clock end time
    error: str = ""


@message
@dataclass(frozen=True)
class HistoryRequest(Message):
    TAG: ClassVar[str] = "history_request"
    request_id: str
    limit: int = 100


@message
@dataclass(frozen=True)
class QueryHistory(Message):
    """The newest finished statements, oldest first."""

    TAG: ClassVar[str] = "query_history"
    request_id: str
    entries: tuple[HistoryEntry, ...]


@message
@dataclass(frozen=True)
class ConnectInfoRequest(Message):
    """Asked on the client address by workers that were only told that address."""

    TAG: ClassVar[str] = "connect_info_request"
    request_id: str


@message
@dataclass(frozen=True)
class ConnectInfoReply(Message):
    TAG: ClassVar[str] = "connect_info_reply"
    request_id: str
    workers: str
    clients: str


@message
@dataclass(frozen=True)
class Ok(Message):
    """Plain acknowledgement of a catalog command."""

    TAG: ClassVar[str] = "ok"
    request_id: str
    detail: str = ""


@message
@dataclass(frozen=True)
class ErrorReply(Message):
    """Answer to a message the receiver could not decode or does not handle."""

    TAG: ClassVar[str] = "error_reply"
    error: str
    tag: str = ""
    request_id: str = ""


# ----- connection info --------------------------------------------------------


@dataclass(frozen=True)
class ConnectionInfo:
    """Where a coordinator listens: one object instead of loose address strings."""

    workers: str  # ROUTER address workers connect to
    clients: str  # ROUTER address clients connect to

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ConnectionInfo:
        return cls(**json.loads(text))

    @property
    def address(self) -> str:
        """The one address users pass around (clients connect to it; workers ask it the rest)."""
        return self.clients


# ----- encoding ------------------------------------------------------------------

for _cls in (ErrorKind, WorkerLiveness, WorkerStatus, FragmentRun, HistoryEntry, TaskFigures):
    register_value(_cls)
for _cls in EXPLAIN_TYPES:
    register_value(_cls)
# every value of the planner contract may travel (it grows additively)
for _cls in vars(fragments).values():
    if isinstance(_cls, type) and (dataclasses.is_dataclass(_cls) or issubclass(_cls, Enum)):
        register_value(_cls)


def encode(msg: Message) -> list[Any]:
    """The frames of ``msg``: a JSON header, then Arrow frames."""
    if not isinstance(msg, Message) or type(msg).TAG not in _MESSAGES:
        raise ProtocolError(f"not a protocol message: {type(msg).__name__}")
    arrow: list[Any] = []
    body = {f.name: to_json(getattr(msg, f.name), arrow) for f in dataclasses.fields(msg)}
    layout: list[int] = []
    frames: list[Any] = []
    for item in arrow:
        parts = table_frames(item, plain=not msg.KEEPS_DICTIONARIES)
        layout.append(len(parts) - 1)
        frames.extend(parts)
    header = {"v": PROTOCOL_VERSION, "tag": msg.TAG, "body": body, "arrow": layout}
    return [json.dumps(header, separators=(",", ":")).encode(), *frames]


def decode(frames: list[Any]) -> Message:
    """Rebuild a message from its frames; :class:`ProtocolError` if they are not one."""
    if not frames:
        raise ProtocolError("empty message")
    if len(frames) > limits.MAX_FRAMES:
        raise ProtocolError(f"{len(frames)} frames, more than {limits.MAX_FRAMES}")
    if len(frame_buffer(frames[0])) > limits.MAX_HEADER_BYTES:
        raise ProtocolError(f"header larger than {limits.MAX_HEADER_BYTES} bytes")
    try:
        header = json.loads(bytes(frame_buffer(frames[0])))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProtocolError(f"header is not JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("body"), dict):
        raise ProtocolError("header is not a message object")
    tag = header.get("tag")
    if header.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {header.get('v')!r} for {tag!r}, expected {PROTOCOL_VERSION}",
        )
    cls = _MESSAGES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message tag {tag!r}")
    layout = header.get("arrow", [])
    if (
        not isinstance(layout, list)
        or not all(type(n) is int and n >= 0 for n in layout)
        or sum(n + 1 for n in layout) != len(frames) - 1
    ):
        raise ProtocolError(f"{tag}: frame count does not match the header")
    tables: list[Any] = []
    pos = 1
    try:
        for count in layout:
            tables.append(read_table(frames[pos : pos + count + 1]))
            pos += count + 1
        return cls(**{k: from_json(v, tables) for k, v in header["body"].items()})
    except ProtocolError:
        raise
    except RecursionError:
        raise ProtocolError(f"{tag}: nested too deeply") from None
    except Exception as exc:  # whatever a malformed body makes from_json or pyarrow raise
        raise ProtocolError(f"{tag}: {exc}") from None


def tag_of(frames: list[Any]) -> str:
    """Best-effort tag of an undecodable message, for the error reply."""
    try:
        tag = json.loads(bytes(frame_buffer(frames[0]))).get("tag", "")
        return tag if isinstance(tag, str) else ""
    except Exception:
        return ""


def send(sock: zmq.Socket, msg: Message, identity: bytes | None = None) -> None:
    """Send ``msg`` (to ``identity`` on a ROUTER socket) without copying its Arrow buffers."""
    frames = encode(msg)
    if identity is not None:
        frames.insert(0, identity)
    sock.send_multipart(frames, copy=False)


def recv_frames(sock: zmq.Socket, routed: bool = False) -> tuple[bytes | None, list[Any]]:
    """Raw frames of the next message (zero copy); the routing identity first on ROUTERs."""
    frames = sock.recv_multipart(copy=False)
    if routed:
        return bytes(frames[0].bytes), frames[1:]
    return None, frames


def recv(sock: zmq.Socket, routed: bool = False) -> tuple[bytes | None, Message]:
    """Next message on ``sock``; raises :class:`ProtocolError` when it cannot be decoded."""
    identity, frames = recv_frames(sock, routed)
    return identity, decode(frames)


def request_id_of(frames: list[Any]) -> str:
    try:
        rid = json.loads(bytes(frame_buffer(frames[0])))["body"].get("request_id", "")
        return rid if isinstance(rid, str) else ""
    except Exception:
        return ""
