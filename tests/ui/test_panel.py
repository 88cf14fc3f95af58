"""The Lineage side panel and the schema browser, in a real JupyterLab with a real kernel."""

from __future__ import annotations

import pytest

from .labpage import (
    NOTEBOOK,
    PANEL,
    active_cell_index,
    cell,
    dataset_names,
    open_notebook,
    open_panel,
    run_all,
    wait_datasets,
    write_notebook,
)

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext sqlweave",
    'import pandas as pd\nflights = pd.DataFrame({"carrier": ["AA", "UA", "AA"], "dep_delay": [5, 20, 0]})',
    "%%sql\nCREATE TABLE delays AS SELECT carrier, dep_delay FROM flights WHERE dep_delay > 0",
    "%%sql\nCREATE TABLE by_carrier AS\nSELECT carrier, avg(dep_delay) AS avg_delay FROM delays GROUP BY carrier",
    "%%sql\nSELECT * FROM by_carrier;\nSELECT count(*) AS n FROM delays",
    "%lineage",
]


@pytest.fixture
def lineage_notebook(lab, page, request):
    name = f"{request.node.name}.ipynb"  # its own notebook, so its own kernel
    write_notebook(lab.root, name, CELLS)
    open_notebook(page, lab.lab_url(name))
    open_panel(page)
    run_all(page)
    wait_datasets(page, {"flights", "delays", "by_carrier"})
    return page


def test_panel_shows_datasets_and_folded_cells(lineage_notebook):
    page = lineage_notebook
    assert dataset_names(page) == {"flights", "delays", "by_carrier"}
    cells = page.locator(f"{PANEL} .sqlweave-graph [data-kind='cell']")
    assert cells.count() == 3  # one node per %%sql cell: the two SELECTs are folded into one
    assert page.locator(f"{PANEL} .sqlweave-graph .sqlweave-readonly").count() == 1
    sizes = page.locator(f"{PANEL} .sqlweave-graph text").evaluate_all(
        "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) * "
        "(t.ownerSVGElement.getBoundingClientRect().width / t.ownerSVGElement.width.baseVal.value))"
    )
    assert sizes and min(sizes) >= 11  # readable at the default size: no shrinking to fit


def test_clicking_a_dataset_shows_its_cell_and_counts(lineage_notebook):
    page = lineage_notebook
    cell(page, 0).click()  # the active cell is elsewhere
    page.locator(f"{PANEL} [data-kind='dataset'][data-name='by_carrier']").click()
    page.wait_for_function(
        """sel => [...document.querySelectorAll(sel + ' .jp-Cell')][3].classList.contains('jp-mod-active')""",
        arg=NOTEBOOK,
    )
    assert active_cell_index(page) == 3

    page.locator(f"{PANEL} [data-kind='dataset'][data-name='delays']").click()
    details = page.locator(f"{PANEL} .sqlweave-details")
    assert "1 upstream, 1 downstream datasets; read by 2 cells" in details.inner_text()
    page.locator(f"{PANEL} .sqlweave-mode[data-mode='upstream']").click()
    dimmed = page.locator(f"{PANEL} [data-kind='dataset'].sqlweave-dim").evaluate_all(
        "ns => ns.map(n => n.dataset.name)"
    )
    assert dimmed == ["by_carrier"]  # upstream of delays: flights only

    page.locator(f"{PANEL} .sqlweave-search").fill("carrier")
    page.wait_for_selector(f"{PANEL} [data-name='by_carrier'].sqlweave-match")


def test_schema_browser_lists_tables_and_inserts_names(lineage_notebook):
    page = lineage_notebook
    tables = page.locator(f"{PANEL} .sqlweave-table-name")
    page.wait_for_function(
        "sel => [...document.querySelectorAll(sel)].some(n => n.textContent === 'by_carrier')",
        arg=f"{PANEL} .sqlweave-table-name",
    )
    names = set(tables.all_inner_texts())
    assert {"delays", "by_carrier", "flights"} <= names
    page.locator(f"{PANEL} .sqlweave-table[data-source='dataframe'] summary").filter(
        has_text="flights"
    ).locator("xpath=..").evaluate("d => d.open = true")
    assert (
        "dep_delay"
        in page.locator(f"{PANEL} .sqlweave-table").filter(has_text="flights").inner_text()
    )

    target = cell(page, 4).locator(".cm-content")
    target.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nSELECT * FROM ")
    page.locator(f"{PANEL} .sqlweave-table-name", has_text="by_carrier").first.click()
    _wait_cell_text(page, 4, "FROM by_carrier")

    # names follow each other with sensible separators, never glued together
    flights = page.locator(f"{PANEL} .sqlweave-table").filter(has_text="flights")
    target.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nSELECT")
    flights.locator(".sqlweave-column-name", has_text="carrier").click()
    flights.locator(".sqlweave-column-name", has_text="dep_delay").click()
    page.keyboard.type(" FROM")
    page.locator(f"{PANEL} .sqlweave-table-name", has_text="flights").first.click()
    page.locator(f"{PANEL} .sqlweave-table-name", has_text="delays").first.click()
    _wait_cell_text(page, 4, "SELECT carrier, dep_delay FROM flights, delays")


def _wait_cell_text(page, index: int, text: str) -> None:
    page.wait_for_function(
        """([sel, i, text]) => [...document.querySelectorAll(sel + ' .jp-Cell')][i]
                  .querySelector('.cm-content').textContent.includes(text)""",
        arg=[NOTEBOOK, index, text],
    )
