"""Catalog changes that read the file system never stall the coordinator's loop.

A coordinator runs in this process (real ZeroMQ sockets, real DataFusion) with its
file-system step (listing and parquet footers, ``catalog_ddl.files_entry``) replaced by
one that waits on an event the test holds: a registration is blocked for exactly as long
as the test wants, and meanwhile another client's query must be answered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from waiting import wait_for

from sqlweave import errors
from sqlweave.cluster import catalog_ddl, limits
from sqlweave.cluster.client import ClusterEngine
from sqlweave.cluster.coordinator import Coordinator

#: a blocked step never outlives a failing test by more than this
LONGEST_S = 120.0


@pytest.fixture
def coordinator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Coordinator]:
    monkeypatch.delenv("SQLWEAVE_KEYS", raising=False)
    coord = Coordinator()
    thread = threading.Thread(target=coord.serve, daemon=True)
    thread.start()
    yield coord
    coord.stop()
    thread.join(LONGEST_S)


class Gate:
    """Stands in for ``files_entry``: blocks every call until :meth:`open`."""

    def __init__(self, real: Callable[..., Any]) -> None:
        self.real = real
        self.entered = threading.Event()
        self._open = threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self._open.wait(LONGEST_S)
        return self.real(*args, **kwargs)

    def open(self) -> None:
        self._open.set()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(catalog_ddl.files_entry)
    monkeypatch.setattr(catalog_ddl, "files_entry", g)
    yield g
    g.open()


def _in_thread(address: str, call: Callable[[ClusterEngine], Any]) -> tuple[threading.Thread, dict]:
    """Run ``call`` with its own client on a thread; its result or error lands in the dict."""
    out: dict[str, Any] = {}

    def run() -> None:
        e = ClusterEngine(address, timeout_s=LONGEST_S)
        try:
            out["result"] = call(e)
        except Exception as exc:
            out["error"] = exc
        finally:
            e.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.mark.parametrize("how", ["create external table", "register_path"])
def test_a_blocked_registration_stalls_no_other_client(
    coordinator: Coordinator, gate: Gate, tmp_path: Path, how: str
) -> None:
    pq.write_table(pa.table({"x": [1, 2, 3]}), tmp_path / "t.parquet")
    address = coordinator.info.clients
    if how == "register_path":
        thread, out = _in_thread(address, lambda e: e.register_path("t", str(tmp_path)))
    else:
        sql = f"create external table t stored as parquet location '{tmp_path}/t.parquet'"
        thread, out = _in_thread(address, lambda e: e.execute(sql))
    assert gate.entered.wait(LONGEST_S), "the registration never reached the file system"
    other = ClusterEngine(address, timeout_s=LONGEST_S)
    try:
        # the loop answers while the registration is stuck in the file system
        assert other.execute("select 41 + 1 as x").to_pylist() == [{"x": 42}]
        assert other.status().coordinator_pid > 0
        assert thread.is_alive() and "t" not in coordinator.catalog
        gate.open()
        thread.join(LONGEST_S)
        assert "error" not in out, out.get("error")
        assert "t" in coordinator.catalog  # workers may read it: it is in the cluster catalog
        assert other.execute("select sum(x) as s from t").to_pylist() == [{"s": 6}]
    finally:
        other.close()


def test_a_registration_past_its_deadline_is_given_up_and_undone(
    coordinator: Coordinator, gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "REGISTER_TIMEOUT_S", 0.2)
    pq.write_table(pa.table({"x": [1]}), tmp_path / "t.parquet")
    e = ClusterEngine(coordinator.info.clients, timeout_s=LONGEST_S)
    try:
        with pytest.raises(errors.UsageError, match=r"took longer than .* gave up"):
            e.execute(f"create external table late stored as parquet location '{tmp_path}/'")
        # DataFusion made the table before the (blocked) footer reads: it is undone once
        # the stuck thread ends
        assert "late" in e.tables() and "late" not in coordinator.catalog
        gate.open()
        wait_for(lambda: "late" not in e.tables(), timeout_s=LONGEST_S, what="the undo")
        assert e.execute("select 1 as x").to_pylist() == [{"x": 1}]
    finally:
        e.close()
