"""What the worker's state machine (:mod:`.worker_state`) takes and gives.

Stimuli are facts that reached the worker (a message, a finished fragment, the passing
of time); instructions are what the I/O worker (:mod:`.worker`) must do. Their names
differ from the protocol messages that carry some of them (``TaskAssigned`` arrives in a
``RunTask`` message; ``SendResult`` sends a ``TaskDone`` or ``TaskFailed``).

>>> Interrupt(("q1", 0, 2))
Interrupt(key=('q1', 0, 2))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa

from .fragments import TaskInput, TaskSpec
from .protocol import ErrorKind, PushPartition, TaskDone, TaskFailed, TaskFigures

TaskKey = tuple[str, int, int]  # (query id, stage, index)


# ----- stimuli (in) -------------------------------------------------------------------


@dataclass(frozen=True)
class TaskAssigned:
    """The coordinator asked this worker to run ``spec``."""

    spec: TaskSpec


@dataclass(frozen=True)
class TableStored:
    """An in-memory partition arrived from the coordinator (tasks name it by hash)."""

    content_hash: str
    table: pa.Table


@dataclass(frozen=True)
class PeersChanged:
    """The coordinator's directory of live workers and their peer addresses."""

    peers: Mapping[str, str]


@dataclass(frozen=True)
class CancelRequested:
    """Stop every task of the query now and drop its data."""

    query_id: str


@dataclass(frozen=True)
class QueryReleased:
    """The query is over: drop its data."""

    query_id: str


@dataclass(frozen=True)
class ExchangeArrived:
    """One producer task's rows for one partition (from a peer or from this worker)."""

    query_id: str
    stage: int
    partition: int
    producer: int
    table: pa.Table


@dataclass(frozen=True)
class FragmentSucceeded:
    """The executing task's fragment returned its output tables, by partition."""

    key: TaskKey
    attempt: int
    outputs: Mapping[int, pa.Table]
    #: what it scanned and produced (None: not measured)
    figures: TaskFigures | None = None


@dataclass(frozen=True)
class FragmentErred:
    """The executing task's fragment raised (``kind`` CANCELLED: it was interrupted)."""

    key: TaskKey
    attempt: int
    error: str
    kind: ErrorKind = ErrorKind.EXECUTION


@dataclass(frozen=True)
class PushConfirmed:
    """Peer ``worker`` took one piece of the pushing task's output."""

    key: TaskKey
    attempt: int
    worker: str


@dataclass(frozen=True)
class PushFailed:
    """Sending the pushing task's output failed in the transport (a socket error)."""

    key: TaskKey
    attempt: int
    error: str


@dataclass(frozen=True)
class Tick:
    """Time passed (timeouts, the sweep of unclaimed shuffle data)."""


Stimulus = (
    TaskAssigned
    | TableStored
    | PeersChanged
    | CancelRequested
    | QueryReleased
    | ExchangeArrived
    | FragmentSucceeded
    | FragmentErred
    | PushConfirmed
    | PushFailed
    | Tick
)


# ----- instructions (out) ------------------------------------------------------------------


@dataclass(frozen=True)
class Execute:
    """Run ``spec``'s fragment on the executor; ``inputs`` are its tables, in pieces."""

    spec: TaskSpec
    inputs: Mapping[TaskInput, tuple[pa.Table, ...]]


@dataclass(frozen=True)
class SendToPeer:
    """Push one piece of output to peer ``worker`` at ``address``; it confirms receipt."""

    worker: str
    address: str
    message: PushPartition


@dataclass(frozen=True)
class SendResult:
    """Report a task's outcome to the coordinator."""

    message: TaskDone | TaskFailed


@dataclass(frozen=True)
class Interrupt:
    """Stop the executing task ``key`` (its query was cancelled)."""

    key: TaskKey


@dataclass(frozen=True)
class DropTask:
    """A task's run ended without a result worth sending (said for the log)."""

    key: TaskKey
    attempt: int
    reason: str


@dataclass(frozen=True)
class DropData:
    """A query's shuffle data was dropped unclaimed (said for the log)."""

    query_id: str
    reason: str


Instruction = Execute | SendToPeer | SendResult | Interrupt | DropTask | DropData
