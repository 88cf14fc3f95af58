"""A notebook executed headless (``sqlweave run``) and then opened in JupyterLab, without
running anything and without trusting it, still shows its lineage drawing."""

from __future__ import annotations

import pytest

from sqlweave.runner import run_notebook

from .labpage import NOTEBOOK, open_notebook, write_notebook

pytestmark = pytest.mark.browser

CELLS = [
    "%load_ext sqlweave",
    "%%sql\nCREATE TABLE raw_trips AS SELECT 1 AS id, 2.5 AS fare",
    "%%sql\nCREATE TABLE fares AS SELECT id, fare * 2 AS fare FROM raw_trips",
    "%lineage",
]


def test_headless_run_reopened_shows_the_lineage_drawing(lab, page):
    source = write_notebook(lab.root, "headless_source.ipynb", CELLS)
    report = run_notebook(source, output=lab.root / "headless.ipynb", cwd=lab.root)
    assert report.ok, report.failure and report.failure.summary()

    open_notebook(page, lab.lab_url("headless.ipynb"))
    drawing = page.locator(f"{NOTEBOOK} .jp-Cell").nth(3).locator(".jp-OutputArea-output")
    # an inline <svg> or an <img> of one: either way a picture, not sanitized text
    picture = drawing.locator("svg, img").first
    picture.wait_for(state="visible")
    box = picture.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 20
    assert "CREATE TABLE" not in drawing.inner_text()  # no wall of escaped markup
