"""The coordinator's membership logic, without sockets or clocks.

:class:`Membership` takes events (a registration, a heartbeat, the passing of
time as ``now`` arguments) and returns replies and :class:`MembershipEvent` s;
the ZeroMQ loop in :mod:`.coordinator` carries them out. The coordinator owns
liveness: it hands out the heartbeat period at registration, puts a worker
that has been silent for ``probation_after`` periods on probation and declares
it lost after ``lost_after`` periods (like ipyparallel's heart monitor).

>>> m = Membership(Versions("1.0", "55.0.0"), heartbeat_s=1.0)
>>> reply = m.register(b"id", example_registration(), now=0.0)
>>> reply.worker_id, m.tick(now=2.5)
('w1', [WorkerOnProbation(worker_id='w1')])
>>> m.tick(now=6.0)
[WorkerLost(worker_id='w1', reason='no heartbeat for 6.0 s')]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from .protocol import (
    PeerDirectory,
    Registered,
    RegisterWorker,
    RegistrationRefused,
    WorkerLiveness,
    WorkerStatus,
)
from .registration import Versions, session_of

#: heartbeat period handed to workers: a silent worker is lost after
#: ``lost_after`` (5) periods, so a killed worker is noticed within 1.75 s
DEFAULT_HEARTBEAT_S = 0.35


@dataclass(frozen=True)
class WorkerJoined:
    worker_id: str


@dataclass(frozen=True)
class WorkerOnProbation:
    worker_id: str


@dataclass(frozen=True)
class WorkerRecovered:
    worker_id: str


@dataclass(frozen=True)
class WorkerLost:
    worker_id: str
    reason: str


MembershipEvent = WorkerJoined | WorkerOnProbation | WorkerRecovered | WorkerLost


@dataclass
class WorkerRecord:
    worker_id: str
    identity: bytes
    peer_address: str
    pid: int
    host: str
    cores: int
    registered_at: float
    last_seen: float
    liveness: WorkerLiveness = WorkerLiveness.ALIVE
    rss_bytes: int = 0
    fragments_run: int = 0
    running: int = 0
    #: content hashes of in-memory partitions this worker holds
    cached: set[str] = field(default_factory=set)
    #: when it was declared lost (its record is forgotten ``forget_after`` periods later)
    lost_at: float | None = None


class Membership:
    """Registered workers, their liveness and counters.

    Args:
        versions: what workers must run; others are refused with a clear reason.
        heartbeat_s: period handed to workers at registration.
        probation_after: silent periods before a worker is put on probation.
        lost_after: silent periods before it is declared lost.
        forget_after: periods a lost worker stays listed (as lost) before it is forgotten.
    """

    def __init__(
        self,
        versions: Versions,
        heartbeat_s: float = 1.0,
        probation_after: float = 2.0,
        lost_after: float = 5.0,
        forget_after: float = 25.0,
    ) -> None:
        self.versions = versions
        self.heartbeat_s = heartbeat_s
        self.probation_after = probation_after
        self.lost_after = lost_after
        self.forget_after = forget_after
        self.workers: dict[str, WorkerRecord] = {}
        self._by_identity: dict[bytes, str] = {}
        self._ids = (f"w{i}" for i in itertools.count(1))

    # ----- events in --------------------------------------------------------

    def register(
        self, identity: bytes, msg: RegisterWorker, now: float
    ) -> Registered | RegistrationRefused:
        """Admit a worker whose versions match ours, or refuse it saying why."""
        problems = []
        if msg.protocol_version != self.versions.protocol:
            problems.append(
                f"protocol {msg.protocol_version} (coordinator speaks {self.versions.protocol})"
            )
        if msg.sqlweave_version != self.versions.sqlweave:
            problems.append(
                f"sqlweave {msg.sqlweave_version} (coordinator runs {self.versions.sqlweave})"
            )
        if msg.datafusion_version != self.versions.datafusion:
            problems.append(
                f"datafusion {msg.datafusion_version} (coordinator runs {self.versions.datafusion})"
            )
        if problems:
            return RegistrationRefused(
                "version mismatch: worker runs "
                + ", ".join(problems)
                + "; install the same versions on every machine"
            )
        old = self._by_identity.get(identity)
        if old is not None and old in self.workers:
            # a re-registration from the same socket (the worker restarted its session)
            self.workers.pop(old)
        worker_id = next(self._ids)
        self.workers[worker_id] = WorkerRecord(
            worker_id=worker_id,
            identity=identity,
            peer_address=msg.peer_address,
            pid=msg.pid,
            host=msg.host,
            cores=msg.cores,
            registered_at=now,
            last_seen=now,
        )
        self._by_identity[identity] = worker_id
        return Registered(worker_id=worker_id, heartbeat_s=self.heartbeat_s)

    def sent_by(self, worker_id: str, identity: bytes) -> bool:
        """Whether a message claiming ``worker_id`` came from that worker's process.

        A worker we never heard of has nothing to impersonate (the answer tells it to go).
        """
        rec = self.workers.get(worker_id)
        return rec is None or session_of(rec.identity) == session_of(identity)

    def worker_at(self, identity: bytes) -> str | None:
        """The live worker registered from socket ``identity``, if any."""
        return self._by_identity.get(identity)

    def seen(self, worker_id: str, now: float) -> list[MembershipEvent]:
        """Any message from a worker proves it alive."""
        rec = self.workers.get(worker_id)
        if rec is None or rec.liveness is WorkerLiveness.LOST:
            return []
        rec.last_seen = max(rec.last_seen, now)
        if rec.liveness is WorkerLiveness.PROBATION:
            rec.liveness = WorkerLiveness.ALIVE
            return [WorkerRecovered(worker_id)]
        return []

    def heartbeat(
        self, worker_id: str, now: float, rss_bytes: int = 0, running: int = 0
    ) -> list[MembershipEvent]:
        rec = self.workers.get(worker_id)
        if rec is None:
            return []
        rec.rss_bytes = rss_bytes
        rec.running = running
        return self.seen(worker_id, now)

    def tick(self, now: float) -> list[MembershipEvent]:
        """Probation and loss for workers silent too long."""
        events: list[MembershipEvent] = []
        for rec in list(self.workers.values()):
            if rec.liveness is WorkerLiveness.LOST:
                rec.lost_at = now if rec.lost_at is None else rec.lost_at
                if now - rec.lost_at >= self.forget_after * self.heartbeat_s:
                    del self.workers[rec.worker_id]  # a grace period listed as lost, then gone
                continue
            silent = now - rec.last_seen
            if silent >= self.lost_after * self.heartbeat_s:
                events.extend(self.lose(rec.worker_id, f"no heartbeat for {silent:.1f} s"))
                rec.lost_at = now
            elif (
                silent >= self.probation_after * self.heartbeat_s
                and rec.liveness is WorkerLiveness.ALIVE
            ):
                rec.liveness = WorkerLiveness.PROBATION
                events.append(WorkerOnProbation(rec.worker_id))
        return events

    def lose(self, worker_id: str, reason: str) -> list[MembershipEvent]:
        """Declare a worker lost (also used when it says goodbye or its process is gone)."""
        rec = self.workers.get(worker_id)
        if rec is None or rec.liveness is WorkerLiveness.LOST:
            return []
        rec.liveness = WorkerLiveness.LOST
        rec.cached.clear()
        self._by_identity.pop(rec.identity, None)
        return [WorkerLost(worker_id, reason)]

    def forget_lost(self) -> None:
        """Drop records of lost workers (after the loss has been reported)."""
        for wid in [w for w, r in self.workers.items() if r.liveness is WorkerLiveness.LOST]:
            del self.workers[wid]

    def fragment_ran(self, worker_id: str) -> None:
        rec = self.workers.get(worker_id)
        if rec is not None:
            rec.fragments_run += 1

    # ----- in-memory partitions ---------------------------------------------

    def needs(self, worker_id: str, content_hash: str) -> bool:
        """True until :meth:`shipped` records that ``worker_id`` caches ``content_hash``."""
        rec = self.workers.get(worker_id)
        return rec is not None and content_hash not in rec.cached

    def shipped(self, worker_id: str, content_hash: str) -> None:
        rec = self.workers.get(worker_id)
        if rec is not None:
            rec.cached.add(content_hash)

    # ----- queries -----------------------------------------------------------

    def worker_of(self, identity: bytes) -> str | None:
        return self._by_identity.get(identity)

    def identity_of(self, worker_id: str) -> bytes | None:
        rec = self.workers.get(worker_id)
        if rec is None or rec.liveness is WorkerLiveness.LOST:
            return None
        return rec.identity

    def alive(self) -> list[str]:
        """Workers that can take tasks (alive or on probation), in registration order."""
        return [
            w
            for w, r in sorted(self.workers.items(), key=lambda kv: (kv[1].registered_at, kv[0]))
            if r.liveness is not WorkerLiveness.LOST
        ]

    def peer_directory(self) -> PeerDirectory:
        return PeerDirectory({w: self.workers[w].peer_address for w in self.alive()})

    def status(self, now: float) -> tuple[WorkerStatus, ...]:
        return tuple(
            WorkerStatus(
                worker_id=r.worker_id,
                peer_address=r.peer_address,
                liveness=r.liveness,
                pid=r.pid,
                host=r.host,
                cores=r.cores,
                last_seen_s=round(max(0.0, now - r.last_seen), 3),
                rss_bytes=r.rss_bytes,
                fragments_run=r.fragments_run,
                running=r.running,
            )
            for r in self.workers.values()
        )


def example_registration() -> RegisterWorker:
    """A registration matching ``Versions("1.0", "55.0.0")`` (examples and tests)."""
    return RegisterWorker(
        peer_address="tcp://127.0.0.1:1",
        pid=1,
        host="h",
        cores=1,
        sqlweave_version="1.0",
        datafusion_version="55.0.0",
    )
