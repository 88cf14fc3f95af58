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
    # another notebook's in-memory table lives in its own kernel: named after its notebook
    elsewhere = "elsewhere_src.ipynb:elsewhere"
    wait_datasets(page, {"raw", "clean", elsewhere})
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
        """([sel, name]) => ![...document.querySelectorAll(sel)].some(
            n => n.dataset.name === name)""",
        arg=[f"{PANEL} .sqlweave-graph [data-kind='dataset']", elsewhere],
    )


#: the stroke colour a node's (or legend swatch's) box is drawn with
STROKE = "n => getComputedStyle(n.querySelector('rect')).stroke"


def test_impact_has_its_own_colour_and_re_runs_the_cells_that_only_read(lab, page):
    write_notebook(
        lab.root,
        "impact.ipynb",
        [
            "%load_ext sqlweave",
            "%%sql\nCREATE TABLE raw AS SELECT 1 AS id, 2 AS amount",
            "%%sql\nCREATE TABLE clean AS SELECT id, amount FROM raw",
            "%%sql\nCREATE TABLE summary AS SELECT sum(amount) AS total FROM clean",
            "%%sql\nSELECT * FROM summary",
            "%%sql\nCREATE TABLE other AS SELECT 5 AS z",
            "%%sql\nCREATE TABLE side AS SELECT z FROM other",
            "%%sql\nCREATE OR REPLACE TABLE other AS SELECT 6 AS z",  # side's cell: stale
        ],
    )
    open_notebook(page, lab.lab_url("impact.ipynb"))
    open_panel(page)
    run_all(page)
    wait_datasets(page, {"raw", "clean", "summary", "other", "side"})
    page.wait_for_selector(f"{PANEL} .sqlweave-stale-node")
    page.locator(f"{PANEL} [data-kind='dataset'][data-name='clean'] .sqlweave-label").click()
    page.locator(f"{PANEL} .sqlweave-mode[data-mode='impact']").click()
    page.wait_for_selector(f"{PANEL} .sqlweave-impacted")

    details = page.locator(f"{PANEL} .sqlweave-details").inner_text()
    assert details.endswith("Re-run: [4], [5] (only reads)"), details
    impacted = page.locator(f"{PANEL} .sqlweave-graph .sqlweave-impacted")
    names = impacted.evaluate_all(
        "ns => ns.map(n => n.dataset.kind === 'cell' ? n.querySelector('title').textContent"
        ".split(' ')[0] : n.dataset.name)"
    )
    assert sorted(names) == ["[4]", "[5]", "summary"]
    impact_colour = impacted.first.evaluate(STROKE)
    stale_colour = page.locator(f"{PANEL} .sqlweave-graph .sqlweave-stale-node").evaluate(STROKE)
    assert impact_colour != stale_colour
    legend = page.locator(f"{PANEL} .sqlweave-legend-item[data-legend='impact']")
    assert legend.inner_text() == "affected (Impact)"
    assert legend.evaluate(STROKE) == impact_colour
    # leaving Impact mode takes the colour away
    page.locator(f"{PANEL} .sqlweave-mode[data-mode='upstream']").click()
    assert page.locator(f"{PANEL} .sqlweave-graph .sqlweave-impacted").count() == 0
