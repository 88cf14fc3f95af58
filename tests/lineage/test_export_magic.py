"""``%lineage export``: every export of a cell says where it wrote, a missing folder is made
only under the notebook's folder (and said), and OpenLineage names the engine that ran."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from sqlweave._version import __version__


def tour(ip) -> None:
    ip.run_cell("%%sql --quiet\nCREATE TABLE raw AS SELECT 1 AS id", cell_id="a").raise_error()
    ip.run_cell("%%sql --quiet\nCREATE TABLE clean AS SELECT id FROM raw", cell_id="b")


def shown(ip, source: str) -> list[str]:
    with capture_output() as captured:
        ip.run_cell(source, cell_id="export").raise_error()
    return [o.data.get("text/plain", "") for o in captured.outputs]


def test_every_export_of_a_cell_is_reported(ip, tmp_path: Path) -> None:
    tour(ip)
    lines = shown(
        ip,
        "%lineage export json a.json\n%lineage export graphml b.graphml\n"
        "%lineage export openlineage c.jsonl",
    )
    assert lines == [
        "lineage written to a.json (json)",
        "lineage written to b.graphml (graphml)",
        "lineage written to c.jsonl (openlineage)",
    ]
    assert all((tmp_path / name).is_file() for name in ("a.json", "b.graphml", "c.jsonl"))


def test_a_missing_folder_elsewhere_is_an_error_and_is_not_made(ip, tmp_path_factory) -> None:
    tour(ip)
    elsewhere = tmp_path_factory.mktemp("elsewhere") / "nonexistent_dir"
    with pytest.raises(UsageError, match=f"there is no folder {elsewhere}"):
        ip.run_line_magic("lineage", f"export openlineage {elsewhere / 'x.jsonl'}")
    assert not elsewhere.exists()


def test_a_missing_folder_under_the_notebooks_folder_is_made_and_said(ip, tmp_path) -> None:
    tour(ip)
    (line,) = shown(ip, "%lineage export json out/deeper/g.json")
    assert line == "lineage written to out/deeper/g.json (json); made the folder out"
    assert json.loads((tmp_path / "out" / "deeper" / "g.json").read_text())["nodes"]


def test_openlineage_names_the_engine_and_its_version_and_sqlweave_as_adapter(ip) -> None:
    tour(ip)
    shown(ip, "%lineage export openlineage events.jsonl")
    events = [json.loads(line) for line in Path("events.jsonl").read_text().splitlines()]
    facets = {json.dumps(e["run"]["facets"]["processing_engine"], sort_keys=True) for e in events}
    (facet,) = map(json.loads, facets)
    assert facet["name"] == "DataFusion"
    assert facet["version"] == importlib.metadata.version("datafusion")
    assert facet["openlineageAdapterVersion"] == __version__
