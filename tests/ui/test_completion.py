"""Tab completion in a %%sql cell of a real JupyterLab: the kernel's completions (tables,
notebook DataFrames, columns) show up in Lab's completer popup."""

from __future__ import annotations

import pytest

from .labpage import NOTEBOOK, cell, open_notebook, run_all, write_notebook

pytestmark = pytest.mark.browser

COMPLETER = ".jp-Completer:not(.lm-mod-hidden)"


def _popup_items(page) -> list[str]:
    page.wait_for_selector(f"{COMPLETER} .jp-Completer-item")
    return page.locator(f"{COMPLETER} .jp-Completer-item .jp-Completer-match").all_inner_texts()


def _type_in(page, index: int, text: str) -> None:
    editor = cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.type(text)


def test_completer_lists_tables_dataframes_and_columns(lab, page):
    write_notebook(
        lab.root,
        "completion.ipynb",
        [
            "%load_ext sqlweave",
            "import pandas as pd\n"
            'arrivals = pd.DataFrame({"dep_delay": [1], "dep_time": [2], "carrier": ["AA"]})',
            "%%sql\nCREATE TABLE airports AS SELECT 'JFK' AS code, 'New York' AS city",
            "",
        ],
    )
    open_notebook(page, lab.lab_url("completion.ipynb"))
    run_all(page)

    _type_in(page, 3, "%%sql\nSELECT * FROM a")
    page.keyboard.press("Tab")
    items = _popup_items(page)
    assert "airports" in items  # a catalog table
    assert "arrivals" in items  # a notebook DataFrame
    page.keyboard.press("Escape")

    _type_in(page, 3, "%%sql\nSELECT a.dep")
    page.keyboard.type(" FROM arrivals a")
    for _ in range(len(" FROM arrivals a")):
        page.keyboard.press("ArrowLeft")
    page.keyboard.press("Tab")
    items = _popup_items(page)
    assert {"dep_delay", "dep_time"} <= set(items)  # the DataFrame's columns, by alias
    page.keyboard.press("Escape")
    assert page.locator(f"{NOTEBOOK} .jp-Cell").count() == 4
