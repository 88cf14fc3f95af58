"""An interactive lineage view (anywidget): pan/zoom, click to trace, see the SQL.

The widget shows the same SVG as :func:`sqlweave.lineage.svg.draw`; its
``_repr_mimebundle_`` adds that SVG as ``text/html`` so notebooks executed
headless, saved, or viewed without a kernel still show the drawing.

anywidget (and with it ipywidgets) is imported only when a widget is made, so
importing this module, like all of :mod:`sqlweave.lineage`, never imports IPython.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from pathlib import Path
from typing import Any

from .graph import EdgeKind, LineageGraph, Node, NodeKind
from .svg import draw

STATIC = Path(__file__).parent / "static"
ESM = STATIC / "lineage_widget.js"
CSS = STATIC / "lineage_widget.css"

#: the Python <-> JavaScript contract, checked against the JS by the tests
WIDGET_TRAITS = ("svg", "graph")
NODE_KEYS = ("label", "kind", "dataset", "cell", "sql")

_TRACED = (EdgeKind.READS, EdgeKind.WRITES, EdgeKind.DERIVES, EdgeKind.HAS_COLUMN)


def widget_data(graph: LineageGraph) -> dict[str, Any]:
    """The ``graph`` trait: node metadata and the edges the JS walks to trace lineage.

    ``has_column`` edges are included so that selecting a dataset also lights up
    its columns' lineage.
    """
    nodes: dict[str, dict[str, Any]] = {}
    for n in graph.nodes():
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
    edges = [[u.id, v.id, k.value] for u, v, k in graph.edges() if k in _TRACED]
    return {"nodes": nodes, "edges": edges}


def html_fallback(svg: str) -> str:
    """The static drawing as an HTML snippet (what a notebook without a kernel shows)."""
    return f"<div class='sqlweave-lineage-static' style='overflow-x:auto'>{svg}</div>"


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

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            bundle = super()._repr_mimebundle_(**kwargs)
            data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
            data = {**data, "text/html": html_fallback(self.svg), "text/plain": self.summary()}
            return data, meta

        def summary(self) -> str:
            """What a terminal or a text-only viewer shows instead of the drawing."""
            kinds = [n["kind"] for n in self.graph.get("nodes", {}).values()]
            return (
                f"lineage graph: {kinds.count('dataset')} datasets, {kinds.count('column')} columns,"
                f" {kinds.count('run')} statements"
            )

    return LineageWidget


def make_widget(
    graph: LineageGraph,
    *,
    columns: bool = False,
    nodes: Collection[Node] | None = None,
    focus: Node | None = None,
) -> Any:
    """An interactive widget of ``graph`` (arguments as for :func:`~sqlweave.lineage.svg.draw`)."""
    svg = draw(graph, columns=columns, nodes=nodes, focus=focus)
    return widget_class()(svg=svg, graph=widget_data(graph))
