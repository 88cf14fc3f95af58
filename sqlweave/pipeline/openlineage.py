"""OpenLineage run events for pipelines: one job per notebook, one run per attempt.

START when a notebook starts, COMPLETE or FAIL when it ends; inputs and outputs are the
tables the plan read from its SQL, outputs carry the ``columnLineage`` facet, and every
run names the pipeline run as its ``parent``. The pipeline itself is a job too (named
after the project folder), with START and COMPLETE/FAIL events of its own. Events go to a JSONL file and, given a URL,
are POSTed to a Marquez-compatible endpoint (``/api/v1/lineage``).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..lineage.model import ColumnEdge
from ..lineage.openlineage import (
    PRODUCER,
    SPEC_URL,
    EventType,
    column_lineage_facet,
    dataset_namespace,
    facet,
)
from .journal import (
    Event,
    NotebookFailed,
    NotebookStarted,
    NotebookSucceeded,
    RunFinished,
    RunStarted,
    RunStatus,
)
from .plan import Plan

JOB_NAMESPACE = "sqlweave-pipeline"
FILE_NAMESPACE = "file://"  # files a notebook reads, named by their absolute path
MARQUEZ_PATH = "/api/v1/lineage"
_PARENT_FACET = "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet"
_POST_TIMEOUT = 10.0


def run_uuid(run_id: str, notebook: str = "", attempt: int = 0) -> str:
    """A stable UUID for a pipeline run, or for one attempt of a notebook in it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"sqlweave:{run_id}:{notebook}:{attempt}"))


def endpoint(url: str) -> str:
    """``url`` itself, or Marquez's lineage path when ``url`` names only a server.

    >>> endpoint("http://127.0.0.1:5000"), endpoint("http://h/custom")
    ('http://127.0.0.1:5000/api/v1/lineage', 'http://h/custom')
    """
    return url.rstrip("/") + MARQUEZ_PATH if urlsplit(url).path in ("", "/") else url


class OpenLineageEmitter:
    """A run listener turning journal events into OpenLineage events.

    Args:
        plan: the pipeline (inputs, outputs and column edges of each notebook).
        path: the JSONL file events are appended to.
        url: optional endpoint to POST each event to; failures are reported, never raised.
        engine: dataset namespace engine (``datafusion``).
    """

    def __init__(
        self, plan: Plan, path: Path, url: str | None = None, engine: str = "datafusion"
    ) -> None:
        self.plan, self.path = plan, path
        self.url = endpoint(url) if url else None
        self.ns = dataset_namespace(engine)
        self.errors: list[str] = []
        self.pipeline_job = plan.root.name if plan.root is not None else "pipeline"
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        ol = self.convert(event)
        if ol is None:
            return
        line = json.dumps(ol, sort_keys=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
            if self.url:
                self._post(line.encode())

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(
            self.url or "", data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=_POST_TIMEOUT) as response:
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            self.errors.append(f"POST {self.url}: {exc}")

    def convert(self, event: Event) -> dict[str, Any] | None:
        """The OpenLineage event for a journal event, or None for events without one."""
        if isinstance(event, (RunStarted, RunFinished)):
            return self._pipeline_event(event)
        if isinstance(event, NotebookStarted):
            kind = EventType.START
        elif isinstance(event, NotebookSucceeded):
            kind = EventType.COMPLETE
        elif isinstance(event, NotebookFailed):
            kind = EventType.FAIL
        else:
            return None
        key = event.notebook
        deps = self.plan.notebooks.get(key)
        run_facets: dict[str, Any] = {
            "parent": {
                "_producer": PRODUCER,
                "_schemaURL": _PARENT_FACET,
                "run": {"runId": run_uuid(event.run_id)},
                "job": {"namespace": JOB_NAMESPACE, "name": self.pipeline_job},
            }
        }
        if isinstance(event, NotebookFailed):
            run_facets["errorMessage"] = facet(
                "errorMessage", message=event.error or "failed", programmingLanguage="SQL"
            )
        out: dict[str, Any] = {
            "eventType": kind.value,
            "eventTime": event.at,
            "producer": PRODUCER,
            "schemaURL": f"{SPEC_URL}#/$defs/RunEvent",
            "run": {"runId": run_uuid(event.run_id, key, event.attempt), "facets": run_facets},
            "job": {"namespace": JOB_NAMESPACE, "name": key},
            "inputs": [],
            "outputs": [],
        }
        if deps is not None:
            out["inputs"] = [{"namespace": self.ns, "name": t} for t in sorted(deps.reads)] + [
                {"namespace": FILE_NAMESPACE, "name": f} for f in self._files(key, deps.files)
            ]
            out["outputs"] = self._outputs(deps.writes, deps.column_edges)
        return out

    def _files(self, key: str, files: frozenset[str]) -> list[str]:
        """Absolute paths of the files notebook ``key`` reads (as written if not local)."""
        if self.plan.root is None:
            return sorted(files)
        folder = self.plan.path(key).parent
        out = set()
        for name in files:
            if "://" in name and not name.startswith("file://"):
                out.add(name)  # s3://, https://: already a URI
                continue
            path = Path(name.removeprefix("file://")).expanduser()
            out.add((path if path.is_absolute() else folder / path).resolve().as_posix())
        return sorted(out)

    def _pipeline_event(self, event: RunStarted | RunFinished) -> dict[str, Any]:
        if isinstance(event, RunStarted):
            kind = EventType.START
        else:
            kind = EventType.COMPLETE if event.status is RunStatus.SUCCEEDED else EventType.FAIL
        return {
            "eventType": kind.value,
            "eventTime": event.at,
            "producer": PRODUCER,
            "schemaURL": f"{SPEC_URL}#/$defs/RunEvent",
            "run": {"runId": run_uuid(event.run_id), "facets": {}},
            "job": {"namespace": JOB_NAMESPACE, "name": self.pipeline_job},
            "inputs": [],
            "outputs": [],
        }

    def _outputs(self, writes: frozenset[str], edges: tuple[ColumnEdge, ...]) -> list[dict]:
        by_target: dict[str, list[ColumnEdge]] = defaultdict(list)
        for edge in edges:
            by_target[edge.target.dataset].append(edge)
        out = []
        for name in sorted(writes):
            facets: dict[str, Any] = {}
            if by_target.get(name):
                facets["columnLineage"] = column_lineage_facet(by_target[name], self.ns)
            out.append({"namespace": self.ns, "name": name, "facets": facets})
        return out
