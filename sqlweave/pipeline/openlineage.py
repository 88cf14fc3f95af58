"""OpenLineage run events for pipelines: one job per notebook, one run per attempt.

START when a notebook starts, COMPLETE or FAIL when it ends; inputs and outputs are the
tables the plan read from its SQL, outputs carry the ``columnLineage`` facet, and every
run names the pipeline run as its ``parent``. The pipeline itself is a job too (named
after the project folder), with START and COMPLETE/FAIL events of its own. Events go to a
JSONL file and, given a URL, are POSTed to a Marquez-compatible endpoint (``/api/v1/lineage``).

Files a notebook reads are named as OpenLineage's naming conventions say
(https://openlineage.io/docs/spec/naming): a local file has namespace ``file`` and its
absolute path as name; ``s3://bucket/key`` has namespace ``s3://bucket`` and name ``key``.
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
    NotebookInterrupted,
    NotebookStarted,
    NotebookSucceeded,
    RunFinished,
    RunInterrupted,
    RunResumed,
    RunStarted,
    RunStatus,
)
from .plan import Plan

JOB_NAMESPACE = "sqlweave-pipeline"
FILE_NAMESPACE = "file"  # local files, named by their absolute path
MARQUEZ_PATH = "/api/v1/lineage"
INTEGRATION = "SQLWEAVE"
_POST_TIMEOUT = 10.0
# object stores name a dataset by its key, without the leading slash
_BUCKET_SCHEMES = ("s3", "s3a", "s3n", "gs", "gcs", "abfs", "abfss", "wasbs")


def file_dataset(name: str, folder: Path | None = None) -> dict[str, str]:
    """The OpenLineage dataset of a file a notebook reads (``name`` as its SQL wrote it).

    >>> file_dataset("data/x.csv", Path("/p/nb"))
    {'namespace': 'file', 'name': '/p/nb/data/x.csv'}
    >>> file_dataset("s3://bucket/raw/x.parquet"), file_dataset("file:///tmp/y.csv")
    ({'namespace': 's3://bucket', 'name': 'raw/x.parquet'}, {'namespace': 'file', 'name': '/tmp/y.csv'})
    """
    parts = urlsplit(name)
    if parts.scheme and parts.scheme != "file" and "://" in name:
        path = parts.path.lstrip("/") if parts.scheme in _BUCKET_SCHEMES else parts.path or "/"
        return {"namespace": f"{parts.scheme}://{parts.netloc}", "name": path}
    if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
        return {"namespace": f"file://{parts.netloc}", "name": parts.path}
    path = Path(parts.path if parts.scheme == "file" else name).expanduser()
    if not path.is_absolute():
        path = (folder or Path.cwd()) / path
    return {"namespace": FILE_NAMESPACE, "name": path.resolve().as_posix()}


def run_uuid(run_id: str, notebook: str = "", attempt: int | str = 0) -> str:
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
        self._resumed = ""  # when this process resumed the run: its attempts are new runs
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
        if isinstance(event, RunResumed):
            self._resumed = event.at  # the attempts from now on are new runs
            # the pipeline's run goes on (after an ABORT when it was interrupted)
            return self._event(
                EventType.START, event.at, run_uuid(event.run_id), self.pipeline_job, "DAG"
            )
        if isinstance(event, (RunStarted, RunFinished, RunInterrupted)):
            return self._pipeline_event(event)
        if isinstance(event, NotebookStarted):
            kind = EventType.START
        elif isinstance(event, NotebookSucceeded):
            kind = EventType.COMPLETE
        elif isinstance(event, NotebookFailed):
            kind = EventType.FAIL
        elif isinstance(event, NotebookInterrupted):
            kind = EventType.ABORT
        else:
            return None
        key = event.notebook
        deps = self.plan.notebooks.get(key)
        run_facets: dict[str, Any] = {
            "parent": facet(
                "parent",
                run={"runId": run_uuid(event.run_id)},
                job={"namespace": JOB_NAMESPACE, "name": self.pipeline_job},
            )
        }
        if isinstance(event, NotebookFailed):
            run_facets["errorMessage"] = facet(
                "errorMessage", message=event.error or "failed", programmingLanguage="SQL"
            )
        attempt = f"{event.attempt}{'@' + self._resumed if self._resumed else ''}"
        out = self._event(kind, event.at, run_uuid(event.run_id, key, attempt), key, "TASK")
        out["run"]["facets"] = run_facets
        if deps is not None:
            out["inputs"] = [{"namespace": self.ns, "name": t} for t in sorted(deps.reads)] + [
                self._file(key, f) for f in sorted(deps.files)
            ]
            out["outputs"] = self._outputs(deps.writes, deps.column_edges)
        return out

    def _file(self, key: str, name: str) -> dict[str, str]:
        """The dataset of a file notebook ``key`` reads (relative to the notebook's folder)."""
        folder = self.plan.path(key).parent if self.plan.root is not None else None
        return file_dataset(name, folder)

    def _event(
        self, kind: EventType, at: str, run_id: str, job: str, job_type: str
    ) -> dict[str, Any]:
        """A RunEvent with the fields the spec requires (and no inputs or outputs yet)."""
        return {
            "eventType": kind.value,
            "eventTime": at,
            "producer": PRODUCER,
            "schemaURL": f"{SPEC_URL}#/$defs/RunEvent",
            "run": {"runId": run_id, "facets": {}},
            "job": {
                "namespace": JOB_NAMESPACE,
                "name": job,
                "facets": {
                    "jobType": facet(
                        "jobType", processingType="BATCH", integration=INTEGRATION, jobType=job_type
                    )
                },
            },
            "inputs": [],
            "outputs": [],
        }

    def _pipeline_event(self, event: RunStarted | RunFinished | RunInterrupted) -> dict[str, Any]:
        if isinstance(event, RunStarted):
            kind = EventType.START
        elif isinstance(event, RunInterrupted):
            kind = EventType.ABORT
        else:
            kind = EventType.COMPLETE if event.status is RunStatus.SUCCEEDED else EventType.FAIL
        return self._event(kind, event.at, run_uuid(event.run_id), self.pipeline_job, "DAG")

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
