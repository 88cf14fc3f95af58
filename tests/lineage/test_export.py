"""Exports parse back: GraphML, node-link JSON, DOT, Mermaid."""

from __future__ import annotations

import io
import json
from pathlib import Path

import networkx as nx
import pytest
from graphs import history

from sqlweave.errors import UsageError
from sqlweave.lineage import exports


def test_graphml_reads_back_with_every_node_and_edge() -> None:
    g = history(rename_sql='RENAME clean TO "tidy"')
    back = nx.read_graphml(io.BytesIO(exports.to_graphml(g).encode()), force_multigraph=True)
    ref = g.to_networkx(multigraph=True)
    assert set(back.nodes) == set(ref.nodes)
    assert set(back.edges(keys=True)) == set(ref.edges(keys=True))
    assert back.nodes["dataset:tidy"]["previous_names"] == "clean"
    assert back.nodes["dataset:raw"]["dropped"] is True
    assert back.edges["column:raw.amount", "column:tidy.amount", "DIRECT/IDENTITY"]["kind"] == (
        "derives"
    )


def test_node_link_json_round_trips() -> None:
    g = history(rename_sql='RENAME clean TO "tidy"')
    data = json.loads(exports.to_json(g))
    back = nx.node_link_graph(data, edges="edges")
    assert set(back.edges(keys=True)) == set(g.to_networkx(multigraph=True).edges(keys=True))
    labels = {n["label"] for n in data["nodes"]}
    assert {"raw", "tidy", "summary", "summary.total"} <= labels


def test_dot_and_mermaid_name_every_dataset() -> None:
    g = history(rename_sql='RENAME clean TO "tidy"')
    dot = exports.to_dot(g)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert '"dataset:tidy" [label="tidy", shape=box];' in dot
    assert '\\"tidy\\"' in dot  # the quoted SQL of the rename run is escaped
    mermaid = exports.to_mermaid(g)
    assert mermaid.startswith("flowchart LR\n")
    for name in ("raw", "tidy", "summary"):
        assert f'["{name}"]' in mermaid
    assert '"tidy"' not in mermaid.replace('["tidy"]', "")  # quotes inside labels are escaped


def test_export_writes_files_and_rejects_unknown_formats(tmp_path: Path) -> None:
    g = history(rename_sql='RENAME clean TO "tidy"')
    for fmt in exports.ExportFormat:
        path = exports.export(g, fmt, tmp_path / f"out.{fmt.value}")
        assert path.read_text()
    with pytest.raises(UsageError, match="graphml"):
        exports.render(g, "png")
