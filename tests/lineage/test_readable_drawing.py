"""The inline drawing of a notebook with 20 SELECTs over 5 DataFrames stays readable.

The graph is captured the real way: a Session runs the statements with notebook DataFrames
in its namespace and a LineageCapture records them, one cell at a time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from lab_rules import lab_renders_untrusted, sanitizer_problems, svg_in_html

import sqlweave
from sqlweave.lineage.capture import CellContext, LineageCapture
from sqlweave.lineage.svg import FONT_PX, draw
from sqlweave.lineage.view import FOLDED_PREFIX, build_view
from sqlweave.lineage.widget import ESM, make_widget, widget_data

SVG = "{http://www.w3.org/2000/svg}"
FRAMES = ("flights", "airports", "carriers", "planes", "weather")
#: cell id -> its SELECTs: 20 queries in 8 cells, and one cell that writes a table
CELLS = {
    f"c{i}": [
        f"SELECT count(*) AS n FROM {FRAMES[(i + j) % 5]} WHERE id > {j}" for j in range(size)
    ]
    for i, size in enumerate((4, 3, 3, 2, 2, 2, 2, 2))
}


@pytest.fixture(scope="module")
def graph():
    namespace = {name: pd.DataFrame({"id": [1, 2, 3], "v": [1.0, 2.0, 3.0]}) for name in FRAMES}
    current = {"cell": None, "n": 0}
    capture = LineageCapture(
        context=lambda: CellContext("twenty.ipynb", current["cell"], current["n"])
    )
    with sqlweave.Session() as session:
        session.add_listener(capture)
        for n, (cell, queries) in enumerate(CELLS.items(), start=1):
            current.update(cell=cell, n=n)
            session.sql(";\n".join(queries), namespace=namespace)
        current.update(cell="ctas", n=len(CELLS) + 1)
        session.sql(
            "CREATE TABLE busy AS SELECT f.id, w.v FROM flights f JOIN weather w ON f.id = w.id",
            namespace=namespace,
        )
    capture.flush()
    assert sum(len(q) for q in CELLS.values()) == 20
    return capture.graph


def test_read_only_queries_fold_into_one_node_per_cell(graph) -> None:
    view = build_view(graph)
    statements = [n.id for n in view.nodes if n.kind.value == "run"]
    folded = [s for s in statements if s.startswith(FOLDED_PREFIX)]
    assert len(folded) == len(CELLS)  # every cell has 2+ queries: one node each
    assert len(statements) == len(CELLS) + 1  # plus the CREATE TABLE
    labels = {n.label for n in view.nodes}
    assert "[1] 4 queries" in labels and "[8] 2 queries" in labels
    unfolded = build_view(graph, fold=False)
    assert len([n for n in unfolded.nodes if n.kind.value == "run"]) == 21


def test_every_label_is_drawn_at_12_px_and_the_drawing_is_not_shrunk(graph) -> None:
    svg = draw(graph)
    root = ET.fromstring(svg)
    assert root.get("font-size") == str(FONT_PX) and FONT_PX >= 11
    sizes = {t.get("font-size") for t in root.iter(f"{SVG}text")} - {None}
    assert sizes <= {str(FONT_PX)}, sizes  # no smaller label anywhere
    assert "max-width" not in (root.get("style") or "")  # the drawing never shrinks to fit
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert set(FRAMES) | {"busy"} <= texts


def test_saved_drawing_scrolls_and_survives_labs_sanitizer(graph) -> None:
    data, _ = make_widget(graph)._repr_mimebundle_()
    html = data["text/html"]
    assert lab_renders_untrusted(data) == "text/html"
    assert sanitizer_problems(html) == []
    assert "overflow-x:auto" in html and "max-width:none" in html
    root = ET.fromstring(svg_in_html(html))
    assert f"width='{root.get('width')}'" in html  # the image keeps its natural width


def test_clicking_a_dataset_counts_what_lights_up(graph) -> None:
    """The widget's own JavaScript counts up/downstream from the widget's graph trait."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the widget's JavaScript cannot run here")
    data = widget_data(graph, build_view(graph))
    drawn = [g.get("data-node") for g in ET.fromstring(draw(graph)).iter(f"{SVG}g")]
    script = f"""
import {{ walk, tally, describe, initialScale }} from {json.dumps(ESM.as_uri())};
const data = {json.dumps(data)};
const drawn = new Set({json.dumps([d for d in drawn if d])});
const out = {{}};
for (const id of ["dataset:flights", "dataset:airports", "dataset:busy"]) {{
  out[id] = {{
    up: describe(tally(walk(data.edges, id, false), data.nodes, drawn)),
    down: describe(tally(walk(data.edges, id, true), data.nodes, drawn)),
  }};
}}
out.scales = [initialScale(600, 1200), initialScale(600, 400), initialScale(600, 610)];
console.log(JSON.stringify(out));
"""
    proc = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    readers = {
        f"dataset:{name}": sum(any(f"FROM {name} " in q for q in qs) for qs in CELLS.values())
        for name in FRAMES
    }
    # flights: read by the cells whose queries name it, and by the CREATE TABLE busy
    assert out["dataset:flights"] == {
        "up": "nothing",
        "down": f"1 dataset, {readers['dataset:flights'] + 1} statements",
    }
    assert out["dataset:airports"]["down"] == f"{readers['dataset:airports']} statements"
    assert out["dataset:busy"] == {"up": "2 datasets, 1 statement", "down": "nothing"}
    assert out["scales"] == [11 / 12, 1, 600 / 610]


def test_a_displayed_result_stays_a_read_only_query_until_read_back() -> None:
    """A displayed SELECT writes IPython's ``_``: hidden, so the query still folds."""
    from graphs import add

    from sqlweave.lineage.graph import LineageGraph
    from sqlweave.lineage.model import StatementKind

    g = LineageGraph()
    sel = StatementKind.SELECT
    add(g, "c1", 1, "SELECT * FROM t", kind=sel, reads=("t",))
    add(g, "c1", 1, "SELECT * FROM t", kind=sel, reads=("t",), writes=("_",))
    view = build_view(g)
    assert [n.label for n in view.nodes] == ["t", "[1] 2 queries"]
    add(g, "c2", 2, "CREATE TABLE u AS SELECT * FROM _", reads=("_",), writes=("u",))
    assert "_" in {n.label for n in build_view(g).nodes}  # read back: a dataset like any
