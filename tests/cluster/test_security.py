"""CURVE on every socket, with real processes: who has no key gets nothing in.

A refused peer's messages never reach a handler: ZeroMQ holds them until the
handshake succeeds, and the tests wait for the handshake's outcome on a socket
monitor (no sleeps). Forged worker messages are checked with a follow-up message
on the same connection: its answer proves the forged one was handled (dropped).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest
import zmq
from waiting import wait_for
from zmq.utils.monitor import recv_monitor_message

import sqlweave
from sqlweave import errors
from sqlweave.cluster import curve
from sqlweave.cluster import protocol as P
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.coordinator import Coordinator
from sqlweave.cluster.localcluster import LocalCluster
from sqlweave.cluster.worker import RegistrationError, Worker, WorkerConfig

pytestmark = pytest.mark.process

HEARTBEAT_S = 0.2


_OUTCOMES = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)

#: a keyless peer fails on the mechanism (or the server just closes); a stranger's key on ZAP
_REFUSED = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2, heartbeat_s=HEARTBEAT_S) as c:
        yield c


def _dealer(
    address: str, pair: curve.KeyPair | None, server: bytes | None, identity: bytes | None = None
) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.linger = 0
    if identity is not None:
        sock.setsockopt(zmq.ROUTING_ID, identity)
    if pair is not None and server is not None:
        curve.connect_as(sock, pair, server)
    return sock


def _handshake(
    address: str, msg: P.Message, pair: curve.KeyPair | None = None, server: bytes | None = None
) -> zmq.Event:
    """Connect, queue ``msg``, and return how the handshake ended."""
    sock = _dealer(address, pair, server)
    monitor = sock.get_monitor_socket(_OUTCOMES)
    try:
        sock.connect(address)
        P.send(sock, msg)
        assert monitor.poll(20_000), "no handshake outcome"
        return zmq.Event(recv_monitor_message(monitor)["event"])
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close(linger=0)


def _stranger() -> curve.KeyPair:
    public, secret = zmq.curve_keypair()
    return curve.KeyPair(public, secret)


def _alive(c: LocalCluster) -> list[str]:
    return [w.worker_id for w in c.status().workers if w.liveness is not P.WorkerLiveness.LOST]


def test_clients_without_a_known_key_are_refused_before_any_handler(cluster: LocalCluster) -> None:
    before = cluster.status().queries_run
    server = cluster.keys.coordinator.public
    query = P.ExecuteQuery("r1", "select 1")
    assert _handshake(cluster.address, query) in _REFUSED
    assert _handshake(cluster.address, query, _stranger(), server) in _REFUSED
    client = cluster.keys.own(curve.Role.CLIENT)
    assert _handshake(cluster.address, query, client, server) == zmq.EVENT_HANDSHAKE_SUCCEEDED
    # only the keyed client's statement ran
    wait_for(lambda: cluster.status().queries_run == before + 1, 10, "the keyed query")
    assert cluster.status().queries_run == before + 1


def test_only_worker_keys_may_register_or_push(cluster: LocalCluster) -> None:
    server = cluster.keys.coordinator.public
    register = P.RegisterWorker("tcp://127.0.0.1:1", 1, "h", 1, "x", "y")
    client = cluster.keys.own(curve.Role.CLIENT)
    workers = cluster.info.workers
    assert _handshake(workers, register) in _REFUSED
    assert _handshake(workers, register, client, server) in _REFUSED
    peer = cluster.status().workers[0].peer_address
    push = P.PushPartition("q", 0, 0, 0, 0, pa.table({"x": [1]}))
    assert _handshake(peer, push) in _REFUSED
    assert _handshake(peer, push, client, cluster.keys.worker.public) in _REFUSED
    assert len(_alive(cluster)) == 2


def test_forged_worker_exiting_is_dropped(cluster: LocalCluster) -> None:
    victim = _alive(cluster)[0]
    # holds the workers' key, but is not the process that registered as the victim
    sock = _dealer(
        cluster.info.workers,
        cluster.keys.own(curve.Role.WORKER),
        cluster.keys.coordinator.public,
        identity=b"forger/control",
    )
    try:
        sock.connect(cluster.info.workers)
        P.send(sock, P.WorkerExiting(victim, "forged"))
        P.send(sock, P.StatusRequest("after"))  # not a worker message: answered with an error
        assert sock.poll(20_000)
        _, reply = P.recv(sock)
        assert isinstance(reply, P.ErrorReply) and reply.tag == "status_request"
    finally:
        sock.close(linger=0)
    assert victim in _alive(cluster)


def test_forged_heartbeats_do_not_keep_a_killed_worker_alive(cluster: LocalCluster) -> None:
    slot = 1
    pid = cluster.worker_pids(slot)[-1]
    victim = next(w.worker_id for w in cluster.status().workers if w.pid == pid)
    stop = threading.Event()

    def forge() -> None:
        sock = _dealer(
            cluster.info.workers,
            cluster.keys.own(curve.Role.WORKER),
            cluster.keys.coordinator.public,
        )
        sock.connect(cluster.info.workers)
        while not stop.wait(HEARTBEAT_S / 4):
            P.send(sock, P.Heartbeat(victim, 1, 0, 0))
        sock.close(linger=0)

    forger = threading.Thread(target=forge, daemon=True)
    forger.start()
    try:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: victim not in _alive(cluster), 20, f"{victim} declared lost")
    finally:
        stop.set()
        forger.join(5)


def test_keys_reach_processes_without_argv_and_never_show(cluster: LocalCluster) -> None:
    secrets = [
        cluster.keys.own(role).secret.decode()
        for role in (curve.Role.COORDINATOR, curve.Role.WORKER, curve.Role.CLIENT)
    ]
    for pid in cluster.pids():
        for what in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{what}", "rb") as f:
                    text = f.read().decode(errors="replace")
            except OSError:
                continue  # ended meanwhile
            assert not any(s in text for s in secrets), (pid, what)
    shown = repr(cluster.keys) + repr(WorkerConfig("tcp://x:1", keys=cluster.keys))
    assert not any(s in shown for s in secrets)
    mode = os.stat(cluster.keys.directory / "worker.key_secret").st_mode
    assert mode & 0o077 == 0


def test_session_with_a_key_directory_and_wrong_keys(cluster: LocalCluster, tmp_path) -> None:
    with sqlweave.Session(engine=cluster.address, keys=cluster.keys.directory) as s:
        assert s.sql("select 41 + 1 as x").to_arrow().to_pylist() == [{"x": 42}]
    other = curve.create_keys(tmp_path / "other")
    wrong = ClusterEngine(cluster.address, timeout_s=1.0, keys=other)
    wrong.send_timeout_s = 1.0
    try:
        # the handshake never completes, so the request is never even sent
        with pytest.raises(errors.ExecutionError, match="nothing was sent"):
            wrong.status()
    finally:
        wrong.close()


def test_public_bind_without_keys_is_refused() -> None:
    with pytest.raises(errors.UsageError, match="sqlweave cluster keys"):
        Coordinator(bind="tcp://0.0.0.0")
    worker = Worker(WorkerConfig("tcp://127.0.0.1:1", host="0.0.0.0"))
    try:
        with pytest.raises(RegistrationError, match="sqlweave cluster keys"):
            worker.register()
    finally:
        worker.zctx.destroy(linger=0)
        worker._links_dir.cleanup()


def test_key_files_are_checked(tmp_path) -> None:
    d = curve.create_keys(tmp_path / "k", clients=["alice", "bob"])
    keys = curve.ClusterKeys.load(d / "bob.key_secret")
    assert keys.client.public == curve.ClusterKeys.load(d, client="bob").client.public
    assert len(keys.authorized[curve.Role.CLIENT]) == 2
    with pytest.raises(curve.KeysError, match="already holds"):
        curve.create_keys(d)
    with pytest.raises(curve.KeysError, match="sqlweave cluster keys"):
        curve.ClusterKeys.load(tmp_path / "missing")
    (d / "authorized_keys").write_text("admin abc\n")
    with pytest.raises(curve.KeysError, match="unknown role"):
        curve.ClusterKeys.load(d)
