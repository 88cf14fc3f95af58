"""A folder view's datasets: shared ones are one node, a kernel's own stay its own.

Every notebook runs in its own kernel. A file, or a table of a project warehouse or a
cluster's catalog, is the same dataset for every notebook; an in-memory table, a notebook
variable or a DataFrame is not: ``t`` made in ``p.ipynb`` and ``t`` made in ``q.ipynb`` are
two tables. :func:`scope_to_kernels` renames the private datasets of every notebook but the
asking one to ``notebook:name``, so that a graph of the whole folder joins notebooks only
through what they really share (the rule ``%lineage stale --folder`` follows too).

    >>> from sqlweave.lineage.model import Span, StatementKind, StatementLineage
    >>> from sqlweave.lineage.runs import Run, RunInfo
    >>> sl = StatementLineage(StatementKind.CREATE_TABLE_AS, "", Span(0, 0),
    ...                       reads=frozenset({"weather", "w.csv"}), writes=frozenset({"t"}))
    >>> other = Run(RunInfo.new(notebook="q.ipynb", sql="", engine="duckdb"), sl)
    >>> sorted(scope_to_kernels([other], "p.ipynb", "me")[0].lineage.reads)
    ['q.ipynb:weather', 'w.csv']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .model import ColumnEdge, ColumnRef
from .runs import Run, RunInfo

#: between a notebook and the name of a dataset private to its kernel
SCOPE_SEPARATOR = ":"
#: dataset names ending so are files, which every kernel sees
FILE_SUFFIXES = (".csv", ".parquet", ".json", ".ndjson", ".arrow", ".ipc", ".avro", ".tsv")


def is_file_name(name: str) -> bool:
    """Whether a dataset name is a file path (seen alike by every kernel)."""
    return "/" in name or "\\" in name or name.lower().endswith(FILE_SUFFIXES)


def is_shared(name: str, info: RunInfo) -> bool:
    """Whether ``name`` as ``info``'s statement used it is seen by other kernels too: a file,
    or a table when the statement ran on a shared catalog (never a variable or DataFrame)."""
    if name in info.variables or name in info.frames:
        return False
    return is_file_name(name) or info.shared_catalog


def scope_to_kernels(runs: Iterable[Run], notebook: str, session_id: str) -> list[Run]:
    """``runs`` with the private datasets of other kernels' runs named ``notebook:name``.

    The runs of ``notebook`` (in any of its kernel sessions) and of kernel session
    ``session_id`` keep their names: they are the asking kernel's, and ``%lineage impact t``
    means its ``t``.
    """
    out: list[Run] = []
    for run in runs:
        info = run.info
        own = info.notebook == notebook or (bool(session_id) and info.session_id == session_id)
        out.append(run if own or run.lineage is None else _scoped(run))
    return out


def _scoped(run: Run) -> Run:
    info, sl = run.info, run.lineage

    def name(dataset: str) -> str:
        if is_shared(dataset, info):
            return dataset
        return f"{info.notebook}{SCOPE_SEPARATOR}{dataset}"

    def names(datasets: Iterable[str]) -> frozenset[str]:
        return frozenset(map(name, datasets))

    def column(ref: ColumnRef) -> ColumnRef:
        return replace(ref, dataset=name(ref.dataset))

    lineage = replace(
        sl,
        reads=names(sl.reads),
        writes=names(sl.writes),
        drops=names(sl.drops),
        intermediate=names(sl.intermediate),
        rewrites=names(sl.rewrites),
        renames=tuple((name(old), name(new)) for old, new in sl.renames),
        column_edges=tuple(
            ColumnEdge(column(e.source), column(e.target), e.type, e.subtype)
            for e in sl.column_edges
        ),
    )
    scoped = replace(
        info,
        variables=tuple(map(name, info.variables)),
        frames=tuple(map(name, info.frames)),
    )
    return Run(scoped, lineage)
