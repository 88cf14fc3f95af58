"""The panel with a kernel's life: sqlweave loaded late, then the kernel restarted."""

from __future__ import annotations

import pytest

from .labpage import (
    NOTEBOOK,
    PANEL,
    cell,
    menu,
    open_notebook,
    open_panel,
    run_all,
    wait_datasets,
    wait_kernel_idle,
    write_notebook,
)

pytestmark = pytest.mark.browser

STATUS = f"{PANEL} .sqlweave-status"


def _run_cell(page, index: int) -> None:
    cell(page, index).locator(".cm-content").click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function(
        """([sel, i]) => /\\[\\d+\\]/.test(
              document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')[i].textContent)""",
        arg=[NOTEBOOK, index],
    )
    wait_kernel_idle(page)


def test_panel_connects_after_a_late_load_ext_and_after_a_restart(lab, page):
    write_notebook(
        lab.root,
        "kernel_life.ipynb",
        ["x = 1", "%load_ext sqlweave", "%%sql\nCREATE TABLE life AS SELECT 1 AS a"],
    )
    open_notebook(page, lab.lab_url("kernel_life.ipynb"))
    open_panel(page)
    _run_cell(page, 0)  # a plain Python cell: nothing to connect to yet
    page.wait_for_selector(f"{STATUS}:has-text('%load_ext sqlweave')")

    _run_cell(page, 1)  # the panel retries after each cell, so this load connects it
    _run_cell(page, 2)
    wait_datasets(page, {"life"})

    menu(page, "Kernel", "Restart Kernel…")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()  # "Restart"
    page.wait_for_selector(f"{STATUS}:has-text('%load_ext sqlweave')")  # the old graph is gone
    assert page.locator(f"{PANEL} .sqlweave-graph").count() == 0

    run_all(page)
    wait_datasets(page, {"life"})
