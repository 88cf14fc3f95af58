"""Switching notebooks while a cell runs: the panel shows the active notebook's graph, and the
running cell's update goes to its own notebook's panel state, shown when it comes back."""

from __future__ import annotations

import re

import pytest

from .labpage import (
    NOTEBOOK,
    cell,
    dataset_names,
    open_notebook,
    open_panel,
    run_all,
    wait_datasets,
    wait_kernel_idle,
    write_notebook,
)

pytestmark = pytest.mark.browser

HIDDEN_NOTEBOOK = ".jp-NotebookPanel.lm-mod-hidden"
FLAG = "switch_go.flag"


def _tab(page, name: str):
    return page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)


def _show(page, name: str) -> None:
    """Bring the notebook tab ``name`` to the front."""
    _tab(page, name).click()
    page.wait_for_selector(f".lm-TabBar-tab.lm-mod-current:has-text('{name}')")


def test_switching_notebooks_while_a_cell_runs(lab, page):
    (lab.root / FLAG).unlink(missing_ok=True)
    write_notebook(
        lab.root,
        "switch_a.ipynb",
        [
            "%load_ext sqlweave",
            "%%sql\nCREATE TABLE a_first AS SELECT 1 AS x",
            # the kernel waits for the test's go-ahead (a file), so the switch happens mid-run
            f"import pathlib, time\nwhile not pathlib.Path({FLAG!r}).exists():\n    time.sleep(0.05)",
            "%%sql\nCREATE TABLE a_late AS SELECT x FROM a_first",
        ],
    )
    write_notebook(
        lab.root,
        "switch_b.ipynb",
        ["%load_ext sqlweave", "%%sql\nCREATE TABLE b_only AS SELECT 2 AS y"],
    )
    open_notebook(page, lab.lab_url("switch_a.ipynb"))
    open_panel(page)
    page.locator(".jp-DirListing-itemText", has_text=re.compile(r"^switch_b\.ipynb$")).dblclick()
    page.wait_for_selector(".lm-TabBar-tab.lm-mod-current:has-text('switch_b')")
    wait_kernel_idle(page)
    run_all(page)
    wait_datasets(page, {"b_only"})

    _show(page, "switch_a.ipynb")
    # cell by cell: a comm can only open between cells, not behind a queue of them
    cell(page, 0).locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_datasets(page, {"a_first"})
    page.keyboard.press("Shift+Enter")  # the third cell waits for the flag...
    page.keyboard.press("Shift+Enter")  # ...and the fourth is queued behind it
    page.wait_for_function(
        "sel => /\\[\\*\\]/.test(document.querySelectorAll(sel + ' .jp-InputPrompt')[2].textContent)",
        arg=NOTEBOOK,
    )
    assert "b_only" not in dataset_names(page)

    _show(page, "switch_b.ipynb")
    wait_datasets(page, {"b_only"})
    assert dataset_names(page) == {"b_only"}
    (lab.root / FLAG).write_text("go")
    # notebook a (in the background) finishes: its last cell's prompt gets its number and
    # its kernel goes idle, which its graph message precedes on the same channel
    page.wait_for_function(
        """sel => {
            const prompts = document.querySelectorAll(sel + ' .jp-InputPrompt');
            return prompts.length >= 4 && /\\[\\d+\\]/.test(prompts[3].textContent);
        }""",
        arg=HIDDEN_NOTEBOOK,
    )
    page.wait_for_selector(
        f"{HIDDEN_NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached"
    )
    assert dataset_names(page) == {"b_only"}  # a's update did not land in b's panel

    _show(page, "switch_a.ipynb")
    wait_datasets(page, {"a_first", "a_late"})  # kept while a was in the background
    assert "b_only" not in dataset_names(page)
    assert re.search(r"\[\d+\]", cell(page, 3).locator(".jp-InputPrompt").inner_text())
