"""The coordinator process: a thin ZeroMQ loop around pure state machines.

Two ROUTER sockets, each with one handler table: workers (registration,
heartbeats, task results) and clients (queries, cancels, catalog commands,
status). Decisions live elsewhere: membership and liveness in
:class:`.coordinator_state.Membership`, planning in :mod:`.planner`, task
scheduling and re-running lost work in :class:`.scheduler.QueryState`. This
module only carries their instructions out: it ships in-memory partitions
(once per worker, by content hash), sends tasks, runs coordinator-located
stages in its own DataFusion context on a background thread, and answers
clients.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import zmq

from .. import errors, guard
from ..engines.paths_policy import Access, PathPolicy
from . import curve, limits
from . import protocol as P
from . import scheduler as S
from .catalog import Catalog
from .coordinator_state import (
    DEFAULT_HEARTBEAT_S,
    Membership,
    MembershipEvent,
    Versions,
    WorkerJoined,
    WorkerLost,
)
from .fragments import (
    COORDINATOR,
    DistributedPlan,
    ExchangeShare,
    MemoryShare,
    Settings,
    TaskInput,
    TaskSpec,
)
from .frame_cache import FrameCache
from .journal import HISTORY, Journal, Op, Record, statement_record
from .planner import NotDistributable
from .task import concat_tables
from .transport import keep_freed_memory

log = logging.getLogger("sqlweave.cluster.coordinator")

_CREATE_EXTERNAL = re.compile(
    r"^\s*create\s+(?:or\s+replace\s+)?(?:unbounded\s+)?external\s+table\s+(?:if\s+not\s+exists\s+)?"
    r"(?P<name>[\w.\"]+).*?stored\s+as\s+(?P<format>\w+).*?location\s+'(?P<location>[^']*)'",
    re.IGNORECASE | re.DOTALL,
)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*", re.S)
_EXPLAIN = re.compile(r"^\s*explain\s+(?P<analyze>analyze\s+)?(?P<sql>.*)$", re.I | re.S)
_QUERY = re.compile(r"^\s*(\(\s*)*(select|with|values)\b", re.IGNORECASE)
_SETTING = re.compile(r"^\s*(--[^\n]*\n\s*|/\*.*?\*/\s*)*(set|reset)\b", re.IGNORECASE | re.DOTALL)
#: parts of CREATE EXTERNAL TABLE that workers reading the files themselves would not honour
_DECLARED = re.compile(
    r"\btable\s+(if\s+not\s+exists\s+)?[\w.\"]+\s*\(|\boptions\b|\bpartitioned\b|"
    r"\bwith\s+order\b|\bcompression\b|\bdelimiter\b|\bheader\b|\bunbounded\b",
    re.IGNORECASE,
)


#: SELECT … INTO creates a table: it runs on the coordinator, like other DDL
_INTO = re.compile(r"\binto\b", re.IGNORECASE)
#: statements that change a table's rows or definition, and the table's name
_WRITES = re.compile(
    r"^\s*(insert\s+(overwrite\s+|into\s+)?(table\s+)?|delete\s+from\s+|update\s+|"
    r"truncate\s+(table\s+)?|drop\s+(table|view)\s+(if\s+exists\s+)?|"
    r"create\s+(or\s+replace\s+)?(temporary\s+)?(table|view)\s+(if\s+not\s+exists\s+)?)"
    r"(?P<name>\"[^\"]+\"|[\w.]+)",
    re.IGNORECASE,
)


def _table_name(name: str) -> str:
    """A table name as DataFusion registers it: unquoted names fold to lower case."""
    name = name.rsplit(".", 1)[-1]
    return name[1:-1] if name.startswith('"') else name.lower()


@dataclass
class _LocalOutcome:
    """Shared by a coordinator-local statement's thread and the loop: was it cancelled
    before it finished (then its thread undoes it)?"""

    lock: threading.Lock = field(default_factory=threading.Lock)
    finished: bool = False
    cancelled: bool = False


@dataclass
class _ClientSession:
    """What the coordinator keeps per client: a DataFusion context sharing the cluster's
    catalog (where its statements run, so ``SET`` stays the client's own) and the
    settings that differ from the defaults, which plan and run its distributed queries."""

    engine: Any  # local.DataFusionEngine
    settings: Settings = ()


@dataclass
class _Query:
    """A running query: its scheduler state plus what the loop needs to answer the client."""

    request_id: str
    client: bytes
    sql: str
    plan: DistributedPlan
    state: Any  # scheduler.QueryState
    explain: bool = False
    #: what the client sent (a fallback runs it again)
    message: P.ExecuteQuery | None = None
    #: the id workers know this run by: the request id, or a fresh one for a fallback run
    key: str = ""
    #: this run is already the fallback of a distributed run that failed
    fallback: bool = False
    started: float = field(default_factory=time.perf_counter)
    runs: list[P.FragmentRun] = field(default_factory=list)
    rows: int = 0
    #: gathered outputs kept on the coordinator: (stage, partition) -> {producer: table}
    gathered: dict[tuple[int, int], dict[int, pa.Table]] = field(default_factory=dict)
    last_progress: float = 0.0

    def __post_init__(self) -> None:
        self.key = self.key or self.request_id


class Coordinator:
    """Binds its sockets on construction; :meth:`serve` runs the loop until :meth:`stop`.

    Args:
        bind: client address, ``tcp://127.0.0.1`` (random port) or ``tcp://HOST:PORT``.
        heartbeat_s: heartbeat period handed to workers.
        worker_bind: address for the worker socket (default: same host, random port).
        allowed_paths: directories SQL may read and write besides the working directory
            (see :mod:`.paths_policy`).
    """

    def __init__(
        self,
        bind: str = "tcp://127.0.0.1",
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        worker_bind: str | None = None,
        versions: Versions | None = None,
        context: zmq.Context | None = None,
        keys: curve.ClusterKeys | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        allowed_paths: Sequence[str | os.PathLike[str]] = (),
    ) -> None:
        if worker_bind is None:
            if not bind.startswith("tcp://"):
                raise ValueError("give worker_bind for non-tcp client addresses")
            worker_bind = bind.rsplit(":", 1)[0] if bind.count(":") == 2 else bind
        if keys is None:
            for addr in (bind, worker_bind):
                if addr.startswith("tcp://") and not _loopback(addr):
                    raise errors.UsageError(
                        f"refusing to listen on {addr} without keys (anyone who reaches the "
                        f"port could run SQL); {curve.HOW_TO_MAKE_KEYS}"
                    )
        self._own_context = context is None
        self.zctx = context or zmq.Context()
        self.clients = self.zctx.socket(zmq.ROUTER)
        self.workers = self.zctx.socket(zmq.ROUTER)
        for s in (self.clients, self.workers):
            s.linger = 0
            s.router_mandatory = False
            limits.bound_inbound(s)
        self._gate = self._secure(keys) if keys is not None else None
        client_addr = _bind(self.clients, bind)
        worker_addr = _bind(self.workers, worker_bind)
        self.info = P.ConnectionInfo(workers=worker_addr, clients=client_addr)
        #: this run of the coordinator (clients compare it to notice a restart)
        self.incarnation = uuid.uuid4().hex
        self.membership = Membership(versions or Versions.current(), heartbeat_s)
        #: where SQL may read and write files
        self.paths = PathPolicy.configured(allowed_paths)
        self.catalog = Catalog()
        self._frames = FrameCache()
        self.queries: dict[str, _Query] = {}
        self.queries_run = 0
        self._ctx: Any = None
        #: each client's own session (settings, context), by socket identity
        self.sessions: dict[bytes, _ClientSession] = {}
        self._default_settings: dict[str, str | None] | None = None
        # several threads: a cancelled stage still running (DataFusion cannot be stopped
        # from another thread) must not hold up the next queries' coordinator stages
        self._local = cf.ThreadPoolExecutor(max_workers=4, thread_name_prefix="coordinator-stage")
        #: coordinator-located tasks in flight: future -> (request_id, spec)
        self._local_tasks: dict[cf.Future, tuple[str, TaskSpec]] = {}
        # a finished coordinator-side job writes a byte here: the loop polls the pipe with
        # its sockets, so results go out at once instead of at the next poll timeout
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)  # a full pipe already means "wake up"
        self._wake_lock = threading.Lock()
        #: whole statements running on the coordinator: future -> (client, request_id)
        self._local_statements: dict[cf.Future, tuple[bytes, str]] = {}
        #: what became of each coordinator-local statement (cancelled ones are undone)
        self._local_outcomes: dict[cf.Future, _LocalOutcome] = {}
        #: cancelled local statements still running (their changes are undone when they end)
        self._cancelled_local: set[cf.Future] = set()
        #: registrations reading the file system off the loop: future -> (client, msg, deadline)
        self._registrations: dict[cf.Future, tuple[bytes, P.RegisterPath, float]] = {}
        self._stop = threading.Event()
        #: PlannerOptions overrides, e.g. from SQLWEAVE_PLANNER='{"broadcast_rows": 1000000}'
        self.planner_options: dict[str, Any] = json.loads(os.environ.get("SQLWEAVE_PLANNER", "{}"))
        self.observer: Any = None  # observe.Observer, when serving HTTP
        self._started_at = time.time()
        #: started coordinator-local statements: future -> (sql, perf_counter at start)
        self._local_started: dict[cf.Future, tuple[str, float]] = {}
        self.journal: Journal | None = None
        #: finished statements, newest last (the journal's when there is one)
        self.history: deque[Record] = deque(maxlen=HISTORY)
        if state_dir is not None:
            self.journal = Journal(state_dir)
            self.history = self.journal.history
            self._recover()

    # ----- durability ------------------------------------------------------------------

    def _recover(self) -> None:
        """Rebuild the catalog from the journal (a table whose files are gone is skipped)."""
        assert self.journal is not None
        for rec in self.journal.catalog():
            try:
                if rec.op is Op.REGISTER_PATH:
                    self.paths.register(rec.name, rec.path)
                    fmt, found = self._read_path(rec.name, rec.path, rec.format)
                    if fmt == "arrow":
                        self.catalog.add_arrow(rec.name, found, self._parts())
                    else:
                        self.catalog.add_files(rec.name, found, fmt)
                elif rec.op is Op.REGISTER_ARROW:
                    table = self.journal.load_table(rec.file)
                    self.context().register_arrow(rec.name, table)
                    self.catalog.add_arrow(rec.name, table, self._parts())
                elif rec.op is Op.EXTERNAL:
                    self.paths.check_statement(self.context().ctx, rec.sql)
                    self.context().execute(rec.sql)
                    ddl = _CREATE_EXTERNAL.match(rec.sql)
                    if ddl:
                        self._add_external(ddl, rec.sql)
            except Exception as exc:
                log.warning("could not restore table %s from the journal: %s", rec.name, exc)
                self.journal.append(Record(Op.DEREGISTER, name=rec.name))
        self.queries_run = len(self.history)
        self.journal.compact()
        log.info("recovered %d tables from %s", len(self.journal.catalog()), self.journal.directory)

    def _record(self, record: Record) -> None:
        """Journal a catalog change (durably, before the client hears of it)."""
        if self.journal is not None:
            self.journal.append(record)

    def _record_statement(
        self, sql: str, state: str, seconds: float, rows: int = 0, **kw: Any
    ) -> None:
        record = statement_record(sql, state, seconds, rows, **kw)
        if self.journal is not None:
            self.journal.append(record)
        else:
            self.history.append(record)

    def _secure(self, keys: curve.ClusterKeys) -> curve.Gatekeeper:
        """CURVE on both sockets: workers' keys on the worker socket, any known key on clients'."""
        pair = keys.own(curve.Role.COORDINATOR)
        workers = keys.authorized.get(curve.Role.WORKER, frozenset())
        clients = keys.authorized.get(curve.Role.CLIENT, frozenset())
        if not workers:
            log.warning("%s lists no worker keys: no worker can join", keys.directory)
        gate = curve.Gatekeeper(
            self.zctx, {curve.Domain.CLIENTS: workers | clients, curve.Domain.WORKERS: workers}
        )
        curve.serve(self.clients, pair, curve.Domain.CLIENTS)
        curve.serve(self.workers, pair, curve.Domain.WORKERS)
        return gate

    # ----- the loop ------------------------------------------------------------------

    def serve(self) -> None:
        poller = zmq.Poller()
        poller.register(self.clients, zmq.POLLIN)
        poller.register(self.workers, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        tick = min(0.1, self.membership.heartbeat_s / 4)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(tick * 1000))
                # drain everything that queued up before judging liveness
                while ready:
                    if self._wake_r in ready:
                        with contextlib.suppress(BlockingIOError):
                            os.read(self._wake_r, 4096)
                        self._finish_local_tasks()
                    if self.workers in ready:
                        self._dispatch(self.workers, self._worker_handlers)
                    if self.clients in ready:
                        self._dispatch(self.clients, self._client_handlers)
                    ready = dict(poller.poll(0))
                self._finish_local_tasks()
                self._membership_events(self.membership.tick(time.monotonic()))
                if (
                    self.observer is not None
                    and time.monotonic() - self.observer.snapshot.taken > 0.5
                ):
                    self.observer.publish(self._snapshot())
        finally:
            self.close()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for rec in list(self.membership.workers.values()):
            ident = self.membership.identity_of(rec.worker_id)
            if ident is not None:
                P.send(self.workers, P.Shutdown("coordinator stopping"), ident)
        self._local.shutdown(wait=False, cancel_futures=True)
        with self._wake_lock:  # a job finishing later must not write to a reused fd
            for fd in (self._wake_w, self._wake_r):
                if fd >= 0:
                    os.close(fd)
            self._wake_w = self._wake_r = -1
        if self._gate is not None:
            self._gate.stop()
        if self.journal is not None:
            self.journal.close()
        if self.observer is not None:
            self.observer.close()
        if self._own_context:
            self.zctx.destroy(linger=200)
        else:
            self.clients.close(linger=0)
            self.workers.close(linger=0)

    def _dispatch(self, sock: zmq.Socket, handlers: dict[type, Callable]) -> None:
        identity, frames = P.recv_frames(sock, routed=True)
        assert identity is not None
        try:
            msg = P.decode(frames)
            handler = handlers.get(type(msg))
            if handler is None:
                raise P.ProtocolError(f"{msg.TAG} is not handled on this socket")
            claimed = getattr(msg, "worker_id", None)
            if sock is self.workers and claimed and not self.membership.sent_by(claimed, identity):
                # e.g. a forged WorkerExiting or a heartbeat keeping a dead worker "alive"
                log.warning(
                    "dropped %s claiming to be worker %s from another sender", msg.TAG, claimed
                )
                return
            handler(self, identity, msg)
        except P.ProtocolError as exc:
            log.warning("bad message: %s", exc)
            P.send(
                sock, P.ErrorReply(str(exc), P.tag_of(frames), P.request_id_of(frames)), identity
            )
        except Exception as exc:  # a handler bug must not take the coordinator down
            log.exception("handling a message failed")
            reply = P.ErrorReply(
                f"internal error: {exc}", P.tag_of(frames), P.request_id_of(frames)
            )
            P.send(sock, reply, identity)

    # ----- workers ----------------------------------------------------------------------

    def _on_register(self, identity: bytes, msg: P.RegisterWorker) -> None:
        if (old := self.membership.worker_at(identity)) is not None:
            # the same socket registering again: its earlier self is gone, and the
            # scheduler must hear so, or that worker's running tasks would wait forever
            self._membership_events(self.membership.lose(old, "registered again"))
        reply = self.membership.register(identity, msg, time.monotonic())
        P.send(self.workers, reply, identity)
        if isinstance(reply, P.RegistrationRefused):
            log.warning("refused worker pid %d: %s", msg.pid, reply.reason)
            return
        log.info("worker %s joined (pid %d)", reply.worker_id, msg.pid)
        self._membership_events([WorkerJoined(reply.worker_id)])

    def _on_heartbeat(self, identity: bytes, msg: P.Heartbeat) -> None:
        rec = self.membership.workers.get(msg.worker_id)
        if rec is None or self.membership.identity_of(msg.worker_id) is None:
            # we gave up on this worker; tell it so it can make way for a fresh one
            P.send(self.workers, P.Shutdown(f"worker {msg.worker_id} was declared lost"), identity)
            return
        self._membership_events(
            self.membership.heartbeat(msg.worker_id, time.monotonic(), msg.rss_bytes, msg.running)
        )

    def _on_worker_exiting(self, identity: bytes, msg: P.WorkerExiting) -> None:
        self._membership_events(self.membership.lose(msg.worker_id, msg.reason))

    def _on_task_done(self, identity: bytes, msg: P.TaskDone) -> None:
        self.membership.seen(msg.worker_id, time.monotonic())
        self.membership.fragment_ran(msg.worker_id)
        q = self.queries.get(msg.query_id)
        if q is None:
            return
        q.runs.append(
            P.FragmentRun(msg.stage, msg.index, msg.worker_id, msg.rows, msg.seconds, msg.attempt)
        )
        if msg.output is not None:
            q.gathered.setdefault((msg.stage, 0), {})[msg.index] = msg.output
        key = (msg.query_id, msg.stage, msg.index)
        self._feed(q, [S.TaskDone(key, msg.worker_id, msg.rows, msg.seconds, msg.attempt)])

    def _on_task_failed(self, identity: bytes, msg: P.TaskFailed) -> None:
        self.membership.seen(msg.worker_id, time.monotonic())
        q = self.queries.get(msg.query_id)
        if q is None or msg.kind is P.ErrorKind.CANCELLED:
            return
        key = (msg.query_id, msg.stage, msg.index)
        self._feed(q, [S.TaskFailed(key, msg.worker_id, msg.error, msg.attempt)])

    def _on_worker_error(self, identity: bytes, msg: P.ErrorReply) -> None:
        log.warning("a worker could not handle our %s: %s", msg.tag, msg.error)

    _worker_handlers: dict[type, Callable] = {
        P.RegisterWorker: _on_register,
        P.Heartbeat: _on_heartbeat,
        P.WorkerExiting: _on_worker_exiting,
        P.TaskDone: _on_task_done,
        P.TaskFailed: _on_task_failed,
        P.ErrorReply: _on_worker_error,
    }

    def _membership_events(self, events: list[MembershipEvent]) -> None:
        changed = False
        for ev in events:
            if isinstance(ev, WorkerLost):
                log.warning("worker %s lost: %s", ev.worker_id, ev.reason)
                changed = True
                for q in list(self.queries.values()):
                    self._feed(q, [S.WorkerLost(ev.worker_id)])
            elif isinstance(ev, WorkerJoined):
                changed = True  # running queries keep their placement; new ones use it
        if changed:
            directory = self.membership.peer_directory()
            for wid in self.membership.alive():
                self._send_worker(wid, directory)

    def _send_worker(self, worker_id: str, msg: P.Message) -> bool:
        ident = self.membership.identity_of(worker_id)
        if ident is None:
            return False
        P.send(self.workers, msg, ident)
        return True

    # ----- clients ------------------------------------------------------------------------

    def _on_connect_info(self, identity: bytes, msg: P.ConnectInfoRequest) -> None:
        reply = P.ConnectInfoReply(msg.request_id, self.info.workers, self.info.clients)
        P.send(self.clients, reply, identity)

    def _on_status(self, identity: bytes, msg: P.StatusRequest) -> None:
        status = P.ClusterStatus(
            msg.request_id,
            os.getpid(),
            self.membership.status(time.monotonic()),
            self.queries_run,
            self.incarnation,
            len(self._local_statements) + len(self._cancelled_local),
        )
        P.send(self.clients, status, identity)

    def _on_history(self, identity: bytes, msg: P.HistoryRequest) -> None:
        limit = max(0, min(msg.limit, len(self.history)))
        entries = tuple(_history_entry(r) for r in list(self.history)[len(self.history) - limit :])
        P.send(self.clients, P.QueryHistory(msg.request_id, entries), identity)

    def serve_http(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start the operators' HTTP endpoint (see :mod:`.observe`); its address."""
        from .observe import Observer

        self.observer = Observer(host, port)
        self.observer.publish(self._snapshot())
        return self.observer.address

    def _snapshot(self) -> Any:
        from dataclasses import asdict

        from .observe import Snapshot
        from .worker import _rss_bytes

        workers = tuple(
            {**asdict(w), "liveness": w.liveness.value}
            for w in self.membership.status(time.monotonic())
        )
        history = tuple(asdict(_history_entry(r)) for r in self.history)
        return Snapshot(
            pid=os.getpid(),
            incarnation=self.incarnation,
            started=self._started_at,
            rss_bytes=_rss_bytes(),
            queries_running=len(self.queries) + len(self._local_statements),
            local_running=len(self._local_statements) + len(self._cancelled_local),
            queries_run=self.queries_run,
            workers=workers,
            history=history,
        )

    def _reply_error(self, identity: bytes, request_id: str, exc: BaseException) -> None:
        P.send(self.clients, failure(request_id, exc), identity)

    def _on_register_path(self, identity: bytes, msg: P.RegisterPath) -> None:
        # format detection, listing and schema inference read the file system, which may
        # block as long as it likes (a slow mount): off the loop, under a deadline
        if self._gate is None:  # anyone may connect: registering is SQL-like access
            try:
                self.paths.check(msg.path, Access.READ)
            except errors.UsageError as exc:
                return self._reply_error(identity, msg.request_id, exc)
        self.context()
        fut = self._local.submit(self._read_path, msg.name, msg.path, msg.format)
        deadline = time.monotonic() + limits.REGISTER_TIMEOUT_S
        self._registrations[fut] = (identity, msg, deadline)
        fut.add_done_callback(self._wake)

    def _read_path(self, name: str, path: str, format: str | None) -> tuple[str, Any]:
        """(On a pool thread) register ``path`` in the coordinator's context; its files."""
        from ..engines import paths

        _refuse_special_file(path)
        try:
            fmt = paths.detect_format(path, format)
        except (FileNotFoundError, ValueError) as exc:
            raise errors.UsageError(str(exc)) from None
        self.context().register_path(name, path, fmt)
        if fmt == "arrow":
            return fmt, self._ctx.ctx.table(name).to_arrow_table()
        return fmt, paths.expand(path)

    def _finish_registrations(self) -> None:
        now = time.monotonic()
        for fut, (identity, msg, deadline) in list(self._registrations.items()):
            if not fut.done():
                if now > deadline:
                    # the thread stays stuck in the file system; the client hears the truth
                    del self._registrations[fut]
                    fut.add_done_callback(lambda _f, n=msg.name: self._abandoned(n))
                    self._reply_error(
                        identity,
                        msg.request_id,
                        errors.UsageError(
                            f"registering {msg.name} from {msg.path} took longer than "
                            f"{limits.REGISTER_TIMEOUT_S:.0f} s; gave up (nothing registered)"
                        ),
                    )
                continue
            del self._registrations[fut]
            try:
                fmt, found = fut.result()
                if fmt == "arrow":
                    self.catalog.add_arrow(msg.name, found, self._parts())
                else:
                    self.catalog.add_files(msg.name, found, fmt)
                self.paths.register(msg.name, msg.path)
                self._record(Record(Op.REGISTER_PATH, msg.name, msg.path, msg.format))
            except Exception as exc:
                self._reply_error(identity, msg.request_id, exc)
                continue
            P.send(self.clients, P.Ok(msg.request_id), identity)

    def _abandoned(self, name: str) -> None:
        """(On a pool thread) a registration we gave up on finished after all: undo it."""
        with contextlib.suppress(Exception):
            self.context().deregister(name)

    def _parts(self) -> int:
        return max(1, len(self.membership.alive()))

    def _on_register_arrow(self, identity: bytes, msg: P.RegisterArrow) -> None:
        try:
            self.context().register_arrow(msg.name, msg.table)
            entry = self.catalog.add_arrow(msg.name, msg.table, self._parts())
            if msg.key:  # a notebook DataFrame, registered for one statement: keep a copy
                parts = {h: self.catalog.partitions[h] for h in entry.source.hashes}
                self._frames.put(msg.key, msg.table, entry, parts)
            elif self.journal is not None:
                file = self.journal.save_table(msg.table)
                self._record(Record(Op.REGISTER_ARROW, msg.name, file=file))
        except Exception as exc:
            return self._reply_error(identity, msg.request_id, exc)
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_register_known(self, identity: bytes, msg: P.RegisterKnown) -> None:
        kept = self._frames.get(msg.key)
        if kept is None:
            reply = P.QueryFailed(msg.request_id, P.ErrorKind.USAGE, "no frame with that key")
            return P.send(self.clients, reply, identity)
        table, entry, parts = kept
        self.context().register_arrow(msg.name, table)
        self.catalog.add_entry(dataclasses.replace(entry, name=msg.name), parts)
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_deregister(self, identity: bytes, msg: P.Deregister) -> None:
        self.catalog.remove(msg.name)
        self.context().deregister(msg.name)
        self._record(Record(Op.DEREGISTER, msg.name))
        P.send(self.clients, P.Ok(msg.request_id), identity)

    def _on_list_tables(self, identity: bytes, msg: P.ListTables) -> None:
        names = tuple(sorted(set(self.catalog.names()) | set(self.context().tables())))
        P.send(self.clients, P.TableList(msg.request_id, names), identity)

    def _on_describe(self, identity: bytes, msg: P.DescribeTable) -> None:
        try:
            schema = (
                self.catalog[msg.name].schema
                if msg.name in self.catalog
                else self.context().schema(msg.name)
            )
        except Exception as exc:
            return self._reply_error(identity, msg.request_id, exc)
        P.send(self.clients, P.TableSchema(msg.request_id, schema), identity)

    def _on_cancel(self, identity: bytes, msg: P.CancelRequest) -> None:
        if self._cancel_local(identity, msg.request_id):
            return
        q = next((q for q in self.queries.values() if q.request_id == msg.request_id), None)
        if q is None:
            return
        self.queries.pop(q.key, None)
        for wid in self.membership.alive():
            self._send_worker(wid, P.CancelQuery(q.key))
        P.send(
            self.clients,
            P.QueryFailed(msg.request_id, P.ErrorKind.CANCELLED, "query cancelled"),
            q.client,
        )

    def _on_execute(self, identity: bytes, msg: P.ExecuteQuery) -> None:
        try:
            guard.check(msg.sql)  # from any client: a deep statement would crash this process
            self.paths.check_statement(self._session(identity).engine.ctx, msg.sql)
            self._start_query(identity, msg)
        except Exception as exc:
            log.info("query %s failed to start: %s", msg.request_id, exc)
            self._record_statement(msg.sql, "failed", 0.0, error=_first_line(exc))
            self._reply_error(identity, msg.request_id, exc)

    _client_handlers: dict[type, Callable] = {
        P.ConnectInfoRequest: _on_connect_info,
        P.StatusRequest: _on_status,
        P.HistoryRequest: _on_history,
        P.RegisterPath: _on_register_path,
        P.RegisterArrow: _on_register_arrow,
        P.RegisterKnown: _on_register_known,
        P.Deregister: _on_deregister,
        P.ListTables: _on_list_tables,
        P.DescribeTable: _on_describe,
        P.ExecuteQuery: _on_execute,
        P.CancelRequest: _on_cancel,
    }

    # ----- queries ---------------------------------------------------------------------------

    def context(self) -> Any:
        """The coordinator's own engine: a mirror of the catalog for coordinator stages and DDL."""
        if self._ctx is None:
            from ..engines.local import DataFusionEngine

            self._ctx = DataFusionEngine()
        return self._ctx

    def _start_query(self, identity: bytes, msg: P.ExecuteQuery) -> None:
        sql = _LEADING_COMMENTS.sub("", msg.sql, count=1)
        explain = False
        m = _EXPLAIN.match(sql)
        if m and _QUERY.match(inner := _LEADING_COMMENTS.sub("", m.group("sql"), count=1)):
            sql, explain = inner, True
        ddl = _CREATE_EXTERNAL.match(sql)
        if ddl:
            _refuse_special_file(ddl.group("location"))
            self._session(identity).engine.execute(sql)  # DataFusion validates the statement
            self._add_external(ddl, sql)
            self._record(Record(Op.EXTERNAL, _table_name(ddl.group("name")), sql=sql))
            P.send(self.clients, P.QueryResult(msg.request_id, pa.table({})), identity)
            return
        if not _QUERY.match(sql) or _INTO.search(sql) or not self.membership.alive():
            # statements the cluster does not distribute (SET, SHOW, DDL, SELECT … INTO)
            written = _WRITES.match(sql)
            if written:
                # the coordinator's copy changes, the catalog's partitions would not: from
                # now on queries over it run on the coordinator
                self.catalog.remove(_table_name(written.group("name")))
            self._run_locally(identity, msg)
            return
        settings = self._session(identity).settings if identity in self.sessions else ()
        try:
            plan = self._plan(sql, msg.params, settings)
        except NotDistributable as exc:
            log.info("running %s on the coordinator: %s", msg.request_id, exc)
            self._run_locally(identity, msg)
            return
        except errors.SqlError as exc:
            if not self._runs_locally(sql, msg.params, identity):
                if explain:  # point into the statement the client sent, EXPLAIN included
                    _shift(exc, sql, msg.sql)
                raise
            # valid for DataFusion but not (yet) distributable: run it whole on the coordinator
            log.info("running %s on the coordinator: %s", msg.request_id, exc)
            self._run_locally(identity, msg)
            return
        state = S.QueryState(msg.request_id, plan, self.membership.alive(), self.catalog)
        q = _Query(msg.request_id, identity, sql, plan, state, explain=explain, message=msg)
        self.queries[q.key] = q
        self.queries_run += 1
        self._feed(q, state.start())

    def _add_external(self, ddl: re.Match[str], sql: str) -> None:
        """Put a table made by CREATE EXTERNAL TABLE in the cluster catalog, when workers
        can read its files exactly as declared.

        That is a plain parquet table (no column list, options or partitioning) whose
        location holds files. Anything else (a declared schema, CSV options such as
        ``has_header``, a location with no files yet) stays out of the catalog: queries
        over it run on the coordinator, which registered it exactly as declared.
        """
        name = _table_name(ddl.group("name"))
        self.catalog.remove(name)
        if ddl.group("format").lower() != "parquet" or _DECLARED.search(sql):
            return
        # the location DataFusion planned (the pattern can be fooled by a comment), and
        # checked once more: it is what workers will read
        location = self.paths.locations.get(name, ddl.group("location"))
        try:
            self.paths.check(location, Access.READ)
            self.catalog.add_files(name, location, "parquet")
        except (FileNotFoundError, OSError, errors.UsageError) as exc:
            log.info("external table %s is read on the coordinator: %s", name, exc)

    def _plan(self, sql: str, params: dict[str, Any], settings: Settings = ()) -> DistributedPlan:
        from .planner import plan_query

        try:
            return plan_query(sql, self.catalog, self._options(), params or None, settings)
        except (errors.SqlError, NotDistributable):
            raise
        except Exception as exc:
            from ..engines import sqlerrors

            raise sqlerrors.from_datafusion(exc, sql, self.catalog.names()) from None

    def _options(self) -> Any:
        from .planner import PlannerOptions

        return PlannerOptions(workers=len(self.membership.alive()), **self.planner_options)

    def _runs_locally(self, sql: str, params: dict[str, Any], identity: bytes) -> bool:
        try:
            ctx = self._session(identity).engine.ctx
            ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
            return True
        except Exception:
            return False

    def _session(self, identity: bytes) -> _ClientSession:
        """The client's session: its own DataFusion context over the shared catalog."""
        session = self.sessions.get(identity)
        if session is None:
            from ..engines.local import DataFusionEngine, make_context

            ctx = make_context()
            ctx.register_catalog_provider("datafusion", self.context().ctx.catalog())
            session = self.sessions[identity] = _ClientSession(DataFusionEngine(context=ctx))
        return session

    def _baseline(self) -> dict[str, str | None]:
        """Settings of a fresh context: a session's settings are its differences from them."""
        if self._default_settings is None:
            from ..engines.local import make_context, settings_of

            self._default_settings = settings_of(make_context())
        return self._default_settings

    def _run_locally(self, identity: bytes, msg: P.ExecuteQuery) -> None:
        """Run a whole statement in the client's DataFusion session, off the loop thread.

        A statement that writes a table can be cancelled: it runs to its end (DataFusion
        cannot stop it) and is then undone, before anyone is told it is done."""
        self.queries_run += 1
        session = self._session(identity)
        baseline = self._baseline()
        written = _WRITES.match(_LEADING_COMMENTS.sub("", msg.sql, count=1))
        outcome = _LocalOutcome()

        def run() -> pa.Table:
            from ..engines.local import changed_settings
            from .undo import IN_PLACE, Undo

            undo = None
            if written:
                verb = written.group(1).split()[0].lower()
                name = _table_name(written.group("name"))
                undo = Undo.before(session.engine.ctx, name, verb in IN_PLACE)
            try:
                table = session.engine.execute(msg.sql, msg.params or None)
            finally:
                with outcome.lock:
                    outcome.finished = True
                    if outcome.cancelled and undo is not None:
                        undo.rollback()
            if _SETTING.match(msg.sql):
                # planning and every task of this client's queries use them from now on
                session.settings = changed_settings(session.engine.ctx, baseline)
            return table

        fut = self._local.submit(run)
        self._local_statements[fut] = (identity, msg.request_id)
        self._local_outcomes[fut] = outcome
        self._local_started[fut] = (msg.sql, time.perf_counter())
        fut.add_done_callback(self._wake)

    def _cancel_local(self, identity: bytes, request_id: str) -> bool:
        """Cancel a coordinator-local statement, telling the client only what is true."""
        fut = next(
            (
                f
                for f, (c, rid) in self._local_statements.items()
                if (c, rid) == (identity, request_id)
            ),
            None,
        )
        if fut is None:
            return False
        outcome = self._local_outcomes[fut]
        with outcome.lock:
            if outcome.finished:
                return True  # too late: its result (or error) is on its way, and true
            outcome.cancelled = True
        del self._local_statements[fut]
        self._local_outcomes.pop(fut, None)
        self._cancelled_local.add(fut)
        fut.add_done_callback(lambda f: self._cancelled_local.discard(f))
        P.send(
            self.clients,
            P.QueryFailed(
                request_id,
                P.ErrorKind.CANCELLED,
                "cancelled; the statement was running on the coordinator, where it cannot be "
                "stopped midway: it finishes in the background and whatever it changed is "
                "then undone",
            ),
            identity,
        )
        return True

    def _feed(self, q: _Query, events: list[Any]) -> None:
        """Hand events to the query's scheduler and carry out its instructions.

        Whatever goes wrong here fails (or falls back) this query, answering its client:
        the exception must not reach the socket loop, which would answer the worker whose
        message we were handling and leave the client waiting forever."""
        try:
            self._feed_events(q, events)
        except Exception as exc:
            log.exception("query %s failed in the coordinator", q.request_id)
            if self.queries.get(q.key) is q:
                self._fail(q, S.QueryFailed(q.key, _first_line(exc), COORDINATOR))

    def _feed_events(self, q: _Query, events: list[Any]) -> None:
        pending = list(events)
        while pending and self.queries.get(q.key) is q:
            item = pending.pop(0)
            if isinstance(item, (S.TaskDone, S.TaskFailed, S.WorkerLost)):
                pending[:0] = q.state.handle(item)
                if isinstance(item, S.TaskDone):
                    self._progress(q)
            elif isinstance(item, S.RunTask):
                if item.worker == COORDINATOR:
                    self._run_on_coordinator(q, item.spec)
                else:
                    self._run_on_worker(item.worker, item.spec)
            elif isinstance(item, S.QueryDone):
                self._finish(q)
            elif isinstance(item, S.QueryFailed):
                self._fail(q, item)

    def _run_on_worker(self, worker: str, spec: TaskSpec) -> None:
        for item in spec.inputs:
            if isinstance(item, MemoryShare) and self.membership.needs(worker, item.content_hash):
                part = self.catalog.partitions[item.content_hash]
                self._send_worker(worker, P.StoreTable(item.content_hash, part))
                self.membership.shipped(worker, item.content_hash)
        if not self._send_worker(worker, P.RunTask(spec)):
            log.warning("task %s for lost worker %s dropped", spec.key, worker)

    def _run_on_coordinator(self, q: _Query, spec: TaskSpec) -> None:
        inputs: dict[TaskInput, pa.Table] = {}
        for item in spec.inputs:
            if isinstance(item, ExchangeShare):
                parts = q.gathered.get((item.stage, item.partition), {})
                inputs[item] = concat_tables([parts[i] for i in sorted(parts)])
            elif isinstance(item, MemoryShare):
                inputs[item] = self.catalog.partitions[item.content_hash]

        def run() -> tuple[dict[int, pa.Table], float]:
            from ..engines.local import apply_settings, make_context
            from .worker import run_fragment

            started = time.perf_counter()

            def context() -> Any:
                ctx = make_context()
                apply_settings(ctx, spec.settings)
                return ctx

            out = run_fragment(context, spec, inputs)
            return out, time.perf_counter() - started

        fut = self._local.submit(run)
        self._local_tasks[fut] = (q.key, spec)
        fut.add_done_callback(self._wake)

    def _wake(self, _fut: cf.Future) -> None:
        """(On a pool thread) wake the loop: a coordinator-side job finished."""
        with self._wake_lock:
            if self._wake_w >= 0:
                with contextlib.suppress(OSError):
                    os.write(self._wake_w, b"\0")

    def _finish_local_tasks(self) -> None:
        self._finish_registrations()
        for fut in [f for f in self._local_statements if f.done()]:
            identity, request_id = self._local_statements.pop(fut)
            self._local_outcomes.pop(fut, None)
            sql, started = self._local_started.pop(fut, ("", time.perf_counter()))
            seconds = time.perf_counter() - started
            try:
                reply: P.Message = P.QueryResult(request_id, fut.result())
                rows, nbytes = reply.table.num_rows, reply.table.nbytes
                self._record_statement(sql, "finished", seconds, rows, bytes=nbytes)
            except Exception as exc:
                reply = failure(request_id, exc)
                self._record_statement(sql, "failed", seconds, error=_first_line(exc))
            try:
                P.send(self.clients, reply, identity)
            except Exception as exc:  # a result the transport cannot carry must not end us
                log.exception("sending the result of %s failed", request_id)
                P.send(self.clients, failure(request_id, exc), identity)
        for fut in [f for f in self._local_tasks if f.done()]:
            key, spec = self._local_tasks.pop(fut)
            q = self.queries.get(key)
            if q is None:
                continue
            try:
                outputs, seconds = fut.result()
            except Exception as exc:
                self._feed(q, [S.TaskFailed(spec.key, COORDINATOR, _first_line(exc), spec.attempt)])
                continue
            rows = sum(t.num_rows for t in outputs.values())
            q.runs.append(P.FragmentRun(spec.stage, spec.index, COORDINATOR, rows, seconds))
            try:
                output = concat_tables([outputs[p] for p in sorted(outputs)])
            except Exception as exc:
                self._feed(q, [S.TaskFailed(spec.key, COORDINATOR, _first_line(exc), spec.attempt)])
                continue
            q.gathered.setdefault((spec.stage, 0), {})[spec.index] = output
            self._feed(q, [S.TaskDone(spec.key, COORDINATOR, rows, seconds, spec.attempt)])

    def _progress(self, q: _Query) -> None:
        p = q.state.progress
        now = time.perf_counter()
        if p.fragments_done < p.fragments_total and now - q.last_progress < 0.05:
            return
        q.last_progress = now
        msg = P.QueryProgress(q.request_id, p.fragments_done, p.fragments_total, p.rows)
        P.send(self.clients, msg, q.client)

    def _finish(self, q: _Query) -> None:
        parts = q.gathered.get((q.plan.root, 0), {})
        table = encode_dictionaries(concat_tables([parts[i] for i in sorted(parts)]), q.plan.schema)
        self.queries.pop(q.key, None)
        if q.explain:
            from .explain import explain_graph, explain_text

            text = explain_text(q.plan, q.state.tasks)
            graph = json.dumps(explain_graph(q.plan, q.state.tasks).to_dict())
            table = pa.table({"plan_type": ["distributed_plan"], "graph": [graph], "plan": [text]})
        P.send(self.clients, P.QueryResult(q.request_id, table, tuple(q.runs)), q.client)
        for wid in self.membership.alive():
            self._send_worker(wid, P.ReleaseQuery(q.key))
        seconds = time.perf_counter() - q.started
        self._record_statement(q.sql, "finished", seconds, table.num_rows, bytes=table.nbytes)

    def _fail(self, q: _Query, outcome: S.QueryFailed) -> None:
        self.queries.pop(q.key, None)
        for wid in self.membership.alive():
            self._send_worker(wid, P.CancelQuery(q.key))
        try:
            if self._fall_back(q, outcome.error):
                return
        except Exception:  # the original error is the one to report
            log.exception("query %s could not fall back to the coordinator", q.request_id)
        seconds = time.perf_counter() - q.started
        self._record_statement(q.sql, "failed", seconds, error=outcome.error[:500])
        remote = outcome.worker and outcome.worker != COORDINATOR
        kind = P.ErrorKind.WORKER if remote else P.ErrorKind.EXECUTION
        reply = P.QueryFailed(q.request_id, kind, outcome.error, outcome.worker)
        P.send(self.clients, reply, q.client)

    def _fall_back(self, q: _Query, error: str) -> bool:
        """Run a failed distributed query again, whole, on the coordinator.

        Only once, and only for failures that come from distributing it (a fragment that
        does not plan or decode on a worker, pieces that do not fit together), never for
        errors in the data, which the coordinator would only hit again.
        """
        if q.fallback or q.message is None or is_data_error(error):
            return False
        from .planner import NotDistributable, whole_query_plan

        log.info("query %s falls back to the coordinator: %s", q.request_id, error)
        if not self.membership.alive():
            # every worker was lost (killed, being replaced): the whole statement runs here
            self._run_locally(q.client, q.message)
            return True
        reason = f"a distributed fragment failed: {error[:200]}"
        try:
            plan = whole_query_plan(
                q.sql, self.catalog, self._options(), q.message.params, reason, q.plan.settings
            )
        except NotDistributable:
            self._run_locally(q.client, q.message)
            return True
        key = f"{q.request_id}.fallback"
        state = S.QueryState(key, plan, self.membership.alive(), self.catalog)
        again = _Query(
            q.request_id, q.client, q.sql, plan, state, q.explain, q.message, key, fallback=True
        )
        self.queries[key] = again
        self._feed(again, state.start())
        return True


#: DataFusion/Arrow error texts that are about the data, not about how a query was cut up:
#: running the query again on the coordinator would fail the same way
DATA_ERRORS = (
    "divide by zero",
    "cast error",
    "overflow",
    "parser error",
    "resources exhausted",
    "out of range",
)


def is_data_error(error: str) -> bool:
    """Whether a failure is about the data (the answer) rather than the distribution.

    >>> is_data_error("Arrow error: Divide by zero error"), is_data_error("Schema error: x")
    (True, False)
    """
    low = error.lower()
    return any(marker in low for marker in DATA_ERRORS)


def _shift(exc: errors.SqlError, inner: str, whole: str) -> None:
    """Move an error's position from ``inner`` to ``whole``, of which ``inner`` is the end."""
    if exc.position is not None and whole.endswith(inner):
        offset = len(whole) - len(inner) + exc.position.to_offset(inner)
        exc.position = errors.Position.from_offset(whole, offset)
        if exc.sql is not None:
            exc.sql = whole


def encode_dictionaries(table: pa.Table, planned: pa.Schema | None) -> pa.Table:
    """``table`` with the dictionary columns the query's plan has.

    Substrait and the exchanges between stages carry a dictionary column as its values;
    the user asked for (and embedded DataFusion gives) the dictionary type.

    >>> planned = pa.schema([("d", pa.dictionary(pa.int32(), pa.string()))])
    >>> encode_dictionaries(pa.table({"d": ["a", "b", "a"]}), planned).schema.types
    [DictionaryType(dictionary<values=string, indices=int32, ordered=0>)]
    """
    if planned is None or len(planned) != table.num_columns:
        return table
    columns = list(table.columns)
    changed = False
    for i, want in enumerate(planned.types):
        have = columns[i].type
        if pa.types.is_dictionary(want) and not pa.types.is_dictionary(have):
            try:
                values = columns[i].cast(want.value_type)
                columns[i] = values.dictionary_encode().cast(want)
                changed = True
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass  # (left as values: the same answer in a plainer type)
    return pa.Table.from_arrays(columns, names=table.column_names) if changed else table


def failure(request_id: str, exc: BaseException) -> P.QueryFailed:
    """An exception as a client-facing failure message (errors travel as data)."""
    kinds = (
        (errors.ParseError, P.ErrorKind.PARSE),
        (errors.PlanError, P.ErrorKind.PLAN),
        (errors.UsageError, P.ErrorKind.USAGE),
        (errors.QueryCancelled, P.ErrorKind.CANCELLED),
    )
    kind = next((k for cls, k in kinds if isinstance(exc, cls)), P.ErrorKind.EXECUTION)
    if isinstance(exc, errors.SqlError):
        pos = exc.position
        return P.QueryFailed(
            request_id,
            kind,
            exc.message,
            line=pos.line if pos else None,
            column=pos.column if pos else None,
            hint=exc.hint,
        )
    text = str(exc).strip().splitlines()
    return P.QueryFailed(request_id, kind, text[0] if text else type(exc).__name__)


def _bind(sock: zmq.Socket, address: str) -> str:
    """Bind to ``tcp://HOST:PORT`` or, without a port, a random one; return the address."""
    if address.startswith("tcp://") and address.count(":") == 1:
        port = sock.bind_to_random_port(address)
        return f"{address}:{port}"
    sock.bind(address)
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)


def _loopback(address: str) -> bool:
    host = address[len("tcp://") :].rsplit(":", 1)[0]
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _history_entry(r: Record) -> P.HistoryEntry:
    return P.HistoryEntry(r.sql, r.state, round(r.seconds, 6), r.rows, r.bytes, r.at, r.error)


def _refuse_special_file(path: str) -> None:
    """A FIFO, device or socket would block (or never end) a reader: say so instead."""
    import stat

    try:
        mode = os.stat(path).st_mode  # stat never opens, so it cannot block on a FIFO
    except OSError:
        return  # a glob or a missing path: detection says what is wrong
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise errors.UsageError(
            f"{path} is not a regular file or directory (a FIFO, device or socket): "
            "register data files only"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sqlweave coordinator")
    parser.add_argument(
        "--bind",
        default="tcp://127.0.0.1",
        help="client address: tcp://HOST[:PORT] (default 127.0.0.1, random port)",
    )
    parser.add_argument("--worker-bind", default=None, help="worker address (default: random)")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=DEFAULT_HEARTBEAT_S,
        help=f"heartbeat period, seconds (default {DEFAULT_HEARTBEAT_S}; lost after 5 silent)",
    )
    parser.add_argument(
        "--info-file", default=None, help="write the connection info JSON here once bound"
    )
    parser.add_argument(
        "--keys",
        default=None,
        help=f"CURVE key directory (default: ${curve.KEYS_ENV}; see `sqlweave cluster keys`)",
    )
    parser.add_argument(
        "--http",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /health/live, /health/ready, /status, /queries, /metrics on this port",
    )
    parser.add_argument("--http-host", default="127.0.0.1", help="interface for --http")
    parser.add_argument(
        "--allow-path",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory SQL may read and write besides the working directory (repeatable)",
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep the catalog and query history here (journal + snapshot): a restart recovers them",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    ns = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SQLWEAVE_LOG", "WARNING"),
        format="%(asctime)s coordinator %(levelname)s %(message)s",
    )
    keep_freed_memory()  # received tables reuse heap pages instead of faulting in new ones
    try:
        keys = curve.ClusterKeys.load(ns.keys) if ns.keys else curve.ClusterKeys.from_env()
        coord = Coordinator(
            ns.bind,
            ns.heartbeat,
            ns.worker_bind,
            keys=keys,
            state_dir=ns.state_dir,
            allowed_paths=ns.allow_path,
        )
    except errors.UsageError as exc:
        print(f"sqlweave coordinator: {exc}", file=sys.stderr)
        return 2
    if ns.info_file:
        tmp = ns.info_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(coord.info.to_json())
        os.replace(tmp, ns.info_file)
    if ns.http is not None:
        print(f"  operators: {coord.serve_http(ns.http_host, ns.http)}/status", flush=True)
    print(f"sqlweave coordinator listening on {coord.info.clients}", flush=True)
    print(f"  workers connect to {coord.info.workers}", flush=True)
    import signal

    signal.signal(signal.SIGTERM, lambda *a: coord.stop())
    try:
        coord.serve()
    except KeyboardInterrupt:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    # do not wait for a coordinator stage that may still be running in native code
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
