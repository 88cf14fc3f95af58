"""The coordinator process: a thin ZeroMQ loop around pure state machines.

Two ROUTER sockets, each with one handler table: workers (registration,
heartbeats, task results) and clients (queries, cancels, catalog commands,
status). Decisions live elsewhere: membership and liveness in
:class:`.coordinator_state.Membership`, planning in :mod:`.planning`, task
scheduling and re-running lost work in :class:`.scheduler.QueryState`, which
statements are distributed in :mod:`.routing`. The rest of the coordinator's
work is in modules named after it, mixed into :class:`Coordinator`:

- :mod:`.catalog_ddl`: catalog commands, CREATE EXTERNAL TABLE, journal replay;
- :mod:`.local_statements`: statements run whole on the coordinator (and undone
  when cancelled);
- :mod:`.distributed_queries`: feeding the scheduler, shipping tasks, stages run
  here, answering;
- :mod:`.status_views`: status, history, the operators' snapshot;
- :mod:`.replies`: results, EXPLAIN tables, errors as data;
- :mod:`.offloop`: the thread pool whose finished jobs wake this loop;
- :mod:`.coordinator_main`: the command line that starts one.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import zmq

from .. import errors, guard
from ..engines.paths_policy import Effects, PathPolicy
from . import curve, limits
from . import protocol as P
from .catalog import Catalog
from .catalog_ddl import CatalogCommands, CatalogJob
from .coordinator_state import (
    DEFAULT_HEARTBEAT_S,
    Membership,
    MembershipEvent,
    WorkerJoined,
    WorkerLost,
)
from .distributed_queries import DistributedQueries, RunningQuery
from .fragments import TaskSpec
from .frame_cache import FrameCache
from .journal import HISTORY, Journal, Record
from .local_statements import ClientSession, LocalOutcome, LocalStatements
from .offloop import OffLoop
from .plan_cache import PlanCache
from .planning import NotDistributable
from .registration import Versions
from .replies import failure, first_line, shift_position
from .routing import Route, route
from .scheduler import QueryState, TaskCompleted, TaskErrored, WorkerGone
from .status_views import StatusViews
from .task_progress import MeteredJob

log = logging.getLogger("sqlweave.cluster.coordinator")


class Coordinator(CatalogCommands, LocalStatements, DistributedQueries, StatusViews):
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
        #: distributed plans of statements asked again (see :mod:`.plan_cache`)
        self.plans = PlanCache()
        self.queries: dict[str, RunningQuery] = {}
        self.queries_run = 0
        self._ctx: Any = None
        #: each client's own session (settings, context), by socket identity
        self.sessions: dict[bytes, ClientSession] = {}
        self._default_settings: dict[str, str | None] | None = None
        #: statements, stages and file-system reads run here, off the loop
        self._offloop = OffLoop()
        #: coordinator-located tasks in flight: future -> (request_id, spec)
        self._local_tasks: dict[cf.Future, tuple[str, TaskSpec]] = {}
        #: whole statements running on the coordinator: future -> (client, request_id)
        self._local_statements: dict[cf.Future, tuple[bytes, str]] = {}
        #: what became of each coordinator-local statement (cancelled ones are undone)
        self._local_outcomes: dict[cf.Future, LocalOutcome] = {}
        #: cancelled local statements still running (their changes are undone when they end)
        self._cancelled_local: set[cf.Future] = set()
        #: catalog changes reading the file system off the loop
        self._catalog_jobs: dict[cf.Future, CatalogJob] = {}
        self._stop = threading.Event()
        #: PlannerOptions overrides, e.g. from SQLWEAVE_PLANNER='{"broadcast_rows": 1000000}'
        self.planner_options: dict[str, Any] = json.loads(os.environ.get("SQLWEAVE_PLANNER", "{}"))
        self.observer: Any = None  # observe.Observer, when serving HTTP
        self._started_at = time.time()
        #: started coordinator-local statements: future -> (sql, perf_counter at start)
        self._local_started: dict[cf.Future, tuple[str, float]] = {}
        #: how far running coordinator-local statements got (reported by the loop)
        self._local_progress: dict[cf.Future, MeteredJob] = {}
        #: what running local statements change in the path policy, once they succeed
        self._local_effects: dict[cf.Future, Effects] = {}
        self.journal: Journal | None = None
        #: statement threads journal their tables one at a time (see _journal_write)
        self._journal_lock = threading.Lock()
        #: finished statements, newest last (the journal's when there is one)
        self.history: deque[Record] = deque(maxlen=HISTORY)
        if state_dir is not None:
            self.journal = Journal(state_dir)
            self.history = self.journal.history
            self._recover()

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
        poller.register(self._offloop.wake_fd, zmq.POLLIN)
        tick = min(0.1, self.membership.heartbeat_s / 4)
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(tick * 1000))
                # drain everything that queued up before judging liveness
                while ready:
                    if self._offloop.wake_fd in ready:
                        self._offloop.drain()
                        self._finish_offloop()
                    if self.workers in ready:
                        self._dispatch(self.workers, self._worker_handlers)
                    if self.clients in ready:
                        self._dispatch(self.clients, self._client_handlers)
                    ready = dict(poller.poll(0))
                self._finish_offloop()
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

    def _finish_offloop(self) -> None:
        """Carry on with whatever the thread pool finished: registrations, statements, stages."""
        self._finish_catalog_jobs()
        self._finish_local_statements()
        self._finish_coordinator_stages()

    def close(self) -> None:
        for rec in list(self.membership.workers.values()):
            ident = self.membership.identity_of(rec.worker_id)
            if ident is not None:
                P.send(self.workers, P.Shutdown("coordinator stopping"), ident)
        self._offloop.close()
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
        # expected (its supervisor starts a fresh one): its tasks move as for any loss
        self._membership_events(self.membership.lose(msg.worker_id, msg.reason), logging.INFO)

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
        q.tasks_progress.task_done(msg.stage, msg.index, msg.attempt, msg.figures)
        key = (msg.query_id, msg.stage, msg.index)
        self._feed(q, [TaskCompleted(key, msg.worker_id, msg.rows, msg.seconds, msg.attempt)])

    def _on_task_progress(self, identity: bytes, msg: P.TaskProgress) -> None:
        q = self.queries.get(msg.query_id)
        if q is not None and q.tasks_progress.task_progress(
            msg.stage, msg.index, msg.attempt, msg.figures
        ):
            self._progress(q, mid_task=True)

    def _on_task_failed(self, identity: bytes, msg: P.TaskFailed) -> None:
        self.membership.seen(msg.worker_id, time.monotonic())
        q = self.queries.get(msg.query_id)
        if q is None or msg.kind is P.ErrorKind.CANCELLED:
            return
        q.tasks_progress.task_failed(msg.stage, msg.index)
        key = (msg.query_id, msg.stage, msg.index)
        self._feed(q, [TaskErrored(key, msg.worker_id, msg.error, msg.attempt)])

    def _on_worker_error(self, identity: bytes, msg: P.ErrorReply) -> None:
        log.warning("a worker could not handle our %s: %s", msg.tag, msg.error)

    _worker_handlers: dict[type, Callable] = {
        P.RegisterWorker: _on_register,
        P.Heartbeat: _on_heartbeat,
        P.WorkerExiting: _on_worker_exiting,
        P.TaskDone: _on_task_done,
        P.TaskProgress: _on_task_progress,
        P.TaskFailed: _on_task_failed,
        P.ErrorReply: _on_worker_error,
    }

    def _membership_events(
        self, events: list[MembershipEvent], loss_level: int = logging.WARNING
    ) -> None:
        changed = False
        for ev in events:
            if isinstance(ev, WorkerLost):
                log.log(loss_level, "worker %s lost: %s", ev.worker_id, ev.reason)
                changed = True
                for q in list(self.queries.values()):
                    self._feed(q, [WorkerGone(ev.worker_id)])
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

    def _reply_error(self, identity: bytes, request_id: str, exc: BaseException) -> None:
        P.send(self.clients, failure(request_id, exc), identity)

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
            effects = self.paths.check_statement(self._session(identity).engine.ctx, msg.sql)
            self._start_query(identity, msg, effects)
        except Exception as exc:
            log.info("query %s failed to start: %s", msg.request_id, exc)
            self._record_statement(msg.sql, "failed", 0.0, error=first_line(exc))
            self._reply_error(identity, msg.request_id, exc)

    _client_handlers: dict[type, Callable] = {
        P.ConnectInfoRequest: _on_connect_info,
        P.StatusRequest: StatusViews._on_status,
        P.HistoryRequest: StatusViews._on_history,
        P.RegisterPath: CatalogCommands._on_register_path,
        P.RegisterArrow: CatalogCommands._on_register_arrow,
        P.RegisterKnown: CatalogCommands._on_register_known,
        P.Deregister: CatalogCommands._on_deregister,
        P.ListTables: CatalogCommands._on_list_tables,
        P.DescribeTable: CatalogCommands._on_describe,
        P.ExecuteQuery: _on_execute,
        P.CancelRequest: _on_cancel,
    }

    # ----- queries ---------------------------------------------------------------------------

    def _start_query(self, identity: bytes, msg: P.ExecuteQuery, effects: Effects) -> None:
        routing = route(msg.sql)
        sql, explain = routing.sql, routing.explain
        if routing.external is not None:
            self._create_external(identity, msg.request_id, sql, routing.external, effects)
            return
        if routing.route is Route.LOCAL or not self.membership.alive():
            if routing.write is not None:
                # the coordinator's copy changes, the catalog's partitions would not: from
                # now on queries over it run on the coordinator
                self.catalog.remove(routing.write.name)
            self._run_locally(identity, msg, effects)
            return
        settings = self._session(identity).settings if identity in self.sessions else ()
        try:
            plan = self._plan(sql, msg.params, settings)
        except NotDistributable as exc:
            log.info("running %s on the coordinator: %s", msg.request_id, exc)
            self._run_locally(identity, msg, effects)
            return
        except errors.SqlError as exc:
            if not self._runs_locally(sql, msg.params, identity):
                if explain:  # point into the statement the client sent, EXPLAIN included
                    shift_position(exc, sql, msg.sql)
                raise
            # valid for DataFusion but not (yet) distributable: run it whole on the coordinator
            log.info("running %s on the coordinator: %s", msg.request_id, exc)
            self._run_locally(identity, msg, effects)
            return
        state = QueryState(msg.request_id, plan, self.membership.alive(), self.catalog)
        q = RunningQuery(msg.request_id, identity, sql, plan, state, explain=explain, message=msg)
        self.queries[q.key] = q
        self.queries_run += 1
        self._feed(q, state.start())


def _bind(sock: zmq.Socket, address: str) -> str:
    """Bind to ``tcp://HOST:PORT`` or, without a port, a random one; return the address."""
    if address.startswith("tcp://") and address.count(":") == 1:
        port = sock.bind_to_random_port(address)
        return f"{address}:{port}"
    sock.bind(address)
    return sock.getsockopt_string(zmq.LAST_ENDPOINT)


def _loopback(address: str) -> bool:
    """Whether a ``tcp://`` address listens on this machine only.

    >>> _loopback("tcp://127.0.0.1:5555"), _loopback("tcp://0.0.0.0:5555")
    (True, False)
    """
    host = address[len("tcp://") :].rsplit(":", 1)[0]
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


if __name__ == "__main__":  # python -m sqlweave.cluster.coordinator
    from .coordinator_main import main

    sys.exit(main())
