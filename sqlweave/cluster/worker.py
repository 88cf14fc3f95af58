"""A worker process: registers with the coordinator, runs tasks on DataFusion, shuffles to peers.

Threads and sockets (a ZeroMQ socket never crosses threads):

* the **main thread** executes one task at a time (DataFusion checks for
  signals only on the main thread, which is what makes a running query
  interruptible); it sends results on its own DEALER and pushes shuffle
  output straight to peer workers, waiting for their acknowledgements before
  it reports the task done;
* the **I/O thread** owns the registered control DEALER (tasks, in-memory
  partitions, cancels, the peer directory) and the peer ROUTER where other
  workers push partitions;
* the **heartbeat thread** sends heartbeats at the period the coordinator
  handed out, so a long native query never looks like death.

Cancel: the I/O thread interrupts the main thread with SIGINT; if the task has
not stopped after ``cancel_grace_s`` (stuck in native code without signal
checks) the process says goodbye and exits with :data:`EXIT_REPLACE`, and its
supervisor (:func:`.supervision.supervise`, used by the CLI and ``LocalCluster``) starts a
fresh worker in its place.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import signal
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import zmq
from zmq.utils.monitor import recv_monitor_message

from ..engines.metering import memory_bytes_per_row
from . import curve, limits, supervision
from . import protocol as P
from .exchange_buffer import ExchangeBuffer, configured_limit
from .fragment_run import run_fragment
from .fragments import ExchangeShare, MemoryShare, OutputMode, Settings, TaskInput, TaskSpec
from .registration import Channel, Versions, socket_identity
from .supervision import EXIT_REFUSED, EXIT_REPLACE, EXIT_RETRY, WORKER_TMP_ENV, rss_bytes
from .task import FileLinks, concat_tables
from .task_progress import ProgressReporter, TaskMeter
from .transport import keep_freed_memory

log = logging.getLogger("sqlweave.cluster.worker")

PUSH_TIMEOUT_S = 60.0
INPUT_TIMEOUT_S = 30.0
#: DataFusion contexts kept for different session settings
MAX_CONTEXTS = 4


class RegistrationError(Exception):
    """The coordinator refused this worker (version mismatch) or never answered."""


class CoordinatorUnreachable(RegistrationError):
    """No coordinator answered (yet): worth trying again later."""


class Superseded(Exception):
    """A newer attempt of the same task arrived (the scheduler re-ran it after a worker loss)."""


class TaskCancelled(BaseException):
    """Raised in the main thread by our SIGINT handler; a BaseException so task code can't eat it."""


@dataclass(frozen=True)
class WorkerConfig:
    coordinator: str  # the coordinator's client address (workers ask it for the rest)
    host: str = "127.0.0.1"
    target_partitions: int | None = None
    cancel_grace_s: float = 1.0
    register_timeout_s: float = 30.0
    #: pretend to run another version (tests of the refusal path)
    versions: Versions | None = None
    #: CURVE keys (the worker pair and the coordinator's public key); None on a trusted loopback
    keys: curve.ClusterKeys | None = None
    #: bytes of DataFusion's memory pool for this worker's queries (None: unbounded)
    memory_limit: int | None = None


def discover(
    zctx: zmq.Context, address: str, timeout_s: float, keys: curve.ClusterKeys | None = None
) -> P.ConnectionInfo:
    """Ask the coordinator at its client ``address`` where workers connect."""
    sock = zctx.socket(zmq.DEALER)
    sock.linger = 0
    if keys is not None:
        curve.connect_as(sock, keys.own(curve.Role.WORKER), keys.coordinator.public)
    try:
        sock.connect(address)
        rid = uuid.uuid4().hex
        P.send(sock, P.ConnectInfoRequest(rid))
        if not sock.poll(int(timeout_s * 1000)):
            raise CoordinatorUnreachable(
                f"no coordinator answered at {address} within {timeout_s} s"
            )
        _, reply = P.recv(sock)
        if not isinstance(reply, P.ConnectInfoReply):
            raise RegistrationError(f"unexpected reply from {address}: {reply}")
        return P.ConnectionInfo(workers=reply.workers, clients=reply.clients)
    finally:
        sock.close()


class Worker:
    """One worker process. ``Worker(config).run()`` blocks until shutdown."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.zctx = zmq.Context()
        self.worker_id = ""
        self.heartbeat_s = 1.0
        self.fragments_run = 0
        self._lock = threading.Condition()
        self._tasks: queue.Queue[TaskSpec | None] = queue.Queue()
        self._cache: dict[str, pa.Table] = {}
        self._exchange = ExchangeBuffer(configured_limit())
        #: released or cancelled queries (bounded): their late shuffle data is dropped
        self._finished: OrderedDict[str, None] = OrderedDict()
        #: queries with shuffle data but no task here yet -> when their data last came
        self._orphans: dict[str, float] = {}
        self._peers: dict[str, str] = {}
        self._running: TaskSpec | None = None
        #: newest attempt seen per task key; older attempts are dropped
        self._latest: dict[tuple[str, int, int], int] = {}
        self._interrupt_key: tuple[str, int, int] | None = None
        self._own_sigints = 0  # SIGINTs we sent ourselves to interrupt a task
        self._stop = threading.Event()
        self._main_thread = threading.get_ident()
        #: one DataFusion context for every task with the same session settings (each task
        #: deregisters its tables), so its caches of parquet footers and file listings stay
        #: warm between tasks; the most recently used last
        self._contexts: dict[Settings, Any] = {}
        self._links_dir = tempfile.TemporaryDirectory(
            prefix="sqlweave-worker-", dir=os.environ.get(WORKER_TMP_ENV) or None
        )
        self._links = FileLinks(self._links_dir.name)
        #: names this process's sockets to the coordinator (see coordinator_state.socket_identity)
        self._session = uuid.uuid4().hex
        self._gate: curve.Gatekeeper | None = None
        self._reporter = ProgressReporter(
            lambda: self._coordinator_socket(Channel.PROGRESS), self._stop
        )

    # ----- startup ----------------------------------------------------------

    def register(self) -> None:
        """Connect, bind the peer socket and register; :class:`RegistrationError` if refused."""
        keys = self.config.keys
        if keys is None and not _loopback_host(self.config.host):
            raise RegistrationError(
                f"refusing to listen on {self.config.host} without keys; {curve.HOW_TO_MAKE_KEYS}"
            )
        info = discover(self.zctx, self.config.coordinator, self.config.register_timeout_s, keys)
        self.info = info
        self.control = self._coordinator_socket(Channel.CONTROL)
        self.peer = limits.bound_inbound(self.zctx.socket(zmq.ROUTER))
        self.peer.linger = 0
        if keys is not None:
            pair = keys.own(curve.Role.WORKER)
            peers = {pair.public} | keys.authorized.get(curve.Role.WORKER, frozenset())
            self._gate = curve.Gatekeeper(self.zctx, {curve.Domain.PEERS: peers})
            curve.serve(self.peer, pair, curve.Domain.PEERS)
        port = self.peer.bind_to_random_port(f"tcp://{self.config.host}")
        versions = self.config.versions or Versions.current()
        P.send(
            self.control,
            P.RegisterWorker(
                peer_address=f"tcp://{self.config.host}:{port}",
                pid=os.getpid(),
                host=socket.gethostname(),
                cores=len(os.sched_getaffinity(0)),
                sqlweave_version=versions.sqlweave,
                datafusion_version=versions.datafusion,
                protocol_version=versions.protocol,
            ),
        )
        if not self.control.poll(int(self.config.register_timeout_s * 1000)):
            raise CoordinatorUnreachable("the coordinator did not answer the registration")
        _, reply = P.recv(self.control)
        if isinstance(reply, P.RegistrationRefused):
            raise RegistrationError(reply.reason)
        if not isinstance(reply, P.Registered):
            raise RegistrationError(f"unexpected reply to registration: {reply}")
        self.worker_id, self.heartbeat_s = reply.worker_id, reply.heartbeat_s
        self.results = self._coordinator_socket(Channel.RESULTS)
        self.results.linger = 1000
        log.info("registered as %s (heartbeat %.2f s)", self.worker_id, self.heartbeat_s)

    def _coordinator_socket(self, channel: Channel) -> zmq.Socket:
        """A DEALER to the coordinator's worker socket, named after this process and ``channel``."""
        sock = limits.bound_inbound(self.zctx.socket(zmq.DEALER))
        sock.linger = 0
        sock.setsockopt(zmq.ROUTING_ID, socket_identity(self._session, channel))
        self._secure_client(sock, None)
        sock.connect(self.info.workers)
        return sock

    def _secure_client(self, sock: zmq.Socket, peer: bool | None) -> None:
        """CURVE client keys: the coordinator's public key, or (``peer``) the workers' own."""
        keys = self.config.keys
        if keys is not None:
            pair = keys.own(curve.Role.WORKER)
            curve.connect_as(sock, pair, pair.public if peer else keys.coordinator.public)

    def _context(self, settings: Settings = ()) -> Any:
        """The worker's DataFusion context for a client's ``settings`` (tables are
        registered per task); a few are kept, so clients' settings never mix."""
        ctx = self._contexts.pop(settings, None)
        if ctx is None:
            from ..engines.local import apply_settings, make_context

            spill = os.path.join(self._links_dir.name, "spill")
            os.makedirs(spill, exist_ok=True)
            ctx = make_context(None, self.config.target_partitions, self.config.memory_limit, spill)
            apply_settings(ctx, settings)
            while len(self._contexts) >= MAX_CONTEXTS:
                del self._contexts[next(iter(self._contexts))]
        self._contexts[settings] = ctx
        return ctx

    def run(self) -> int:
        """Register, then execute tasks until told to shut down. Returns an exit status."""
        # import DataFusion before registering: the liveness clock starts at registration
        self._context()
        self.register()
        signal.signal(signal.SIGINT, self._on_sigint)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        threads = [
            threading.Thread(target=self._io_loop, name="io", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            self._reporter.thread(),
        ]
        for t in threads:
            t.start()
        try:
            while not self._stop.is_set():
                try:
                    spec = self._tasks.get(timeout=0.5)
                except queue.Empty:
                    continue
                except TaskCancelled:
                    continue
                if spec is None:
                    break
                try:
                    self._run_one(spec)
                except TaskCancelled:
                    continue  # the interrupt landed just after the task ended
        finally:
            self._stop.set()
            for t in threads:
                t.join(timeout=2)
            if self._gate is not None:
                self._gate.stop()
            self.zctx.destroy(linger=0)
            self._links_dir.cleanup()
        return 0

    # ----- signals ------------------------------------------------------------

    def _on_sigint(self, signum: int, frame: object) -> None:
        with self._lock:
            ours = self._own_sigints > 0
            if ours:
                self._own_sigints -= 1
            running = self._running
            wanted = self._interrupt_key
        if not ours:
            raise KeyboardInterrupt  # a real Ctrl-C from a terminal
        if running is not None and wanted == running.key:
            raise TaskCancelled()
        # the task ended before our interrupt landed: nothing to stop

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._stop.set()
        self._tasks.put(None)

    # ----- executing ------------------------------------------------------------

    def _run_one(self, spec: TaskSpec) -> None:
        with self._lock:
            if spec.query_id in self._finished or self._latest.get(spec.key, 0) > spec.attempt:
                return
            self._running = spec
        started = time.perf_counter()
        meter = TaskMeter()
        self._reporter.watch(
            self.worker_id, spec.query_id, spec.stage, spec.index, spec.attempt, meter
        )
        try:
            inputs = self._inputs(spec)
            meter.memory_bytes_per_row = memory_bytes_per_row(inputs.values())
            ready = time.perf_counter()
            outputs = run_fragment(
                lambda: self._context(spec.settings), spec, inputs, self._links, meter
            )
            ran = time.perf_counter()
            if spec.output.mode is OutputMode.BROADCAST:
                rows = outputs[0].num_rows if outputs else 0
            else:
                rows = sum(t.num_rows for t in outputs.values())
            gathered = None
            if spec.output.mode is OutputMode.GATHER:
                gathered = outputs.get(0)
                if gathered is None and outputs:
                    gathered = pa.concat_tables(list(outputs.values()))
            else:
                self._push(spec, outputs)
            log.info(
                "task %s: inputs %.3f s, run %.3f s, push %.3f s, %d rows",
                spec.key[1:],
                ready - started,
                ran - ready,
                time.perf_counter() - ran,
                rows,
            )
            self.fragments_run += 1
            done = P.TaskDone(
                worker_id=self.worker_id,
                query_id=spec.query_id,
                stage=spec.stage,
                index=spec.index,
                attempt=spec.attempt,
                rows=rows,
                seconds=time.perf_counter() - started,
                output=gathered,
                figures=meter.figures(),
            )
            self._reporter.unwatch()
            with self._lock:
                self._running = None
                self._interrupt_key = None
            P.send(self.results, done)
        except TaskCancelled:
            self._fail(spec, "cancelled", P.ErrorKind.CANCELLED)
        except Superseded:
            log.info("task %s attempt %d superseded", spec.key, spec.attempt)
        except Exception as exc:
            log.warning("task %s attempt %d failed: %s", spec.key, spec.attempt, exc)
            error = limits.memory_error(exc, self.config.memory_limit) or _first_line(exc)
            self._fail(spec, error, P.ErrorKind.EXECUTION)
        finally:
            self._reporter.unwatch()
            with self._lock:
                self._running = None
                self._interrupt_key = None
            # no interrupt can land from here on: drop whatever a cancelled task (whose
            # TaskCancelled may have cut its own clean-up short) left registered
            self._clear_context(spec.settings)

    def _clear_context(self, settings: Settings) -> None:
        ctx = self._context(settings)
        for name in ctx.catalog().schema().names():
            with contextlib.suppress(Exception):
                ctx.deregister_table(name)

    def _fail(self, spec: TaskSpec, error: str, kind: P.ErrorKind) -> None:
        with self._lock:
            self._running = None
            self._interrupt_key = None
        P.send(
            self.results,
            P.TaskFailed(
                worker_id=self.worker_id,
                query_id=spec.query_id,
                stage=spec.stage,
                index=spec.index,
                attempt=spec.attempt,
                error=error,
                kind=kind,
            ),
        )

    def _inputs(self, spec: TaskSpec) -> dict[TaskInput, pa.Table]:
        """Cached in-memory and received exchange inputs; exchange waits for every producer."""
        out: dict[TaskInput, pa.Table] = {}
        deadline = time.monotonic() + INPUT_TIMEOUT_S
        with self._lock:
            for item in spec.inputs:
                if isinstance(item, MemoryShare):
                    table = self._cache.get(item.content_hash)
                    if table is None:
                        raise RuntimeError(f"in-memory partition {item.content_hash} not shipped")
                    out[item] = table
                elif isinstance(item, ExchangeShare):
                    key = (spec.query_id, item.stage, item.partition)
                    while self._exchange.count(key) < item.producers:
                        left = deadline - time.monotonic()
                        if self._latest.get(spec.key, 0) > spec.attempt:
                            raise Superseded()
                        if (why := self._exchange.exceeded(spec.query_id)) is not None:
                            raise RuntimeError(why)
                        if left <= 0 or spec.query_id in self._finished:
                            have = self._exchange.count(key)
                            raise RuntimeError(
                                f"exchange {key} has {have} of {item.producers} inputs"
                            )
                        self._lock.wait(min(left, 0.2))
                    parts = self._exchange.parts(key)
                    out[item] = concat_tables([parts[p] for p in sorted(parts)])
        return out

    def _push(self, spec: TaskSpec, outputs: dict[int, pa.Table]) -> None:
        """Send each consumer partition to the worker that owns it; wait for every ack."""
        pending: dict[zmq.Socket, int] = {}
        sockets: dict[str, zmq.Socket] = {}
        broadcast = spec.output.mode is OutputMode.BROADCAST
        started = time.perf_counter()
        try:
            for partition, dest in enumerate(spec.destinations):
                table = outputs.get(partition)
                if table is None:
                    table = outputs.get(0) if broadcast else _empty_like(outputs)
                if dest == self.worker_id:
                    self._store_exchange(spec.query_id, spec.stage, partition, spec.index, table)
                    continue
                with self._lock:
                    address = self._peers.get(dest)
                if address is None:
                    raise RuntimeError(f"no address for peer worker {dest}")
                sock = sockets.get(dest)
                if sock is None:
                    sock = sockets[dest] = self.zctx.socket(zmq.DEALER)
                    sock.linger = 0
                    self._secure_client(sock, peer=True)
                    sock.connect(address)
                P.send(
                    sock,
                    P.PushPartition(
                        spec.query_id, spec.stage, partition, spec.index, spec.attempt, table
                    ),
                )
                pending[sock] = pending.get(sock, 0) + 1
            sent = time.perf_counter()
            log.debug("push %s: encoded and queued in %.3f s", spec.key[1:], sent - started)
            poller = zmq.Poller()
            for sock in pending:
                poller.register(sock, zmq.POLLIN)
            deadline = time.monotonic() + PUSH_TIMEOUT_S
            while any(pending.values()):
                with self._lock:
                    gone = [
                        w for w, s in sockets.items() if pending.get(s) and w not in self._peers
                    ]
                    if self._latest.get(spec.key, 0) > spec.attempt:
                        raise Superseded()
                if gone:
                    raise RuntimeError(f"peer worker(s) {', '.join(gone)} lost during the shuffle")
                left = deadline - time.monotonic()
                if left <= 0:
                    late = [w for w, s in sockets.items() if pending.get(s)]
                    raise RuntimeError(
                        f"peer worker(s) {', '.join(late)} did not take shuffle data"
                    )
                for sock, _ in poller.poll(int(min(left, 0.5) * 1000)):
                    P.recv(sock)
                    pending[sock] -= 1
            log.debug(
                "push %s: acked %.3f s after sending", spec.key[1:], time.perf_counter() - sent
            )
        finally:
            for sock in sockets.values():
                sock.close()

    def _store_exchange(
        self, query_id: str, stage: int, partition: int, producer: int, table: pa.Table
    ) -> None:
        with self._lock:
            if query_id in self._finished:
                return  # a straggler's data for a query that is over: keeping it would leak
            if not any(k[0] == query_id for k in self._latest):
                self._orphans[query_id] = time.monotonic()
            refused_before = self._exchange.exceeded(query_id) is not None
            kept = self._exchange.put(query_id, stage, partition, producer, table)
            if not kept and not refused_before:
                log.warning("query %s: %s", query_id, self._exchange.exceeded(query_id))
            self._lock.notify_all()

    def _drop_orphans(self, now: float) -> None:
        """Drop shuffle data of queries no task here ever asked for, once it is old."""
        with self._lock:
            for qid, at in list(self._orphans.items()):
                if any(k[0] == qid for k in self._latest):
                    del self._orphans[qid]  # a task arrived: the query's data is wanted
                elif now - at > limits.ORPHAN_EXCHANGE_TTL_S:
                    log.warning("dropping shuffle data of query %s: no task here asked for it", qid)
                    self._finish_query(qid)

    def _finish_query(self, query_id: str) -> None:
        """(Lock held) forget a query's data and drop whatever arrives for it later."""
        self._drop_query(query_id)
        self._orphans.pop(query_id, None)
        self._finished[query_id] = None
        self._finished.move_to_end(query_id)
        while len(self._finished) > limits.REMEMBERED_QUERIES:
            self._finished.popitem(last=False)

    # ----- I/O thread --------------------------------------------------------------

    def _io_loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        poller.register(self.peer, zmq.POLLIN)
        next_sweep = time.monotonic()
        while not self._stop.is_set():
            if time.monotonic() >= next_sweep:
                self._drop_orphans(time.monotonic())
                next_sweep = time.monotonic() + limits.ORPHAN_EXCHANGE_TTL_S / 10
            for sock, _ in poller.poll(100):
                routed = sock is self.peer
                identity, frames = P.recv_frames(sock, routed)
                try:
                    msg = P.decode(frames)
                    handler = (self._peer_handlers if routed else self._control_handlers).get(
                        type(msg)
                    )
                    if handler is None:
                        raise P.ProtocolError(f"{msg.TAG} not handled by workers")
                    reply = handler(self, msg)
                except P.ProtocolError as exc:
                    log.warning(
                        "bad message on %s socket: %s", "peer" if routed else "control", exc
                    )
                    reply = P.ErrorReply(str(exc), P.tag_of(frames), P.request_id_of(frames))
                except Exception as exc:  # a handler bug must not stop this thread
                    log.exception("handling a message failed")
                    reply = P.ErrorReply(
                        f"internal error: {exc}", P.tag_of(frames), P.request_id_of(frames)
                    )
                if reply is not None:
                    P.send(sock, reply, identity)

    def _on_run_task(self, msg: P.RunTask) -> None:
        with self._lock:
            if msg.spec.query_id in self._finished:
                return
            key = msg.spec.key
            self._latest[key] = max(self._latest.get(key, 0), msg.spec.attempt)
            self._lock.notify_all()
        self._tasks.put(msg.spec)

    def _on_store_table(self, msg: P.StoreTable) -> None:
        with self._lock:
            self._cache[msg.content_hash] = msg.table

    def _on_peers(self, msg: P.PeerDirectory) -> None:
        with self._lock:
            self._peers = dict(msg.peers)

    def _on_cancel(self, msg: P.CancelQuery) -> None:
        with self._lock:
            self._finish_query(msg.query_id)
            running = self._running
            if running is None or running.query_id != msg.query_id:
                return
            self._interrupt_key = running.key
            self._own_sigints += 1
        signal.pthread_kill(self._main_thread, signal.SIGINT)
        threading.Thread(target=self._watchdog, args=(running.key,), daemon=True).start()

    def _watchdog(self, key: tuple[str, int, int]) -> None:
        """End the process if the interrupted task is stuck in native code."""
        deadline = time.monotonic() + self.config.cancel_grace_s
        while time.monotonic() < deadline:
            with self._lock:
                if self._running is None or self._running.key != key:
                    return
            time.sleep(0.02)
        reason = f"task {key} ignored cancel for {self.config.cancel_grace_s} s; replacing worker"
        log.warning(reason)
        sock = self._coordinator_socket(Channel.EXITING)
        sock.linger = 500
        P.send(sock, P.WorkerExiting(self.worker_id, reason))
        sock.close()
        time.sleep(0.1)
        os._exit(EXIT_REPLACE)

    def _drop_query(self, query_id: str) -> None:
        kept = []
        while True:
            try:
                spec = self._tasks.get_nowait()
            except queue.Empty:
                break
            if spec is None or spec.query_id != query_id:
                kept.append(spec)
        for spec in kept:
            self._tasks.put(spec)
        self._exchange.forget(query_id)
        for key in [k for k in self._latest if k[0] == query_id]:
            del self._latest[key]

    def _on_release(self, msg: P.ReleaseQuery) -> None:
        with self._lock:
            self._finish_query(msg.query_id)

    def _on_shutdown(self, msg: P.Shutdown) -> None:
        log.info("shutdown requested: %s", msg.reason)
        self._stop.set()
        self._tasks.put(None)

    def _on_error_reply(self, msg: P.ErrorReply) -> None:
        log.warning("coordinator could not handle our %s: %s", msg.tag, msg.error)

    def _on_push(self, msg: P.PushPartition) -> P.PushAck:
        self._store_exchange(msg.query_id, msg.stage, msg.partition, msg.producer, msg.table)
        return P.PushAck(msg.query_id, msg.stage, msg.partition, msg.producer)

    _control_handlers: dict[type, Any] = {
        P.RunTask: _on_run_task,
        P.StoreTable: _on_store_table,
        P.PeerDirectory: _on_peers,
        P.CancelQuery: _on_cancel,
        P.ReleaseQuery: _on_release,
        P.Shutdown: _on_shutdown,
        P.ErrorReply: _on_error_reply,
    }
    _peer_handlers: dict[type, Any] = {P.PushPartition: _on_push}

    # ----- heartbeat thread ----------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        sock = self._coordinator_socket(Channel.HEARTBEAT)
        sock.sndtimeo = 0  # a heartbeat nobody takes is dropped, never queued up
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        gone_since: float | None = None
        # the coordinator is gone this long: register afresh (it may be back on its client
        # address with a new worker port, and a restarted coordinator does not know us)
        rejoin_after = max(3.0, 5 * self.heartbeat_s)
        try:
            while True:
                with self._lock:
                    running = int(self._running is not None)
                with contextlib.suppress(zmq.Again):
                    P.send(
                        sock,
                        P.Heartbeat(self.worker_id, rss_bytes(), self.fragments_run, running),
                    )
                while monitor.poll(0):
                    event = recv_monitor_message(monitor)["event"]
                    connected = event == zmq.EVENT_HANDSHAKE_SUCCEEDED
                    gone_since = None if connected else (gone_since or time.monotonic())
                if gone_since is not None and time.monotonic() - gone_since > rejoin_after:
                    log.warning("lost the coordinator for %.1f s; registering afresh", rejoin_after)
                    os._exit(EXIT_REPLACE)
                while sock.poll(0):
                    _, msg = P.recv(sock)
                    if isinstance(msg, P.Shutdown):
                        # the coordinator gave up on us: make way for a fresh worker
                        log.warning("coordinator declared this worker lost: %s", msg.reason)
                        os._exit(EXIT_REPLACE)
                if self._stop.wait(self.heartbeat_s):
                    return
        finally:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close()


def _loopback_host(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _empty_like(outputs: dict[int, pa.Table]) -> pa.Table:
    for table in outputs.values():
        return table.schema.empty_table()
    return pa.table({})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:2000]


def worker_command(args: Sequence[str]) -> list[str]:
    """The command line of one worker process (what a supervisor starts)."""
    return [sys.executable, "-m", "sqlweave.cluster.worker", *args]


def supervise(args: Sequence[str]) -> int:
    """Run a worker process with ``args`` and keep one running (see :mod:`.supervision`)."""
    return supervision.supervise(worker_command(args), "worker")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sqlweave worker", description="Run a sqlweave worker.")
    parser.add_argument("--coordinator", required=True, help="the coordinator's address")
    parser.add_argument("--host", default="127.0.0.1", help="interface for the peer socket")
    parser.add_argument("--partitions", type=int, default=None, help="DataFusion partitions")
    parser.add_argument("--cancel-grace", type=float, default=1.0)
    parser.add_argument(
        "--memory-limit",
        default=os.environ.get(limits.WORKER_MEMORY_ENV),
        help=f"DataFusion memory pool, e.g. 2G (spills beyond; default ${limits.WORKER_MEMORY_ENV})",
    )
    parser.add_argument(
        "--keys",
        default=None,
        help=f"CURVE key directory (default: ${curve.KEYS_ENV}; see `sqlweave cluster keys`)",
    )
    parser.add_argument("--fake-version", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one worker process (no supervision: see :func:`supervise`)."""
    ns = parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("SQLWEAVE_LOG", "WARNING"),
        format="%(asctime)s worker %(process)d %(levelname)s %(message)s",
    )
    keep_freed_memory()  # received tables reuse heap pages instead of faulting in new ones
    versions = None
    if ns.fake_version:
        current = Versions.current()
        versions = Versions(ns.fake_version, current.datafusion, current.protocol)
    try:
        keys = curve.ClusterKeys.load(ns.keys) if ns.keys else curve.ClusterKeys.from_env()
    except curve.KeysError as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    config = WorkerConfig(
        coordinator=ns.coordinator,
        host=ns.host,
        target_partitions=ns.partitions,
        cancel_grace_s=ns.cancel_grace,
        versions=versions,
        keys=keys,
        memory_limit=limits.parse_bytes(ns.memory_limit) if ns.memory_limit else None,
    )
    try:
        return Worker(config).run()
    except KeyboardInterrupt:
        return 0
    except CoordinatorUnreachable as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_RETRY
    except RegistrationError as exc:
        print(f"sqlweave worker: {exc}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
