"""Stale cells marked in the notebook, and the panel's whole-folder switch."""

from __future__ import annotations

import pytest

from sqlweave.runner import run_notebook

from .labpage import (
    NOTEBOOK,
    PANEL,
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


def test_stale_cells_are_marked_and_the_folder_switch_shows_other_notebooks(lab, page):
    other = write_notebook(
        lab.root,
        "elsewhere_src.ipynb",
        ["%load_ext sqlweave", "%%sql\nCREATE TABLE elsewhere AS SELECT 1 AS e"],
    )
    report = run_notebook(other, output=lab.root / "elsewhere.ipynb", cwd=lab.root)
    assert report.ok, report.failure and report.failure.summary()

    write_notebook(
        lab.root,
        "stale.ipynb",
        [
            "%load_ext sqlweave",
            "%%sql\nCREATE OR REPLACE TABLE raw AS SELECT 1 AS x",
            "%%sql\nCREATE OR REPLACE TABLE clean AS SELECT x FROM raw",
        ],
    )
    open_notebook(page, lab.lab_url("stale.ipynb"))
    open_panel(page)
    run_all(page)
    wait_datasets(page, {"raw", "clean"})
    assert page.locator(f"{NOTEBOOK} .jp-Cell.sqlweave-stale").count() == 0
    assert "elsewhere" not in dataset_names(page)

    cell(page, 1).locator(".cm-content").click()  # raw is rewritten after clean was made
    page.keyboard.press("Control+Enter")
    wait_kernel_idle(page)
    page.wait_for_function(
        "sel => document.querySelectorAll(sel + ' .jp-Cell')[2].classList.contains('sqlweave-stale')",
        arg=NOTEBOOK,
    )
    assert page.locator(f"{NOTEBOOK} .jp-Cell.sqlweave-stale").count() == 1
    assert "raw" in cell(page, 2).get_attribute("data-sqlweave-stale")
    page.wait_for_selector(f"{PANEL} .sqlweave-stale-node")

    page.locator(f"{PANEL} .sqlweave-scope input").check()
    wait_datasets(page, {"raw", "clean", "elsewhere"})
    # cells of different notebooks are told apart by their notebook's name
    labels = page.locator(f"{PANEL} .sqlweave-graph [data-kind='cell']").evaluate_all(
        "ns => ns.map(n => [n.dataset.notebook, n.querySelector('title').textContent])"
    )
    by_notebook = {nb: title.split("\n")[0] for nb, title in labels}
    assert by_notebook.get("elsewhere_src.ipynb", "").startswith("elsewhere_src › "), labels
    assert by_notebook["stale.ipynb"].startswith("stale › "), labels
    drawn = page.locator(
        f"{PANEL} .sqlweave-graph [data-kind='cell'][data-notebook='elsewhere_src.ipynb'] text"
    ).first.text_content()
    assert drawn.startswith("elsewhere_src")
    page.locator(f"{PANEL} .sqlweave-scope input").uncheck()
    page.wait_for_function(
        """sel => ![...document.querySelectorAll(sel)].some(n => n.dataset.name === 'elsewhere')""",
        arg=f"{PANEL} .sqlweave-graph [data-kind='dataset']",
    )
