"""``sqlweave run``: parameters injected as valid Python; a cell timeout or a dead kernel stops
the run with a readable message and an ordinary output file."""

from __future__ import annotations

import math
import stat
import subprocess
import sys

import nbformat
import pytest

from sqlweave.runner import inject_parameters, parse_parameter


def test_non_finite_parameters_inject_as_valid_python():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    inject_parameters(nb, dict([parse_parameter("x=nan"), parse_parameter("y=-inf")]))
    ns: dict = {}
    exec(nb.cells[0].source, {}, ns)
    assert math.isnan(ns["x"]) and ns["y"] == -math.inf


def _notebook(tmp_path, source: str):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell("print('after')")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.process
@pytest.mark.parametrize(
    ("source", "args", "said"),
    [
        ("import time; time.sleep(60)", ["--timeout", "3"], "cell timed out after 3 s"),
        ("import os; os._exit(3)", [], "the kernel died"),
    ],
    ids=["timeout", "dead-kernel"],
)
def test_run_stops_on_timeout_and_dead_kernel(tmp_path, source, args, said):
    path = _notebook(tmp_path, source)
    out = tmp_path / "out.ipynb"
    proc = subprocess.run(
        [sys.executable, "-m", "sqlweave.cli", "run", str(path), "-o", str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert said in proc.stderr and source in proc.stderr
    assert nbformat.read(out, as_version=4).cells[1].get("execution_count") is None
    assert stat.S_IMODE(out.stat().st_mode) & 0o044  # an ordinary file, not 0600


def test_parameters_without_a_tagged_cell_go_on_top_with_a_warning():
    tagged = nbformat.v4.new_code_cell("code = 'AA'", metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), tagged])
    assert inject_parameters(nb, {"code": "DL"}) is None
    assert nb.cells[2].source.endswith("code = 'DL'\n")  # after the tagged cell
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("code = 'AA'")])
    assert "no cell tagged 'parameters'" in inject_parameters(nb, {"code": "DL"})
    assert nb.cells[0].source.endswith("code = 'DL'\n")
    assert inject_parameters(nb, {}) is None  # nothing injected, nothing to say


@pytest.mark.process
def test_run_warns_on_stderr_when_no_cell_is_tagged_parameters(tmp_path):
    path = _notebook(tmp_path, "code = 'AA'")
    proc = subprocess.run(
        [sys.executable, "-m", "sqlweave.cli", "run", str(path), "-p", "code=DL"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "sqlweave: warning: no cell tagged 'parameters'" in proc.stderr
