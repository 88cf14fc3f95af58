"""What a person does in JupyterLab, as Playwright steps that wait on conditions."""

from __future__ import annotations

import re
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
    wait_kernel_idle(page)


def wait_kernel_idle(page: Any) -> None:
    """The notebook has a started kernel and it is idle (status bar: "Python 3 ... | Idle")."""
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
                 .some(t => /Python 3.*\\| Idle/.test(t.textContent))"""
    )
    page.wait_for_selector(IDLE)


def menu(page: Any, *path: str) -> None:
    """Click through the main menu, e.g. ``menu(page, "Run", "Run All Cells")``."""
    page.locator("#jp-MainMenu").get_by_role("menuitem", name=path[0], exact=True).click()
    for name in path[1:]:
        label = re.compile(f"^{re.escape(name)}$")
        page.locator(".lm-Menu .lm-Menu-itemLabel").filter(has_text=label).last.click()


def run_all(page: Any) -> None:
    """Run every cell and wait until each has its execution count and the kernel is idle."""
    menu(page, "Run", "Run All Cells")
    wait_executed(page)


def wait_executed(page: Any) -> None:
    """Every non-empty code cell has its execution count (Lab does not run empty cells)."""
    page.wait_for_function(
        """sel => {
            const cells = [...document.querySelectorAll(sel + ' .jp-CodeCell')]
                .filter(c => c.querySelector('.cm-content').textContent.trim() !== '');
            return cells.length > 0 && cells.every(
                c => /\\[\\d+\\]/.test(c.querySelector('.jp-InputPrompt').textContent));
        }""",
        arg=NOTEBOOK,
    )
    wait_kernel_idle(page)


def cell(page: Any, index: int) -> Any:
    return page.locator(f"{NOTEBOOK} .jp-Cell").nth(index)


def token_texts(page: Any, index: int, token_class: str) -> list[str]:
    """Texts of the editor spans of cell ``index`` carrying a ``tok-*`` class."""
    return cell(page, index).locator(f".cm-content .{token_class}").all_inner_texts()


PANEL_TAB = ".jp-SideBar.jp-mod-right li[data-id='sqlweave-lineage-panel']"
PANEL = "#sqlweave-lineage-panel"


def open_panel(page: Any) -> None:
    if not page.locator(PANEL).is_visible():
        page.locator(PANEL_TAB).click()
    page.wait_for_selector(f"{PANEL} .sqlweave-lineage")


def dataset_names(page: Any) -> set[str]:
    return set(
        page.locator(f"{PANEL} .sqlweave-graph [data-kind='dataset']").evaluate_all(
            "nodes => nodes.map(n => n.dataset.name)"
        )
    )


def wait_datasets(page: Any, names: set[str]) -> None:
    page.wait_for_function(
        """([sel, names]) => {
            const have = new Set([...document.querySelectorAll(sel)].map(n => n.dataset.name));
            return names.every(n => have.has(n));
        }""",
        arg=[f"{PANEL} .sqlweave-graph [data-kind='dataset']", sorted(names)],
    )


def active_cell_index(page: Any) -> int:
    return page.evaluate(
        """sel => [...document.querySelectorAll(sel + ' .jp-Cell')]
                  .findIndex(c => c.classList.contains('jp-mod-active'))""",
        NOTEBOOK,
    )
