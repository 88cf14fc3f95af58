"""The journal and the state rebuilt from it, without kernels."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from sqlweave.pipeline.journal import (
    Journal,
    NotebookFailed,
    NotebookInterrupted,
    NotebookSkipped,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
    RunFinished,
    RunInterrupted,
    RunResumed,
    RunStarted,
    RunStatus,
    decode,
    encode,
)
from sqlweave.pipeline.state import fold, last_successes, read_runs
from sqlweave.pipeline.summary import history_text, run_summary, status_text

ROOT = Path(__file__).resolve().parents[2]
JOURNAL_MODULE = ROOT / "sqlweave" / "pipeline" / "journal.py"


def test_events_round_trip_through_json() -> None:
    events = [
        RunStarted(
            "r", paths=(".",), notebooks=("a", "b"), parameters={"n": 1}, options={"jobs": 2}
        ),
        NotebookSucceeded("r", notebook="a", fingerprint="f", upstream={"z": "q/z"}),
        NotebookFailed("r", notebook="b", cell=3, source="SELECT 1", error="boom", retry=True),
        NotebookSkipped(
            "r", notebook="c", status=NotebookStatus.BLOCKED, reason="upstream b failed"
        ),
        RunFinished("r", status=RunStatus.FAILED, seconds=1.5),
    ]
    for event in events:
        assert decode(encode(event)) == event


def test_a_torn_last_line_is_skipped_then_cut_before_the_next_append(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.append(RunStarted("r", notebooks=("a",)))
    whole = encode(NotebookStarted("r", notebook="a"))
    with open(journal.path, "a") as f:
        f.write(whole[: len(whole) // 2])  # a crash in the middle of a write
    assert [type(e).__name__ for e in journal.read()] == ["RunStarted"]
    journal.append(NotebookSucceeded("r", notebook="a"))
    lines = journal.path.read_text().splitlines()
    assert len(lines) == 2 and all(decode(line) for line in lines)
    assert read_runs(journal)["r"].notebooks["a"].status is NotebookStatus.SUCCEEDED


def test_reading_one_run_leaves_out_the_others(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    for run_id in ("r1", "r2"):
        journal.append(RunStarted(run_id, notebooks=("a",)))
        journal.append(NotebookStarted(run_id, notebook="a"))
    assert [(type(e).__name__, e.run_id) for e in journal.read("r2")] == [
        ("RunStarted", "r2"),
        ("NotebookStarted", "r2"),
    ]
    assert len(journal.read()) == 4
    assert list(read_runs(journal)) == ["r1", "r2"]


def test_appends_from_threads_never_interleave(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    big = "x" * 20_000  # larger than a pipe buffer: must still land as one line

    def writer(n: int) -> None:
        for i in range(20):
            journal.append(NotebookFailed("r", notebook=f"{n}-{i}", error=big))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = journal.read()
    assert len(events) == 80 and len(journal.path.read_text().splitlines()) == 80


@pytest.mark.process
@pytest.mark.parametrize("torn", [False, True])
def test_the_journal_survives_a_writer_killed_mid_write(tmp_path: Path, torn: bool) -> None:
    """A real process appending big events is SIGKILLed; every event it finished stays.

    A kill rarely lands inside one ``write`` of a regular file, so with ``torn`` the writer
    leaves half an event (what a multi-chunk write cut short leaves) before it is killed.
    """
    path = tmp_path / "j.jsonl"
    script = textwrap.dedent(
        f"""
        import importlib.util, os, sys, time
        # the journal module alone (it imports nothing of sqlweave): a quick start
        spec = importlib.util.spec_from_file_location("journal", {str(JOURNAL_MODULE)!r})
        journal = importlib.util.module_from_spec(spec)
        sys.modules["journal"] = journal
        spec.loader.exec_module(journal)
        j = journal.Journal({str(path)!r})
        for i in range(10**9):
            j.append(journal.NotebookFailed("r", notebook=str(i), error="e" * 200_000))
            if i == 4 and {torn!r}:
                line = journal.encode(journal.NotebookFailed("r", notebook="torn")).encode()
                fd = os.open({str(path)!r}, os.O_WRONLY | os.O_APPEND)
                os.write(fd, line[: len(line) // 2])
                print("ready", flush=True)
                time.sleep(3600)  # killed here, half-way through its event
            if i == 4:
                print("ready", flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    finally:
        proc.send_signal(signal.SIGKILL)  # the writer only, never this process
        proc.wait()
    journal = Journal(path)
    if torn:  # without it, the kill may still land inside one big write and tear its end
        assert not path.read_bytes().endswith(b"\n")
    before = journal.read()
    assert [e.notebook for e in before] == [str(i) for i in range(len(before))]
    assert len(before) >= 5
    journal.append(RunFinished("r"))
    after = journal.read()
    assert after[:-1] == before and isinstance(after[-1], RunFinished)
    assert len(path.read_bytes().splitlines()) == len(after)


def _events() -> list:
    return [
        RunStarted("r1", notebooks=("a", "b", "c"), pid=1),
        NotebookStarted("r1", notebook="a"),
        NotebookSucceeded("r1", notebook="a", seconds=1.0, fingerprint="fa"),
        NotebookStarted("r1", notebook="b"),
        NotebookFailed(
            "r1", notebook="b", attempt=1, cell=2, source="SELECT x", error="E: bad", retry=True
        ),
        NotebookStarted("r1", notebook="b", attempt=2),
        NotebookFailed("r1", notebook="b", attempt=2, cell=2, source="SELECT x", error="E: bad"),
        NotebookSkipped(
            "r1", notebook="c", status=NotebookStatus.BLOCKED, reason="upstream b failed"
        ),
        RunFinished("r1", status=RunStatus.FAILED, seconds=3.0),
        RunStarted("r2", notebooks=("a", "b", "c"), pid=2),
        NotebookStarted("r2", notebook="a"),
    ]


def test_state_is_rebuilt_from_events() -> None:
    runs = fold(_events())
    r1, r2 = runs["r1"], runs["r2"]
    assert r1.status is RunStatus.FAILED and r1.finished
    assert r1.notebooks["b"].status is NotebookStatus.FAILED and r1.notebooks["b"].attempts == 2
    assert r1.notebooks["c"].status is NotebookStatus.BLOCKED
    assert r2.pending() == ["a", "b", "c"] and r2.owner_pid == 2
    assert last_successes(runs)["a"].exec_id == "r1/a"
    resumed = fold([*_events(), RunResumed("r2", pid=3)])["r2"]
    assert resumed.notebooks["a"].status is NotebookStatus.PENDING and resumed.owner_pid == 3


def test_summary_names_notebook_cell_sql_and_error() -> None:
    r1 = fold(_events())["r1"]
    text = run_summary(r1)
    assert "FAILED b, cell 2 after 2 attempts:" in text
    assert "    SELECT x" in text and "  E: bad" in text
    assert "not run: c (upstream b failed)" in text
    assert "cell 2: E: bad" in status_text(r1)
    assert "r1" in history_text(list(fold(_events()).values()))


def test_an_interrupted_run_is_resumable_and_its_stopped_notebooks_run_again() -> None:
    events = [
        RunStarted("r", notebooks=("a", "b", "c")),
        NotebookStarted("r", notebook="a"),
        NotebookSucceeded("r", notebook="a"),
        NotebookStarted("r", notebook="b"),
        NotebookInterrupted("r", notebook="b", cell=2, seconds=1.0),
        RunInterrupted("r", seconds=3.0, signal=signal.SIGINT),
    ]
    for event in events:
        assert decode(encode(event)) == event
    run = fold(events)["r"]
    assert run.interrupted and not run.finished
    assert run.notebooks["b"].status is NotebookStatus.INTERRUPTED
    assert run.pending() == ["b", "c"]
    text = run_summary(run)
    assert "run r: interrupted" in text
    assert "interrupted: b" in text and "not started: c" in text
    assert "sqlweave pipeline resume" in status_text(run, runner_alive=False)
    resumed = fold([*events, RunResumed("r", pid=3)])["r"]
    assert resumed.status is RunStatus.RUNNING and resumed.pending() == ["b", "c"]
    assert resumed.notebooks["b"].status is NotebookStatus.PENDING
