"""Notebooks executed headless keep pictures every kernel-less viewer shows.

A notebook run by ``sqlweave run`` or by nbclient (what ``nbconvert --execute`` and papermill
use) is saved, then read the way JupyterLab reads an untrusted notebook (the first safe MIME
type, its HTML through Lab's sanitizer rules: see ``lab_rules``) and converted by
``nbconvert --to html``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import nbformat
import pytest
from lab_rules import drawing, lab_renders_untrusted, sanitizer_problems, svg_in_html
from nbclient import NotebookClient
from notebook_files import write_notebook

from sqlweave.runner import WIDGET_VIEW, run_notebook

pytestmark = pytest.mark.process

CELLS = (
    "%load_ext sqlweave\nimport pandas as pd\n"
    "flights = pd.DataFrame({'carrier': ['AA', 'UA', 'AA'], 'delay': [5.0, None, 12.0]})",
    "%%sql\nCREATE TABLE late AS SELECT carrier, delay FROM flights WHERE delay > 0",
    "%%sql\nSELECT carrier, count(*) AS n, avg(delay) AS avg_delay FROM late GROUP BY carrier",
    "%%sql\nSELECT * FROM flights WHERE carrier = 'UA'",
    "%lineage",
    "%lineage show late --static",
    "%lineage impact flights",
    "%lineage --interactive",
)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """The notebook executed by ``sqlweave run`` and by plain nbclient, as saved."""
    work = tmp_path_factory.mktemp("saved")
    src = write_notebook(work / "report.ipynb", *CELLS)
    report = run_notebook(src, output=work / "report.run.ipynb")
    assert report.ok, report.failure and report.failure.summary()
    nb = nbformat.read(src, as_version=4)
    NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(work)}}).execute()
    nbformat.write(nb, work / "report.nbclient.ipynb")
    return {
        "sqlweave run": nbformat.read(work / "report.run.ipynb", as_version=4),
        "nbclient": nbformat.read(work / "report.nbclient.ipynb", as_version=4),
    }


def _outputs(nb, source: str) -> list[dict]:
    cell = next(c for c in nb.cells if c.source.startswith(source))
    return [o.get("data", {}) for o in cell.outputs if o.output_type != "stream"]


@pytest.mark.parametrize("runner", ["sqlweave run", "nbclient"])
def test_lab_shows_every_output_of_an_untrusted_notebook(ran, runner) -> None:
    nb = ran[runner]
    assert not [o for c in nb.cells for o in c.outputs if o.output_type == "error"]
    for cell in nb.cells:
        for out in cell.outputs:
            if out.output_type == "stream":
                continue
            data = out["data"]
            shown = lab_renders_untrusted(data)
            assert shown == "text/html", (cell.source, list(data))
            assert sanitizer_problems(data["text/html"]) == [], cell.source


@pytest.mark.parametrize("runner", ["sqlweave run", "nbclient"])
def test_result_tables_and_drawings_are_in_what_lab_shows(ran, runner) -> None:
    nb = ran[runner]
    (table,) = _outputs(nb, "%%sql\nSELECT carrier, count(*)")
    assert "<table" in table["text/html"] and "avg_delay" in table["text/html"]
    for source, names in (
        ("%lineage\n", {"flights", "late"}),
        ("%lineage show", {"flights", "late"}),
        ("%lineage impact", {"late"}),
    ):
        (data,) = _lineage(nb) if source == "%lineage\n" else _outputs(nb, source)
        svg = svg_in_html(data["text/html"])  # what Lab renders: the <img>
        labels = {t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")}
        assert names <= labels, (source, labels)


def _lineage(nb, source: str = "%lineage") -> list[dict]:
    cell = next(c for c in nb.cells if c.source == source)
    return [o.get("data", {}) for o in cell.outputs]


def test_sqlweave_run_saves_the_drawing_not_a_widget_view(ran) -> None:
    (data,) = _lineage(ran["sqlweave run"], "%lineage --interactive")
    assert WIDGET_VIEW not in data and "widgets" not in ran["sqlweave run"].metadata
    assert drawing(data).startswith("<svg") and data["text/plain"].startswith("lineage graph")
    (live,) = _lineage(ran["nbclient"], "%lineage --interactive")  # without the runner it stays
    assert WIDGET_VIEW in live and "image/svg+xml" in live


@pytest.mark.parametrize("runner", ["sqlweave run", "nbclient"])
def test_plain_lineage_saves_no_widget_view_a_trusted_reopen_would_miss(ran, runner) -> None:
    """A notebook the user ran and saved is trusted; Lab then prefers a widget view, and
    after a kernel restart its model is gone ("model not found"). ``%lineage`` saves none."""
    (data,) = _lineage(ran[runner])
    assert WIDGET_VIEW not in data, list(data)
    assert sorted(data) == ["image/svg+xml", "text/html", "text/plain"]
    assert drawing(data).startswith("<svg")
    assert svg_in_html(data["text/html"]) == data["image/svg+xml"]


def test_nbconvert_html_shows_the_tables_and_the_drawings(ran) -> None:
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(ran["sqlweave run"])
    assert "avg_delay" in html and "<table" in html
    drawn = [d for d in (svg_in_html("<img" + part) for part in html.split("<img")[1:]) if d]
    assert len(drawn) == 4  # %lineage, %lineage show, %lineage impact, %lineage --interactive
    assert all(ET.fromstring(d).tag.endswith("svg") for d in drawn)
    assert "jupyter.widget" not in html  # no widget manager to fetch, no widget state
