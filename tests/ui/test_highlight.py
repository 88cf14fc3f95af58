"""SQL highlighting of %%sql cells and %sql lines, in a real JupyterLab."""

from __future__ import annotations

import pytest

from .labpage import cell, open_notebook, token_texts, write_notebook

pytestmark = pytest.mark.browser


def _keywords(page, index: int) -> set[str]:
    return {t.upper() for t in token_texts(page, index, "tok-keyword")}


def test_sql_cells_are_highlighted_as_sql(lab, page):
    write_notebook(
        lab.root,
        "highlight.ipynb",
        [
            "%%sql\nSELECT carrier, count(*) AS n\nFROM flights WHERE dep_delay > 10 GROUP BY carrier",
            "rows = %sql SELECT 1 AS one",
            "selected = [x for x in range(3) if x > 1]",
            "SELECT 2 AS two FROM t",
        ],
    )
    open_notebook(page, lab.lab_url("highlight.ipynb"))

    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Cell .cm-content .tok-keyword').length > 0"
    )
    assert {"SELECT", "AS", "FROM", "WHERE", "GROUP", "BY"} <= _keywords(page, 0)
    assert "SELECT" in _keywords(page, 1)  # the %sql line magic
    assert _keywords(page, 2) == set()  # Python stays Python
    assert _keywords(page, 3) == set()  # no magic, no SQL

    # typing the magic switches the cell to SQL; deleting it switches back
    editor = cell(page, 3).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("%%sql\n")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Cell')[3].querySelectorAll('.tok-keyword').length >= 3"
    )
    assert {"SELECT", "AS", "FROM"} <= _keywords(page, 3)
    for _ in range(len("%%sql\n")):
        page.keyboard.press("Backspace")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-Cell')[3].querySelectorAll('.tok-keyword').length == 0"
    )
