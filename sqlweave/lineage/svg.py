"""Draw a :class:`LineageGraph` as a self-contained static SVG (no graphviz).

Datasets are boxes (listing their columns when ``columns=True``), statements are small
pills labelled with the execution count and SQL (a cell's read-only queries share one
pill, see :mod:`.view`), edges go left to right. Styles
are inline attributes, not a ``<style>`` sheet, so the drawing looks the same in
a live notebook, a saved one rendered by nbviewer/GitHub, and an HTML export.
Every node is a ``<g data-node="ID">`` and every edge a ``<path data-source=...
data-target=...>``, which the interactive widget uses.

    >>> from sqlweave.lineage.graph import LineageGraph
    >>> draw(LineageGraph()).startswith("<svg")
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from xml.sax.saxutils import escape, quoteattr

from .graph import EdgeKind, LineageGraph, Node, NodeKind
from .layout import Layout, Point, layered_layout
from .model import TransformType
from .view import ViewNode, build_view

#: every label's size: at least 11 px on screen when viewers never shrink below 11/12
FONT_PX = 12
CHAR_W = 7.0  # average glyph width of 12px sans-serif
ROW_H = 18.0
HEAD_H = 26.0
RUN_H = 22.0

COLORS = {
    "dataset": ("#eef4fc", "#3b73b9"),
    "dropped": ("#f3f3f3", "#999999"),
    "run": ("#fff6e5", "#c98a1b"),
    "focus": "#d9480f",
    "edge": "#8a94a6",
    "derives": "#5b8c5a",
    "text": "#1f2933",
}
FONT = "font-family='-apple-system, Segoe UI, Helvetica, Arial, sans-serif'"
_ids = itertools.count()


def draw(
    graph: LineageGraph,
    *,
    columns: bool = False,
    nodes: Collection[Node] | None = None,
    focus: Node | None = None,
    fold: bool = True,
) -> str:
    """An SVG document of the graph (or of ``nodes`` only), ``focus`` outlined.

    Drawn at its natural size: every label is 12 px. Viewers scroll a large drawing rather
    than shrink it (see :func:`sqlweave.lineage.widget.html_fallback`).

    Args:
        graph: the lineage graph.
        columns: list each dataset's columns and draw column-to-column edges.
        nodes: restrict the drawing to these datasets/runs (and their columns).
        focus: a dataset or column to emphasise.
        fold: draw the read-only queries of a cell as one node (see :mod:`.view`).
    """
    view = build_view(graph, nodes, fold=fold)
    datasets = [Node(NodeKind.DATASET, n.name) for n in view.of_kind(NodeKind.DATASET)]
    statements = view.of_kind(NodeKind.RUN)
    col_names = {d.id: graph.columns(d.name) if columns else () for d in datasets}
    sizes: dict[str, tuple[float, float]] = {}
    for d in datasets:
        longest = max([len(d.name) + 2, *(len(c) + 2 for c in col_names[d.id])])
        height = HEAD_H + (len(col_names[d.id]) * ROW_H + 6 if col_names[d.id] else 0)
        sizes[d.id] = (max(60.0, longest * CHAR_W + 16), height)
    for r in statements:
        sizes[r.id] = (len(r.label) * CHAR_W + 18, RUN_H)
    layout = layered_layout(sizes, [(u, v) for u, v, _ in view.edges])
    uid = next(_ids)
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' class='sqlweave-lineage' "
        f"width='{layout.width:.0f}' height='{layout.height:.0f}' "
        f"viewBox='0 0 {layout.width:.0f} {layout.height:.0f}' "
        f"{FONT} font-size='{FONT_PX}'>",
        "<defs>",
        f"<marker id='swl-arrow-{uid}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' "
        f"markerHeight='7' orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' "
        f"fill='{COLORS['edge']}'/></marker>",
        "</defs>",
    ]
    kinds = {(u, v): k for u, v, k in view.edges}
    for route in layout.routes:
        kind = kinds[(route.source, route.target)]
        dash = " stroke-dasharray='5,3'" if kind in (EdgeKind.DROPS, EdgeKind.RENAMES) else ""
        out.append(
            f"<path class='swl-edge' data-source={quoteattr(route.source)} "
            f"data-target={quoteattr(route.target)} data-kind='{kind.value}' "
            f"d='{_curve(route.points)}' fill='none' stroke='{COLORS['edge']}' "
            f"stroke-width='1.3'{dash} marker-end='url(#swl-arrow-{uid})'/>"
        )
    if columns:
        out.extend(_column_edges(graph, layout, col_names, focus))
    for d in datasets:
        out.append(_dataset(graph, d, layout, col_names[d.id], focus))
    for r in statements:
        out.append(_run(r, layout))
    out.append("</svg>")
    return "\n".join(out)


def _curve(points: tuple[Point, ...]) -> str:
    """A smooth path through ``points`` with horizontal tangents at each point."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        mid = (x0 + x1) / 2
        parts.append(f"C{mid:.1f},{y0:.1f} {mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _dataset(
    graph: LineageGraph, d: Node, layout: Layout, cols: tuple[str, ...], focus: Node | None
) -> str:
    box = layout.boxes[d.id]
    attrs = graph.attrs(d)
    fill, stroke = COLORS["dropped"] if attrs["dropped"] else COLORS["dataset"]
    width = 1.2
    if focus is not None and focus.id == d.id:
        stroke, width = COLORS["focus"], 2.6
    dash = " stroke-dasharray='4,3'" if attrs["dropped"] else ""
    strike = " text-decoration='line-through'" if attrs["dropped"] else ""
    title = d.name + (" (dropped)" if attrs["dropped"] else "")
    if attrs["previous_names"]:
        title += f" (renamed from {', '.join(attrs['previous_names'])})"
    parts = [
        f"<g class='swl-node swl-dataset' data-node={quoteattr(d.id)} data-kind='dataset'>",
        f"<title>{escape(title)}</title>",
        f"<rect x='{box.x:.1f}' y='{box.y:.1f}' width='{box.width:.1f}' height='{box.height:.1f}' "
        f"rx='4' fill='{fill}' stroke='{stroke}' stroke-width='{width}'{dash}/>",
        f"<text x='{box.x + 8:.1f}' y='{box.y + 17:.1f}' font-weight='bold' "
        f"fill='{COLORS['text']}'{strike}>"
        f"{escape(d.name)}</text>",
    ]
    for i, col in enumerate(cols):
        cy = box.y + HEAD_H + i * ROW_H
        cid = Node(NodeKind.COLUMN, d.name, col).id
        bold = " font-weight='bold'" if focus is not None and focus.id == cid else ""
        fill_col = COLORS["focus"] if bold else COLORS["text"]
        parts.append(
            f"<g class='swl-node swl-column' data-node={quoteattr(cid)} data-kind='column'>"
            f"<title>{escape(d.name)}.{escape(col)}</title>"
            f"<line x1='{box.x:.1f}' y1='{cy:.1f}' x2='{box.x + box.width:.1f}' y2='{cy:.1f}' "
            f"stroke='{stroke}' stroke-opacity='0.25'/>"
            f"<text x='{box.x + 10:.1f}' y='{cy + 13:.1f}' fill='{fill_col}'{bold}>"
            f"{escape(col)}</text></g>"
        )
    parts.append("</g>")
    return "".join(parts)


def _column_port(
    layout: Layout, col_names: dict[str, tuple[str, ...]], node: Node, right: bool
) -> Point | None:
    did = Node(NodeKind.DATASET, node.name).id
    if did not in layout.boxes or node.column not in col_names.get(did, ()):
        return None
    box = layout.boxes[did]
    i = col_names[did].index(node.column)
    return (box.x + (box.width if right else 0), box.y + HEAD_H + i * ROW_H + ROW_H / 2)


def _column_edges(
    graph: LineageGraph, layout: Layout, col_names: dict[str, tuple[str, ...]], focus: Node | None
) -> list[str]:
    out = []
    for u, v, kind, _, _ in graph.derivations():
        a = _column_port(layout, col_names, u, right=True)
        b = _column_port(layout, col_names, v, right=False)
        if a is None or b is None:
            continue
        hot = focus is not None and focus.id in (u.id, v.id)
        color = COLORS["focus"] if hot else COLORS["derives"]
        # INDIRECT (filters, join keys, grouping) drawn dashed and fainter than data flow
        dash = " stroke-dasharray='3,3'" if kind is TransformType.INDIRECT else ""
        opacity = 0.8 if kind is TransformType.DIRECT else 0.45
        out.append(
            f"<path class='swl-edge swl-column-edge' data-source={quoteattr(u.id)} "
            f"data-target={quoteattr(v.id)} data-kind='{EdgeKind.DERIVES.value}' "
            f"data-transform='{kind.value}' d='{_curve((a, b))}' fill='none' stroke='{color}' "
            f"stroke-width='{1.8 if hot else 1.1}' stroke-opacity='{opacity}'{dash}/>"
        )
    return out


def _run(r: ViewNode, layout: Layout) -> str:
    box = layout.boxes[r.id]
    fill, stroke = COLORS["run"]
    title = "\n".join([r.cell or "", *r.sql])
    return (
        f"<g class='swl-node swl-run' data-node={quoteattr(r.id)} data-kind='run'>"
        f"<title>{escape(title)}</title>"
        f"<rect x='{box.x:.1f}' y='{box.y:.1f}' width='{box.width:.1f}' height='{box.height:.1f}' "
        f"rx='{box.height / 2:.1f}' fill='{fill}' stroke='{stroke}'/>"
        f"<text x='{box.x + 9:.1f}' y='{box.y + 15:.1f}' "
        f"fill='{COLORS['text']}'>{escape(r.label)}</text></g>"
    )
