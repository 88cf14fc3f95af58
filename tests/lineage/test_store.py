"""LineageStore: round trips, merging kernels, versions, concurrent writers, kill -9."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import time
from pathlib import Path

import pytest
from test_graph_builders import add, chain, info, stmt

from sqlweave.lineage.graph import EdgeKind, LineageGraph
from sqlweave.lineage.model import StatementKind
from sqlweave.lineage.store import VERSION, LineageStore, StoreError, StoreVersionError


def snapshot(g: LineageGraph) -> tuple:
    return (
        tuple(r for r in g.runs),
        sorted((str(u), str(v), k.value) for u, v, k in g.edges()),
    )


def test_round_trip(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "lineage.json")
    g = chain()
    add(
        g,
        "c8",
        8,
        "ALTER TABLE clean RENAME TO tidy",
        kind=StatementKind.RENAME,
        renames=(("clean", "tidy"),),
    )
    merged = store.save(g)
    assert snapshot(merged) == snapshot(g)
    assert snapshot(store.load()) == snapshot(g)
    doc = json.loads((tmp_path / "lineage.json").read_text())
    assert doc["format"] == "sqlweave-lineage" and doc["version"] == VERSION


def test_sessions_merge_and_reruns_replace(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "lineage.json")
    store.save(chain())
    other = LineageGraph()  # a second kernel, another notebook
    other.add_run(
        info("x1", 1, notebook="other.ipynb", session="k2"),
        stmt(reads=("summary",), writes=("report",)),
    )
    merged = store.save(other)
    assert "report" in merged.datasets() and "raw" in merged.datasets()
    # after a kernel restart the first notebook re-runs c1 (execution count restarts at 1)
    again = LineageGraph()
    again.add_run(info("c1", 1, session="k3"), stmt(reads=("raw2",), writes=("clean",)))
    merged = store.save(again)
    assert [r.info.cell_id for r in merged.runs].count("c1") == 1
    assert [n.name for n in merged.upstream("clean", depth=1) if n.kind.value == "dataset"] == [
        "raw2"
    ]
    assert snapshot(store.load()) == snapshot(merged)


def test_clear_is_remembered_against_older_saves(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "lineage.json")
    g = chain()
    store.save(g)
    store.clear("nb.ipynb")
    assert len(store.load()) == 0
    assert len(store.save(g)) == 0  # a kernel holding the old runs does not bring them back


def test_future_version_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "lineage.json"
    path.write_text(json.dumps({"format": "sqlweave-lineage", "version": VERSION + 1, "runs": []}))
    with pytest.raises(StoreVersionError, match="Upgrade sqlweave"):
        LineageStore(path).load()
    path.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        LineageStore(path).load()
    path.write_text(json.dumps({"format": "sqlweave-lineage", "version": 1, "runs": [{}]}))
    with pytest.raises(StoreError, match="malformed run"):
        LineageStore(path).load()


def test_unknown_record_fields_are_ignored(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "lineage.json")
    store.save(chain())
    doc = json.loads(store.path.read_text())
    doc["runs"][0]["lineage"]["added_later"] = [1, 2]
    store.path.write_text(json.dumps(doc))
    assert len(store.load()) == 4


def _writer(path: str, cell_prefix: str, n: int, start: mp.synchronize.Event) -> None:
    start.wait()
    store = LineageStore(path)
    for i in range(n):
        store.append(
            info(f"{cell_prefix}{i}", i, session=cell_prefix),
            stmt(reads=(f"{cell_prefix}_in{i}",), writes=(f"{cell_prefix}_out{i}",)),
        )


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "lineage.json")
    ctx = mp.get_context("fork")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(path, p, 25, start)) for p in ("a", "b")]
    for p in procs:
        p.start()
    start.set()
    seen_valid = 0
    while any(p.is_alive() for p in procs):
        if os.path.exists(path):
            LineageStore(path).load()  # never half-written
            seen_valid += 1
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    g = LineageStore(path).load()
    assert len(g.runs) == 50
    assert sum(1 for _ in g.edges(EdgeKind.WRITES)) == 50


def _hammer(path: str) -> None:
    store = LineageStore(path)
    g = LineageGraph()
    big = "SELECT " + ", ".join(f"c{i}" for i in range(2000)) + " FROM t"
    i = 0
    while True:  # rewrite a large file forever; the parent kills us mid-write
        g.add_run(
            info(f"h{i}", i, sql=big, session="h"), stmt(big, reads=("t",), writes=(f"o{i}",))
        )
        store.save(g)
        i += 1


def test_kill_9_mid_write_leaves_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "lineage.json"
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_hammer, args=(str(path),))
    proc.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until several writes have completed
            if path.exists() and len(LineageStore(path).load()) >= 5:
                break
        while time.monotonic() < deadline:  # then until a write is in flight (temp file exists)
            if any(tmp_path.glob(".lineage.json.*.tmp")):
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    g = LineageStore(path).load()
    assert len(g.runs) >= 5
    # the next writer still works (the lock died with the process) and sweeps the orphan
    LineageStore(path).append(info("after", 1), stmt(writes=("z",)))
    assert "z" in LineageStore(path).load().datasets()
    assert not any(tmp_path.glob(".lineage.json.*.tmp"))
