"""OpenLineage run events (spec 2-0-2) for the runs of a :class:`LineageGraph`.

Each run becomes a START event and a COMPLETE (or FAIL) event. Datasets carry
the ``schema`` facet (the columns the graph knows), outputs the
``columnLineage`` facet (from the statement's column edges), ``outputStatistics``
(row count) and, for DDL, ``lifecycleStateChange``.

    >>> from sqlweave.lineage.graph import LineageGraph
    >>> graph_events(LineageGraph())
    []
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from collections import defaultdict
from datetime import timedelta
from enum import Enum
from typing import Any

from .._version import __version__
from ..events import Status
from .graph import LineageGraph, Run
from .model import ColumnEdge, StatementKind

SPEC_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
PRODUCER = f"https://github.com/sqlweave/sqlweave/tree/v{__version__}"
JOB_NAMESPACE = "sqlweave"

#: facet key -> (facet class, schema file $id); tests check these against the vendored schemas
FACETS = {
    "schema": (
        "SchemaDatasetFacet",
        "https://openlineage.io/spec/facets/1-2-0/SchemaDatasetFacet.json",
    ),
    "columnLineage": (
        "ColumnLineageDatasetFacet",
        "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
    ),
    "outputStatistics": (
        "OutputStatisticsOutputDatasetFacet",
        "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json",
    ),
    "lifecycleStateChange": (
        "LifecycleStateChangeDatasetFacet",
        "https://openlineage.io/spec/facets/1-0-1/LifecycleStateChangeDatasetFacet.json",
    ),
    "sql": ("SQLJobFacet", "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json"),
    "jobType": ("JobTypeJobFacet", "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json"),
    "processing_engine": (
        "ProcessingEngineRunFacet",
        "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json",
    ),
    "errorMessage": (
        "ErrorMessageRunFacet",
        "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json",
    ),
    "parent": ("ParentRunFacet", "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json"),
}

_LIFECYCLE = {
    StatementKind.CREATE_TABLE: "CREATE",
    StatementKind.CREATE_TABLE_AS: "CREATE",
    StatementKind.CREATE_VIEW: "CREATE",
    StatementKind.CREATE_EXTERNAL_TABLE: "CREATE",
}


class EventType(str, Enum):
    """OpenLineage run states we emit."""

    START = "START"
    COMPLETE = "COMPLETE"
    FAIL = "FAIL"
    ABORT = "ABORT"  # stopped on purpose (a pipeline interrupted with Ctrl-C)


def _facet(key: str, **fields: Any) -> dict[str, Any]:
    name, schema_id = FACETS[key]
    return {"_producer": PRODUCER, "_schemaURL": f"{schema_id}#/$defs/{name}", **fields}


#: sqlweave's engine name -> (the engine's own name, the distribution whose version it is)
_ENGINES = {
    "datafusion": ("DataFusion", "datafusion"),
    "duckdb": ("DuckDB", "duckdb"),
    "cluster": ("DataFusion", "datafusion"),  # the cluster's workers run DataFusion
}


def processing_engine(engine: str) -> dict[str, Any]:
    """The ``processing_engine`` run facet: the engine that ran the statement and its version
    (DataFusion, DuckDB; Python for a declared cell), sqlweave as the adapter.

    >>> facet = processing_engine("duckdb")
    >>> facet["name"], facet["version"] != "", facet["openlineageAdapterVersion"] == __version__
    ('DuckDB', True, True)
    """
    name, dist = _ENGINES.get(engine, (engine, ""))
    if engine == "python":
        name, version = "Python", platform.python_version()
    else:
        try:
            version = importlib.metadata.version(dist) if dist else "unknown"
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
    return _facet(
        "processing_engine", version=version, name=name, openlineageAdapterVersion=__version__
    )


def dataset_namespace(engine: str) -> str:
    """The dataset namespace of an engine's tables, e.g. ``duckdb://sqlweave``."""
    return f"{engine}://sqlweave"


def job_name(run: Run) -> str:
    """``notebook:cell`` (one job per notebook cell), or ``notebook:adhoc`` outside cells."""
    return f"{run.info.notebook}:{run.info.cell_id or 'adhoc'}"


def run_events(run: Run, graph: LineageGraph | None = None) -> list[dict[str, Any]]:
    """The START and COMPLETE/FAIL events of one run.

    Args:
        run: the run.
        graph: the graph it belongs to; supplies dataset schemas (the columns known).
    """
    info, sl = run.info, run.lineage
    ns = dataset_namespace(info.engine)
    ok = info.status is Status.COMPLETE
    inputs = [_dataset(ns, name, _columns(run, name, graph)) for name in sorted(sl.reads)]
    inputs = inputs if ok else []
    outputs = _outputs(run, ns, graph) if ok else []
    job = {
        "namespace": JOB_NAMESPACE,
        "name": job_name(run),
        "facets": {
            "sql": _facet(
                "sql", query=info.sql, **({"dialect": info.dialect} if info.dialect else {})
            ),
            "jobType": _facet(
                "jobType", processingType="BATCH", integration="SQLWEAVE", jobType="QUERY"
            ),
        },
    }
    run_facets: dict[str, Any] = {"processing_engine": processing_engine(info.engine)}
    start = {
        "eventType": EventType.START.value,
        "eventTime": info.started_at.isoformat(),
        "run": {"runId": info.run_id, "facets": run_facets},
        "job": job,
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": f"{SPEC_URL}#/$defs/RunEvent",
    }
    end_facets = dict(run_facets)
    if not ok:
        end_facets["errorMessage"] = _facet(
            "errorMessage", message=info.error or "statement failed", programmingLanguage="SQL"
        )
    end = {
        **start,
        "eventType": (EventType.COMPLETE if ok else EventType.FAIL).value,
        "eventTime": (info.started_at + timedelta(seconds=info.duration_s)).isoformat(),
        "run": {"runId": info.run_id, "facets": end_facets},
    }
    return [start, end]


def graph_events(graph: LineageGraph) -> list[dict[str, Any]]:
    """Events for every run of the graph, oldest first."""
    return [event for run in graph.runs for event in run_events(run, graph)]


def to_json_lines(graph: LineageGraph) -> str:
    """One event per line, as OpenLineage file transports write them."""
    return "".join(json.dumps(e, sort_keys=True) + "\n" for e in graph_events(graph))


def _dataset(ns: str, name: str, columns: tuple[str, ...], **facets: Any) -> dict[str, Any]:
    columns = tuple(c for c in columns if c != "*")
    if columns:
        facets["schema"] = _facet("schema", fields=[{"name": c} for c in columns])
    return {"namespace": ns, "name": name, "facets": facets}


def _columns(run: Run, name: str, graph: LineageGraph | None) -> tuple[str, ...]:
    """The columns of ``name`` as this statement saw them, else as the graph knows them now."""
    cols = {e.source.column for e in run.lineage.column_edges if e.source.dataset == name}
    cols |= {e.target.column for e in run.lineage.column_edges if e.target.dataset == name}
    if not cols and graph is not None and name in graph.datasets():
        return graph.columns(name)
    return tuple(sorted(cols))


def _outputs(run: Run, ns: str, graph: LineageGraph | None) -> list[dict[str, Any]]:
    info, sl = run.info, run.lineage
    by_target: dict[str, list[ColumnEdge]] = defaultdict(list)
    for edge in sl.column_edges:
        by_target[edge.target.dataset].append(edge)
    out = []
    for name in sorted(sl.writes):
        facets: dict[str, Any] = {}
        if by_target.get(name):
            facets["columnLineage"] = _column_lineage(by_target[name], ns)
        if sl.kind in _LIFECYCLE:
            facets["lifecycleStateChange"] = _facet(
                "lifecycleStateChange", lifecycleStateChange=_LIFECYCLE[sl.kind]
            )
        ds = _dataset(ns, name, _columns(run, name, graph), **facets)
        if info.rows is not None and sl.kind is not StatementKind.SELECT:
            ds["outputFacets"] = {
                "outputStatistics": _facet("outputStatistics", rowCount=info.rows)
            }
        out.append(ds)
    for name in sorted(sl.drops):
        out.append(
            _dataset(
                ns,
                name,
                (),
                lifecycleStateChange=_facet("lifecycleStateChange", lifecycleStateChange="DROP"),
            )
        )
    for old, new in sl.renames:
        out.append(
            _dataset(
                ns,
                new,
                _columns(run, new, graph),
                lifecycleStateChange=_facet(
                    "lifecycleStateChange",
                    lifecycleStateChange="RENAME",
                    previousIdentifier={"namespace": ns, "name": old},
                ),
            )
        )
    return out


def _column_lineage(edges: list[ColumnEdge], ns: str) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {}
    for edge in sorted(edges):
        entry = fields.setdefault(edge.target.column, {"inputFields": []})
        entry["inputFields"].append(
            {
                "namespace": ns,
                "name": edge.source.dataset,
                "field": edge.source.column,
                "transformations": [{"type": edge.type.value, "subtype": edge.subtype.value}],
            }
        )
    return _facet("columnLineage", fields=fields)


#: public names for other packages' events (the pipeline's notebook runs)
facet = _facet
column_lineage_facet = _column_lineage
