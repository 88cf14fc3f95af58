"""Seeded message fuzzing of a running cluster's sockets (used by test_fuzz and bench/fuzz.py:
the sockets to aim at, the messages, the damage, and the memory figure both report).

Every message starts from a valid one for the socket and is then damaged: bytes of
the header flipped, the tag or version changed, the Arrow layout lied about, frames
added, dropped or replaced by random bytes. Templates never carry this cluster's
real versions, so no fuzzed message can register a worker.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import zmq

from sqlweave.cluster import curve
from sqlweave.cluster import protocol as P

_TABLE = pa.table({"x": [1, 2, 3], "s": ["a", "b", None]})


def templates(kind: str) -> list[P.Message]:
    """Valid messages for a socket ``kind``: clients, workers or peer."""
    if kind == "clients":
        return [
            P.StatusRequest("r"),
            P.ListTables("r"),
            P.ExecuteQuery("r", "select 1 as x"),
            P.RegisterPath("r", "t", "/nonexistent/x.parquet", None),
            P.RegisterArrow("r", "fuzzed", _TABLE),
            P.Deregister("r", "nope"),
            P.DescribeTable("r", "nope"),
            P.CancelRequest("r"),
            P.HistoryRequest("r", 5),
        ]
    if kind == "workers":
        return [
            P.Heartbeat("w999", 1, 0, 0),
            P.TaskDone("w999", "q", 0, 0, 0, 1, 0.1, _TABLE),
            P.TaskFailed("w999", "q", 0, 0, 0, "boom"),
            P.WorkerExiting("w999", "fuzz"),
            P.RegisterWorker("tcp://127.0.0.1:1", 1, "h", 1, "0.0.0-fuzz", "0.0.0-fuzz"),
        ]
    return [P.PushPartition("fuzzq", 0, 0, 0, 0, _TABLE), P.PushAck("fuzzq", 0, 0, 0)]


def damage(rng: random.Random, frames: list[bytes]) -> list[bytes]:
    """One random kind of damage to an encoded message."""
    frames = [bytes(f) for f in frames]
    header = bytearray(frames[0])
    choice = rng.randrange(9)
    if choice == 0 and header:  # flip bytes of the header
        for _ in range(rng.randint(1, 8)):
            header[rng.randrange(len(header))] = rng.randrange(256)
        frames[0] = bytes(header)
    elif choice in (1, 2, 3):  # a structurally wrong header
        h = json.loads(frames[0])
        if choice == 1:
            h["tag"] = rng.choice(["", "nope", 7, None, "ok" * 50, ["x"]])
        elif choice == 2:
            h["v"] = rng.choice([0, 1, 99, "2", None])
        else:
            h["arrow"] = rng.choice([[1] * rng.randint(0, 5), ["x"], [-1], [10**9], "3", None])
        frames[0] = json.dumps(h).encode()
    elif choice == 4:  # body values of the wrong type
        h = json.loads(frames[0])
        for k in list(h.get("body", {})):
            h["body"][k] = rng.choice([None, -1, 10**30, "x", [], {}, {"__dc": "Nope"}, 1.5])
        frames[0] = json.dumps(h).encode()
    elif choice == 5 and len(frames) > 1:  # Arrow frames truncated or garbled
        i = rng.randrange(1, len(frames))
        frames[i] = rng.randbytes(rng.randint(0, 64))
    elif choice == 6:  # frames added or removed
        if len(frames) > 1 and rng.random() < 0.5:
            del frames[rng.randrange(1, len(frames))]
        else:
            frames.append(rng.randbytes(rng.randint(0, 128)))
    elif choice == 7:  # nothing but noise
        frames = [rng.randbytes(rng.randint(0, 256)) for _ in range(rng.randint(1, 4))]
    else:  # valid (the sockets must also keep serving well-formed traffic)
        pass
    return frames


def fuzz_socket(
    address: str,
    kind: str,
    count: int,
    seed: int,
    pair: curve.KeyPair | None,
    server_public: bytes | None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Send ``count`` damaged messages to ``address``; the number of replies read."""
    rng = random.Random(seed)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.sndhwm = 0
    if pair is not None and server_public is not None:
        curve.connect_as(sock, pair, server_public)
    sock.connect(address)
    encoded = [[bytes(f) for f in P.encode(m)] for m in templates(kind)]
    replies = 0
    try:
        for i in range(count):
            sock.send_multipart(damage(rng, rng.choice(encoded)))
            while sock.poll(0):
                sock.recv_multipart()
                replies += 1
            if on_sent is not None:
                on_sent(i)
        # every reply to what was sent (the peer answers in order): drain until quiet
        while sock.poll(1000):
            sock.recv_multipart()
            replies += 1
    finally:
        sock.close(linger=0)
    return replies


@dataclass(frozen=True)
class Target:
    """One socket of a running cluster and the keys to reach it."""

    address: str
    kind: str  # clients, workers or peer (see :func:`templates`)
    pair: curve.KeyPair | None
    server_public: bytes | None

    def fuzz(self, count: int, seed: int) -> int:
        """Send ``count`` damaged messages; the number of replies read."""
        return fuzz_socket(self.address, self.kind, count, seed, self.pair, self.server_public)


def targets(cluster: Any) -> list[Target]:
    """Every socket of a running ``LocalCluster``: the coordinator's client and worker
    sockets, and each worker's peer socket (reached with the cluster's own keys)."""
    keys = cluster.keys
    server = keys.coordinator.public
    worker = keys.own(curve.Role.WORKER)
    return [
        Target(cluster.address, "clients", keys.own(curve.Role.CLIENT), server),
        Target(cluster.info.workers, "workers", worker, server),
        *[Target(w.peer_address, "peer", worker, worker.public) for w in cluster.status().workers],
    ]


def rss(pids: list[int]) -> int:
    """Resident memory of these processes together, in bytes (ones that ended count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total
