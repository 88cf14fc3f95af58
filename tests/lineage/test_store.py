"""LineageStore: round trips, merging kernels, versions, concurrent writers, kill -9."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
from datetime import timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
from graphs import T0, chain, info, rename, stmt

from sqlweave.lineage.graph import EdgeKind, LineageGraph
from sqlweave.lineage.store import (
    VERSION,
    LineageStore,
    StoreError,
    StoreVersionError,
    encode,
    notebook_key,
)


def snapshot(g: LineageGraph) -> tuple:
    return (
        tuple(r for r in g.runs),
        sorted((str(u), str(v), k.value) for u, v, k in g.edges()),
    )


def test_round_trip(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
    g = chain()
    rename(g)
    merged = store.save(g)
    assert snapshot(merged) == snapshot(g)
    assert snapshot(store.load()) == snapshot(g)
    index = json.loads((tmp_path / ".sqlweave" / "index.json").read_text())
    assert index["format"] == "sqlweave-lineage-index" and index["version"] == VERSION
    entry = index["notebooks"]["nb.ipynb"]
    assert entry["runs"] == len(g.runs)
    doc = json.loads((tmp_path / ".sqlweave" / entry["file"]).read_text())
    assert doc["format"] == "sqlweave-lineage" and doc["notebook"] == "nb.ipynb"


def test_sessions_merge_and_reruns_replace(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
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
    # one file per notebook, each loadable on its own
    assert store.notebooks() == ("nb.ipynb", "other.ipynb")
    assert store.load("other.ipynb").datasets() == ("report", "summary")
    assert "report" not in store.load("nb.ipynb").datasets()


def test_clear_is_remembered_against_older_saves(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
    g = chain()
    store.save(g)
    store.clear("nb.ipynb")
    assert len(store.load()) == 0
    assert len(store.save(g)) == 0  # a kernel holding the old runs does not bring them back


def test_future_version_is_a_clear_error(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
    store.save(chain())
    index = json.loads(store.path.read_text())
    log = store.root / index["notebooks"]["nb.ipynb"]["file"]
    store.path.write_text(json.dumps({**index, "version": VERSION + 1}))
    with pytest.raises(StoreVersionError, match="Upgrade sqlweave"):
        store.load()
    store.path.write_text(json.dumps(index))
    log.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        store.load()
    log.write_text(json.dumps({"format": "sqlweave-lineage", "version": 2, "runs": [{}]}))
    with pytest.raises(StoreError, match="malformed run"):
        store.load()


def test_unknown_record_fields_are_ignored(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
    store.save(chain())
    log = store.root / json.loads(store.path.read_text())["notebooks"]["nb.ipynb"]["file"]
    doc = json.loads(log.read_text())
    doc["runs"][0]["lineage"]["added_later"] = [1, 2]
    log.write_text(json.dumps(doc))
    assert len(store.load()) == 4


def test_a_version_1_file_is_migrated_by_the_first_writer(tmp_path: Path) -> None:
    folder = tmp_path / "proj"
    (folder / ".sqlweave").mkdir(parents=True)
    (folder / "a.ipynb").write_text("{}")
    g = chain()
    g.add_run(info("x1", 1, notebook=str(folder / "a.ipynb"), session="k2"), stmt(writes=("t",)))
    runs = [{"info": encode(r.info), "lineage": encode(r.lineage)} for r in g.runs]
    legacy = folder / ".sqlweave" / "lineage.json"
    legacy.write_text(json.dumps({"format": "sqlweave-lineage", "version": 1, "runs": runs}))
    store = LineageStore(folder / ".sqlweave")
    assert len(store.load()) == 5  # readable before any write
    store.append(info("x2", 1, notebook="a.ipynb", session="k3"), stmt(writes=("u",)))
    assert not legacy.exists() and legacy.with_name("lineage.json.migrated").exists()
    # the absolute path of the old store became the folder-relative key
    assert store.notebooks() == ("a.ipynb", "nb.ipynb")
    assert store.load("a.ipynb").datasets() == ("t", "u")
    assert len(store.load("nb.ipynb")) == 4


def test_deleted_cells_are_forgotten(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".sqlweave")
    store.save(chain())
    later = info("c9", 9, at=T0 + timedelta(days=2))
    store.append(later, stmt(writes=("fresh",)))
    # the saved notebook holds c0 and c1 only; c9 ran after the save, so it stays
    gone = store.forget_cells("nb.ipynb", {"c0", "c1"}, before=T0 + timedelta(days=1))
    assert gone == 2
    assert sorted({r.info.cell_id for r in store.load().runs}) == ["c0", "c1", "c9"]


def test_notebook_keys_are_relative_to_the_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "n.ipynb").write_text("{}")
    assert notebook_key(str(tmp_path / "sub" / "n.ipynb"), tmp_path) == "sub/n.ipynb"
    assert notebook_key("sub/n.ipynb", tmp_path) == "sub/n.ipynb"
    assert notebook_key("server/root/n.ipynb", tmp_path / "sub") == "n.ipynb"
    assert notebook_key("/elsewhere/x.ipynb", tmp_path) == "/elsewhere/x.ipynb"


def _writer(
    path: str, cell_prefix: str, n: int, start: Event, halfway: Event, go_on: Event
) -> None:
    start.wait()
    store = LineageStore(path)
    for i in range(n):
        if i == n // 2:
            halfway.set()
            go_on.wait()
        store.append(
            info(f"{cell_prefix}{i}", i, session=cell_prefix),
            stmt(reads=(f"{cell_prefix}_in{i}",), writes=(f"{cell_prefix}_out{i}",)),
        )


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / ".sqlweave")
    ctx = mp.get_context("fork")
    start, go_on = ctx.Event(), ctx.Event()
    halfway = {p: ctx.Event() for p in ("a", "b")}
    procs = [
        ctx.Process(target=_writer, args=(path, p, 25, start, halfway[p], go_on))
        for p in ("a", "b")
    ]
    for p in procs:
        p.start()
    start.set()
    for event in halfway.values():
        assert event.wait(60)
    # both writers paused after 12 appends each: a reader sees exactly those
    assert len(LineageStore(path).load().runs) == 24
    go_on.set()
    counts = []
    while any(p.is_alive() for p in procs):
        counts.append(len(LineageStore(path).load().runs))  # never half-written
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    # reads during the second half only ever saw whole appends, never losing one
    assert counts == sorted(counts) and all(24 <= c <= 50 for c in counts)
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
    path = tmp_path / ".sqlweave"
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_hammer, args=(str(path),))
    proc.start()
    try:
        while len(LineageStore(path).load()) < 5:  # several writes have completed
            assert proc.is_alive()
        # freeze the writer while its temporary file exists: the kill lands mid-write
        while True:
            assert proc.is_alive()
            if not any(path.glob("notebooks/.*.tmp")):
                continue
            os.kill(proc.pid, signal.SIGSTOP)
            if any(path.glob("notebooks/.*.tmp")):
                break
            os.kill(proc.pid, signal.SIGCONT)  # that write finished just before the stop
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
    assert proc.exitcode == -signal.SIGKILL
    assert any(path.glob("notebooks/.*.tmp")), "the kill did not land mid-write"
    g = LineageStore(path).load()
    assert len(g.runs) >= 5
    # the next writer still works (the lock died with the process) and sweeps the orphan
    LineageStore(path).append(info("after", 1), stmt(writes=("z",)))
    assert "z" in LineageStore(path).load().datasets()
    assert not any(path.glob("**/.*.tmp"))
