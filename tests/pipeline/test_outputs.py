"""Run outputs without kernels: OpenLineage events (file and HTTP) and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

from sqlweave.lineage import openlineage as ol
from sqlweave.pipeline.dependencies import sql_dependencies
from sqlweave.pipeline.journal import (
    NotebookFailed,
    NotebookSkipped,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
    RunFinished,
    RunStarted,
    RunStatus,
)
from sqlweave.pipeline.openlineage import OpenLineageEmitter
from sqlweave.pipeline.plan import build_plan
from sqlweave.pipeline.report import run_report
from sqlweave.pipeline.state import fold

from .receiver import receiver

SCHEMAS = Path(__file__).resolve().parents[1] / "lineage" / "schemas"
_ALL = [json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")]
REGISTRY = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in _ALL)
BY_ID = {s["$id"]: s for s in _ALL}


def validate(event: dict) -> None:
    """The core spec, then every facet we vendored a schema for."""
    jsonschema.Draft202012Validator(BY_ID[ol.SPEC_URL], registry=REGISTRY).validate(event)
    facets = list(event["run"]["facets"].items())
    for ds in event["inputs"] + event["outputs"]:
        facets += ds.get("facets", {}).items()
    for key, facet in facets:
        if key in ol.FACETS:
            schema = BY_ID[ol.FACETS[key][1]]
            jsonschema.Draft202012Validator(schema, registry=REGISTRY).validate({key: facet})


def _plan():
    return build_plan(
        {
            "load.ipynb": sql_dependencies(["CREATE TABLE raw AS SELECT id, amount FROM src"]),
            "sum.ipynb": sql_dependencies(
                ["CREATE TABLE totals AS SELECT sum(amount) AS total FROM raw"]
            ),
        }
    )


EVENTS = [
    RunStarted("r1", notebooks=("load.ipynb", "sum.ipynb")),
    NotebookStarted("r1", notebook="load.ipynb"),
    NotebookSucceeded("r1", notebook="load.ipynb", seconds=1.25),
    NotebookStarted("r1", notebook="sum.ipynb"),
    NotebookFailed(
        "r1", notebook="sum.ipynb", cell=2, source="SELECT <b>", error="PlanError: no <good>"
    ),
    RunFinished("r1", status=RunStatus.FAILED, seconds=2.0),
]


def test_openlineage_events_validate_and_reach_an_http_endpoint(tmp_path: Path) -> None:
    with receiver() as server:
        emitter = OpenLineageEmitter(_plan(), tmp_path / "ol.jsonl", server.url)
        for event in EVENTS:
            emitter(event)
        received = list(server.received)
    assert emitter.errors == []
    lines = [json.loads(x) for x in (tmp_path / "ol.jsonl").read_text().splitlines()]
    assert [e for _, e in received] == lines
    assert {path for path, _ in received} == {"/api/v1/lineage"}
    assert [(e["job"]["name"], e["eventType"]) for e in lines] == [
        ("pipeline", "START"),
        ("load.ipynb", "START"),
        ("load.ipynb", "COMPLETE"),
        ("sum.ipynb", "START"),
        ("sum.ipynb", "FAIL"),
        ("pipeline", "FAIL"),
    ]
    for event in lines:
        validate(event)
    complete = lines[2]
    assert complete["inputs"] == [{"namespace": "datafusion://sqlweave", "name": "src"}]
    fields = complete["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert fields["amount"]["inputFields"][0]["name"] == "src"
    assert lines[4]["run"]["facets"]["errorMessage"]["message"] == "PlanError: no <good>"
    assert lines[1]["run"]["runId"] == lines[2]["run"]["runId"] != lines[3]["run"]["runId"]
    parent = lines[1]["run"]["facets"]["parent"]["run"]["runId"]
    assert parent == lines[0]["run"]["runId"] == lines[-1]["run"]["runId"]


def test_an_unreachable_endpoint_is_reported_not_raised(tmp_path: Path) -> None:
    with receiver() as server:
        url = server.url  # closed when the block ends: nothing listens there any more
    emitter = OpenLineageEmitter(_plan(), tmp_path / "ol.jsonl", url)
    emitter(EVENTS[1])
    assert emitter.errors and (tmp_path / "ol.jsonl").exists()


def test_html_report_colours_the_dag_and_shows_failing_sql() -> None:
    events = [
        *EVENTS[:-1],
        NotebookSkipped("r1", notebook="x", status=NotebookStatus.BLOCKED, reason="r"),
        EVENTS[-1],
    ]
    html = run_report(_plan(), fold(events)["r1"])
    assert "Pipeline run r1: failed" in html
    assert 'class="notebook failed"' in html and 'class="notebook succeeded"' in html
    assert "SELECT &lt;b&gt;" in html and "PlanError: no &lt;good&gt;" in html
    assert "<b>" not in html  # escaped


def test_files_a_notebook_reads_are_openlineage_inputs(tmp_path: Path) -> None:
    deps = {
        "ingest/orders.ipynb": sql_dependencies(
            ["CREATE TABLE raw AS SELECT * FROM 'data/orders.csv'"]
        ),
    }
    emitter = OpenLineageEmitter(build_plan(deps, root=tmp_path), tmp_path / "ol.jsonl")
    event = emitter.convert(NotebookStarted("r1", notebook="ingest/orders.ipynb"))
    assert event is not None
    validate(event)
    expected = (tmp_path / "ingest" / "data" / "orders.csv").resolve().as_posix()
    assert event["inputs"] == [{"namespace": "file://", "name": expected}]
