"""Layout, static SVG and the widget: well-formed, labelled, and free of IPython."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

from graphs import chain, drop
from lab_rules import lab_renders_untrusted, sanitizer_problems, svg_in_html

from sqlweave.lineage.graph import LineageGraph, NodeKind
from sqlweave.lineage.layout import _crossings, layered_layout
from sqlweave.lineage.svg import draw
from sqlweave.lineage.widget import ESM, NODE_KEYS, WIDGET_TRAITS, widget_data

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_layout_goes_left_to_right_without_overlaps() -> None:
    sizes = {n: (50.0, 20.0) for n in "abcdef"}
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("d", "c"), ("c", "e"), ("e", "b")]  # a cycle
    lay = layered_layout(sizes, edges)
    assert lay.boxes["a"].x < lay.boxes["b"].x
    assert lay.boxes["d"].x < lay.boxes["c"].x
    boxes = list(lay.boxes.values())
    for i, p in enumerate(boxes):
        for q in boxes[i + 1 :]:
            apart_x = p.x + p.width <= q.x or q.x + q.width <= p.x
            apart_y = p.y + p.height <= q.y or q.y + q.height <= p.y
            assert apart_x or apart_y, (p, q)
    assert {(r.source, r.target) for r in lay.routes} == set(edges)
    assert all(
        0 <= x <= lay.width and 0 <= y <= lay.height for r in lay.routes for x, y in r.points
    )


def test_crossing_reduction_untangles_a_swapped_pair() -> None:
    sizes = {n: (10.0, 10.0) for n in ["a1", "a2", "b2", "b1"]}
    lay = layered_layout(sizes, [("a1", "b1"), ("a2", "b2")])
    order = sorted(["b1", "b2"], key=lambda n: lay.boxes[n].y)
    first = sorted(["a1", "a2"], key=lambda n: lay.boxes[n].y)
    assert [n[1] for n in order] == [n[1] for n in first]
    assert _crossings([["a1", "a2"], ["b2", "b1"]], {"a1": ["b1"], "a2": ["b2"]}) == 1


def test_svg_is_well_formed_and_labels_every_dataset() -> None:
    g = chain()
    drop(g, sql='DROP TABLE "raw" -- <&>')
    svg = draw(g)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    labels = texts(svg)
    for name in ("raw", "clean", "summary"):
        assert name in labels
    assert any(t.startswith("[2] CREATE TABLE clean") for t in labels)
    nodes = {g.get("data-node") for g in root.iter(f"{SVG}g")}
    assert "dataset:raw" in nodes
    assert "column:raw.id" not in nodes  # columns only on demand


def test_columns_on_demand_and_focus() -> None:
    g = chain()
    svg = draw(g, columns=True, focus=g.node("clean.amount"))
    root = ET.fromstring(svg)
    assert {"id", "amount", "total"} <= set(texts(svg))
    edges = [p for p in root.iter(f"{SVG}path") if p.get("data-kind") == "derives"]
    assert {(p.get("data-source"), p.get("data-target")) for p in edges} == {
        ("column:raw.id", "column:clean.id"),
        ("column:raw.amount", "column:clean.amount"),
        ("column:clean.amount", "column:summary.total"),
    }


def test_subset_drawing_and_empty_graph() -> None:
    g = chain()
    shown = {g.node("summary"), *g.upstream("summary", depth=1)}
    labels = texts(draw(g, nodes=shown))
    assert "summary" in labels and "clean" in labels and "raw" not in labels
    assert ET.fromstring(draw(LineageGraph())).tag == f"{SVG}svg"


def test_widget_bundle_keeps_a_drawing_for_untrusted_and_kernel_less_viewers() -> None:
    from sqlweave.lineage.widget import make_widget

    w = make_widget(chain())
    data, _ = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["image/svg+xml"].count("<svg") == 1 and "summary" in texts(data["image/svg+xml"])
    assert lab_renders_untrusted(data) == "text/html"
    assert sanitizer_problems(data["text/html"]) == []
    assert svg_in_html(data["text/html"]) == data["image/svg+xml"]
    assert data["text/plain"] == "lineage graph: 3 datasets, 4 statements"
    assert w.graph["nodes"]["dataset:summary"]["sql"][0].startswith("CREATE TABLE summary")


def test_widget_contract_matches_the_javascript() -> None:
    js = ESM.read_text()
    for trait in WIDGET_TRAITS:
        assert f'model.get("{trait}")' in js
    data = widget_data(chain())
    for meta in data["nodes"].values():
        assert tuple(meta) == NODE_KEYS
    for key in NODE_KEYS:
        assert key in js
    kinds = {m["kind"] for m in data["nodes"].values()}
    assert kinds == {k.value for k in NodeKind}


def test_lineage_package_never_imports_ipython() -> None:
    code = (
        "import sys\n"
        "import sqlweave.lineage.graph, sqlweave.lineage.store, sqlweave.lineage.exports\n"
        "import sqlweave.lineage.openlineage, sqlweave.lineage.svg, sqlweave.lineage.layout\n"
        "import sqlweave.lineage.widget, sqlweave.lineage.capture\n"
        "assert 'IPython' not in sys.modules, 'IPython imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
