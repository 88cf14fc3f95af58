"""Graph JSON, GraphML and OpenLineage carry the same column edges, on the whole fixture corpus
(a column both copied and filtered on keeps its DIRECT and its INDIRECT edge everywhere)."""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import timedelta

import networkx as nx
import pytest
from graphs import T0, info
from helpers import load_cases

from sqlweave.lineage import exports, openlineage
from sqlweave.lineage.extract import extract
from sqlweave.lineage.graph import LineageGraph
from sqlweave.lineage.model import StatementKind

Edge = tuple[str, str, str, str, str, str]


def _comparable(case) -> bool:
    """Cases whose graph keeps every statement's edges (no dataset written twice, dropped or
    renamed: the graph then replaces derivations that the per-run events still carry)."""
    try:
        statements = extract(case.sql, case.dialect, case.schema)
    except ValueError:
        return False
    writes = Counter(w for s in statements for w in s.writes)
    return not any(s.drops or s.renames for s in statements) and all(
        n == 1 for n in writes.values()
    )


CASES = [c for c in load_cases() if _comparable(c)]


def graph_of(case) -> LineageGraph:
    g = LineageGraph()
    for i, lineage in enumerate(extract(case.sql, case.dialect, case.schema)):
        g.add_run(info(f"c{i}", i + 1, sql=lineage.sql, at=T0 + timedelta(seconds=i)), lineage)
    return g


def _graph_edges(g: nx.MultiDiGraph) -> set[Edge]:
    nodes = g.nodes
    return {
        (
            nodes[u]["name"],
            nodes[u]["column"],
            nodes[v]["name"],
            nodes[v]["column"],
            a["type"],
            a["subtype"],
        )
        for u, v, a in g.edges(data=True)
        if a["kind"] == "derives"
    }


def json_edges(g: LineageGraph) -> set[Edge]:
    data = json.loads(exports.to_json(g))
    return _graph_edges(nx.node_link_graph(data, edges="edges"))


def graphml_edges(g: LineageGraph) -> set[Edge]:
    text = exports.to_graphml(g)
    return _graph_edges(nx.read_graphml(io.BytesIO(text.encode()), force_multigraph=True))


def openlineage_edges(g: LineageGraph) -> set[Edge]:
    found: set[Edge] = set()
    for event in openlineage.graph_events(g):
        for output in event["outputs"]:
            lineage = output["facets"].get("columnLineage", {"fields": {}})
            for column, entry in lineage["fields"].items():
                for field in entry["inputFields"]:
                    for t in field["transformations"]:
                        found.add(
                            (
                                field["name"],
                                field["field"],
                                output["name"],
                                column,
                                t["type"],
                                t["subtype"],
                            )
                        )
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_export_has_the_same_column_edges(case) -> None:
    g = graph_of(case)
    expected = {
        (
            e.source.dataset,
            e.source.column,
            e.target.dataset,
            e.target.column,
            e.type.value,
            e.subtype.value,
        )
        for r in g.runs
        if r.lineage.kind is not StatementKind.SELECT
        for e in r.lineage.column_edges
        if e.target.dataset in r.lineage.writes
    }
    assert json_edges(g) == expected
    assert graphml_edges(g) == expected
    assert openlineage_edges(g) == expected


def test_a_copied_and_filtered_column_keeps_both_edges() -> None:
    case = next(
        c for c in load_cases() if c.id == "create_table_as:identity and filter on one column"
    )
    g = graph_of(case)
    both = {("a", "x", "b", "x", "DIRECT", "IDENTITY"), ("a", "x", "b", "x", "INDIRECT", "FILTER")}
    for edges in (json_edges(g), graphml_edges(g), openlineage_edges(g)):
        assert both <= edges


def test_the_corpus_is_compared_whole() -> None:
    assert len(CASES) > 0.8 * len(load_cases())
