"""A durable coordinator, with real processes: kill -9 in a loop, the catalog survives.

Each round registers one more table (a parquet path, an in-memory table, a CREATE
EXTERNAL TABLE), waits for the acknowledgement, kills the coordinator with SIGKILL and
starts it again on the same address and state directory: every acknowledged table must
be back with its rows. ``bench/soak.py --coordinator-kills 100`` runs the long version.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from waiting import wait_for

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


def _rows(e: ClusterEngine, sql: str) -> list[dict]:
    return e.execute(sql).to_pylist()


def test_tables_and_views_made_by_sql_survive_kill_9(tmp_path) -> None:
    """CREATE TABLE AS, INSERT, SELECT INTO, CREATE VIEW (with the session's settings)
    and DROP run on the coordinator: after SIGKILL and a restart they are as acknowledged."""
    address = f"tcp://127.0.0.1:{_free_port()}"
    state = str(tmp_path / "state")
    proc = start_coordinator(address, state)
    try:
        e = ClusterEngine(address, timeout_s=20.0)
        try:
            e.execute("create table made as select * from (values (1), (2), (3)) as v(x)")
            e.execute("insert into made values (4)")
            e.execute("select x * 2 as y into doubled from made")
            e.execute("create view big as select x from made where x > 2")
            e.execute('create table caps as select 1 as "Total"')
            # a view that only means something under its session's settings
            e.execute("set datafusion.sql_parser.enable_ident_normalization = false")
            e.execute("create view v_caps as select Total from caps")
            e.execute("reset datafusion.sql_parser.enable_ident_normalization")
            e.execute("create table gone as select 1 as x")
            e.execute("drop table gone")
            e.register_arrow("arrowed", pa.table({"x": [10, 20]}))
            e.execute("insert into arrowed values (30)")  # rows change after registration
        finally:
            e.close()
        kill(proc)
        proc = start_coordinator(address, state)
        e = ClusterEngine(address, timeout_s=20.0)
        try:
            assert _rows(e, "select sum(x) as s from made") == [{"s": 10}]
            assert _rows(e, "select sum(y) as s from doubled") == [{"s": 20}]
            assert _rows(e, "select x from big order by x") == [{"x": 3}, {"x": 4}]
            assert _rows(e, "select * from v_caps") == [{"Total": 1}]
            assert _rows(e, "select sum(x) as s from arrowed") == [{"s": 60}]
            assert "gone" not in e.tables()
            e.execute("drop view big")  # and a drop after recovery is durable too
        finally:
            e.close()
        kill(proc)
        proc = start_coordinator(address, state)
        e = ClusterEngine(address, timeout_s=20.0)
        try:
            assert "big" not in e.tables() and "made" in e.tables()
        finally:
            e.close()
    finally:
        kill(proc)


def test_a_cancelled_ctas_is_neither_kept_nor_journaled(tmp_path) -> None:
    from test_cancel_local import _cancel_while_running

    address = f"tcp://127.0.0.1:{_free_port()}"
    state = tmp_path / "state"
    proc = start_coordinator(address, str(state))
    try:
        e = ClusterEngine(address, timeout_s=60.0)
        try:
            sql = "create table slow as select count(*) as n from generate_series(1, {rows})"
            err = _cancel_while_running(e, e, sql, "drop table if exists slow")
            assert "undone" in str(err)
            wait_for(lambda: e.status().local_running == 0, timeout_s=120, what="its end")
            assert "slow" not in e.tables()
        finally:
            e.close()
        # what a restart would replay (read from a copy: the coordinator keeps its own open)
        shutil.copytree(state, tmp_path / "copy")
        assert "slow" not in [r.name for r in Journal(tmp_path / "copy").catalog()]
        kill(proc)
        proc = start_coordinator(address, str(state))
        e = ClusterEngine(address, timeout_s=20.0)
        try:
            assert "slow" not in e.tables()
        finally:
            e.close()
    finally:
        kill(proc)
