"""The Lineage panel as a first-time user meets it at the default sidebar width: the drawing
fits, search finds what is off-screen, focus buttons say what they need, columns expand
without hiding labels, and a legend explains the colours."""

from __future__ import annotations

import pytest

from .labpage import (
    PANEL,
    open_notebook,
    open_panel,
    run_all,
    wait_datasets,
    write_notebook,
)

pytestmark = pytest.mark.browser

#: the shape of the quickstart: six datasets, cells that write and cells that only read
SIX_DATASETS = [
    "%load_ext sqlweave",
    "import pandas as pd\n"
    'orders = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": [1, 2, 1],'
    ' "total": [10.0, 20.0, 5.0], "month": [1, 1, 2]})\n'
    'customers = pd.DataFrame({"customer_id": [1, 2], "name": ["a", "b"], "region": ["EU", "US"]})',
    "%%sql\nSELECT * FROM orders ORDER BY order_id LIMIT 5",
    "%%sql\nCREATE TABLE orders_ext AS SELECT * FROM orders;\nSELECT count(*) AS n FROM orders_ext",
    "%%sql by_region <<\nSELECT c.region, sum(o.total) AS revenue\n"
    "FROM orders o JOIN customers c USING (customer_id) GROUP BY c.region",
    "%%sql\nSELECT c.name, sum(o.total) AS spent FROM orders o JOIN customers c USING (customer_id)"
    " GROUP BY c.name",
    'targets = pd.DataFrame({"region": ["EU", "US"], "target": [1.0, 2.0]})',
    "%%sql\nSELECT b.region, b.revenue / t.target AS pct FROM by_region b JOIN targets t USING (region)",
    "%%sql\nCREATE TABLE monthly AS SELECT month, sum(total) AS revenue FROM orders GROUP BY month",
]
SIX = {"orders", "customers", "orders_ext", "by_region", "targets", "monthly"}

#: label sizes on screen: CSS size times the drawing's scale
LABEL_PX = """ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) *
    (t.ownerSVGElement.getBoundingClientRect().width / t.ownerSVGElement.viewBox.baseVal.width))"""

#: the dataset names whose box lies wholly inside the panel's scrolled view
VISIBLE = """panel => {
    const view = panel.querySelector('.sqlweave-canvas').getBoundingClientRect();
    return [...panel.querySelectorAll('.sqlweave-graph [data-kind=dataset]')].filter(n => {
        const r = n.getBoundingClientRect();
        return r.left >= view.left - 1 && r.right <= view.right + 1
            && r.top >= view.top - 1 && r.bottom <= view.bottom + 1;
    }).map(n => n.dataset.name);
}"""


def _open(lab, page, name: str, cells: list[str], datasets: set[str]) -> None:
    write_notebook(lab.root, name, cells)
    open_notebook(page, lab.lab_url(name))
    open_panel(page)
    run_all(page)
    wait_datasets(page, datasets)
    # the exact (dagre) layout is on screen, not a provisional one
    page.wait_for_selector(
        f"{PANEL} .sqlweave-canvas[data-layout='exact'][data-layout-thread='worker']"
    )


def _scale(page) -> float:
    return float(page.locator(f"{PANEL} .sqlweave-canvas").get_attribute("data-scale"))


def test_default_width_shows_every_dataset_readably(lab, page):
    _open(lab, page, "six.ipynb", SIX_DATASETS, SIX)
    width = page.locator(PANEL).bounding_box()["width"]
    assert width < 320  # Lab's default right sidebar, untouched
    panel = page.locator(PANEL)
    # fitted, every dataset lies wholly inside the panel's view: the wide rank of sources
    # wraps into rows instead of running off both edges
    assert _scale(page) >= 11 / 12 - 1e-3
    visible = panel.evaluate(VISIBLE)
    assert set(visible) == SIX, visible
    sizes = page.locator(f"{PANEL} .sqlweave-graph text").evaluate_all(LABEL_PX)
    assert sizes and min(sizes) >= 11 - 0.01

    legend = page.locator(f"{PANEL} .sqlweave-legend-item").evaluate_all(
        "items => items.map(i => i.dataset.legend)"
    )
    assert legend == ["table", "dataframe", "cell", "read-only", "stale", "impact"]

    fitted = _scale(page)
    page.locator(f"{PANEL} .sqlweave-zoom-in").click()
    assert _scale(page) > fitted
    page.locator(f"{PANEL} .sqlweave-zoom-out").click()
    page.locator(f"{PANEL} .sqlweave-zoom-out").click()
    assert _scale(page) < fitted
    page.locator(f"{PANEL} .sqlweave-zoom-fit").click()
    assert _scale(page) == pytest.approx(fitted)


def _chain(n: int) -> list[str]:
    """A notebook of ``n`` tables, each made from the one before: too long for the panel."""
    cells = ["%load_ext sqlweave", "%%sql\nCREATE TABLE step_00 AS SELECT 1 AS x"]
    cells += [
        f"%%sql\nCREATE TABLE step_{i:02d} AS SELECT x + 1 AS x FROM step_{i - 1:02d}"
        for i in range(1, n)
    ]
    return cells


def test_search_pans_to_the_match_and_focus_acts_on_it(lab, page):
    _open(lab, page, "chain.ipynb", _chain(16), {"step_00", "step_15"})
    panel = page.locator(PANEL)
    visible = panel.evaluate(VISIBLE)
    # scrolled, not shrunk: the view follows the last cell run, the first table is out of view
    assert "step_15" in visible and "step_00" not in visible

    upstream = page.locator(f"{PANEL} .sqlweave-mode[data-mode='upstream']")
    assert upstream.is_disabled()
    assert "select a node first" in upstream.get_attribute("title").lower()

    page.locator(f"{PANEL} .sqlweave-search").fill("step_00")
    page.wait_for_selector(f"{PANEL} [data-name='step_00'].sqlweave-match.sqlweave-current")
    page.wait_for_function(
        f"panel => ({VISIBLE})(panel).includes('step_00')", arg=panel.element_handle()
    )
    # the dataset and the two cells whose SQL names it
    assert "1 of 3 matches" in page.locator(f"{PANEL} .sqlweave-details").inner_text()

    # with no node clicked, the focus buttons act on the search match
    assert upstream.is_enabled()
    assert "step_00" in upstream.get_attribute("title")
    page.locator(f"{PANEL} .sqlweave-search").fill("")
    assert upstream.is_disabled()
    page.locator(f"{PANEL} .sqlweave-search").fill("step_14")
    page.locator(f"{PANEL} .sqlweave-mode[data-mode='downstream']").click()
    dimmed = page.locator(f"{PANEL} [data-kind='dataset'].sqlweave-dim").evaluate_all(
        "ns => ns.map(n => n.dataset.name)"
    )
    assert sorted(dimmed) == [f"step_{i:02d}" for i in range(14)]  # downstream of step_14
    page.locator(f"{PANEL} .sqlweave-search").fill("")
    # nothing selected and nothing searched: the mode has nothing to act on
    assert upstream.is_disabled()
    assert page.locator(f"{PANEL} .sqlweave-graph .sqlweave-dim").count() == 0


def test_columns_expand_with_their_edges_under_the_labels(lab, page):
    cells = [
        "%load_ext sqlweave",
        'import pandas as pd\nflights = pd.DataFrame({"carrier": ["AA"], "dep_delay": [5]})',
        "%%sql\nCREATE TABLE delays AS SELECT carrier, dep_delay FROM flights",
        "%%sql\nCREATE TABLE by_carrier AS\n"
        "SELECT carrier, avg(dep_delay) AS avg_delay FROM delays GROUP BY carrier",
    ]
    _open(lab, page, "columns.ipynb", cells, {"flights", "delays", "by_carrier"})
    assert page.locator(f"{PANEL} .sqlweave-graph .sqlweave-column").count() == 0
    for name in ("delays", "by_carrier"):
        node = page.locator(f"{PANEL} [data-kind='dataset'][data-name='{name}']")
        node.locator(".sqlweave-toggle").click()
        page.wait_for_selector(
            f"{PANEL} [data-kind='dataset'][data-name='{name}'] .sqlweave-column"
        )
    by_carrier = page.locator(f"{PANEL} [data-kind='dataset'][data-name='by_carrier']")
    assert sorted(by_carrier.locator(".sqlweave-column").all_text_contents()) == [
        "avg_delay",
        "carrier",
    ]
    edges = page.locator(f"{PANEL} .sqlweave-column-edge")
    titles = edges.evaluate_all("es => es.map(e => e.querySelector('title').textContent)")
    assert any(t.startswith("delays.dep_delay → by_carrier.avg_delay") for t in titles), titles
    # every column label is the topmost thing where it is drawn: no edge hides it
    hidden = page.locator(f"{PANEL} .sqlweave-graph .sqlweave-column").evaluate_all(
        """ts => ts.filter(t => {
            const r = t.getBoundingClientRect();
            const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return !(top && t.closest('.sqlweave-node').contains(top));
        }).map(t => t.textContent)"""
    )
    assert hidden == []
    # collapsing takes the columns and their edges away again
    by_carrier.locator(".sqlweave-toggle").click()
    page.wait_for_function(
        "sel => !document.querySelector(sel)",
        arg=f"{PANEL} [data-name='by_carrier'] .sqlweave-column",
    )
    assert edges.count() == 0
