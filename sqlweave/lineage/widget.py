"""An interactive lineage view (anywidget): pan/zoom, click to trace, see the SQL.

The widget shows the same SVG as :func:`sqlweave.lineage.svg.draw`; its
``_repr_mimebundle_`` adds the static drawing (:func:`static_bundle`) so notebooks
executed headless, saved, or viewed without a kernel or untrusted still show it.

anywidget (and with it ipywidgets) is imported only when a widget is made, so
importing this module, like all of :mod:`sqlweave.lineage`, never imports IPython.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..render import svg_as_img
from .graph import EdgeKind, LineageGraph, Node, NodeKind
from .svg import draw
from .view import FOLDED_PREFIX, View, build_view

STATIC = Path(__file__).parent / "static"
ESM = STATIC / "lineage_widget.js"
CSS = STATIC / "lineage_widget.css"

#: the Python <-> JavaScript contract, checked against the JS by the tests
WIDGET_TRAITS = ("svg", "graph")
NODE_KEYS = ("label", "kind", "dataset", "cell", "sql")

#: the class of the static drawing's HTML (``sqlweave run`` recognises it)
STATIC_CLASS = "sqlweave-lineage-static"

_TRACED = (EdgeKind.READS, EdgeKind.WRITES, EdgeKind.DERIVES, EdgeKind.HAS_COLUMN)


def widget_data(graph: LineageGraph, view: View | None = None) -> dict[str, Any]:
    """The ``graph`` trait: node metadata and the edges the JS walks to trace lineage.

    Run nodes folded into a cell's query node by ``view`` (default: the whole graph's
    view) are replaced by that node, so walks and counts match the drawing. ``has_column``
    edges are included so that selecting a dataset also lights up its columns' lineage.
    """
    view = view if view is not None else build_view(graph)
    nodes: dict[str, dict[str, Any]] = {}
    for n in graph.nodes():
        if n.id in view.folded:
            continue
        meta: dict[str, Any] = {
            "label": str(n),
            "kind": n.kind.value,
            "dataset": None,
            "cell": None,
            "sql": [],
        }
        if n.kind is NodeKind.RUN:
            info = graph.run(n.name).info
            meta.update(label=info.label, cell=str(info.cell), sql=[info.sql])
        else:
            if n.kind is NodeKind.COLUMN:
                meta["dataset"] = n.name
            meta["sql"] = [graph.run(r).info.sql for r in graph.producers(n)]
        nodes[n.id] = {k: meta[k] for k in NODE_KEYS}
    for v in view.nodes:
        if v.id.startswith(FOLDED_PREFIX):
            meta = {
                "label": v.label,
                "kind": NodeKind.RUN.value,
                "dataset": None,
                "cell": v.cell,
                "sql": list(v.sql),
            }
            nodes[v.id] = {k: meta[k] for k in NODE_KEYS}
    edges: dict[tuple[str, str, str], None] = {}
    for u, v, k in graph.edges():
        if k in _TRACED:
            edges[(view.folded.get(u.id, u.id), view.folded.get(v.id, v.id), k.value)] = None
    return {"nodes": nodes, "edges": [list(e) for e in edges]}


def html_fallback(svg: str, alt: str = "lineage graph") -> str:
    """The drawing as sanitizer-safe HTML (see :func:`sqlweave.render.svg_as_img`)."""
    return f"<div class='{STATIC_CLASS}'>{svg_as_img(svg, alt)}</div>"


@dataclass(frozen=True)
class StaticDrawing:
    """A lineage drawing without a widget, for every viewer of a saved notebook.

    Its bundle holds the SVG itself (``image/svg+xml``: nbconvert, VS Code, GitHub), the
    sanitizer-safe ``<img>`` (``text/html``: JupyterLab, trusted or not) and a summary.
    """

    svg: str
    summary: str = "lineage graph"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return static_bundle(self.svg, self.summary)

    def __repr__(self) -> str:
        return self.summary


def static_bundle(svg: str, summary: str) -> dict[str, str]:
    """The MIME types a saved notebook keeps for a drawing (see :class:`StaticDrawing`)."""
    return {
        "image/svg+xml": svg,
        "text/html": html_fallback(svg, summary),
        "text/plain": summary,
    }


def view_summary(view: View) -> str:
    """``lineage graph: 5 datasets, 3 statements (12 queries in 2 cells folded)``."""
    datasets = len(view.of_kind(NodeKind.DATASET))
    statements = [n for n in view.of_kind(NodeKind.RUN) if not n.id.startswith(FOLDED_PREFIX)]
    groups = [n for n in view.of_kind(NodeKind.RUN) if n.id.startswith(FOLDED_PREFIX)]
    text = f"lineage graph: {datasets} datasets, {len(statements)} statements"
    if groups:
        text += f" ({sum(len(g.runs) for g in groups)} queries of {len(groups)} cells folded)"
    return text


@functools.cache
def widget_class() -> type:
    """The anywidget class, built on first use."""
    import anywidget
    import traitlets

    class LineageWidget(anywidget.AnyWidget):
        _esm = ESM
        _css = CSS
        svg = traitlets.Unicode("").tag(sync=True)
        graph = traitlets.Dict({}).tag(sync=True)

        alt = traitlets.Unicode("lineage graph")  # not synced: the static summary

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            bundle = super()._repr_mimebundle_(**kwargs)
            data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
            return {**data, **static_bundle(self.svg, self.summary())}, meta

        def summary(self) -> str:
            """What a terminal or a text-only viewer shows instead of the drawing."""
            return self.alt

    return LineageWidget


def make_widget(
    graph: LineageGraph,
    *,
    columns: bool = False,
    nodes: Collection[Node] | None = None,
    focus: Node | None = None,
) -> Any:
    """An interactive widget of ``graph`` (arguments as for :func:`~sqlweave.lineage.svg.draw`)."""
    view = build_view(graph, nodes)
    svg = draw(graph, columns=columns, nodes=nodes, focus=focus)
    return widget_class()(svg=svg, graph=widget_data(graph, view), alt=view_summary(view))
