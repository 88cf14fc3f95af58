"""Run All on a fresh notebook: the panel shows each dataset as its cell finishes, not after
the last queued cell (the kernel opens the comm on IOPub at ``%load_ext sqlweave``; a comm
opened by the frontend would wait behind every queued execute_request)."""

from __future__ import annotations

import re

import pytest

from .labpage import (
    cell,
    dataset_names,
    menu,
    open_notebook,
    open_panel,
    wait_datasets,
    wait_executed,
    write_notebook,
)

pytestmark = pytest.mark.browser

FLAGS = ("run_all_go1.flag", "run_all_go2.flag")


def _wait_for(flag: str) -> str:
    """A cell that blocks the kernel until the test creates ``flag``."""
    return f"import pathlib, time\nwhile not pathlib.Path({flag!r}).exists():\n    time.sleep(0.05)"


def _still_pending(page, index: int) -> bool:
    """Cell ``index`` is queued or running (prompt ``[*]``), not executed."""
    return bool(re.search(r"\[\*\]", cell(page, index).locator(".jp-InputPrompt").inner_text()))


def test_run_all_updates_the_panel_after_each_cell(lab, page):
    for flag in FLAGS:
        (lab.root / flag).unlink(missing_ok=True)
    write_notebook(
        lab.root,
        "run_all.ipynb",
        [
            "%load_ext sqlweave",
            "%%sql\nCREATE TABLE ra_first AS SELECT 1 AS x",
            _wait_for(FLAGS[0]),
            "%%sql\nCREATE TABLE ra_second AS SELECT x FROM ra_first",
            _wait_for(FLAGS[1]),
            "%%sql\nCREATE TABLE ra_third AS SELECT x FROM ra_second",
        ],
    )
    try:
        open_notebook(page, lab.lab_url("run_all.ipynb"))
        open_panel(page)
        menu(page, "Run", "Run All Cells")

        wait_datasets(page, {"ra_first"})  # while the third cell waits for the first flag
        assert _still_pending(page, 2) and _still_pending(page, 5)
        assert dataset_names(page) == {"ra_first"}

        (lab.root / FLAGS[0]).write_text("go")
        wait_datasets(page, {"ra_first", "ra_second"})
        assert _still_pending(page, 4) and _still_pending(page, 5)

        (lab.root / FLAGS[1]).write_text("go")
        wait_executed(page)
        wait_datasets(page, {"ra_first", "ra_second", "ra_third"})
    finally:
        for flag in FLAGS:  # never leave the kernel blocked
            (lab.root / flag).write_text("go")
