"""``ClusterEngine``: the :class:`~sqlweave.engines.engine.Engine` that talks to a coordinator.

Typical use (it starts processes, so it is shown here rather than run)::

    with LocalCluster(workers=2) as cluster:
        ClusterEngine(cluster.address).execute("select 1 as x").to_pylist()
"""

from __future__ import annotations

import os
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import zmq

from .. import errors, fingerprint, frames
from ..engines.engine import Engine, Progress, ProgressCallback
from . import curve, limits
from . import protocol as P

#: fingerprints of shipped frames remembered (the coordinator keeps fewer, see
#: coordinator.FRAME_CACHE_*: a forgotten one is simply shipped again)
SHIPPED_KEYS = 64
#: how long a cancelled query may take to be confirmed before we stop waiting
CANCEL_WAIT_S = 2.0
#: silence after which the client checks that the coordinator is still there
PING_AFTER_S = 5.0
#: how long a request may wait for a live connection to the coordinator
SEND_TIMEOUT_S = 10.0
#: how long closing keeps trying to deliver requests sent without waiting for their answer
CLOSE_LINGER_S = 1.0


class CoordinatorRestarted(UserWarning):
    """The coordinator this client talks to was restarted: statements it ran are gone."""


class ClusterEngine(Engine):
    """Runs statements on a sqlweave cluster.

    Args:
        address: the coordinator's client address (``tcp://127.0.0.1:PORT``).
        timeout_s: how long catalog commands wait for an answer.
        keys: a key directory (or ``NAME.key_secret`` file) from ``sqlweave cluster keys``, or
            loaded :class:`~.curve.ClusterKeys`; default: the keys of a ``LocalCluster`` this
            process started at ``address``, else ``$SQLWEAVE_KEYS``, else none (plain loopback).
    """

    name = "cluster"
    dialect = "postgres"

    def __init__(
        self,
        address: str,
        timeout_s: float = 30.0,
        keys: curve.ClusterKeys | str | os.PathLike[str] | None = None,
    ) -> None:
        self.address = address
        self.timeout_s = timeout_s
        self._keys = curve.keys_for(address, keys)
        self.send_timeout_s = SEND_TIMEOUT_S
        self._zctx = zmq.Context.instance()
        self._sock = self._open()
        #: the coordinator process we talk to (``ClusterStatus.incarnation``), once known
        self._incarnation = ""
        self._lock = threading.RLock()
        self._closed = False
        #: fingerprints of the frames the coordinator keeps (insertion-ordered)
        self._shipped: dict[str, None] = {}
        #: the status request sent ahead of the current request, not answered yet
        self._status_rid: str | None = None
        #: requests sent without waiting for their answer (read and dropped when it comes)
        self._unanswered: set[str] = set()
        #: frames being registered from the coordinator's copy, by request id, answer not
        #: read yet: (name, frame, fingerprint)
        self._registering: dict[str, tuple[str, Any, str]] = {}
        #: those the coordinator had no copy of (restart, eviction): shipped before the
        #: next statement runs
        self._refused: list[tuple[str, Any, str]] = []
        #: where each fragment of the last query ran (worker, rows, seconds)
        self.last_runs: tuple[P.FragmentRun, ...] = ()
        self.last_explain = None

    # ----- Engine -----------------------------------------------------------------------

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        progress: ProgressCallback | None = None,
    ) -> pa.Table:
        self.last_explain = None
        with self._lock:
            self._ship_refused()
            reply = self._run(sql, params, progress)
            if self._refused and isinstance(reply, P.QueryFailed):
                # a frame it reads was refused while it ran: it failed for want of it
                self._ship_refused()
                reply = self._run(sql, params, progress)
            self._registering.clear()  # answered ahead of the statement (or cancelled)
        if isinstance(reply, P.QueryResult):
            self.last_runs = reply.runs
            self.last_explain = reply.explain
            return reply.table
        if isinstance(reply, P.QueryFailed):
            raise to_error(reply, sql)
        raise self._unexpected(reply)

    def _run(
        self, sql: str, params: Mapping[str, Any] | None, progress: ProgressCallback | None
    ) -> P.Message:
        rid = uuid.uuid4().hex
        self._check_incarnation()
        self._send(P.ExecuteQuery(rid, sql, dict(params or {})))
        try:
            return self._wait(rid, None, progress)
        except KeyboardInterrupt:
            raise self._cancel(rid) from None

    def register_path(self, name: str, path: str, format: str | None = None) -> None:
        if "://" not in path and not os.path.isabs(path):
            path = os.path.abspath(path)  # the coordinator runs elsewhere
        self._expect(P.RegisterPath(_rid(), name, str(path), format), P.Ok)

    def register_arrow(self, name: str, data: pa.Table) -> None:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        self._expect(P.RegisterArrow(_rid(), name, data), P.Ok)

    def register_frame(self, name: str, frame: Any) -> None:
        """Ship a notebook DataFrame once: while its content fingerprint is unchanged,
        the coordinator registers the copy it kept (a changed frame is shipped again)."""
        self._register_frame(name, frame, fingerprint.of(frame))

    def register_frame_unless_table(self, name: str, frame: Any) -> bool:
        # the catalog listing is asked for first and the frame's fingerprint taken while
        # the coordinator answers: the hashing (~4 ms for 63 MB) hides the round trip
        ask = P.ListTables(_rid())
        with self._lock:
            self._check_incarnation()
            self._send(ask)
            key = fingerprint.of(frame)
            reply = self._wait(ask.request_id, self.timeout_s, None)
        if not isinstance(reply, P.TableList):
            raise self._unexpected(reply)
        if name in reply.names:
            return False
        self._register_frame(name, frame, key)
        return True

    def _register_frame(self, name: str, frame: Any, key: str | None) -> None:
        if key is not None and key in self._shipped:
            # Not waited for: the answer comes ahead of the statement's (one client's
            # requests are handled in order). No incarnation check: a restarted coordinator
            # has no copy and says so; the frame is then shipped and the statement, which
            # failed without it, runs again (see execute).
            msg = P.RegisterKnown(_rid(), name, key)
            with self._lock:
                self._send(msg)
                self._registering[msg.request_id] = (name, frame, key)
            return
        self._ship(name, frame, key)

    def _ship(self, name: str, frame: Any, key: str | None) -> None:
        data = frames.to_arrow(frame)
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        self._expect(P.RegisterArrow(_rid(), name, data, key or ""), P.Ok)
        if key is not None:
            self._shipped[key] = None
            while len(self._shipped) > SHIPPED_KEYS:
                self._shipped.pop(next(iter(self._shipped)))

    def _ship_refused(self) -> None:
        """Ship the frames the coordinator had no copy of."""
        while self._refused:
            name, frame, key = self._refused.pop(0)
            self._ship(name, frame, key)

    def unregister_frame(self, name: str) -> None:
        # right after the statement that used it: that statement noticed any restart. Not
        # waited for: the coordinator handles one client's requests in order, so the next
        # request of this client already sees the name gone
        msg = P.Deregister(_rid(), name)
        with self._lock:
            # a refused copy the statement did without must not be shipped later
            self._refused = [r for r in self._refused if r[0] != name]
            self._send(msg)
            self._unanswered.add(msg.request_id)

    def deregister(self, name: str) -> None:
        self._expect(P.Deregister(_rid(), name), P.Ok)

    def tables(self) -> list[str]:
        return list(self._expect(P.ListTables(_rid()), P.TableList).names)

    def schema(self, name: str) -> pa.Schema:
        return self._expect(P.DescribeTable(_rid(), name), P.TableSchema).schema

    def status(self) -> P.ClusterStatus:
        """Workers, their liveness, memory and fragments run."""
        return self._expect(P.StatusRequest(_rid()), P.ClusterStatus)

    def history(self, limit: int = 100) -> tuple[P.HistoryEntry, ...]:
        """The coordinator's newest finished statements (duration, rows, bytes, state)."""
        return self._expect(P.HistoryRequest(_rid(), limit), P.QueryHistory).entries

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            linger = CLOSE_LINGER_S if self._unanswered else 0
            self._sock.close(linger=int(linger * 1000))

    # ----- plumbing -----------------------------------------------------------------------

    def _open(self) -> zmq.Socket:
        sock = limits.bound_inbound(self._zctx.socket(zmq.DEALER))
        sock.linger = 0
        # requests queue only on a live connection: one sent while the coordinator is down
        # fails now instead of running later on a restarted coordinator
        sock.immediate = True
        sock.sndtimeo = int(self.send_timeout_s * 1000)
        if self._keys is not None:
            pair = self._keys.own(curve.Role.CLIENT)
            curve.connect_as(sock, pair, self._keys.coordinator.public)
        sock.connect(self.address)
        return sock

    def _reset(self) -> None:
        """A fresh socket after lost contact: nothing queued on the old one is ever delivered."""
        self._sock.close(linger=0)
        self._sock = self._open()
        self._status_rid = None
        self._unanswered.clear()
        # their answers will never come: ship them with the next statement
        self._refused.extend(self._registering.values())
        self._registering.clear()

    def _send(self, msg: P.Message) -> None:
        self._sock.sndtimeo = int(self.send_timeout_s * 1000)
        try:
            P.send(self._sock, msg)
        except zmq.Again:
            self._reset()
            raise errors.ExecutionError(
                f"cannot reach the coordinator at {self.address} (no connection within "
                f"{self.send_timeout_s:g} s); nothing was sent"
            ) from None

    def _check_incarnation(self) -> None:
        """Before each request: is it still the coordinator we talked to? (A coordinator
        restarted between two statements is otherwise invisible.) The status request goes
        out just ahead of the request, and :meth:`_wait` reads its answer, which comes
        first, on the way to the request's: no round trip of its own."""
        msg = P.StatusRequest(_rid())
        self._send(msg)
        self._status_rid = msg.request_id

    def _note(self, status: P.ClusterStatus) -> bool:
        """Record the coordinator's incarnation; True (and a warning) if it changed."""
        known, self._incarnation = self._incarnation, status.incarnation
        if known and status.incarnation != known:
            warnings.warn(
                f"the coordinator at {self.address} restarted (now pid {status.coordinator_pid}): "
                "statements that were running are gone and did not run later; tables "
                "registered from memory must be registered again",
                CoordinatorRestarted,
                stacklevel=4,
            )
            return True
        return False

    def _expect(
        self, msg: P.Message, reply_type: type[P.Message], check_incarnation: bool = True
    ) -> Any:
        with self._lock:
            if check_incarnation and not isinstance(msg, P.StatusRequest):
                self._check_incarnation()
            self._send(msg)
            reply = self._wait(msg.request_id, self.timeout_s, None)  # type: ignore[attr-defined]
        if isinstance(reply, P.ClusterStatus):
            self._note(reply)
        if isinstance(reply, reply_type):
            return reply
        raise self._unexpected(reply)

    def _wait(
        self, rid: str, timeout_s: float | None, progress: ProgressCallback | None
    ) -> P.Message:
        """The final reply to request ``rid``; progress messages go to ``progress``."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_heard = time.monotonic()
        ping: str | None = None
        while True:
            if deadline is not None and time.monotonic() > deadline:
                self._reset()
                raise errors.ExecutionError(
                    f"the coordinator at {self.address} did not answer within {timeout_s} s"
                )
            if not self._sock.poll(100):
                silent = time.monotonic() - last_heard
                if ping is None and silent > PING_AFTER_S:
                    ping = _rid()
                    self._send(P.StatusRequest(ping))
                elif ping is not None and silent > 2 * PING_AFTER_S:
                    self._reset()
                    raise errors.ExecutionError(
                        f"lost contact with the coordinator at {self.address}; the statement "
                        "will not run later"
                    )
                continue
            _, reply = P.recv(self._sock)
            last_heard = time.monotonic()
            answered = getattr(reply, "request_id", None)
            if self._side_answer(answered, reply):
                continue
            if ping is not None and answered == ping:
                ping = None
                if isinstance(reply, P.ClusterStatus) and self._note(reply):
                    self._reset()
                    raise errors.ExecutionError(
                        f"the coordinator at {self.address} restarted while the statement ran; "
                        "it did not finish and will not run later"
                    )
                continue
            if answered not in (rid, ""):
                continue  # a late answer to an earlier, abandoned request
            if isinstance(reply, P.QueryProgress):
                if progress is not None:
                    progress(
                        Progress(
                            reply.fragments_done,
                            reply.fragments_total,
                            reply.rows,
                            reply.rows_scanned,
                            reply.bytes_scanned,
                            reply.seconds,
                        )
                    )
                continue
            return reply

    def _side_answer(self, answered: str | None, reply: P.Message) -> bool:
        """Take in the answer to a request sent ahead without waiting (the incarnation
        check, a frame registration, an unregistration); False for any other message."""
        if answered is None:
            return False
        if answered == self._status_rid:
            self._status_rid = None
            if isinstance(reply, P.ClusterStatus):
                self._note(reply)
            return True
        if answered in self._unanswered:
            self._unanswered.discard(answered)
            return True
        registering = self._registering.pop(answered, None)
        if registering is not None:
            if not isinstance(reply, P.Ok):  # the coordinator dropped its copy
                self._shipped.pop(registering[2], None)
                self._refused.append(registering)
            return True
        return False

    def _cancel(self, rid: str) -> errors.QueryCancelled:
        """Ask the coordinator to cancel ``rid``; the error to raise says what became of it."""
        try:
            P.send(self._sock, P.CancelRequest(rid))
        except zmq.Again:
            # no connection: nothing of the statement runs on a coordinator we lost
            return errors.QueryCancelled()
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            if not self._sock.poll(50):
                continue
            _, reply = P.recv(self._sock)
            answered = getattr(reply, "request_id", None)
            if self._side_answer(answered, reply):
                continue
            if answered != rid or isinstance(reply, P.QueryProgress):
                continue
            if isinstance(reply, P.QueryFailed) and reply.kind is P.ErrorKind.CANCELLED:
                return errors.QueryCancelled(reply.message)
            if isinstance(reply, P.QueryResult):
                return errors.QueryCancelled(
                    "too late to cancel: the statement had already finished (its changes stay)"
                )
            return errors.QueryCancelled(f"cancelled; the statement had failed: {_text(reply)}")
        return errors.QueryCancelled(
            f"cancel sent, but the coordinator did not confirm it within {CANCEL_WAIT_S} s"
        )

    def _unexpected(self, reply: P.Message) -> Exception:
        if isinstance(reply, P.QueryFailed):
            return to_error(reply)
        if isinstance(reply, P.ErrorReply):
            return errors.ExecutionError(f"the coordinator rejected the request: {reply.error}")
        return errors.ExecutionError(f"unexpected reply from the coordinator: {reply.TAG}")


def to_error(reply: P.QueryFailed, sql: str | None = None) -> Exception:
    """The ``sqlweave.errors`` exception for a failure that travelled as data."""
    pos = errors.Position(reply.line, reply.column) if reply.line and reply.column else None
    kw: dict[str, Any] = {"sql": sql, "position": pos, "hint": reply.hint, "engine": "cluster"}
    if reply.kind is P.ErrorKind.CANCELLED:
        return errors.QueryCancelled(reply.message)
    if reply.kind is P.ErrorKind.USAGE:
        return errors.UsageError(reply.message)
    if reply.kind is P.ErrorKind.WORKER:
        return errors.WorkerError(reply.message, worker=reply.worker, **kw)
    if reply.kind is P.ErrorKind.PARSE:
        return errors.ParseError(reply.message, **kw)
    if reply.kind is P.ErrorKind.PLAN:
        return errors.PlanError(reply.message, **kw)
    return errors.ExecutionError(reply.message, **kw)


def _rid() -> str:
    return uuid.uuid4().hex


def _text(reply: P.Message) -> str:
    return str(getattr(reply, "message", None) or getattr(reply, "error", None) or reply.TAG)
