"""What a new user met first with pipelines: cells numbered as their notebook numbers them,
the project folder given as for ``run``, why a notebook ran again."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_files import write_notebook

from sqlweave.cli import main

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
