"""The lineage graph: datasets, columns and runs, behind a small interface.

A *run* is one statement execution (one statement of one notebook cell). The
graph is a pure function of its ordered run log (:class:`RunLog`): a new run at
the end is applied incrementally; anything else (re-running a cell replaces that
cell's earlier runs, merging another kernel's log, removing a cell) replays the
whole log into a fresh networkx graph, so renames, drops and re-runs can never
leave a duplicate or stale edge. Replaying a few hundred runs takes milliseconds.
How one run changes the graph is :func:`.apply_run.apply_run`; the node and edge kinds
are in :mod:`.nodes`. At a little over 500 lines this module stays one: what is left is
the graph's interface, whose queries (upstream, downstream, impact, stale) all read the
private networkx graph it keeps.

    >>> from sqlweave.lineage.model import Span, StatementKind, StatementLineage
    >>> g = LineageGraph()
    >>> info = RunInfo.new(notebook="nb.ipynb", cell_id="c1", execution_count=1,
    ...                    sql="CREATE TABLE b AS SELECT * FROM a", engine="duckdb")
    >>> sl = StatementLineage(StatementKind.CREATE_TABLE_AS, info.sql, Span(0, 33),
    ...                       reads=frozenset({"a"}), writes=frozenset({"b"}))
    >>> _ = g.add_run(info, sl)
    >>> [n.name for n in g.downstream("a") if n.kind is NodeKind.DATASET]
    ['b']
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import networkx as nx

from ..errors import UsageError
from .apply_run import apply_run, columns_of
from .kernel_scope import is_file_name
from .model import ColumnRef, StatementLineage, TransformSubtype, TransformType
from .nodes import (
    FLOW_EDGES,
    DatasetKind,
    EdgeKind,
    Node,
    NodeKind,
    column_node,
    dataset_node,
    run_node,
)
from .runs import INTERACTIVE, CellRef, LogChange, Run, RunInfo, RunLog
from .variables import LAST_RESULT
from .views import binds_late

__all__ = [
    "FLOW_EDGES",
    "INTERACTIVE",
    "CellRef",
    "DatasetKind",
    "EdgeKind",
    "Impact",
    "LineageGraph",
    "Node",
    "NodeKind",
    "Run",
    "RunInfo",
    "RunLog",
    "StaleCell",
    "UnknownNodeError",
]


class UnknownNodeError(UsageError):
    """A query named a dataset or column the graph does not hold."""


def _seen_by(dataset: dict[str, Any], writer: RunInfo, reader: RunInfo) -> bool:
    """Whether what ``writer`` wrote to ``dataset`` is what ``reader`` reads.

    Within one notebook, always. Across notebooks (kernels), only shared datasets: files,
    and tables of a project warehouse or a cluster's catalog; a notebook variable or an
    in-memory table of one kernel is not the same-named one of another kernel.
    """
    if writer.notebook == reader.notebook:
        return True
    if dataset["dataset_kind"] is not DatasetKind.TABLE:
        return False
    return is_file_name(dataset["name"]) or (writer.shared_catalog and reader.shared_catalog)


@dataclass(frozen=True)
class Impact:
    """What changing a dataset or column affects, in topological order.

    ``cells`` write the affected datasets; ``readers`` are the cells that only read the
    source or an affected dataset (a plain ``SELECT``): nothing depends on them, but what
    they show is out of date until they run again.
    """

    source: Node
    datasets: tuple[str, ...]
    columns: tuple[ColumnRef, ...]
    cells: tuple[CellRef, ...]
    readers: tuple[CellRef, ...] = ()


@dataclass(frozen=True)
class StaleCell:
    """A cell whose inputs were rewritten (by other cells) after it last ran."""

    cell: CellRef
    inputs: tuple[str, ...]
    rewritten_by: tuple[CellRef, ...] = field(default=())
    via: tuple[CellRef, ...] = field(default=())  # stale cells that wrote one of its inputs

    @property
    def reason(self) -> str:
        """Why it is stale, in words."""
        parts = []
        if self.rewritten_by:
            parts.append(f"rewritten by {', '.join(map(str, self.rewritten_by))} after it ran")
        if self.via:
            parts.append(f"written by stale {', '.join(map(str, self.via))}")
        return f"inputs {', '.join(self.inputs)}: " + "; ".join(parts)


NodeLike = str | Node | ColumnRef


class LineageGraph:
    """Datasets, columns and runs, built from an ordered log of runs."""

    def __init__(self, runs: Iterable[Run] = ()) -> None:
        self._log = RunLog()
        self._g = nx.DiGraph()
        self.merge(runs)

    # ---- building ---------------------------------------------------------------------------

    def add_run(self, info: RunInfo, lineage: StatementLineage) -> bool:
        """Add one statement execution; returns False when it was ignored.

        A run of a cell whose earlier execution is in the graph replaces that
        execution's runs. A run older than the cell's current execution (seen
        when merging another kernel's log) and an already known run id are ignored.
        """
        return self.merge([Run(info, lineage)]) > 0

    def merge(self, runs: Iterable[Run] | LineageGraph) -> int:
        """Add every run of another graph or run log (the rules of :meth:`add_run` apply).

        Returns how many runs were taken.
        """
        items = runs.runs if isinstance(runs, LineageGraph) else tuple(runs)
        replay = False
        taken = 0
        for run in sorted(items, key=lambda r: r.info.started_at):
            change = self._log.add(run)
            taken += change is not LogChange.IGNORED
            if change is LogChange.REWRITTEN:
                replay = True
            elif change is LogChange.APPENDED and not replay:
                apply_run(self._g, run, len(self._log) - 1)
        if replay:
            self._rebuild()
        return taken

    def remove_cell(self, notebook: str, cell_id: str) -> None:
        """Forget everything one cell contributed."""
        self._log.keep(lambda r: r.info.cell_key != (notebook, cell_id))
        self._rebuild()

    def forget_cells(self, notebook: str, keep: Iterable[str], before: datetime) -> int:
        """Forget the runs of ``notebook``'s cells not in ``keep`` that ran before ``before``
        (cells deleted from the saved notebook); returns how many runs went."""
        keep = set(keep)

        def deleted(run: Run) -> bool:
            info = run.info
            return (
                info.notebook == notebook
                and info.cell_id is not None
                and info.cell_id not in keep
                and info.started_at < before
            )

        gone = sum(1 for r in self._log.runs if deleted(r))
        if gone:
            self._log.keep(lambda r: not deleted(r))
            self._rebuild()
        return gone

    def for_notebook(self, notebook: str) -> LineageGraph:
        """A new graph of one notebook's runs only."""
        return LineageGraph(r for r in self._log.runs if r.info.notebook == notebook)

    def clear(self, notebook: str | None = None) -> None:
        """Forget all runs, or only those of one notebook."""
        self._log.keep(lambda r: notebook is not None and r.info.notebook != notebook)
        self._rebuild()

    def _rebuild(self) -> None:
        self._g = nx.DiGraph()
        for seq, run in enumerate(self._log.runs):
            apply_run(self._g, run, seq)

    # ---- reading ------------------------------------------------------------------------------

    @property
    def runs(self) -> tuple[Run, ...]:
        """The run log, oldest first."""
        return self._log.runs

    def run(self, run_id: str) -> Run:
        run = self._log.get(run_id)
        if run is not None:
            return run
        raise UnknownNodeError(f"unknown run {run_id!r}")

    def __len__(self) -> int:
        return len(self._log)

    def __contains__(self, item: object) -> bool:
        try:
            return self.node(item) is not None  # type: ignore[arg-type]
        except (UnknownNodeError, TypeError):
            return False

    def nodes(self, kind: NodeKind | None = None) -> Iterator[Node]:
        for nid in self._g.nodes:
            node = self._as_node(nid)
            if kind is None or node.kind is kind:
                yield node

    def edges(self, kind: EdgeKind | None = None) -> Iterator[tuple[Node, Node, EdgeKind]]:
        for u, v, k in self._g.edges(data="kind"):
            if kind is None or k is kind:
                yield self._as_node(u), self._as_node(v), k

    def derivations(self) -> Iterator[tuple[Node, Node, TransformType, TransformSubtype, str]]:
        """Column edges: ``(source, target, type, subtype, run_id)``, one per transformation
        (a column pair may have several: DIRECT/IDENTITY and INDIRECT/FILTER, say)."""
        for u, v, a in self._g.edges(data=True):
            if a["kind"] is EdgeKind.DERIVES:
                for (type_, subtype), run_id in sorted(a["transforms"].items()):
                    yield self._as_node(u), self._as_node(v), type_, subtype, run_id

    def datasets(self, *, include_dropped: bool = True) -> tuple[str, ...]:
        return tuple(
            sorted(
                n.name
                for n in self.nodes(NodeKind.DATASET)
                if include_dropped or not self.attrs(n)["dropped"]
            )
        )

    def columns(self, dataset: str) -> tuple[str, ...]:
        return tuple(sorted(self._g.nodes[c]["column"] for c in columns_of(self._g, dataset)))

    def attrs(self, node: NodeLike) -> dict[str, Any]:
        """A copy of a node's attributes (run nodes get their RunInfo fields too)."""
        n = self.node(node)
        out = dict(self._g.nodes[n.id])
        if n.kind is NodeKind.RUN:
            info = self.run(n.name).info
            out.update({k: getattr(info, k) for k in info.__dataclass_fields__})
        return out

    def node(self, ref: NodeLike) -> Node:
        """Resolve ``"table"``, ``"table.column"``, a :class:`ColumnRef` or a :class:`Node`."""
        if isinstance(ref, Node):
            candidates = [ref]
        elif isinstance(ref, ColumnRef):
            candidates = [column_node(ref.dataset, ref.column)]
        elif isinstance(ref, str):
            candidates = [dataset_node(ref), run_node(ref)]
            if "." in ref:
                table, column = ref.rsplit(".", 1)
                candidates.append(column_node(table, column))
        else:
            raise TypeError(f"not a node reference: {ref!r}")
        for cand in candidates:
            if cand.id in self._g:
                return cand
        raise UnknownNodeError(self._unknown(str(ref)))

    def _unknown(self, ref: str) -> str:
        """Why ``ref`` names no node: a column no lineage mentions, or a typo (with the
        nearest names)."""
        if "." in ref:
            table = ref.rsplit(".", 1)[0]
            if dataset_node(table).id in self._g:
                return f"{ref}: nothing depends on it (no recorded lineage uses this column)"
        names = set(self.datasets())
        if "." in ref:
            names |= {f"{d}.{c}" for d in names for c in self.columns(d)}
        close = difflib.get_close_matches(ref, sorted(names), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"no dataset or column named {ref!r} in the lineage graph{hint}"

    def _as_node(self, nid: str) -> Node:
        a = self._g.nodes[nid]
        return Node(a["kind"], a["name"], a.get("column"))

    def cell_of(self, run_id: str) -> CellRef:
        return self.run(run_id).info.cell

    def producers(self, node: NodeLike) -> tuple[str, ...]:
        """Run ids that wrote a dataset (or derived a column), oldest first."""
        n = self.node(node)
        kinds = {EdgeKind.WRITES, EdgeKind.RENAMES} if n.kind is NodeKind.DATASET else set()
        runs = {u for u in self._g.predecessors(n.id) if self._g.edges[u, n.id]["kind"] in kinds}
        runs = {self._as_node(u).name for u in runs}
        if n.kind is NodeKind.COLUMN:
            runs |= {
                run_id
                for _, _, d in self._g.in_edges(n.id, data=True)
                if d["kind"] is EdgeKind.DERIVES
                for run_id in d["transforms"].values()
            }
        return tuple(sorted(runs, key=lambda r: self._g.nodes[run_node(r).id]["seq"]))

    # ---- queries ------------------------------------------------------------------------------

    def upstream(self, node: NodeLike, depth: int | None = None) -> list[Node]:
        """Datasets/columns (and the runs between them) that ``node`` derives from.

        ``depth`` counts dataset or column hops (runs are free); results are in
        topological order, sources first.
        """
        return self._walk(self.node(node), depth, reverse=True)

    def downstream(self, node: NodeLike, depth: int | None = None) -> list[Node]:
        """Datasets/columns (and runs) derived from ``node``, in topological order."""
        return self._walk(self.node(node), depth, reverse=False)

    def _walk(self, start: Node, depth: int | None, *, reverse: bool) -> list[Node]:
        step = self._g.predecessors if reverse else self._g.successors
        seen: dict[str, int] = {start.id: 0}
        frontier = [start.id]
        while frontier:
            nxt: list[str] = []
            for nid in frontier:
                for other in step(nid):
                    u, v = (other, nid) if reverse else (nid, other)
                    if self._g.edges[u, v]["kind"] not in FLOW_EDGES:
                        continue
                    hops = seen[nid] + (self._g.nodes[other]["kind"] is not NodeKind.RUN)
                    if depth is not None and hops > depth:
                        continue
                    if other not in seen or seen[other] > hops:
                        seen[other] = hops
                        nxt.append(other)
            frontier = nxt
        found = set(seen) - {start.id}
        if depth is not None:  # a run at the depth edge without its far side is noise
            found = {
                n
                for n in found
                if self._g.nodes[n]["kind"] is not NodeKind.RUN
                or any(m in found or m == start.id for m in step(n))
            }
        return [self._as_node(n) for n in self._topological(found)]

    def _topological(self, nids: Iterable[str]) -> list[str]:
        """Flow-edge topological order; cycles (INSERT INTO t ... FROM t) collapse into one step."""
        flow = nx.DiGraph()
        nids = set(nids)
        flow.add_nodes_from(nids)
        flow.add_edges_from(
            (u, v) for u, v, k in self._g.edges(nids, data="kind") if v in nids and k in FLOW_EDGES
        )
        cond = nx.condensation(flow)
        order: list[str] = []
        for comp in nx.lexicographical_topological_sort(
            cond, key=lambda c: min(self._sort_key(n) for n in cond.nodes[c]["members"])
        ):
            order.extend(sorted(cond.nodes[comp]["members"], key=self._sort_key))
        return order

    def _sort_key(self, nid: str) -> tuple[int, str]:
        return (self._g.nodes[nid].get("seq", -1), nid)

    def impact(
        self, node: NodeLike, positions: Mapping[tuple[str, str], int] | None = None
    ) -> Impact:
        """What depends on a dataset or column, the cells that produce it, and the cells
        that only read it.

        For a dataset, its columns' downstream columns count too. IPython's ``_`` (the last
        displayed result) is affected only through the queries that read affected data, and
        is listed only when a cell reads it. Cells come in dependency order (a cell before
        the cells reading what it writes); cells that do not depend on each other in the
        order of ``positions`` (``(notebook, cell id)`` -> place in the saved notebook),
        else in the order they last ran.
        """
        start = self.node(node)
        found = self.downstream(start)
        if start.kind is NodeKind.DATASET:
            for col in columns_of(self._g, start.name):
                found += self.downstream(self._as_node(col))
        reached = {n.id for n in found}
        # every displayed query writes `_`: unless a cell reads it, those queries are
        # readers of what they show, not producers, and `_` is no affected dataset
        hide_last = not self._read(dataset_node(LAST_RESULT).id)
        datasets: list[str] = []
        columns: list[ColumnRef] = []
        run_ids: list[str] = []
        for nid in self._topological(reached):
            n = self._as_node(nid)
            if n.kind is NodeKind.RUN or (hide_last and n.name == LAST_RESULT):
                continue
            if n.kind is NodeKind.COLUMN:
                columns.append(ColumnRef(n.name, n.column or ""))
            if n.name not in datasets:
                datasets.append(n.name)
            for rid in self.producers(n):
                # of `_`'s writers, only those reading affected data
                if rid not in run_ids and (n.name != LAST_RESULT or run_node(rid).id in reached):
                    run_ids.append(rid)
        cells = self._cells_of(run_ids, positions or {})
        read = {dataset_node(start.name).id} | {dataset_node(d).id for d in datasets}
        readers = self._cells_of(self._read_only_readers(read), positions or {})
        readers = [c for c in readers if c not in cells]
        return Impact(start, tuple(datasets), tuple(columns), tuple(cells), tuple(readers))

    def _cells_of(
        self, run_ids: Iterable[str], positions: Mapping[tuple[str, str], int]
    ) -> list[CellRef]:
        """The cells of ``run_ids``, each once, in dependency order: a cell comes before the
        cells whose runs read a dataset its runs write. Independent cells (and the cells of
        a cycle) in notebook order where ``positions`` knows it, else in run order."""
        run_ids = set(run_ids)
        infos = {rid: self.run(rid).info for rid in run_ids}
        order = nx.DiGraph()
        first: dict[tuple[str, str], int] = {}
        for rid, info in infos.items():
            seq = self._g.nodes[run_node(rid).id]["seq"]
            first[info.cell_key] = min(seq, first.get(info.cell_key, seq))
            order.add_node(info.cell_key)
            for _, ds, kind in self._g.out_edges(run_node(rid).id, data="kind"):
                if kind is not EdgeKind.WRITES:
                    continue
                for _, reader, edge in self._g.out_edges(ds, data="kind"):
                    other = self._as_node(reader).name
                    if (
                        edge is EdgeKind.READS
                        and other in infos
                        and infos[other].cell_key != info.cell_key
                    ):
                        order.add_edge(info.cell_key, infos[other].cell_key)

        def place(key: tuple[str, str]) -> tuple[bool, int, int]:
            position = positions.get(key)
            return (position is None, position or 0, first[key])

        cond = nx.condensation(order)
        keys: list[tuple[str, str]] = []
        for comp in nx.lexicographical_topological_sort(
            cond, key=lambda c: min(place(k) for k in cond.nodes[c]["members"])
        ):
            keys.extend(sorted(cond.nodes[comp]["members"], key=place))
        latest = self._latest_sessions()
        cell_of = {info.cell_key: info for info in infos.values()}
        return [self._cell(cell_of[k], latest) for k in keys]

    def _latest_sessions(self) -> dict[str, str]:
        """Each notebook's kernel session of its latest run."""
        return {run.info.notebook: run.info.session_id for run in self._log.runs}

    @staticmethod
    def _cell(info: RunInfo, latest: Mapping[str, str]) -> CellRef:
        """``info``'s cell, its execution count marked when from an earlier session."""
        cell = info.cell
        if info.session_id != latest.get(info.notebook, info.session_id):
            cell = replace(cell, earlier_session=True)
        return cell

    def _read(self, dataset_id: str) -> bool:
        return any(
            d["kind"] is EdgeKind.READS for _, _, d in self._g.out_edges(dataset_id, data=True)
        )

    def _read_only_readers(self, dataset_ids: set[str]) -> set[str]:
        """Run ids reading one of ``dataset_ids`` that change no dataset (bar ``_``)."""
        last = dataset_node(LAST_RESULT).id
        found: set[str] = set()
        for ds in dataset_ids & set(self._g):
            for _, rid, d in self._g.out_edges(ds, data=True):
                if d["kind"] is not EdgeKind.READS:
                    continue
                changes = [
                    v
                    for _, v, e in self._g.out_edges(rid, data=True)
                    if e["kind"] in (EdgeKind.WRITES, EdgeKind.DROPS, EdgeKind.RENAMES)
                    and v != last
                ]
                if not changes:
                    found.add(self._as_node(rid).name)
        return found

    def stale(self) -> list[StaleCell]:
        """Cells whose inputs changed after they ran, in run order.

        A cell is stale when another cell rewrote, dropped or renamed one of its inputs after
        it ran (``rewritten_by``), or when an input was last written by a cell that is itself
        stale (``via``: a view or table built on a replaced table is as old as its source).
        A view whose engine binds it at each read (DuckDB, see :mod:`.views`) is not made
        stale by its tables changing; a cell reading it reads those tables when it runs.
        """
        runs = list(enumerate(self._log.runs))
        latest = self._latest_sessions()
        out: dict[tuple[str, str], StaleCell] = {}
        # the writer of each input a cell read, for the transitive pass
        read_from: dict[tuple[str, str], list[tuple[str, tuple[str, str], CellRef]]] = {}
        for seq, run in runs:
            key = run.info.cell_key
            follows = binds_late(run)  # a live view shows its tables as they are now
            for ds in self._read_through(run_node(run.info.run_id).id):
                a = self._g.nodes[ds]
                if not a["modified_by"]:
                    continue  # a source: no cell wrote it
                writer = self.run(a["modified_by"]).info
                if writer.cell_key == key or not _seen_by(a, writer, run.info):
                    continue
                if a["modified_seq"] <= seq or follows:
                    read_from.setdefault(key, []).append(
                        (a["name"], writer.cell_key, self._cell(writer, latest))
                    )
                    continue
                prev = out.get(key, StaleCell(self._cell(run.info, latest), ()))
                out[key] = replace(
                    prev,
                    inputs=tuple(sorted({*prev.inputs, a["name"]})),
                    rewritten_by=tuple(sorted({*prev.rewritten_by, self._cell(writer, latest)})),
                )
        changed = True
        while changed:  # to a fixed point: staleness flows down chains of any length
            changed = False
            for _, run in runs:
                key = run.info.cell_key
                for name, writer_key, writer in read_from.get(key, ()):
                    if writer_key not in out:
                        continue
                    prev = out.get(key, StaleCell(self._cell(run.info, latest), ()))
                    if writer in prev.via and name in prev.inputs:
                        continue
                    out[key] = replace(
                        prev,
                        inputs=tuple(sorted({*prev.inputs, name})),
                        via=tuple(sorted({*prev.via, writer})),
                    )
                    changed = True
        first: dict[tuple[str, str], int] = {}
        for seq, run in runs:
            first.setdefault(run.info.cell_key, seq)
        return [out[k] for k in sorted(out, key=lambda k: first.get(k, -1))]

    def _read_through(self, rid: str) -> list[str]:
        """The datasets run ``rid`` reads, and under each live view it reads (one binding by
        name at each read, :func:`.views.binds_late`) the datasets the view reads."""
        found: list[str] = []
        todo = [rid]
        while todo:
            reader = todo.pop()
            for ds in self._g.predecessors(reader):
                if self._g.edges[ds, reader]["kind"] is not EdgeKind.READS or ds in found:
                    continue
                found.append(ds)
                a = self._g.nodes[ds]
                if a["modified_by"] and not a["dropped"] and binds_late(self.run(a["modified_by"])):
                    todo.append(run_node(a["modified_by"]).id)
        return found

    def to_networkx(self, *, multigraph: bool = False) -> nx.DiGraph:
        """A copy of the underlying graph: plain-string ``kind``s, a ``label`` on every node,
        and run nodes carrying their :class:`RunInfo` fields (``None`` as ``""`` or ``-1``).

        Column edges (``derives``) carry ``type``/``subtype``/``run_id`` of their first
        transformation (in ``TYPE/SUBTYPE`` order) and ``transforms``, every ``TYPE/SUBTYPE`` of the pair. With
        ``multigraph`` the result is a ``MultiDiGraph`` with one ``derives`` edge per
        transformation (keyed ``TYPE/SUBTYPE``): what the exports write, so none is lost.
        """
        g: nx.DiGraph = nx.MultiDiGraph() if multigraph else nx.DiGraph()
        g.add_nodes_from((n, dict(a)) for n, a in self._g.nodes(data=True))
        for u, v, a in self._g.edges(data=True):
            a = dict(a)
            kind = a.pop("kind")
            if kind is not EdgeKind.DERIVES:
                g.add_edge(
                    u, v, **({"key": kind.value} if multigraph else {}), kind=kind.value, **a
                )
                continue
            transforms = sorted(a.pop("transforms").items())
            if not multigraph:
                (type_, subtype), run_id = transforms[0]
                g.add_edge(
                    u,
                    v,
                    kind=kind.value,
                    type=type_.value,
                    subtype=subtype.value,
                    run_id=run_id,
                    transforms=tuple(f"{t.value}/{s.value}" for (t, s), _ in transforms),
                )
                continue
            for (type_, subtype), run_id in transforms:
                g.add_edge(
                    u,
                    v,
                    key=f"{type_.value}/{subtype.value}",
                    kind=kind.value,
                    type=type_.value,
                    subtype=subtype.value,
                    run_id=run_id,
                )
        for _, a in g.nodes(data=True):
            a["kind"] = a["kind"].value
            if "dataset_kind" in a:
                a["dataset_kind"] = a["dataset_kind"].value
        for _, a in g.nodes(data=True):
            a["label"] = f"{a['name']}.{a['column']}" if a.get("column") else a["name"]
            if a["kind"] == NodeKind.RUN.value:
                info = self.run(a["name"]).info
                a.update(
                    label=info.label,
                    notebook=info.notebook,
                    cell_id=info.cell_id or "",
                    execution_count=-1 if info.execution_count is None else info.execution_count,
                    started_at=info.started_at.isoformat(),
                    sql=info.sql,
                    engine=info.engine,
                    status=info.status.value,
                    duration_s=info.duration_s,
                    rows=-1 if info.rows is None else info.rows,
                )
        return g
