"""OpenLineage events validate against the vendored spec and facet schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from graphs import chain, history, info, stmt
from referencing import Registry, Resource

from sqlweave.events import Status
from sqlweave.lineage import openlineage
from sqlweave.lineage.graph import LineageGraph

SCHEMAS = Path(__file__).parent / "schemas"


def _load() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}


REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in _load().values()
)
BY_ID = {s["$id"]: s for s in _load().values()}
CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def validate(event: dict) -> None:
    spec = BY_ID[openlineage.SPEC_URL]
    jsonschema.Draft202012Validator(spec, registry=REGISTRY, format_checker=CHECKER).validate(event)
    facets = [*event["run"].get("facets", {}).items(), *event["job"].get("facets", {}).items()]
    for ds in event.get("inputs", []) + event.get("outputs", []):
        facets += ds.get("facets", {}).items()
        facets += ds.get("outputFacets", {}).items()
    for key, facet in facets:
        schema_id = openlineage.FACETS[key][1]
        validator = jsonschema.Draft202012Validator(
            BY_ID[schema_id], registry=REGISTRY, format_checker=CHECKER
        )
        validator.validate({key: facet})


def test_facet_schema_urls_match_the_vendored_schemas() -> None:
    for key, (name, schema_id) in openlineage.FACETS.items():
        schema = BY_ID[schema_id]
        assert name in schema["$defs"]
        assert key in schema["properties"]


def test_complete_runs_validate_and_carry_column_lineage() -> None:
    g = history()
    events = openlineage.graph_events(g)
    assert [e["eventType"] for e in events[:2]] == ["START", "COMPLETE"]
    for event in events:
        validate(event)
    summary = next(
        e
        for e in events
        if e["eventType"] == "COMPLETE" and any(o["name"] == "summary" for o in e["outputs"])
    )
    (out,) = summary["outputs"]
    fields = out["facets"]["columnLineage"]["fields"]
    assert fields["total"]["inputFields"][0]["name"] == "clean"
    assert fields["total"]["inputFields"][0]["field"] == "amount"
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 3
    assert summary["inputs"][0]["facets"]["schema"]["fields"]  # columns known for inputs


def test_failed_run_emits_fail_with_error_message() -> None:
    g = LineageGraph()
    run_info = info("c1", 1, status=Status.FAIL)
    g.add_run(run_info, stmt(reads=("a",), writes=("b",)))
    events = openlineage.run_events(g.runs[0], g)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    for event in events:
        validate(event)
    assert events[1]["run"]["facets"]["errorMessage"]["programmingLanguage"] == "SQL"


def test_invalid_event_is_rejected_by_the_schema() -> None:
    event = openlineage.graph_events(chain())[0]
    event["run"]["runId"] = "not-a-uuid"
    with pytest.raises(jsonschema.ValidationError):
        validate(event)
