"""Pure tests of the coordinator's membership state machine: no sockets, no clocks."""

from __future__ import annotations

import dataclasses

import pytest

from sqlweave.cluster.coordinator_state import (
    Membership,
    WorkerLost,
    WorkerOnProbation,
    WorkerRecovered,
)
from sqlweave.cluster.protocol import (
    Registered,
    RegisterWorker,
    RegistrationRefused,
    WorkerLiveness,
)
from sqlweave.cluster.registration import Versions

V = Versions("1.2.3", "55.0.0")


def registration(**changes: object) -> RegisterWorker:
    base = RegisterWorker(
        peer_address="tcp://127.0.0.1:5000",
        pid=42,
        host="h",
        cores=2,
        sqlweave_version=V.sqlweave,
        datafusion_version=V.datafusion,
        protocol_version=V.protocol,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture
def m() -> Membership:
    return Membership(V, heartbeat_s=1.0, probation_after=2.0, lost_after=5.0)


def test_registration_hands_out_id_and_heartbeat_period(m: Membership) -> None:
    a = m.register(b"a", registration(), now=0.0)
    b = m.register(b"b", registration(peer_address="tcp://127.0.0.1:5001"), now=0.0)
    assert a == Registered("w1", 1.0)
    assert b == Registered("w2", 1.0)
    assert m.alive() == ["w1", "w2"]
    assert m.peer_directory().peers == {
        "w1": "tcp://127.0.0.1:5000",
        "w2": "tcp://127.0.0.1:5001",
    }
    assert m.worker_of(b"b") == "w2" and m.identity_of("w1") == b"a"


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("sqlweave_version", "9.9.9", "sqlweave 9.9.9 (coordinator runs 1.2.3)"),
        ("datafusion_version", "54.0.0", "datafusion 54.0.0 (coordinator runs 55.0.0)"),
        ("protocol_version", 99, "protocol 99"),
    ],
)
def test_version_mismatch_is_refused_with_a_clear_reason(
    m: Membership, field: str, value: object, words: str
) -> None:
    reply = m.register(b"a", registration(**{field: value}), now=0.0)
    assert isinstance(reply, RegistrationRefused)
    assert "version mismatch" in reply.reason and words in reply.reason
    assert m.alive() == []


def test_silence_leads_to_probation_then_loss(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    assert m.tick(now=1.9) == []
    assert m.tick(now=2.0) == [WorkerOnProbation("w1")]
    assert m.tick(now=3.0) == []  # reported once
    assert m.workers["w1"].liveness is WorkerLiveness.PROBATION
    assert "w1" in m.alive()  # probation still takes tasks
    [lost] = m.tick(now=5.0)
    assert isinstance(lost, WorkerLost) and lost.worker_id == "w1"
    assert m.alive() == [] and m.tick(now=10.0) == []
    assert m.identity_of("w1") is None


def test_heartbeat_recovers_from_probation_and_records_stats(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    m.tick(now=2.5)
    assert m.heartbeat("w1", now=2.6, rss_bytes=123, running=1) == [WorkerRecovered("w1")]
    assert m.tick(now=4.0) == []
    [status] = m.status(now=4.0)
    assert status.liveness is WorkerLiveness.ALIVE
    assert status.rss_bytes == 123 and status.running == 1
    assert status.last_seen_s == pytest.approx(1.4)


def test_lost_worker_heartbeat_is_ignored(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    m.lose("w1", "gone")
    assert m.heartbeat("w1", now=1.0) == []
    assert m.lose("w1", "again") == []
    assert m.workers["w1"].liveness is WorkerLiveness.LOST


def test_fragment_counters(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    m.fragment_ran("w1")
    m.fragment_ran("w1")
    m.fragment_ran("nobody")
    assert m.status(now=0.0)[0].fragments_run == 2


def test_in_memory_partitions_ship_once_and_again_after_loss(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    assert m.needs("w1", "h1")
    m.shipped("w1", "h1")
    assert not m.needs("w1", "h1")
    m.lose("w1", "killed")
    # a replacement registers from a new socket and must get the data again
    reply = m.register(b"b", registration(), now=1.0)
    assert isinstance(reply, Registered) and m.needs(reply.worker_id, "h1")


def test_reregistration_from_same_socket_replaces_the_record(m: Membership) -> None:
    m.register(b"a", registration(), now=0.0)
    reply = m.register(b"a", registration(), now=1.0)
    assert isinstance(reply, Registered) and reply.worker_id == "w2"
    assert m.alive() == ["w2"]


def test_a_socket_registering_again_loses_its_earlier_worker(m: Membership) -> None:
    # what the coordinator does first, so the scheduler re-homes that worker's tasks
    m.register(b"a", registration(), now=0.0)
    assert m.worker_at(b"a") == "w1"
    assert m.lose(m.worker_at(b"a"), "registered again") == [WorkerLost("w1", "registered again")]
    reply = m.register(b"a", registration(), now=1.0)
    assert isinstance(reply, Registered) and m.alive() == [reply.worker_id] == ["w2"]
