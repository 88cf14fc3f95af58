"""Pipelines in real kernels (each test starts a few; keep them few)."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pyarrow.parquet as pq
import pytest
from notebook_files import write_notebook
from waiting import wait_for

from sqlweave.cli import main
from sqlweave.kernels import RUNTIME_PREFIX
from sqlweave.pipeline import PipelineError
from sqlweave.pipeline.execute import RunOptions, resume, run
from sqlweave.pipeline.journal import (
    Journal,
    NotebookFailed,
    NotebookInterrupted,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
    RunInterrupted,
    RunResumed,
)

from .receiver import receiver
from .test_outputs import validate

pytestmark = pytest.mark.process

ROOT = Path(__file__).resolve().parents[2]
LOAD = "%load_ext sqlweave"


def starts(folder: Path, run_id: str) -> list[str]:
    return [
        e.notebook
        for e in Journal.of_project(folder).read(run_id)
        if isinstance(e, NotebookStarted)
    ]


def test_example_runs_in_lineage_order_then_only_stale_reruns_downstream(example: Path) -> None:
    params = {"min_orders": 1}
    first = run([example], params, RunOptions(jobs=2))
    assert first.ok, first.state
    events = Journal.of_project(example).read(first.run_id)
    done_at = {e.notebook: i for i, e in enumerate(events) if isinstance(e, NotebookSucceeded)}
    started_at = {e.notebook: i for i, e in enumerate(events) if isinstance(e, NotebookStarted)}
    assert len(started_at) == 5
    for edge in first.plan.edges:  # every notebook started after all its upstreams finished
        assert started_at[edge.downstream] > done_at[edge.upstream], edge
    warehouse = example / ".sqlweave" / "warehouse"
    regions = pq.read_table(warehouse / "revenue_by_region.parquet").column("region").to_pylist()
    assert sorted(regions) == ["east", "north", "south", "west"]
    assert (example / "monthly_revenue.csv").exists()
    executed = nbformat.read(first.output / "report.ipynb", as_version=4)
    injected = [
        c.source for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])
    ]
    assert injected == ["# Injected parameters\nmin_orders = 1\n"]

    # one source file changes: its ingest notebook and everything below it run again
    path = example / "data" / "customers.csv"
    rows = list(csv.reader(path.open()))
    rows[1][2] = "north" if rows[1][2] != "north" else "south"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    second = run([example], params, RunOptions(jobs=2, only_stale=True))
    assert second.ok
    assert sorted(starts(example, second.run_id)) == [
        "clean.ipynb",
        "ingest_customers.ipynb",
        "marts.ipynb",
        "report.ipynb",
    ]
    assert second.state.notebooks["ingest_orders.ipynb"].status is NotebookStatus.UP_TO_DATE
    reasons = {k: nb.reason for k, nb in second.state.notebooks.items()}
    assert reasons["ingest_customers.ipynb"] == "stale: source file data/customers.csv changed"
    assert reasons["clean.ipynb"] == "stale: upstream ingest_customers.ipynb runs again"
    third = run([example], params, RunOptions(only_stale=True))
    assert third.ok and starts(example, third.run_id) == []


def test_a_failure_stops_its_dependants_not_its_siblings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_notebook(tmp_path / "bad.ipynb", LOAD, "%%sql\nCREATE TABLE bad AS SELECT no_such_col")
    write_notebook(tmp_path / "child.ipynb", LOAD, "%%sql\nCREATE TABLE child AS SELECT * FROM bad")
    # a sibling that fails once, then succeeds on its retry
    write_notebook(
        tmp_path / "flaky.ipynb",
        "import pathlib\nmark = pathlib.Path('tried')\n"
        "if not mark.exists():\n    mark.touch()\n    raise RuntimeError('first attempt fails')",
        metadata={"writes": ["flaky_out"]},
    )
    with receiver() as server:
        code = main(
            [
                *("pipeline", "run", str(tmp_path), "--jobs", "2", "--retries", "1"),
                *("--backoff", "0", "--openlineage-url", server.url),
            ]
        )
        received = [event for _, event in server.received]
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED bad.ipynb, cell 2 after 2 attempts:" in err
    assert (
        "CREATE TABLE bad AS SELECT no_such_col" in err
        and "no_such_col" in err.split("attempts:")[1]
    )
    assert "not run: child.ipynb (upstream bad.ipynb failed)" in err
    # a line per notebook while the run goes on
    assert "FAILED   bad.ipynb (cell 2, " in err and "blocked  child.ipynb (upstream" in err
    assert "start    flaky.ipynb (attempt 2)" in err and "done     flaky.ipynb (" in err
    events = Journal.of_project(tmp_path).read()
    assert [e.notebook for e in events if isinstance(e, NotebookStarted)].count("child.ipynb") == 0
    flaky = [e for e in events if getattr(e, "notebook", "") == "flaky.ipynb"]
    assert [type(e).__name__ for e in flaky] == [
        "NotebookStarted",
        "NotebookFailed",
        "NotebookStarted",
        "NotebookSucceeded",
    ]
    assert isinstance(flaky[1], NotebookFailed) and flaky[1].retry
    # outputs: OpenLineage events POSTed to the receiver, the HTML report with the failing SQL
    assert [e["eventType"] for e in received if e["job"]["name"] == "bad.ipynb"] == [
        "START",
        "FAIL",
        "START",
        "FAIL",
    ]
    for event in received:
        validate(event)
    report = next(tmp_path.glob(".sqlweave/pipeline/runs/*/report.html")).read_text()
    assert "CREATE TABLE bad AS SELECT no_such_col" in report


def test_a_notebook_over_its_timeout_fails_and_a_dead_kernel_shows_its_stderr(
    tmp_path: Path,
) -> None:
    write_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(3600)")
    write_notebook(
        tmp_path / "dies.ipynb",
        "import os, sys\nsys.__stderr__.write('last words of the kernel\\n')\n"
        "sys.__stderr__.flush()\nos._exit(3)",
    )
    result = run([tmp_path], options=RunOptions(timeout=10))
    assert not result.ok
    failure = result.state.notebooks["slow.ipynb"].failure
    assert failure is not None and "timed out after 10 s" in failure.error
    died = result.state.notebooks["dies.ipynb"].failure
    assert died is not None and "the kernel died" in died.error
    assert "dies.kernel.log) ends:" in died.error and "last words of the kernel" in died.error


def _text(path: Path) -> str:
    """The file's text, or '' while it does not exist."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def private_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary folder of this test's own (short: it holds kernels' IPC sockets): any
    kernel start removes the socket folders of dead runners in its temporary folder, so in a
    shared one another process's kernel could remove the folder this test looks for."""
    folder = Path(tempfile.mkdtemp(prefix="swt-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_killed_runner_resumes_without_rerunning_finished_notebooks(
    tmp_path: Path, private_tmp: Path
) -> None:
    # a view made in one kernel is read in the next: the warehouse keeps its SQL
    write_notebook(
        tmp_path / "first.ipynb",
        LOAD,
        "%%sql\nCREATE TABLE t1 AS SELECT 1 AS x; CREATE VIEW v1 AS SELECT x FROM t1",
    )
    write_notebook(
        tmp_path / "second.ipynb",
        LOAD,
        # written whole, then renamed: the test never reads a half-written pid
        "import os, pathlib, time\npathlib.Path('kernel.pid.tmp').write_text(str(os.getpid()))\n"
        "os.replace('kernel.pid.tmp', 'kernel.pid')\n"
        "while not pathlib.Path('go').exists():\n    time.sleep(0.05)",
        "%%sql\nCREATE TABLE t2 AS SELECT x + 1 AS y FROM v1",
    )
    write_notebook(tmp_path / "third.ipynb", LOAD, "%%sql\nCREATE TABLE t3 AS SELECT y FROM t2")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(private_tmp),
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "sqlweave.cli", "pipeline", "run", str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pid_file = tmp_path / "kernel.pid"
    kernel = None
    try:
        wait_for(lambda: _text(pid_file), 120, "the second notebook to start")
        kernel = int(pid_file.read_text())
    finally:
        runner.send_signal(signal.SIGKILL)  # the runner only, never this process
        runner.wait()
    try:  # the orphaned kernel notices its parent is gone and exits
        wait_for(lambda: _gone(kernel), 30, "the orphaned kernel to exit")
    finally:
        if not _gone(kernel):
            os.kill(kernel, signal.SIGKILL)
    (tmp_path / "go").touch()
    orphaned = f"{RUNTIME_PREFIX}{runner.pid}-*"  # the killed runner's kernel sockets
    assert list(private_tmp.glob(orphaned))
    result = resume(tmp_path)
    assert result.ok, result.state
    assert not list(private_tmp.glob(orphaned))  # removed by the next start
    events = Journal.of_project(tmp_path).read(result.run_id)
    at = next(i for i, e in enumerate(events) if isinstance(e, RunResumed))
    before = [e.notebook for e in events[:at] if isinstance(e, NotebookStarted)]
    after = [e.notebook for e in events[at:] if isinstance(e, NotebookStarted)]
    assert before == ["first.ipynb", "second.ipynb"]
    assert after == ["second.ipynb", "third.ipynb"]
    assert pq.read_table(tmp_path / ".sqlweave" / "warehouse" / "t3.parquet").to_pylist() == [
        {"y": 2}
    ]
    with pytest.raises(PipelineError, match="no unfinished pipeline run"):
        resume(tmp_path)


def _waiting_notebook(path: Path, name: str, *after: str) -> None:
    """A notebook whose kernel writes ``NAME.pid`` and then waits for the file ``go``."""
    write_notebook(
        path,
        LOAD,
        f"import os, pathlib, time\npathlib.Path('{name}.pid').write_text(str(os.getpid()))\n"
        "while not pathlib.Path('go').exists():\n    time.sleep(0.05)",
        *after,
    )


def test_ctrl_c_interrupts_the_running_kernels_and_the_run_resumes(tmp_path: Path) -> None:
    write_notebook(tmp_path / "first.ipynb", LOAD, "%%sql\nCREATE TABLE t1 AS SELECT 1 AS x")
    _waiting_notebook(
        tmp_path / "second.ipynb", "second", "%%sql\nCREATE TABLE t2 AS SELECT x + 1 AS y FROM t1"
    )
    _waiting_notebook(tmp_path / "sibling.ipynb", "sibling", "%%sql\nCREATE TABLE s AS SELECT 1")
    write_notebook(tmp_path / "third.ipynb", LOAD, "%%sql\nCREATE TABLE t3 AS SELECT y FROM t2")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    runner = subprocess.Popen(
        [sys.executable, "-m", "sqlweave.cli", "pipeline", "run", ".", "--jobs", "2"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a signal for it reaches nothing else
    )
    pids = [tmp_path / "second.pid", tmp_path / "sibling.pid"]
    try:
        # a pid file is made, then written: wait for its text
        wait_for(lambda: all(_text(p) for p in pids), 120, "both waiting notebooks to start")
        kernels = [int(p.read_text()) for p in pids]
        runner.send_signal(signal.SIGINT)  # the runner only, as Ctrl-C in its terminal
        _, err = runner.communicate(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode == 130, err
    assert "interrupted: second.ipynb, sibling.ipynb" in err
    assert "not started: third.ipynb" in err
    assert "resume it with: sqlweave pipeline resume --project .\n" in err
    for kernel in kernels:  # stopped by the interrupt, not left running
        wait_for(lambda k=kernel: _gone(k), 30, f"kernel {kernel} to exit")
    events = Journal.of_project(tmp_path).read()
    interrupted = [e for e in events if isinstance(e, NotebookInterrupted)]
    assert sorted(e.notebook for e in interrupted) == ["second.ipynb", "sibling.ipynb"]
    assert all(e.cell == 2 for e in interrupted)  # the waiting cell
    assert isinstance(events[-1], RunInterrupted) and events[-1].signal == signal.SIGINT
    # the interrupted runner removed its kernels' socket folders itself
    assert not list(Path(tempfile.gettempdir()).glob(f"{RUNTIME_PREFIX}{runner.pid}-*"))
    (tmp_path / "go").touch()
    result = resume(tmp_path)
    assert result.ok, result.state
    events = Journal.of_project(tmp_path).read(result.run_id)
    at = next(i for i, e in enumerate(events) if isinstance(e, RunResumed))
    after = [e.notebook for e in events[at:] if isinstance(e, NotebookStarted)]
    assert sorted(after) == ["second.ipynb", "sibling.ipynb", "third.ipynb"]
    assert pq.read_table(tmp_path / ".sqlweave" / "warehouse" / "t3.parquet").to_pylist() == [
        {"y": 2}
    ]


def test_a_kernel_ignoring_the_interrupt_is_killed_after_the_grace(tmp_path: Path) -> None:
    from sqlweave.cancel import Cancel
    from sqlweave.runner import INTERRUPTED, run_notebook

    nb = write_notebook(
        tmp_path / "stubborn.ipynb",
        "import os, pathlib, signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "pathlib.Path('kernel.pid').write_text(str(os.getpid()))\n"
        "while True:\n    time.sleep(0.05)",
        "print('never runs')",
    )
    cancel = Cancel()
    pid_file = tmp_path / "kernel.pid"

    def cancel_once_looping() -> None:
        # no signal reaches pytest: the interrupt goes to the kernel's own process group
        try:
            wait_for(lambda: _text(pid_file), 120, "the kernel to start")
        finally:
            cancel.cancel()  # always: else a kernel that never wrote its pid loops forever

    canceller = threading.Thread(target=cancel_once_looping)
    canceller.start()
    try:
        report = run_notebook(nb, output=tmp_path / "out.ipynb", cancel=cancel, interrupt_grace=1)
    finally:
        canceller.join()
    assert report.interrupted and not report.ok
    assert report.failure is not None and report.failure.error == INTERRUPTED
    assert report.failure.index == 0  # stopped in the loop; the next cell never ran
    wait_for(lambda: _gone(int(pid_file.read_text())), 30, "the stubborn kernel to be killed")
