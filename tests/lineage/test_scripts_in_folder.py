"""Headless IPython runs in the folder view: ``ipython build.ipy`` (a real process) is
grouped under its script, each run replacing the last; runs with no file at all (``python -c``
driving IPython, a terminal) stay out of ``%lineage --folder`` except the session's own, and
stay in the session's own view."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sqlweave.lineage.runs import INTERACTIVE, SCRIPT_CELL
from sqlweave.lineage.store import DEFAULT_PATH, LineageStore
from sqlweave.magics.lineage import LineageMagics
from sqlweave.magics.sql import SqlWeave

pytestmark = pytest.mark.process

SCRIPT = """\
%load_ext sqlweave
%sql CREATE TABLE base AS SELECT 1 AS x
%sql CREATE TABLE derived AS SELECT x FROM base
"""
PYTHON_C = (
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "ip = InteractiveShell.instance()\n"
    "ip.run_cell('%load_ext sqlweave')\n"
    "ip.run_cell('%sql CREATE TABLE scratch AS SELECT 1 AS y').raise_error()\n"
)


def run(*args: str, folder: Path) -> None:
    """Run ``python args`` in ``folder`` (sqlweave importable as in this process); the
    extension writes its lineage to the folder's store at exit."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def lineage_magics(ip) -> LineageMagics:
    (magics,) = [c for c in ip.configurables if isinstance(c, SqlWeave)]
    return magics.lineage_magics


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``ipython build.ipy`` ran twice and a ``python -c`` IPython once."""
    folder = tmp_path_factory.mktemp("scripts")
    (folder / "build.ipy").write_text(SCRIPT, encoding="utf-8")
    for _ in range(2):
        run("-m", "IPython", "build.ipy", folder=folder)
    run("-c", PYTHON_C, folder=folder)
    return folder


@pytest.fixture
def folder(ran: Path, tmp_path: Path) -> Path:
    """A copy of :func:`ran`'s folder as the test's working folder (where `ip` loads)."""
    shutil.copytree(ran, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_a_script_run_by_ipython_is_grouped_under_its_path_and_replaced_on_rerun(folder) -> None:
    store = LineageStore(folder / DEFAULT_PATH)
    runs = store.runs("build.ipy")
    assert [(r.info.cell_id, r.info.sql) for r in runs] == [
        (SCRIPT_CELL, "CREATE TABLE base AS SELECT 1 AS x"),
        (SCRIPT_CELL, "CREATE TABLE derived AS SELECT x FROM base"),
    ]
    assert len({r.info.session_id for r in runs}) == 1  # the second run replaced the first
    assert [r.info.sql for r in store.runs(INTERACTIVE)] == [
        "CREATE TABLE scratch AS SELECT 1 AS y"
    ]


def test_folder_view_shows_scripts_but_no_other_sessions_runs_outside_files(
    folder, ip, monkeypatch
) -> None:
    # a notebook of the folder (the `ip` fixture loaded the extension in `folder`)
    monkeypatch.setitem(ip.user_ns, "__session__", str(folder / "report.ipynb"))
    ip.run_cell("%%sql\nCREATE TABLE report AS SELECT 1 AS x", cell_id="r").raise_error()
    magics = lineage_magics(ip)
    graph = magics.notebook_graph(folder=True)
    assert {r.info.notebook for r in graph.runs} == {"build.ipy", "report.ipynb"}
    assert "scratch" not in graph.datasets()
    # the script ran in a process of its own: its in-memory tables are named after it
    impact = repr(ip.run_line_magic("lineage", "impact build.ipy:base --folder"))
    assert "derived" in impact and f"cell {SCRIPT_CELL} of build.ipy" in impact
    assert "outside any cell" not in impact and INTERACTIVE not in impact
    drawing = ip.run_line_magic("lineage", "--folder")
    assert repr(drawing).startswith("lineage graph: 3 datasets")  # base, derived, report
    assert "derived" in drawing.svg and "scratch" not in drawing.svg


def test_a_terminal_session_keeps_its_own_runs_in_both_views(folder, ip) -> None:
    ip.run_cell("%sql CREATE TABLE mine AS SELECT 1 AS z").raise_error()
    magics = lineage_magics(ip)
    own = magics.notebook_graph()
    assert {"mine", "scratch"} <= set(own.datasets())  # the per-session view: every run
    in_folder = magics.notebook_graph(folder=True).datasets()
    assert "mine" in in_folder and "build.ipy:base" in in_folder and "scratch" not in in_folder
