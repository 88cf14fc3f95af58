"""Apply one run to the networkx graph behind :class:`~sqlweave.lineage.graph.LineageGraph`.

:func:`apply_run` is the graph's only writer: the graph applies a new run at the end of its
log with it, and replays the whole log through it into a fresh graph otherwise. A write
that replaces a dataset's definition forgets its columns' old derivations first; a rename
relabels the dataset and its columns.

    >>> import networkx as nx
    >>> from sqlweave.lineage.model import Span, StatementKind, StatementLineage
    >>> from sqlweave.lineage.runs import Run, RunInfo
    >>> info = RunInfo.new(notebook="nb.ipynb", cell_id="c1", execution_count=1,
    ...                    sql="CREATE TABLE b AS SELECT * FROM a", engine="duckdb")
    >>> sl = StatementLineage(StatementKind.CREATE_TABLE_AS, info.sql, Span(0, 33),
    ...                       reads=frozenset({"a"}), writes=frozenset({"b"}))
    >>> g = nx.DiGraph()
    >>> apply_run(g, Run(info, sl), 0)
    >>> g.nodes["dataset:b"]["version"], sorted((u, k.value, v) for u, v, k in g.edges(data="kind"))
    (1, [('dataset:a', 'reads', 'run:...'), ('run:...', 'writes', 'dataset:b')])
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from ..events import Status
from .model import ColumnRef, StatementKind
from .nodes import DatasetKind, EdgeKind, NodeKind, column_node, dataset_node, run_node
from .runs import Run

#: statements that replace a dataset's whole definition (old column derivations go away)
REPLACING_KINDS = frozenset(
    {
        StatementKind.SELECT,  # a SELECT writes only when its rows are bound to a variable
        StatementKind.DECLARED,
        StatementKind.CREATE_TABLE_AS,
        StatementKind.CREATE_TABLE,
        StatementKind.CREATE_VIEW,
        StatementKind.CREATE_EXTERNAL_TABLE,
    }
)


def apply_run(g: nx.DiGraph, run: Run, seq: int) -> None:
    """Add one run (the ``seq``-th of the log) to ``g``: its run node, the datasets it reads,
    writes, drops or renames, and its column derivations."""
    info, sl = run.info, run.lineage
    rid = run_node(info.run_id).id
    g.add_node(rid, kind=NodeKind.RUN, name=info.run_id, seq=seq)
    if info.status is not Status.COMPLETE:
        return
    for name in sorted(sl.reads | sl.writes | sl.drops):
        _used_by(g, _dataset(g, name), info.notebook)
    for name in sorted(sl.reads | sl.rewrites):  # an in-place change reads the old version
        ds = _dataset(g, name)
        attrs = g.nodes[ds]
        if name in info.frames and attrs["version"] == 0:  # never written: a notebook frame
            attrs["dataset_kind"] = DatasetKind.DATAFRAME
        _edge(g, ds, rid, EdgeKind.READS)
    for name in sorted(sl.writes):
        ds = _dataset(g, name)
        if sl.kind in REPLACING_KINDS:
            _forget_derivations(g, name)
        _touch(g, ds, seq, info.run_id, dropped=False)
        g.nodes[ds]["dataset_kind"] = (
            DatasetKind.NOTEBOOK_VARIABLE if name in info.variables else DatasetKind.TABLE
        )
        _edge(g, rid, ds, EdgeKind.WRITES)
    targets = sl.writes | {new for _, new in sl.renames}
    for edge in sl.column_edges:
        if edge.target.dataset not in targets:  # a SELECT's result set is no dataset
            continue
        src = _column(g, edge.source)
        dst = _column(g, edge.target)
        # one graph edge per column pair; every (type, subtype) of it is kept, so a column
        # both copied and filtered on keeps its DIRECT and its INDIRECT transformation
        if g.has_edge(src, dst) and g.edges[src, dst]["kind"] is EdgeKind.DERIVES:
            transforms = g.edges[src, dst]["transforms"]
        else:
            transforms = {}
            _edge(g, src, dst, EdgeKind.DERIVES, transforms=transforms)
        transforms[(edge.type, edge.subtype)] = info.run_id
    for name in sorted(sl.drops):
        ds = _dataset(g, name)
        _touch(g, ds, seq, info.run_id, dropped=True)
        _edge(g, rid, ds, EdgeKind.DROPS)
    for old, new in sl.renames:
        _rename(g, old, new)
        ds = _dataset(g, new)
        _used_by(g, ds, info.notebook)
        _touch(g, ds, seq, info.run_id, dropped=False)
        _edge(g, rid, ds, EdgeKind.RENAMES)


def _edge(g: nx.DiGraph, u: str, v: str, kind: EdgeKind, **attrs: Any) -> None:
    g.add_edge(u, v, kind=kind, **attrs)


def _dataset(g: nx.DiGraph, name: str) -> str:
    nid = dataset_node(name).id
    if nid not in g:
        g.add_node(
            nid,
            kind=NodeKind.DATASET,
            name=name,
            dropped=False,
            previous_names=(),
            modified_seq=-1,
            modified_by="",
            version=0,
            dataset_kind=DatasetKind.TABLE,
            notebooks=(),
        )
    return nid


def _column(g: nx.DiGraph, ref: ColumnRef) -> str:
    ds = _dataset(g, ref.dataset)
    nid = column_node(ref.dataset, ref.column).id
    if nid not in g:
        g.add_node(
            nid,
            kind=NodeKind.COLUMN,
            name=ref.dataset,
            column=ref.column,
            unresolved=ref.unresolved,
        )
        _edge(g, ds, nid, EdgeKind.HAS_COLUMN)
    return nid


def _used_by(g: nx.DiGraph, nid: str, notebook: str) -> None:
    """Record that ``notebook`` reads or writes the dataset (node attribute ``notebooks``)."""
    attrs = g.nodes[nid]
    if notebook not in attrs["notebooks"]:
        attrs["notebooks"] = tuple(sorted({*attrs["notebooks"], notebook}))


def _touch(g: nx.DiGraph, nid: str, seq: int, run_id: str, *, dropped: bool) -> None:
    attrs = g.nodes[nid]
    attrs.update(modified_seq=seq, modified_by=run_id, dropped=dropped)
    if not dropped:  # every write (a re-bound variable, a re-created table) is a new version
        attrs["version"] += 1


def _forget_derivations(g: nx.DiGraph, dataset: str) -> None:
    """A dataset being re-created: its columns' old derivations no longer hold.

    Columns left without any derivation are dropped too; the new statement's
    column edges add back the ones it knows.
    """
    for col in columns_of(g, dataset):
        g.remove_edges_from(
            [
                (u, col)
                for u in list(g.predecessors(col))
                if g.edges[u, col]["kind"] is EdgeKind.DERIVES
            ]
        )
    for col in columns_of(g, dataset):
        if not any(
            g.edges[e]["kind"] is EdgeKind.DERIVES for e in [*g.in_edges(col), *g.out_edges(col)]
        ):
            g.remove_node(col)


def columns_of(g: nx.DiGraph, dataset: str) -> list[str]:
    nid = dataset_node(dataset).id
    if nid not in g:
        return []
    return [v for v in g.successors(nid) if g.edges[nid, v]["kind"] is EdgeKind.HAS_COLUMN]


def _rename(g: nx.DiGraph, old: str, new: str) -> None:
    old_id = dataset_node(old).id
    if old_id not in g:
        return
    mapping = {old_id: dataset_node(new).id}
    for col in columns_of(g, old):
        column = g.nodes[col]["column"]
        mapping[col] = column_node(new, column).id
        g.nodes[col]["name"] = new
    previous = g.nodes[old_id]["previous_names"]
    nx.relabel_nodes(g, mapping, copy=False)
    g.nodes[mapping[old_id]].update(name=new, previous_names=(*previous, old))
