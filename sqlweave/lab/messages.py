"""Build the messages of the ``sqlweave.lab`` comm from a lineage graph and a session.

Lineage is shown per *cell*: every statement of a cell is folded into one cell node (a cell
of five SELECTs is one node, not five), datasets are the primary nodes, and column
derivations travel separately so the panel can expand a dataset's columns on demand.

    >>> from sqlweave.lineage.graph import LineageGraph
    >>> msg = graph_message(LineageGraph(), notebook="nb.ipynb")
    >>> msg["type"], msg["datasets"], msg["cells"]
    ('graph', [], [])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

from .. import frames
from ..errors import UsageError
from ..lineage.graph import DatasetKind, EdgeKind, LineageGraph, NodeKind, dataset_node
from ..lineage.runs import Run, RunInfo
from ..lineage.variables import LAST_RESULT

SCHEMA_PATH = Path(__file__).with_name("schema.json")
_SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
COMM_TARGET: str = _SCHEMA["x-comm-target"]
PROTOCOL_VERSION: int = _SCHEMA["x-protocol-version"]


class MessageType(str, Enum):
    GRAPH = "graph"  # kernel -> lab
    SCHEMA = "schema"  # kernel -> lab
    ERROR = "error"  # kernel -> lab
    REQUEST = "request"  # lab -> kernel


class Scope(str, Enum):
    NOTEBOOK = "notebook"  # the runs of the kernel's notebook
    FOLDER = "folder"  # every notebook run in the project folder (the lineage store)


class TableSource(str, Enum):
    CATALOG = "catalog"  # created by SQL in the engine
    FILE = "file"  # a registered path
    DATAFRAME = "dataframe"  # a registered or notebook DataFrame / Arrow table


#: graph edges between datasets and runs the panel draws (run ends become cell ends)
_CELL_EDGES = (EdgeKind.READS, EdgeKind.WRITES, EdgeKind.DROPS, EdgeKind.RENAMES)


def cell_node_id(info: RunInfo) -> str:
    notebook, cell = info.cell_key
    return f"cell:{notebook}#{cell}"


def _envelope(kind: MessageType, **body: Any) -> dict[str, Any]:
    return {"type": kind.value, "version": PROTOCOL_VERSION, **body}


def graph_message(
    graph: LineageGraph, *, notebook: str, scope: Scope = Scope.NOTEBOOK
) -> dict[str, Any]:
    """The ``graph`` message: ``graph`` restricted to ``notebook`` unless ``scope`` is folder."""
    if scope is Scope.NOTEBOOK:
        graph = graph.for_notebook(notebook)
    cells: dict[str, dict[str, Any]] = {}
    cell_of_run: dict[str, str] = {}
    for run in graph.runs:
        cid = cell_node_id(run.info)
        cell_of_run[run.info.run_id] = cid
        cell = cells.get(cid)
        if cell is None:
            cell = cells[cid] = _cell(run)
        else:
            cell["sql"].append(run.info.sql)
            cell["execution_count"] = run.info.execution_count
        if run.lineage is not None and (
            run.lineage.writes - {LAST_RESULT} or run.lineage.drops or run.lineage.renames
        ):
            cell["read_only"] = False
    for stale in graph.stale():
        for cid, cell in cells.items():
            if (cell["notebook"], cell["cell_id"]) == (stale.cell.notebook, stale.cell.cell_id):
                cells[cid]["stale_inputs"] = sorted({*cell["stale_inputs"], *stale.inputs})
    for cell in cells.values():
        cell["label"] = _cell_label(cell)
    datasets = [
        {
            "id": node.id,
            "name": node.name,
            "kind": _dataset_kind(graph.attrs(node)),
            "columns": list(graph.columns(node.name)),
            "dropped": bool(graph.attrs(node)["dropped"]),
            "previous_names": list(graph.attrs(node)["previous_names"]),
        }
        for node in sorted(graph.nodes(NodeKind.DATASET))
    ]
    # a displayed query "writes" IPython's `_`: shown only once a later cell reads `_`
    last = dataset_node(LAST_RESULT).id
    read_later = any(k is EdgeKind.READS and u.id == last for u, _v, k in graph.edges())
    hidden = set() if read_later else {last}
    datasets = [d for d in datasets if d["id"] not in hidden]
    edges: dict[tuple[str, str, str], dict[str, str]] = {}
    for u, v, kind in graph.edges():
        if kind not in _CELL_EDGES:
            continue
        source = cell_of_run[u.name] if u.kind is NodeKind.RUN else u.id
        target = cell_of_run[v.name] if v.kind is NodeKind.RUN else v.id
        if source in hidden or target in hidden:
            continue
        edges.setdefault(
            (source, target, kind.value), {"source": source, "target": target, "kind": kind.value}
        )
    columns = [
        {
            "source": [src.name, src.column or ""],
            "target": [dst.name, dst.column or ""],
            "cell": cell_of_run[run_id],
            "transform": subtype.value,
        }
        for src, dst, _type, subtype, run_id in graph.derivations()
        if dataset_node(dst.name).id not in hidden and dataset_node(src.name).id not in hidden
    ]
    return _envelope(
        MessageType.GRAPH,
        scope=scope.value,
        notebook=notebook,
        datasets=datasets,
        cells=list(cells.values()),
        edges=sorted(edges.values(), key=lambda e: (e["source"], e["target"], e["kind"])),
        columns=columns,
    )


def _dataset_kind(attrs: dict[str, Any]) -> str:
    kind = attrs.get("dataset_kind", DatasetKind.TABLE)
    return DatasetKind(kind).value


def _cell(run: Run) -> dict[str, Any]:
    info = run.info
    return {
        "id": cell_node_id(info),
        "notebook": info.notebook,
        "cell_id": info.cell_id,
        "execution_count": info.execution_count,
        "label": "",
        "sql": [info.sql],
        "read_only": True,
        "stale_inputs": [],
    }


def _cell_label(cell: dict[str, Any]) -> str:
    """``[3] CREATE TABLE clean AS …`` (+ how many more statements the cell ran)."""
    head = " ".join(cell["sql"][0].split()) if cell["sql"] else ""
    head = head if len(head) <= 40 else head[:39] + "…"
    count = "" if cell["execution_count"] is None else f"[{cell['execution_count']}] "
    more = len(cell["sql"]) - 1
    return f"{count}{head}" + (f" (+{more})" if more else "")


def schema_message(session: Any, namespace: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``schema`` message: the session's catalog tables and the namespace's DataFrames.

    A table whose schema cannot be read (a file that went away) is listed without columns.
    """
    registered = getattr(session, "_registered", {})  # name -> (source, format)
    tables: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in sorted(session.tables()):
        source, _fmt = registered.get(name, (None, None))
        kind = (
            TableSource.CATALOG
            if name not in registered
            else TableSource.FILE
            if isinstance(source, str)
            else TableSource.DATAFRAME
        )
        try:
            columns = [(f.name, str(f.type)) for f in session.schema(name)]
        except Exception:  # e.g. a registered file deleted since: list the name anyway
            columns = []
        tables.append(_table(name, kind, columns))
        seen.add(name.lower())
    for name, value in sorted((namespace or {}).items()):
        if name.startswith("_") or not name.isidentifier() or name.lower() in seen:
            continue
        if frames.is_frame(value):
            tables.append(_table(name, TableSource.DATAFRAME, frame_columns(value)))
    return _envelope(MessageType.SCHEMA, tables=tables)


def _table(name: str, source: TableSource, columns: Iterable[tuple[str, str]]) -> dict[str, Any]:
    return {
        "name": name,
        "source": source.value,
        "columns": [{"name": str(c), "type": t} for c, t in columns],
    }


def frame_columns(value: Any) -> list[tuple[str, str]]:
    """``(column, type)`` of a DataFrame-like value, without converting its data."""
    import pyarrow as pa

    try:
        if isinstance(value, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
            return [(f.name, str(f.type)) for f in value.schema]
        module = type(value).__module__.split(".")[0]
        if module == "pandas":
            return [(str(c), str(t)) for c, t in value.dtypes.items()]
        if module == "polars":
            schema = value.collect_schema() if hasattr(value, "collect_schema") else value.schema
            return [(str(c), str(t)) for c, t in schema.items()]
        if hasattr(value, "__arrow_c_schema__"):
            return [(f.name, str(f.type)) for f in pa.schema(value)]
    except Exception:  # an exotic frame: its name is still useful
        return []
    return []


def error_message(text: str) -> dict[str, Any]:
    return _envelope(MessageType.ERROR, message=text)


def parse_request(data: Any) -> Scope:
    """The scope a ``request`` message asks for.

    Raises:
        UsageError: for anything else (the comm answers with an ``error`` message).
    """
    if not isinstance(data, dict) or data.get("type") != MessageType.REQUEST.value:
        raise UsageError(f"sqlweave lab: not a request message: {data!r:.200}")
    if data.get("version") != PROTOCOL_VERSION:
        raise UsageError(
            f"sqlweave lab: protocol version {data.get('version')!r}, this kernel speaks "
            f"{PROTOCOL_VERSION}: upgrade the older of sqlweave and its JupyterLab extension"
        )
    try:
        return Scope(data.get("scope"))
    except ValueError:
        raise UsageError(f"sqlweave lab: unknown scope {data.get('scope')!r}") from None
