"""What a lineage drawing shows: datasets, statements, and read-only queries folded per cell.

A notebook typically runs many SELECTs that write nothing; drawn one node each they bury the
datasets. :func:`build_view` keeps every statement that writes, drops or renames a dataset
as its own node and folds the read-only queries of one cell into a single node reading the
union of their inputs. The static SVG (:mod:`.svg`) and the widget (:mod:`.widget`) both
draw from the same view, so the widget's up/downstream counts match what is on screen.

    >>> from sqlweave.lineage.graph import LineageGraph
    >>> build_view(LineageGraph()).nodes
    ()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from ..events import Status
from .graph import EdgeKind, LineageGraph, Node, NodeKind, dataset_node
from .variables import LAST_RESULT

#: id prefix of a node standing for the read-only queries of one cell
FOLDED_PREFIX = "queries:"
#: characters of SQL kept in a statement's label
LABEL_CHARS = 24

#: edges drawn between datasets and statements
DRAWN_EDGES = (EdgeKind.READS, EdgeKind.WRITES, EdgeKind.DROPS, EdgeKind.RENAMES)
_WRITING = (EdgeKind.WRITES, EdgeKind.DROPS, EdgeKind.RENAMES)


@dataclass(frozen=True)
class ViewNode:
    """One drawn node: a dataset, a statement, or the folded read-only queries of a cell.

    ``runs`` are the run ids a statement node stands for (one, or a cell's queries).
    """

    id: str
    kind: NodeKind
    label: str
    name: str
    runs: tuple[str, ...] = ()
    cell: str | None = None
    sql: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    """Drawn nodes and edges; ``folded`` maps a folded run's node id to its cell's node id."""

    nodes: tuple[ViewNode, ...]
    edges: tuple[tuple[str, str, EdgeKind], ...]
    folded: dict[str, str]

    def of_kind(self, kind: NodeKind) -> list[ViewNode]:
        return [n for n in self.nodes if n.kind is kind]


def build_view(
    graph: LineageGraph, nodes: Collection[Node] | None = None, *, fold: bool = True
) -> View:
    """The view of ``graph`` (or of ``nodes`` only): completed statements that touched a
    dataset, with read-only queries folded into one node per cell when ``fold``."""
    wanted = None if nodes is None else {n.id for n in nodes}
    hidden = _hidden_results(graph)
    datasets = [
        n
        for n in graph.nodes(NodeKind.DATASET)
        if (wanted is None or n.id in wanted) and n.id not in hidden
    ]
    touching: dict[str, list[tuple[Node, Node, EdgeKind]]] = defaultdict(list)
    for u, v, k in graph.edges():
        if k in DRAWN_EDGES and u.id not in hidden and v.id not in hidden:
            run = u if u.kind is NodeKind.RUN else v
            touching[run.id].append((u, v, k))
    runs = [
        n
        for n in graph.nodes(NodeKind.RUN)
        if n.id in touching
        and (wanted is None or n.id in wanted)
        and graph.run(n.name).info.status is Status.COMPLETE
    ]
    shown = {d.id for d in datasets}
    out = [ViewNode(d.id, NodeKind.DATASET, d.name, d.name) for d in datasets]
    folded: dict[str, str] = {}
    groups: dict[tuple[str, str], list[Node]] = defaultdict(list)
    for r in runs:
        read_only = all(k is EdgeKind.READS for _, _, k in touching[r.id])
        if fold and read_only:
            groups[graph.run(r.name).info.cell_key].append(r)
        else:
            out.append(_statement(graph, r))
    for (notebook, cell_id), members in groups.items():
        if len(members) == 1:
            out.append(_statement(graph, members[0]))
            continue
        gid = f"{FOLDED_PREFIX}{notebook}#{cell_id}"
        infos = [graph.run(m.name).info for m in members]
        count = "" if infos[-1].execution_count is None else f"[{infos[-1].execution_count}] "
        out.append(
            ViewNode(
                gid,
                NodeKind.RUN,
                f"{count}{len(members)} queries",
                gid,
                tuple(i.run_id for i in infos),
                str(infos[-1].cell),
                tuple(i.sql for i in infos),
            )
        )
        folded.update({m.id: gid for m in members})
    shown |= {n.id for n in out}
    edges: dict[tuple[str, str, EdgeKind], None] = {}
    for r in runs:
        for u, v, k in touching[r.id]:
            a, b = folded.get(u.id, u.id), folded.get(v.id, v.id)
            if a in shown and b in shown:
                edges[(a, b, k)] = None
    return View(tuple(out), tuple(edges), folded)


def _hidden_results(graph: LineageGraph) -> set[str]:
    """IPython's ``_`` (a displayed result) unless a statement reads it back: every
    displayed query writes it, and drawn it would tie unrelated cells together."""
    last = dataset_node(LAST_RESULT).id
    read = any(k is EdgeKind.READS and u.id == last for u, _, k in graph.edges())
    return set() if read else {last}


def _statement(graph: LineageGraph, run: Node) -> ViewNode:
    info = graph.run(run.name).info
    return ViewNode(
        run.id,
        NodeKind.RUN,
        statement_label(info.sql, info.execution_count),
        run.name,
        (info.run_id,),
        str(info.cell),
        (info.sql,),
    )


def statement_label(sql: str, execution_count: int | None) -> str:
    """``[3] CREATE TABLE clean AS…``: the execution count and the start of the SQL."""
    count = "" if execution_count is None else f"[{execution_count}] "
    head = " ".join(sql.split())
    return count + (head if len(head) <= LABEL_CHARS else head[: LABEL_CHARS - 1] + "…")
