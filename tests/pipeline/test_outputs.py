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
    NotebookInterrupted,
    NotebookSkipped,
    NotebookStarted,
    NotebookStatus,
    NotebookSucceeded,
    RunFinished,
    RunInterrupted,
    RunResumed,
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


CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER  # runId must be a UUID, times dates


def validate(event: dict) -> None:
    """The core spec (formats checked), then every facet against its own schema: a facet we
    have no schema for fails."""
    spec = BY_ID[ol.SPEC_URL]
    jsonschema.Draft202012Validator(spec, registry=REGISTRY, format_checker=CHECKER).validate(event)
    facets = [*event["run"].get("facets", {}).items(), *event["job"].get("facets", {}).items()]
    for ds in event["inputs"] + event["outputs"]:
        facets += ds.get("facets", {}).items()
    for key, facet in facets:
        name, schema_id = ol.FACETS[key]
        assert facet["_schemaURL"] == f"{schema_id}#/$defs/{name}"
        schema = BY_ID[schema_id]
        validator = jsonschema.Draft202012Validator(
            schema, registry=REGISTRY, format_checker=CHECKER
        )
        validator.validate({key: facet})
    for ds in event["inputs"] + event["outputs"]:  # the naming conventions for files
        if ds["namespace"] == "file":
            assert Path(ds["name"]).is_absolute(), ds


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
    events[2] = NotebookSucceeded("r1", notebook="load.ipynb", output="/runs/r1/load.ipynb")
    html = run_report(_plan(), fold(events)["r1"], Path("/runs/r1"))
    assert '<a href="load.ipynb">load.ipynb</a>' in html  # relative: the folder may move
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
    assert event["inputs"] == [{"namespace": "file", "name": expected}]


def test_file_datasets_follow_the_openlineage_naming_conventions(tmp_path: Path) -> None:
    deps = {
        "nb.ipynb": sql_dependencies(
            [
                "CREATE TABLE a AS SELECT * FROM 's3://bucket/raw/orders.parquet'",
                "CREATE TABLE b AS SELECT * FROM 'file:///srv/data/x.csv'",
                "CREATE TABLE c AS SELECT * FROM '../shared/y.csv'",
            ]
        ),
    }
    emitter = OpenLineageEmitter(build_plan(deps, root=tmp_path), tmp_path / "ol.jsonl")
    event = emitter.convert(NotebookStarted("r1", notebook="nb.ipynb"))
    assert event is not None
    validate(event)
    files = [d for d in event["inputs"] if d["namespace"] != "datafusion://sqlweave"]
    shared = (tmp_path.parent / "shared" / "y.csv").resolve().as_posix()
    assert {(d["namespace"], d["name"]) for d in files} == {
        ("file", shared),
        ("file", "/srv/data/x.csv"),
        ("s3://bucket", "raw/orders.parquet"),
    }


def test_a_resumed_attempt_is_a_new_openlineage_run(tmp_path: Path) -> None:
    first = OpenLineageEmitter(_plan(), tmp_path / "ol.jsonl")
    before = first.convert(NotebookStarted("r1", notebook="load.ipynb"))
    later = OpenLineageEmitter(_plan(), tmp_path / "ol.jsonl")  # the resuming process
    restarted = later.convert(RunResumed("r1"))
    assert restarted is not None and restarted["eventType"] == "START"
    validate(restarted)
    after = later.convert(NotebookStarted("r1", notebook="load.ipynb"))
    assert before is not None and after is not None
    assert before["run"]["runId"] != after["run"]["runId"]
    assert before["run"]["facets"]["parent"] == after["run"]["facets"]["parent"]
    assert restarted["run"]["runId"] == after["run"]["facets"]["parent"]["run"]["runId"]


def test_an_interrupted_notebook_and_run_are_openlineage_aborts(tmp_path: Path) -> None:
    emitter = OpenLineageEmitter(_plan(), tmp_path / "ol.jsonl")
    notebook = emitter.convert(NotebookInterrupted("r1", notebook="sum.ipynb", cell=2))
    pipeline = emitter.convert(RunInterrupted("r1", seconds=1.0))
    assert notebook is not None and pipeline is not None
    for event in (notebook, pipeline):
        validate(event)
        assert event["eventType"] == "ABORT"
    assert notebook["run"]["facets"]["parent"]["run"]["runId"] == pipeline["run"]["runId"]
