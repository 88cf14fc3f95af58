"""A worker process: registers with the coordinator, runs tasks on DataFusion, shuffles to peers.

This module is the worker's I/O: every decision (which task runs next, whether its
inputs are here, where its output goes, when it is done, superseded or timed out, which
data to drop) is made by the pure :class:`.worker_state.WorkerState`. Threads turn
messages and finished fragments into its stimuli and carry out its instructions; one
re-entrant lock guards it.

Threads and sockets (a ZeroMQ socket never crosses threads):

* the **main thread** executes one task at a time (DataFusion checks for
  signals only on the main thread, which is what makes a running query
  interruptible); it sends results on its own DEALER and pushes shuffle
  output straight to peer workers, waiting for their confirmations (the
  state reports the task done once all arrived);
* the **I/O thread** owns the registered control DEALER (tasks, in-memory
  partitions, cancels, the peer directory) and the peer ROUTER where other
  workers push partitions; it also tells the state the time (timeouts). What
  it cannot carry out itself (start a task, send a result) it queues for the
  main thread;
* the **heartbeat thread** sends heartbeats at the period the coordinator
  handed out, so a long native query never looks like death.

Cancel: the I/O thread interrupts the main thread with SIGINT, and a watchdog
thread waits for the task to let go. An aggregate's task (few output batches, the
kind that runs long without output) is read asynchronously on a reader thread while
the main thread waits in Python, so it lets go at once and the query's streams are
dropped; other tasks run as ``collect``, which hears the SIGINT at DataFusion's next
check for signals (once a second, or never while its runtime threads are all busy:
they get :data:`.native_activity.INTERRUPT_CHECK_S` plus ``cancel_grace_s``). Then,
for ``cancel_grace_s``, the watchdog watches DataFusion's runtime threads, which go
on with an operator that never yields (a join making thousands of rows per input
row under an aggregate) after the query was dropped (:mod:`.cancel_watch`). The
next task waits meanwhile, so its work is not mistaken for the old one's. If the work
goes on, the process says goodbye and exits with :data:`EXIT_REPLACE`; its supervisor
(:func:`.supervision.supervise`, used by the CLI and ``LocalCluster``) starts a fresh
worker in its place, which registers anew; the coordinator re-runs the tasks the old
one held elsewhere, as for any lost worker.

At about 590 lines this module is a little over the house's ~500: its threads share one
lock, one state and the main thread's queue, so they stay together; the decisions are in
:mod:`.worker_state`, heartbeats in :mod:`.worker_heartbeat`, the command line in
:mod:`.worker_main`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import zmq

from ..engines.metering import memory_bytes_per_row
from . import curve, limits
from . import protocol as P
from .cancel_watch import InterruptibleCollector, await_let_go
from .exchange_buffer import configured_limit
from .fragment_run import run_fragment
from .fragments import ExchangeShare, Settings
from .native_activity import CANCEL_GRACE_S
from .registration import Channel, Versions, socket_identity
from .supervision import EXIT_REPLACE, WORKER_TMP_ENV, rss_bytes
from .task import FileLinks, concat_tables
from .task_progress import ProgressReporter, TaskMeter
from .worker_events import (
    CancelRequested,
    DropData,
    DropTask,
    ExchangeArrived,
    Execute,
    FragmentErred,
    FragmentSucceeded,
    Instruction,
    Interrupt,
    PeersChanged,
    PushConfirmed,
    PushFailed,
    QueryReleased,
    SendResult,
    SendToPeer,
    Stimulus,
    TableStored,
    TaskAssigned,
    Tick,
)
from .worker_heartbeat import send_heartbeats
from .worker_state import WorkerState

log = logging.getLogger("sqlweave.cluster.worker")

#: the stimulus each control message becomes (the state decides what follows)
_STIMULI: dict[type, Callable[[Any], Stimulus]] = {
    P.RunTask: lambda m: TaskAssigned(m.spec),
    P.StoreTable: lambda m: TableStored(m.content_hash, m.table),
    P.PeerDirectory: lambda m: PeersChanged(m.peers),
    P.CancelQuery: lambda m: CancelRequested(m.query_id),
    P.ReleaseQuery: lambda m: QueryReleased(m.query_id),
}

#: DataFusion contexts kept for different session settings
MAX_CONTEXTS = 4


class RegistrationError(Exception):
    """The coordinator refused this worker (version mismatch) or never answered."""


class CoordinatorUnreachable(RegistrationError):
    """No coordinator answered (yet): worth trying again later."""


class TaskCancelled(BaseException):
    """Raised in the main thread by our SIGINT handler; a BaseException so task code can't eat it."""


@dataclass(frozen=True)
class WorkerConfig:
    coordinator: str  # the coordinator's client address (workers ask it for the rest)
    host: str = "127.0.0.1"
    target_partitions: int | None = None
    #: how long a cancelled task's work may go on before the process is replaced
    cancel_grace_s: float = CANCEL_GRACE_S
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
        #: every decision; guarded by ``_lock`` (re-entrant: the SIGINT handler takes it too)
        self.state = WorkerState("", exchange_limit_bytes=configured_limit())
        self._lock = threading.RLock()
        #: what the main thread carries out next: tasks to execute, results to send
        self._main: queue.Queue[Execute | SendResult | None] = queue.Queue()
        self._own_sigints = 0  # SIGINTs we sent ourselves to interrupt a task
        #: the task whose fragment the main thread is inside (only then may SIGINT stop it)
        self._in_fragment: tuple[str, int, int] | None = None
        self._stop = threading.Event()
        self._main_thread = threading.get_ident()
        #: cleared while a cancelled task's work may still go on (see _watchdog); guarded
        #: by ``_lock`` with ``_settling``, the number of watchdogs still watching
        self._settled = threading.Event()
        self._settled.set()
        self._settling = 0
        #: one DataFusion context for every task with the same session settings (each task
        #: deregisters its tables), so its caches of parquet footers and file listings stay
        #: warm between tasks; the most recently used last
        self._contexts: dict[Settings, Any] = {}
        self._links_dir = tempfile.TemporaryDirectory(
            prefix="sqlweave-worker-", dir=os.environ.get(WORKER_TMP_ENV) or None
        )
        self._links = FileLinks(self._links_dir.name)
        #: names this process's sockets to the coordinator (see registration.socket_identity)
        self._session = uuid.uuid4().hex
        self._gate: curve.Gatekeeper | None = None
        self._reporter = ProgressReporter(
            lambda: self._coordinator_socket(Channel.PROGRESS), self._stop
        )
        #: runs each task's planned fragment so that a cancel drops it at once
        self._collect = InterruptibleCollector()

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
        with self._lock:
            self.state.worker_id = reply.worker_id
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
                    item = self._main.get(timeout=0.5)
                except (queue.Empty, TaskCancelled):
                    continue
                if item is None:
                    break
                try:
                    self._carry_out(item)
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

    def _feed(self, stimulus: Stimulus) -> list[Instruction]:
        with self._lock:
            return self.state.handle(stimulus, time.monotonic())

    # ----- signals ------------------------------------------------------------

    def _on_sigint(self, signum: int, frame: object) -> None:
        with self._lock:
            ours = self._own_sigints > 0
            if ours:
                self._own_sigints -= 1
            running = self._in_fragment
            wanted = self.state.interrupted
        if not ours:
            raise KeyboardInterrupt  # a real Ctrl-C from a terminal
        if running is not None and running == wanted:
            raise TaskCancelled()
        # the fragment ended before our interrupt landed: nothing to stop

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self._stop.set()
        self._main.put(None)

    # ----- main thread: executing -----------------------------------------------

    def _carry_out(self, item: Instruction, peers: dict[str, zmq.Socket] | None = None) -> None:
        """(Main thread) carry out one instruction; ``peers`` collects push sockets."""
        if isinstance(item, Execute):
            if peers is None:
                self._execute(item)
            else:
                self._main.put(item)  # after the current task's push
        elif isinstance(item, SendResult):
            P.send(self.results, item.message)
        elif isinstance(item, SendToPeer):
            assert peers is not None, "pushes follow an executed fragment"
            sock = peers.get(item.worker)
            if sock is None:
                sock = peers[item.worker] = self.zctx.socket(zmq.DEALER)
                sock.linger = 0
                self._secure_client(sock, peer=True)
                sock.connect(item.address)
            P.send(sock, item.message)
        else:
            self._carry_out_anywhere(item)

    def _execute(self, item: Execute) -> None:
        spec = item.spec
        started = time.perf_counter()
        meter = TaskMeter()
        # progress reports run until the task's push is over
        self._reporter.watch(
            self.worker_id, spec.query_id, spec.stage, spec.index, spec.attempt, meter
        )
        stimulus: Stimulus
        try:
            inputs = {
                key: concat_tables(list(pieces)) if isinstance(key, ExchangeShare) else pieces[0]
                for key, pieces in item.inputs.items()
            }
            meter.memory_bytes_per_row = memory_bytes_per_row(inputs.values())
            self._in_fragment = spec.key
            try:
                # a cancelled task's native work may still go on: it must not be
                # mistaken for this task's (the watchdog ends the process if it lasts)
                while not self._settled.wait(0.05):
                    pass
                outputs = run_fragment(
                    lambda: self._context(spec.settings),
                    spec,
                    inputs,
                    self._links,
                    meter,
                    self._collect,
                )
            finally:
                self._in_fragment = None
            stimulus = FragmentSucceeded(spec.key, spec.attempt, outputs, meter.figures())
        except TaskCancelled as exc:
            # the task's frames hold its DataFusion streams, whose native work stops only
            # when they are dropped: free them now rather than at the next garbage collection
            traceback.clear_frames(exc.__traceback__)
            stimulus = FragmentErred(spec.key, spec.attempt, "cancelled", P.ErrorKind.CANCELLED)
        except Exception as exc:
            log.warning("task %s attempt %d failed: %s", spec.key, spec.attempt, exc)
            error = limits.memory_error(exc, self.config.memory_limit) or _first_line(exc)
            stimulus = FragmentErred(spec.key, spec.attempt, error)
        finally:
            # no interrupt can land from here on: drop whatever a cancelled task (whose
            # TaskCancelled may have cut its own clean-up short) left registered
            self._clear_context(spec.settings)
        ran = time.perf_counter()
        peers: dict[str, zmq.Socket] = {}
        try:
            for instruction in self._feed(stimulus):
                self._carry_out(instruction, peers)
            if peers:
                self._await_confirmations(spec.key, spec.attempt, peers)
        except Exception as exc:  # a transport error fails the task, not the worker
            log.warning("task %s: pushing its output failed: %s", spec.key, exc)
            for instruction in self._feed(PushFailed(spec.key, spec.attempt, _first_line(exc))):
                self._carry_out(instruction, peers)
        finally:
            self._reporter.unwatch()
            for sock in peers.values():
                sock.close()
        log.info(
            "task %s: run %.3f s, push %.3f s",
            spec.key[1:],
            ran - started,
            time.perf_counter() - ran,
        )

    def _await_confirmations(
        self, key: tuple[str, int, int], attempt: int, peers: dict[str, zmq.Socket]
    ) -> None:
        """Feed each peer's confirmation to the state until the push is over.

        The state ends it when every piece is confirmed, or (fed by the I/O thread) when a
        peer is lost, the push times out or a newer attempt supersedes it.
        """
        poller = zmq.Poller()
        for sock in peers.values():
            poller.register(sock, zmq.POLLIN)
        worker_of = {sock: worker for worker, sock in peers.items()}
        while True:
            with self._lock:
                if not self.state.still_pushing(key, attempt):
                    return
            for sock, _ in poller.poll(100):
                P.recv(sock)
                for instruction in self._feed(PushConfirmed(key, attempt, worker_of[sock])):
                    self._carry_out(instruction, peers)

    def _clear_context(self, settings: Settings) -> None:
        ctx = self._context(settings)
        for name in ctx.catalog().schema().names():
            with contextlib.suppress(Exception):
                ctx.deregister_table(name)

    # ----- any thread --------------------------------------------------------------

    def _carry_out_anywhere(self, item: Instruction) -> None:
        """Instructions that need no thread's sockets: interrupts and log lines."""
        if isinstance(item, Interrupt):
            with self._lock:
                self._own_sigints += 1
                self._settling += 1
                self._settled.clear()
            signal.pthread_kill(self._main_thread, signal.SIGINT)
            threading.Thread(target=self._watchdog, args=(item.key,), daemon=True).start()
        elif isinstance(item, DropTask):
            log.info("task %s attempt %d dropped: %s", item.key, item.attempt, item.reason)
        elif isinstance(item, DropData):
            log.warning("dropping shuffle data of query %s: %s", item.query_id, item.reason)

    def _watchdog(self, key: tuple[str, int, int]) -> None:
        """Replace the process if the interrupted task's work goes on past the grace period:
        stuck in native code on the main thread, or on DataFusion's runtime threads."""
        started = time.monotonic()

        def still_running() -> bool:
            with self._lock:
                running = self.state.executing
            return running is not None and running.key == key

        why = await_let_go(still_running, self.config.cancel_grace_s)
        if why is not None:
            self._replace(f"cancelled task {key} {why}")
        log.info(
            "cancelled task %s stopped computing after %.2f s", key, time.monotonic() - started
        )
        with self._lock:
            self._settling -= 1
            if self._settling == 0:
                self._settled.set()

    def _replace(self, reason: str) -> NoReturn:
        """Say goodbye to the coordinator and exit, asking the supervisor for a fresh process."""
        log.warning("%s; asking for a fresh worker process", reason)
        sock = self._coordinator_socket(Channel.EXITING)
        sock.linger = 500
        P.send(sock, P.WorkerExiting(self.worker_id, reason))
        sock.close()
        time.sleep(0.1)
        os._exit(EXIT_REPLACE)

    # ----- I/O thread --------------------------------------------------------------

    def _io_loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.control, zmq.POLLIN)
        poller.register(self.peer, zmq.POLLIN)
        while not self._stop.is_set():
            self._from_io(self._feed(Tick()))
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

    def _from_io(self, instructions: list[Instruction]) -> None:
        """(I/O thread) carry out what the state decided; hand the main thread its part."""
        for item in instructions:
            if isinstance(item, (Execute, SendResult)):
                self._main.put(item)
            elif isinstance(item, SendToPeer):  # only an executed fragment pushes
                log.error("a push decided outside the main thread was dropped: %s", item.worker)
            else:
                self._carry_out_anywhere(item)

    def _on_news(self, msg: P.Message) -> None:
        """A control message that only informs the state (see :data:`_STIMULI`)."""
        self._from_io(self._feed(_STIMULI[type(msg)](msg)))

    def _on_shutdown(self, msg: P.Shutdown) -> None:
        log.info("shutdown requested: %s", msg.reason)
        self._stop.set()
        self._main.put(None)

    def _on_error_reply(self, msg: P.ErrorReply) -> None:
        log.warning("coordinator could not handle our %s: %s", msg.tag, msg.error)

    def _on_push(self, msg: P.PushPartition) -> P.PushAck:
        arrived = ExchangeArrived(msg.query_id, msg.stage, msg.partition, msg.producer, msg.table)
        self._from_io(self._feed(arrived))
        return P.PushAck(msg.query_id, msg.stage, msg.partition, msg.producer)

    _control_handlers: dict[type, Any] = {
        **dict.fromkeys(_STIMULI, _on_news),
        P.Shutdown: _on_shutdown,
        P.ErrorReply: _on_error_reply,
    }
    _peer_handlers: dict[type, Any] = {P.PushPartition: _on_push}

    def _heartbeat_loop(self) -> None:
        sock = self._coordinator_socket(Channel.HEARTBEAT)

        def status() -> P.Heartbeat:
            with self._lock:
                running, ran = self.state.running, self.state.fragments_run
            return P.Heartbeat(self.worker_id, rss_bytes(), ran, running)

        send_heartbeats(sock, status, self.heartbeat_s, self._stop)


def _loopback_host(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:2000]
