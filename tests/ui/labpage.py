"""What a person does in JupyterLab, as Playwright steps that wait on conditions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"
#: the kernel indicator in the notebook toolbar
IDLE = f"{NOTEBOOK} .jp-Notebook-ExecutionIndicator[data-status='idle']"


def write_notebook(folder: Path, name: str, sources: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / name
    nbformat.write(nb, path)
    return path


def open_notebook(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell")
    page.wait_for_selector(IDLE)


def menu(page: Any, *path: str) -> None:
    """Click through the main menu, e.g. ``menu(page, "Run", "Run All Cells")``."""
    page.locator("#jp-MainMenu").get_by_role("menuitem", name=path[0], exact=True).click()
    for name in path[1:]:
        page.locator(".lm-Menu").get_by_role("menuitem", name=name, exact=True).last.click()


def run_all(page: Any) -> None:
    """Run every cell and wait until each has its execution count and the kernel is idle."""
    menu(page, "Run", "Run All Cells")
    wait_executed(page)


def wait_executed(page: Any) -> None:
    page.wait_for_function(
        """sel => {
            const prompts = [...document.querySelectorAll(sel + ' .jp-CodeCell .jp-InputPrompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        arg=NOTEBOOK,
    )
    page.wait_for_selector(IDLE)


def cell(page: Any, index: int) -> Any:
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)


def token_texts(page: Any, index: int, token_class: str) -> list[str]:
    """Texts of the editor spans of cell ``index`` carrying a ``tok-*`` class."""
    return cell(page, index).locator(f".cm-content .{token_class}").all_inner_texts()
