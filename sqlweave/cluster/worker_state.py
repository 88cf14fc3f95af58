"""A worker's decisions as a pure state machine: stimuli in, instructions out.

:class:`WorkerState` holds what a worker knows (in-memory partitions, received shuffle
data, the task queue, the task executing or pushing, finished queries, peer addresses)
and decides what happens next. It has no threads, sockets or clocks: the thin I/O
worker (:mod:`.worker`) turns messages and finished fragments into stimuli, passes the
time as ``now``, and carries the instructions out (like dask's ``WorkerState`` and
``BaseWorker``).

One task runs at a time, in arrival order. A task waits at the head of the queue until
every exchange input it reads has arrived from all its producers; then it is executed
(:class:`Execute`). Its outputs are gathered to the coordinator with the result, or
pushed to the workers owning the consumer partitions (:class:`SendToPeer`); the result
(:class:`SendResult`) goes out once every peer has confirmed its piece. A newer attempt
of a task supersedes the older one; a cancelled or released query's queued tasks and
data are dropped, and data arriving for it later is ignored.

>>> import pyarrow as pa
>>> from sqlweave.cluster.fragments import ExchangeShare, Fragment, FragmentFormat, Output, OutputMode
>>> spec = TaskSpec("q1", 1, 0, Fragment(FragmentFormat.SQL, "SELECT * FROM x"),
...                 (ExchangeShare("x", 0, 0, producers=1),), Output(OutputMode.GATHER),
...                 ("coordinator",))
>>> ws = WorkerState("w1")
>>> ws.handle(TaskAssigned(spec), now=0.0)  # its input has not arrived: it waits
[]
>>> [type(i).__name__ for i in ws.handle(ExchangeArrived("q1", 0, 0, 0, pa.table({"v": [7]})))]
['Execute']
>>> [done] = ws.handle(FragmentSucceeded(spec.key, 0, {0: pa.table({"v": [7]})}), now=0.5)
>>> done.message.rows, done.message.seconds
(1, 0.5)
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from . import limits
from .exchange_buffer import ExchangeBuffer
from .fragments import ExchangeShare, MemoryShare, OutputMode, TaskInput, TaskSpec
from .protocol import ErrorKind, PushPartition, TaskDone, TaskFailed, TaskFigures
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
    TaskKey,
    Tick,
)

#: how long a task at the head of the queue waits for its exchange inputs
INPUT_TIMEOUT_S = 30.0
#: how long a task waits for peers to confirm its shuffle output
PUSH_TIMEOUT_S = 60.0


@dataclass
class Push:
    """A task whose output is on its way to peers."""

    spec: TaskSpec
    started: float
    rows: int
    figures: TaskFigures | None = None
    pending: dict[str, int] = field(default_factory=dict)


class WorkerState:
    """What one worker knows and decides. See the module docstring.

    Args:
        worker_id: the id the coordinator gave this worker (results and pushes name it).
        input_timeout_s: a task waiting this long for exchange inputs fails.
        push_timeout_s: a task whose peers take this long to confirm its output fails.
        orphan_ttl_s: shuffle data of a query no task here asked for is dropped this old.
        remembered_queries: how many finished queries are remembered (to drop late data).
        exchange_limit_bytes: shuffle data held for all queries together; a query whose
            data would pass it loses its data here and its tasks fail naming the limit.
    """

    def __init__(
        self,
        worker_id: str,
        input_timeout_s: float = INPUT_TIMEOUT_S,
        push_timeout_s: float = PUSH_TIMEOUT_S,
        orphan_ttl_s: float = limits.ORPHAN_EXCHANGE_TTL_S,
        remembered_queries: int = limits.REMEMBERED_QUERIES,
        exchange_limit_bytes: int = 2 << 30,
    ) -> None:
        self.worker_id = worker_id
        self.input_timeout_s = input_timeout_s
        self.push_timeout_s = push_timeout_s
        self.orphan_ttl_s = orphan_ttl_s
        self.remembered_queries = remembered_queries
        #: in-memory partitions by content hash
        self.cache: dict[str, pa.Table] = {}
        #: received shuffle pieces by (query, stage, partition) and producer, bounded in bytes
        self.exchange = ExchangeBuffer(exchange_limit_bytes)
        self.peers: dict[str, str] = {}
        #: assigned tasks not started yet, in arrival order
        self.queue: deque[TaskSpec] = deque()
        #: newest attempt seen per task; older attempts are dropped
        self.latest: dict[TaskKey, int] = {}
        #: released or cancelled queries (bounded): their late data is dropped
        self.finished: OrderedDict[str, None] = OrderedDict()
        #: queries with shuffle data but no task here yet -> when their data last came
        self.orphans: dict[str, float] = {}
        self.executing: TaskSpec | None = None
        #: the executing task was asked to stop
        self.interrupted: TaskKey | None = None
        self.pushing: Push | None = None
        self.fragments_run = 0
        #: since when the head of the queue waits for inputs (None: it does not)
        self._waiting_since: float | None = None
        self._started = 0.0
        self._next_sweep = 0.0

    # ----- public -----------------------------------------------------------------------

    @property
    def running(self) -> int:
        """1 while a task waits for inputs, executes or pushes (the heartbeat reports it)."""
        busy = self.executing or self.pushing or self._waiting_since is not None
        return int(bool(busy))

    def still_pushing(self, key: TaskKey, attempt: int) -> bool:
        """Whether that attempt's output is still waiting for confirmations."""
        push = self.pushing
        return push is not None and push.spec.key == key and push.spec.attempt == attempt

    def handle(self, stimulus: Stimulus, now: float = 0.0) -> list[Instruction]:
        """Take one stimulus at time ``now`` (seconds, any monotonic origin)."""
        out = self._HANDLERS[type(stimulus)](self, stimulus, now)
        out.extend(self._advance(now))
        return out

    # ----- handlers -----------------------------------------------------------------------

    def _on_assigned(self, ev: TaskAssigned, now: float) -> list[Instruction]:
        spec = ev.spec
        if spec.query_id in self.finished:
            return []
        seen = self.latest.get(spec.key)
        if seen is not None and spec.attempt <= seen:
            return []  # a duplicate, or an attempt already superseded
        self.latest[spec.key] = spec.attempt
        self.queue.append(spec)
        push = self.pushing
        if push is not None and push.spec.key == spec.key:
            self.pushing = None
            return [DropTask(spec.key, push.spec.attempt, "superseded by a newer attempt")]
        return []

    def _on_table(self, ev: TableStored, now: float) -> list[Instruction]:
        self.cache[ev.content_hash] = ev.table
        return []

    def _on_peers(self, ev: PeersChanged, now: float) -> list[Instruction]:
        self.peers = dict(ev.peers)
        push = self.pushing
        gone = [w for w, n in (push.pending.items() if push else ()) if n and w not in self.peers]
        if push is None or not gone:
            return []
        self.pushing = None
        return [
            self._failed(push.spec, f"peer worker(s) {', '.join(gone)} lost during the shuffle")
        ]

    def _on_cancel(self, ev: CancelRequested, now: float) -> list[Instruction]:
        out = self._finish_query(ev.query_id)
        running = self.executing
        if running is not None and running.query_id == ev.query_id:
            self.interrupted = running.key
            out.append(Interrupt(running.key))
        return out

    def _on_release(self, ev: QueryReleased, now: float) -> list[Instruction]:
        return self._finish_query(ev.query_id)

    def _on_exchange(self, ev: ExchangeArrived, now: float) -> list[Instruction]:
        return self._store(ev.query_id, ev.stage, ev.partition, ev.producer, ev.table, now)

    def _on_succeeded(self, ev: FragmentSucceeded, now: float) -> list[Instruction]:
        spec = self._end_execution(ev.key, ev.attempt)
        if spec is None:
            return []
        if spec.query_id in self.finished:
            return [DropTask(spec.key, spec.attempt, "its query is over")]
        if self.latest.get(spec.key, spec.attempt) > spec.attempt:
            return [DropTask(spec.key, spec.attempt, "superseded by a newer attempt")]
        outputs = ev.outputs
        if spec.output.mode is OutputMode.BROADCAST:
            rows = outputs[0].num_rows if outputs else 0
        else:
            rows = sum(t.num_rows for t in outputs.values())
        if spec.output.mode is OutputMode.GATHER:
            gathered = outputs.get(0)
            if gathered is None and outputs:
                gathered = pa.concat_tables(list(outputs.values()))
            return [self._done(spec, rows, now, gathered, ev.figures)]
        return self._push(spec, outputs, rows, now, ev.figures)

    def _on_erred(self, ev: FragmentErred, now: float) -> list[Instruction]:
        spec = self._end_execution(ev.key, ev.attempt)
        if spec is None:
            return []
        return [self._failed(spec, ev.error, ev.kind)]

    def _on_confirmed(self, ev: PushConfirmed, now: float) -> list[Instruction]:
        push = self.pushing
        if push is None or not self.still_pushing(ev.key, ev.attempt):
            return []  # a late confirmation of a push that already ended
        if push.pending.get(ev.worker, 0) > 0:
            push.pending[ev.worker] -= 1
        if any(push.pending.values()):
            return []
        self.pushing = None
        return [self._done(push.spec, push.rows, now, figures=push.figures)]

    def _on_push_failed(self, ev: PushFailed, now: float) -> list[Instruction]:
        push = self.pushing
        if push is None or not self.still_pushing(ev.key, ev.attempt):
            return []
        self.pushing = None
        return [self._failed(push.spec, ev.error)]

    def _on_tick(self, ev: Tick, now: float) -> list[Instruction]:
        out: list[Instruction] = []
        push = self.pushing
        if push is not None and now - push.started >= self.push_timeout_s:
            self.pushing = None
            late = [w for w, n in push.pending.items() if n]
            out.append(
                self._failed(
                    push.spec, f"peer worker(s) {', '.join(late)} did not take shuffle data"
                )
            )
        waiting = self._waiting_since
        if waiting is not None and now - waiting >= self.input_timeout_s and self.queue:
            spec = self.queue.popleft()
            self._waiting_since = None
            out.append(self._failed(spec, self._missing(spec)))
        if now >= self._next_sweep:
            self._next_sweep = now + self.orphan_ttl_s / 10
            out.extend(self._drop_orphans(now))
        return out

    _HANDLERS = {
        TaskAssigned: _on_assigned,
        TableStored: _on_table,
        PeersChanged: _on_peers,
        CancelRequested: _on_cancel,
        QueryReleased: _on_release,
        ExchangeArrived: _on_exchange,
        FragmentSucceeded: _on_succeeded,
        FragmentErred: _on_erred,
        PushConfirmed: _on_confirmed,
        PushFailed: _on_push_failed,
        Tick: _on_tick,
    }

    # ----- internals --------------------------------------------------------------------

    def _advance(self, now: float) -> list[Instruction]:
        """Start the head of the queue if the executor is free and its inputs are here."""
        out: list[Instruction] = []
        while self.queue and self.executing is None and self.pushing is None:
            spec = self.queue[0]
            if spec.query_id in self.finished or self.latest.get(spec.key, 0) > spec.attempt:
                self.queue.popleft()
                self._waiting_since = None
                continue
            missing = [
                i.content_hash
                for i in spec.inputs
                if isinstance(i, MemoryShare) and i.content_hash not in self.cache
            ]
            if missing:
                self.queue.popleft()
                self._waiting_since = None
                out.append(self._failed(spec, f"in-memory partition {missing[0]} not shipped"))
                continue
            if not self._exchange_complete(spec):
                refused = self.exchange.exceeded(spec.query_id)
                if refused is not None:  # its data was dropped: it can never run here
                    self.queue.popleft()
                    self._waiting_since = None
                    out.append(self._failed(spec, refused))
                    continue
                if self._waiting_since is None:
                    self._waiting_since = now
                break
            self.queue.popleft()
            self._started = now if self._waiting_since is None else self._waiting_since
            self._waiting_since = None
            self.executing = spec
            out.append(Execute(spec, self._inputs(spec)))
        return out

    def _exchange_complete(self, spec: TaskSpec) -> bool:
        return all(
            self.exchange.count((spec.query_id, i.stage, i.partition)) >= i.producers
            for i in spec.inputs
            if isinstance(i, ExchangeShare)
        )

    def _missing(self, spec: TaskSpec) -> str:
        for i in spec.inputs:
            if isinstance(i, ExchangeShare):
                key = (spec.query_id, i.stage, i.partition)
                have = self.exchange.count(key)
                if have < i.producers:
                    return f"exchange {key} has {have} of {i.producers} inputs"
        return "inputs missing"

    def _inputs(self, spec: TaskSpec) -> dict[TaskInput, tuple[pa.Table, ...]]:
        out: dict[TaskInput, tuple[pa.Table, ...]] = {}
        for i in spec.inputs:
            if isinstance(i, MemoryShare):
                out[i] = (self.cache[i.content_hash],)
            elif isinstance(i, ExchangeShare):
                parts = self.exchange.parts((spec.query_id, i.stage, i.partition))
                out[i] = tuple(parts[p] for p in sorted(parts))
        return out

    def _end_execution(self, key: TaskKey, attempt: int) -> TaskSpec | None:
        spec = self.executing
        if spec is None or spec.key != key or spec.attempt != attempt:
            return None
        self.executing = None
        self.interrupted = None
        return spec

    def _push(
        self,
        spec: TaskSpec,
        outputs: Mapping[int, pa.Table],
        rows: int,
        now: float,
        figures: TaskFigures | None,
    ) -> list[Instruction]:
        broadcast = spec.output.mode is OutputMode.BROADCAST
        unknown = [d for d in spec.destinations if d != self.worker_id and d not in self.peers]
        if unknown:
            return [self._failed(spec, f"no address for peer worker {unknown[0]}")]
        push = Push(spec, now, rows, figures)
        out: list[Instruction] = []
        for partition, dest in enumerate(spec.destinations):
            table = outputs.get(partition)
            if table is None:
                table = outputs.get(0) if broadcast else _empty_like(outputs)
            if dest == self.worker_id:
                out.extend(
                    self._store(spec.query_id, spec.stage, partition, spec.index, table, now)
                )
                continue
            message = PushPartition(
                spec.query_id, spec.stage, partition, spec.index, spec.attempt, table
            )
            out.append(SendToPeer(dest, self.peers[dest], message))
            push.pending[dest] = push.pending.get(dest, 0) + 1
        if not push.pending:
            return [*out, self._done(spec, rows, now, figures=figures)]
        self.pushing = push
        return out

    def _done(
        self,
        spec: TaskSpec,
        rows: int,
        now: float,
        output: pa.Table | None = None,
        figures: TaskFigures | None = None,
    ) -> SendResult:
        self.fragments_run += 1
        seconds = max(0.0, now - self._started)
        return SendResult(
            TaskDone(
                self.worker_id,
                spec.query_id,
                spec.stage,
                spec.index,
                spec.attempt,
                rows,
                seconds,
                output,
                figures,
            )
        )

    def _failed(
        self, spec: TaskSpec, error: str, kind: ErrorKind = ErrorKind.EXECUTION
    ) -> SendResult:
        return SendResult(
            TaskFailed(
                self.worker_id, spec.query_id, spec.stage, spec.index, spec.attempt, error, kind
            )
        )

    def _store(
        self, query_id: str, stage: int, partition: int, producer: int, table: pa.Table, now: float
    ) -> list[Instruction]:
        if query_id in self.finished:
            return []  # a straggler's data for a query that is over: keeping it would leak
        if not any(k[0] == query_id for k in self.latest):
            self.orphans[query_id] = now
        refused_before = self.exchange.exceeded(query_id) is not None
        if self.exchange.put(query_id, stage, partition, producer, table) or refused_before:
            return []
        return [DropData(query_id, self.exchange.exceeded(query_id) or "over the limit")]

    def _drop_orphans(self, now: float) -> list[Instruction]:
        """Drop shuffle data of queries no task here ever asked for, once it is old."""
        out: list[Instruction] = []
        for qid, at in list(self.orphans.items()):
            if any(k[0] == qid for k in self.latest):
                del self.orphans[qid]  # a task arrived: the query's data is wanted
            elif now - at > self.orphan_ttl_s:
                out.extend(self._finish_query(qid))
                out.append(DropData(qid, "no task here asked for it"))
        return out

    def _finish_query(self, query_id: str) -> list[Instruction]:
        """Forget a query's tasks and data, and drop whatever arrives for it later."""
        out: list[Instruction] = []
        if self.queue and self.queue[0].query_id == query_id:
            self._waiting_since = None
        self.queue = deque(s for s in self.queue if s.query_id != query_id)
        self.exchange.forget(query_id)
        for key in [k for k in self.latest if k[0] == query_id]:
            del self.latest[key]
        self.orphans.pop(query_id, None)
        self.finished[query_id] = None
        self.finished.move_to_end(query_id)
        while len(self.finished) > self.remembered_queries:
            self.finished.popitem(last=False)
        push = self.pushing
        if push is not None and push.spec.query_id == query_id:
            self.pushing = None
            out.append(DropTask(push.spec.key, push.spec.attempt, "its query is over"))
        return out


def _empty_like(outputs: Mapping[int, pa.Table]) -> pa.Table:
    for table in outputs.values():
        return table.schema.empty_table()
    return pa.table({})
