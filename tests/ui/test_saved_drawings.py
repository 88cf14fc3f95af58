"""Lineage drawings in a real JupyterLab: saved notebooks reopened untrusted, and the live
inline widget (label size, folded queries, up/downstream counts)."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from sqlweave.runner import WIDGET_VIEW, run_notebook

from .labpage import NOTEBOOK, menu, open_notebook, run_all, wait_kernel_idle, write_notebook

pytestmark = pytest.mark.browser

SAVED_CELLS = [
    "%load_ext sqlweave\nimport pandas as pd\n"
    "flights = pd.DataFrame({'carrier': ['AA', 'UA', 'AA'], 'delay': [5.0, None, 12.0]})",
    "%%sql\nCREATE TABLE late AS SELECT carrier, delay FROM flights WHERE delay > 0",
    "%%sql\nSELECT carrier, count(*) AS n FROM late GROUP BY carrier ORDER BY carrier",
    "%lineage",
]

FRAMES = ("flights", "airports", "carriers", "planes", "weather")
#: 20 SELECTs over 5 DataFrames in 8 cells
INLINE_CELLS = [
    "%load_ext sqlweave\nimport pandas as pd\n"
    + "\n".join(f"{n} = pd.DataFrame({{'id': [1, 2], 'v': [1.0, 2.0]}})" for n in FRAMES),
    *(
        "%%sql\n"
        + ";\n".join(f"SELECT count(*) AS n FROM {FRAMES[(i + j) % 5]}" for j in range(size))
        for i, size in enumerate((4, 3, 3, 2, 2, 2, 2, 2))
    ),
    "%lineage --interactive",
]

#: the output of the cell holding ``%lineage`` (its index is given)
OUTPUT = NOTEBOOK + " .jp-Cell:nth-child({}) .jp-OutputArea-output"


def _saved(lab, name: str, how: str) -> str:
    src = write_notebook(lab.root, f"src-{name}", SAVED_CELLS)
    if how == "sqlweave run":
        report = run_notebook(src, output=lab.root / name)
        assert report.ok, report.failure and report.failure.summary()
    else:  # what nbconvert --execute and papermill do
        nb = nbformat.read(src, as_version=4)
        NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(lab.root)}}).execute()
        nbformat.write(nb, lab.root / name)
    return name


@pytest.mark.parametrize("how", ["sqlweave run", "nbclient"])
def test_saved_notebook_shows_table_and_drawing_untrusted(lab, page, how):
    name = _saved(lab, f"saved-{how.replace(' ', '-')}.ipynb", how)
    open_notebook(page, lab.lab_url(name))
    drawing = page.locator(OUTPUT.format(4))
    drawing.locator("img").wait_for()
    assert drawing.get_attribute("data-mime-type") == "text/html"  # untrusted: the safe one
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=drawing.locator("img").element_handle(),
    )
    size = drawing.locator("img").evaluate(
        "img => [img.getBoundingClientRect().width, img.naturalWidth]"
    )
    assert size[0] == pytest.approx(size[1], abs=1)  # natural size: 12 px labels, not shrunk
    assert "CREATE TABLE" not in drawing.inner_text()  # no wall of sanitized SVG text
    table = page.locator(OUTPUT.format(3)).locator("table")
    assert table.locator("tbody tr").count() == 1 and "AA" in table.inner_text()


def test_inline_widget_is_readable_and_counts_what_lights_up(lab, page):
    name = "inline-widget.ipynb"
    write_notebook(lab.root, name, INLINE_CELLS)
    open_notebook(page, lab.lab_url(name))
    run_all(page)
    widget = page.locator(OUTPUT.format(len(INLINE_CELLS)) + " .swl-widget")
    widget.locator("svg").wait_for()
    pills = widget.locator("[data-kind='run']")
    assert pills.count() == 8  # 20 queries folded into one node per cell
    sizes = widget.locator("svg text").evaluate_all(
        "ts => ts.map(t => parseFloat(getComputedStyle(t).fontSize) * "
        "(t.ownerSVGElement.getBoundingClientRect().width / t.ownerSVGElement.viewBox.baseVal.width))"
    )
    assert sizes and min(sizes) >= 11
    widget.locator("[data-node='dataset:airports']").click()
    counts = widget.locator(".swl-counts")
    counts.wait_for()
    readers = sum("FROM airports" in src for src in INLINE_CELLS if src.startswith("%%sql"))
    assert counts.inner_text() == f"upstream: nothing · downstream: {readers} statements"
    lit = widget.locator(".swl-edge").evaluate_all(
        "ps => ps.filter(p => p.style.opacity === '1').length"
    )
    assert lit == readers  # the count matches the edges that light up


def test_drawing_saved_from_lab_survives_a_kernel_restart(lab, page):
    """The user's scenario: run ``%lineage`` in Lab, save, restart the kernel, reopen. The
    notebook is then trusted, so Lab picks a widget view first, and the model is gone."""
    name = "saved-from-lab.ipynb"
    write_notebook(lab.root, name, [*SAVED_CELLS, "%lineage --interactive"])
    open_notebook(page, lab.lab_url(name))
    run_all(page)
    page.locator(OUTPUT.format(5) + " .swl-widget svg").wait_for()  # the live widget
    menu(page, "File", "Save Notebook")
    page.wait_for_function(
        "sel => !document.querySelector(sel).classList.contains('jp-mod-dirty')",
        arg=NOTEBOOK,
    )
    menu(page, "Kernel", "Restart Kernel…")
    page.locator(".jp-Dialog .jp-mod-accept").click()  # "Restart"
    page.locator(".jp-Dialog").wait_for(state="detached")
    wait_kernel_idle(page)
    page.reload()
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell")
    wait_kernel_idle(page)
    drawing = page.locator(OUTPUT.format(4))
    drawing.locator("img").wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0",
        arg=drawing.locator("img").element_handle(),
    )
    assert drawing.get_attribute("data-mime-type") != WIDGET_VIEW
    assert "model not found" not in drawing.inner_text()
    # the opt-in widget shows why: the notebook is trusted, Lab picks its widget view (not
    # the <img> beside it) and waits for a model the restarted kernel does not have
    live = page.locator(OUTPUT.format(5))
    live.get_by_text(re.compile("Loading widget|model not found")).wait_for()
    assert live.locator("img").count() == 0
