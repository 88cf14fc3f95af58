"""Graph exports: GraphML, node-link JSON, DOT, Mermaid and OpenLineage JSON lines.

Every export works from :meth:`LineageGraph.to_networkx`, whose node ids are
``dataset:NAME``, ``column:NAME.COLUMN`` and ``run:RUN_ID`` and whose ``kind``
attributes are the :class:`NodeKind`/:class:`EdgeKind` values.

    >>> from sqlweave.lineage.graph import LineageGraph
    >>> to_mermaid(LineageGraph())
    'flowchart LR\\n'
"""

from __future__ import annotations

import io
import json
import os
from enum import Enum
from pathlib import Path
from typing import Any

import networkx as nx

from ..errors import UsageError
from . import openlineage
from .graph import EdgeKind, LineageGraph, NodeKind


class ExportFormat(str, Enum):
    """Formats of :func:`export` (the value is what ``%lineage export`` accepts)."""

    GRAPHML = "graphml"
    JSON = "json"
    DOT = "dot"
    MERMAID = "mermaid"
    OPENLINEAGE = "openlineage"
    SVG = "svg"


def _flow_graph(graph: LineageGraph, columns: bool) -> nx.DiGraph:
    g = graph.to_networkx()
    if not columns:
        g.remove_nodes_from([n for n, k in g.nodes(data="kind") if k == NodeKind.COLUMN.value])
    return g


def _label(attrs: dict[str, Any]) -> str:
    return str(attrs["label"])


def _scalar(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (tuple, list, set, frozenset)):
        return ",".join(map(str, value))
    return value


def to_graphml(graph: LineageGraph) -> str:
    """GraphML text (tuple attributes are comma-joined, missing values are "").

    One ``derives`` edge per column transformation (a multigraph), like the JSON export.
    """
    g = graph.to_networkx(multigraph=True)
    for _, a in g.nodes(data=True):
        a.update({k: _scalar(v) for k, v in a.items()})
    for _, _, a in g.edges(data=True):
        a.update({k: _scalar(v) for k, v in a.items()})
    buf = io.BytesIO()
    nx.write_graphml(g, buf)
    return buf.getvalue().decode("utf-8")


def to_node_link(graph: LineageGraph) -> dict[str, Any]:
    """networkx node-link data (JSON-able) plus the label of every node.

    A multigraph: a column pair both copied and filtered on has two ``derives`` edges
    (keys ``DIRECT/IDENTITY`` and ``INDIRECT/FILTER``).
    """
    g = graph.to_networkx(multigraph=True)
    for _, a in g.nodes(data=True):
        for key in ("previous_names", "notebooks"):
            if key in a:
                a[key] = list(a[key])
    return nx.node_link_data(g, edges="edges")


def to_json(graph: LineageGraph) -> str:
    return json.dumps(to_node_link(graph), indent=1, sort_keys=True, default=str) + "\n"


_DOT_SHAPES = {
    NodeKind.DATASET.value: "box",
    NodeKind.COLUMN.value: "note",
    NodeKind.RUN.value: "ellipse",
}
_DOT_STYLES = {
    EdgeKind.DERIVES.value: "dashed",
    EdgeKind.HAS_COLUMN.value: "dotted",
    EdgeKind.DROPS.value: "bold",
    EdgeKind.RENAMES.value: "bold",
}


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: LineageGraph, *, columns: bool = True) -> str:
    """Graphviz DOT text (no graphviz needed to produce it)."""
    g = _flow_graph(graph, columns)
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for nid, a in g.nodes(data=True):
        extra = ", style=dashed" if a.get("dropped") else ""
        lines.append(
            f"  {_dot_quote(nid)} [label={_dot_quote(_label(a))}, "
            f"shape={_DOT_SHAPES[a['kind']]}{extra}];"
        )
    for u, v, a in g.edges(data=True):
        style = _DOT_STYLES.get(a["kind"], "solid")
        lines.append(
            f"  {_dot_quote(u)} -> {_dot_quote(v)} [label={_dot_quote(a['kind'])}, style={style}];"
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def to_mermaid(graph: LineageGraph, *, columns: bool = False) -> str:
    """A Mermaid ``flowchart`` (datasets as boxes, runs as rounded nodes)."""
    g = _flow_graph(graph, columns)
    ids = {nid: f"n{i}" for i, nid in enumerate(g.nodes)}
    lines = ["flowchart LR"]
    for nid, a in g.nodes(data=True):
        text = _mermaid_text(_label(a))
        if a["kind"] == NodeKind.RUN.value:
            lines.append(f'  {ids[nid]}("{text}")')
        elif a["kind"] == NodeKind.COLUMN.value:
            lines.append(f'  {ids[nid]}>"{text}"]')
        else:
            lines.append(f'  {ids[nid]}["{text}"]')
    for u, v, kind in g.edges(data="kind"):
        arrow = "-.->" if kind in (EdgeKind.DERIVES.value, EdgeKind.HAS_COLUMN.value) else "-->"
        lines.append(f"  {ids[u]} {arrow} {ids[v]}")
    return "\n".join(lines) + "\n"


def render(graph: LineageGraph, fmt: ExportFormat | str) -> str:
    """The text of ``graph`` in format ``fmt``."""
    try:
        fmt = fmt if isinstance(fmt, ExportFormat) else ExportFormat(fmt.lower())
    except ValueError:
        known = ", ".join(f.value for f in ExportFormat)
        raise UsageError(f"unknown export format {fmt!r}; choose one of: {known}") from None
    if fmt is ExportFormat.GRAPHML:
        return to_graphml(graph)
    if fmt is ExportFormat.JSON:
        return to_json(graph)
    if fmt is ExportFormat.DOT:
        return to_dot(graph)
    if fmt is ExportFormat.MERMAID:
        return to_mermaid(graph)
    if fmt is ExportFormat.OPENLINEAGE:
        return openlineage.to_json_lines(graph)
    from .svg import draw

    return draw(graph)


def export(
    graph: LineageGraph,
    fmt: ExportFormat | str,
    path: str | os.PathLike[str],
    *,
    make_folders: bool = False,
) -> Path:
    """Write ``graph`` to ``path`` in format ``fmt``; returns the path.

    Raises:
        UsageError: ``path``'s folder does not exist (unless ``make_folders``: then it is
            made), or cannot be written.
    """
    text = render(graph, fmt)
    out = Path(path)
    if not out.parent.is_dir():
        if not make_folders:
            raise UsageError(f"cannot write {out}: there is no folder {out.parent}")
        out.parent.mkdir(parents=True, exist_ok=True)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def missing_folder(path: str | os.PathLike[str]) -> Path | None:
    """The outermost missing folder above ``path`` (what exporting there would create),
    or None when its folder exists.

    >>> missing_folder("/nonexistent_dir/deeper/x.jsonl")
    PosixPath('/nonexistent_dir')
    """
    folder = Path(path).parent
    missing = None
    while not folder.is_dir():
        missing = folder
        if folder.parent == folder:
            break
        folder = folder.parent
    return missing
