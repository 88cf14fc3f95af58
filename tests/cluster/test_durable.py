"""A durable coordinator, with real processes: kill -9 in a loop, the catalog survives.

Each round registers one more table (a parquet path, an in-memory table, a CREATE
EXTERNAL TABLE), waits for the acknowledgement, kills the coordinator with SIGKILL and
starts it again on the same address and state directory: every acknowledged table must
be back with its rows. ``bench/soak.py --coordinator-kills 100`` runs the long version.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlweave.cluster.client import ClusterEngine, CoordinatorRestarted
from sqlweave.cluster.journal import Journal, Op, Record

pytestmark = pytest.mark.process

KILLS = 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_coordinator(address: str, state_dir: str) -> subprocess.Popen:
    """A coordinator process on ``address`` keeping its state in ``state_dir``."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sqlweave.cluster.coordinator",
            "--bind",
            address,
            "--heartbeat",
            "0.2",
            "--state-dir",
            state_dir,
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={k: v for k, v in os.environ.items() if k != "SQLWEAVE_KEYS"},
    )
    assert "listening" in proc.stdout.readline()  # printed once bound (and recovered)
    return proc


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_catalog_survives_kill_9_in_a_loop(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    state = str(tmp_path / "state")
    expected: dict[str, int] = {}  # table -> sum(x)
    proc = start_coordinator(address, state)
    try:
        for i in range(KILLS):
            e = ClusterEngine(address, timeout_s=20.0)
            try:
                names = set(e.tables())
                assert set(expected) <= names, (i, set(expected) - names)
                for name, total in expected.items():
                    got = e.execute(f"select sum(x) as s from {name}").to_pylist()
                    assert got == [{"s": total}], (i, name)
                kind = i % 3
                name = f"t{i}"
                data = pa.table({"x": list(range(i + 10))})
                if kind == 0:
                    pq.write_table(data, tmp_path / f"{name}.parquet")
                    e.register_path(name, str(tmp_path / f"{name}.parquet"))
                elif kind == 1:
                    e.register_arrow(name, data)
                else:
                    pq.write_table(data, tmp_path / f"{name}.parquet")
                    e.execute(
                        f"create external table {name} stored as parquet "
                        f"location '{tmp_path / f'{name}.parquet'}'"
                    )
                expected[name] = sum(range(i + 10))
                if i == KILLS // 2:
                    e.deregister("t0")
                    del expected["t0"]
                ran = e.status().queries_run
            finally:
                e.close()
            kill(proc)
            proc = start_coordinator(address, state)
        e = ClusterEngine(address, timeout_s=20.0)
        try:
            assert set(e.tables()) >= set(expected) and "t0" not in e.tables()
            assert e.status().queries_run >= ran  # the history survived too
        finally:
            e.close()
    finally:
        kill(proc)


def test_a_client_is_told_the_coordinator_restarted(tmp_path) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"
    proc = start_coordinator(address, str(tmp_path / "state"))
    e = ClusterEngine(address, timeout_s=20.0)
    try:
        e.register_arrow("kept", pa.table({"x": [1, 2, 3]}))
        kill(proc)
        proc = start_coordinator(address, str(tmp_path / "state"))
        with pytest.warns(CoordinatorRestarted):
            assert e.execute("select sum(x) as s from kept").to_pylist() == [{"s": 6}]
    finally:
        e.close()
        kill(proc)


def test_journal_ignores_a_torn_last_line_and_compacts(tmp_path) -> None:
    j = Journal(tmp_path)
    j.append(Record(Op.REGISTER_PATH, "a", "/x.parquet"))
    j.append(Record(Op.REGISTER_PATH, "b", "/y.parquet"))
    j.close()
    with open(tmp_path / "journal.jsonl", "a") as f:
        f.write('{"op":"deregister","na')  # killed mid-append
    again = Journal(tmp_path)
    assert [r.name for r in again.catalog()] == ["a", "b"]
    again.compact()
    again.close()
    assert (tmp_path / "journal.jsonl").read_text() == ""
    assert [r.name for r in Journal(tmp_path).catalog()] == ["a", "b"]
