"""Run a pipeline: notebooks in topological order, up to N kernels at once, every state
change journaled first.

A failure stops only the notebooks downstream of it; siblings go on. A notebook may be
retried with exponential backoff; each has an optional wall-clock timeout. ``resume``
continues a run whose runner died, from the journal alone.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..cancel import Cancel
from ..lineage.store import write_atomic
from ..runner import RunReport, run_notebook
from ..warehouse import WAREHOUSE_ENV, Warehouse
from .dispatch import Dispatch
from .errors import PipelineError
from .fingerprint import fingerprint_of, input_digests, plan_inputs, stale
from .journal import (
    Event,
    Journal,
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
    exec_id,
)
from .liveness import runner_alive
from .openlineage import OpenLineageEmitter
from .plan import Plan, plan
from .report import run_report
from .standalone import WAREHOUSE_PARTS
from .state import RunState, last_failures, last_successes, read_runs

#: the project's state folder, its default warehouse and executed notebooks
STATE_DIR = Path(".sqlweave")
WAREHOUSE_DIR = Path(*WAREHOUSE_PARTS)  # `sqlweave run` of one notebook looks for it too
RUNS_DIR = STATE_DIR / "pipeline" / "runs"
#: environment of every kernel: which run and notebook it belongs to
RUN_ID_ENV = "SQLWEAVE_RUN_ID"
NOTEBOOK_ENV = "SQLWEAVE_NOTEBOOK"
#: written into the output folder of every run
REPORT_FILE = "report.html"
#: beside each executed notebook: its kernel's stderr (kept off the terminal)
KERNEL_LOG_SUFFIX = ".kernel.log"
OPENLINEAGE_FILE = "openlineage.jsonl"


@dataclass(frozen=True)
class RunOptions:
    """How to run; recorded in the journal so ``resume`` runs the same way."""

    jobs: int = 1
    retries: int = 0
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    timeout: float | None = None  # per notebook, wall clock
    cell_timeout: int = 600
    only_stale: bool = False
    select: tuple[str, ...] = ()
    output: str | None = None  # folder of executed notebooks (default under .sqlweave)
    warehouse: str | None = None  # default <project>/.sqlweave/warehouse
    kernel: str | None = None
    openlineage_url: str | None = None
    schedule: str | None = None  # the cron expression that started this run
    scheduled_for: str | None = None  # its fire time (ISO 8601)

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise PipelineError(f"--jobs must be at least 1, not {self.jobs}")
        if self.retries < 0:
            raise PipelineError(f"--retries must be 0 or more, not {self.retries}")
        if self.timeout is not None and self.timeout <= 0:
            raise PipelineError(f"--timeout must be positive, not {self.timeout}")


@dataclass
class PipelineRun:
    """The outcome of :func:`run` / :func:`resume`."""

    run_id: str
    root: Path
    plan: Plan
    state: RunState
    output: Path
    reports: dict[str, RunReport] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.state.status is RunStatus.SUCCEEDED

    @property
    def interrupted(self) -> bool:
        return self.state.status is RunStatus.INTERRUPTED

    @property
    def report(self) -> Path:
        return self.output / REPORT_FILE

    @property
    def openlineage(self) -> Path:
        return self.output / OPENLINEAGE_FILE


Listener = Callable[[Event], None]


def new_run_id(clock: Callable[[], datetime] | None = None) -> str:
    """A sortable, unique run id such as ``20261127T150102-3f9a``."""
    at = (clock or (lambda: datetime.now(timezone.utc)))()
    return f"{at:%Y%m%dT%H%M%S}-{secrets.token_hex(2)}"


def run(
    paths: Iterable[str | os.PathLike[str]],
    parameters: Mapping[str, Any] | None = None,
    options: RunOptions | None = None,
    root: str | os.PathLike[str] | None = None,
    listeners: Iterable[Listener] = (),
    cancel: Cancel | None = None,
) -> PipelineRun:
    """Plan and run the pipeline under ``paths``.

    Args:
        paths: notebooks and folders.
        parameters: injected into every notebook (papermill's ``parameters`` cell rule).
        options: jobs, retries, timeouts, selection, output and warehouse folders.
        root: the project folder (journal, warehouse); default the paths' common folder.
        listeners: called with every journaled event (the OpenLineage emitter is one).
        cancel: cancelling it interrupts the running notebooks and starts no more; the
            run ends ``interrupted`` and can be resumed (the CLI cancels on Ctrl-C).
    """
    options = options or RunOptions()
    parameters = dict(parameters or {})
    paths = [Path(p) for p in paths]
    p = plan(paths, root, exclude=[options.output] if options.output else ())
    assert p.root is not None
    run_id = new_run_id()
    started = RunStarted(
        run_id,
        paths=tuple(_relative(x, p.root) for x in paths),
        notebooks=p.order,
        parameters=parameters,
        options=asdict(options),
        pid=os.getpid(),
        host=socket.gethostname(),
    )
    driver = _Driver(p, started, options, list(listeners), cancel)
    driver.emit(started)
    return driver.go(resumed=False)


def resume(
    root: str | os.PathLike[str],
    run_id: str | None = None,
    listeners: Iterable[Listener] = (),
    openlineage_url: str | None = None,
    cancel: Cancel | None = None,
) -> PipelineRun:
    """Continue an unfinished run (default: the latest) whose runner died or was interrupted.

    Notebooks that reached a final state keep it; the others run, once each.

    Raises:
        PipelineError: no such unfinished run, or its runner is still alive.
    """
    base = Path(root).resolve()
    runs = read_runs(Journal.of_project(base))
    if run_id is None:
        unfinished = [r for r in runs.values() if not r.finished]
        if not unfinished:
            raise PipelineError(f"no unfinished pipeline run in {base}")
        state = unfinished[-1]
    else:
        state = runs.get(run_id)
        if state is None:
            raise PipelineError(f"no run {run_id} in {base} (see 'sqlweave pipeline history')")
        if state.finished:
            raise PipelineError(f"run {run_id} already finished ({state.status.value})")
    if state.owner_host == socket.gethostname() and runner_alive(state):
        raise PipelineError(f"run {state.run_id} is still being run by process {state.owner_pid}")
    started = state.started
    recorded = {**started.options, "select": tuple(started.options.get("select", ()))}
    if openlineage_url:
        recorded["openlineage_url"] = openlineage_url
    options = RunOptions(**recorded)
    p = plan(
        [base / x for x in started.paths], base, exclude=[options.output] if options.output else ()
    )
    if set(p.order) != set(started.notebooks):
        raise PipelineError(
            f"the notebooks under {', '.join(started.paths)} changed since run {state.run_id}"
            " started; start a new run instead"
        )
    driver = _Driver(p, started, options, list(listeners), cancel)
    driver.emit(RunResumed(state.run_id, pid=os.getpid(), host=socket.gethostname()))
    return driver.go(resumed=True)


class _Driver:
    """Carries out one run: journal first, then act."""

    def __init__(
        self,
        p: Plan,
        started: RunStarted,
        options: RunOptions,
        listeners: list[Listener],
        cancel: Cancel | None = None,
    ) -> None:
        assert p.root is not None
        self.cancel = cancel or Cancel()
        self.plan, self.started, self.options = p, started, options
        self.root = p.root
        self.run_id = started.run_id
        self.parameters = dict(started.parameters)
        self.journal = Journal.of_project(self.root)
        self.listeners = listeners
        self.output = (
            Path(options.output).resolve() if options.output else self.root / RUNS_DIR / self.run_id
        )
        self.warehouse = (
            Path(options.warehouse).resolve() if options.warehouse else self.root / WAREHOUSE_DIR
        )
        self.reports: dict[str, RunReport] = {}
        self._fingerprints: dict[str, str] = {}
        self._inputs: dict[str, dict[str, str]] = {}  # digest per input, per notebook
        self._reasons: dict[str, str] = {}  # why --only-stale runs a notebook
        self.lineage = OpenLineageEmitter(
            p, self.output / OPENLINEAGE_FILE, options.openlineage_url
        )
        self.listeners.append(self.lineage)
        self._lock = threading.Lock()
        self._t0 = time.perf_counter()

    def emit(self, event: Event) -> None:
        with self._lock:
            self.journal.append(event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception as exc:  # a listener (OpenLineage POST) never stops the run
                print(f"sqlweave: pipeline listener failed: {exc}")

    def state(self) -> RunState:
        return read_runs(self.journal)[self.run_id]

    def go(self, resumed: bool) -> PipelineRun:
        self.warehouse.mkdir(parents=True, exist_ok=True)
        inputs = plan_inputs(self.plan, self.parameters, self.warehouse)
        self._fingerprints = {k: fingerprint_of(v) for k, v in inputs.items()}
        self._inputs = {k: input_digests(v) for k, v in inputs.items()}
        state = self.state()
        todo = state.pending() if resumed else self._choose()
        # a resumed run: notebooks below one that had failed stay blocked
        failed = {k for k, nb in state.notebooks.items() if nb.status is NotebookStatus.FAILED}
        upstream = {}
        for key in todo:
            bad = sorted(u for u in self.plan.ancestors([key]) if u in failed)
            if bad:
                self.emit(_blocked(self.run_id, key, bad[0]))
            else:
                upstream[key] = self.plan.upstream(key)
        self._execute(upstream)
        state = self.state()
        seconds = round(time.perf_counter() - self._t0, 3)
        if self.cancel.cancelled and state.pending():
            self.emit(RunInterrupted(self.run_id, seconds=seconds, signal=self.cancel.signal))
        else:
            status = (
                RunStatus.FAILED
                if state.failures()
                or any(nb.status is NotebookStatus.BLOCKED for nb in state.notebooks.values())
                else RunStatus.SUCCEEDED
            )
            self.emit(RunFinished(self.run_id, status=status, seconds=seconds))
        final = self.state()
        self.output.mkdir(parents=True, exist_ok=True)
        write_atomic(self.output / REPORT_FILE, run_report(self.plan, final, self.output))
        for error in self.lineage.errors:
            print(f"sqlweave: OpenLineage {error}", file=sys.stderr)
        return PipelineRun(self.run_id, self.root, self.plan, final, self.output, self.reports)

    def _choose(self) -> list[str]:
        """The notebooks this run executes; the others are journaled as skipped."""
        chosen = set(self.plan.order)
        if self.options.select:
            chosen = self.plan.select(self.options.select)
        reasons: dict[str, str] = {}
        if self.options.only_stale:
            runs = read_runs(self.journal)
            last = last_successes(runs)
            reasons = stale(
                self.plan,
                self._fingerprints,
                last,
                self._missing_tables(),
                inputs=self._inputs,
                failures=last_failures(runs),
            )
            self._reasons = reasons
        todo = []
        for key in self.plan.order:
            if key not in chosen:
                self.emit(
                    NotebookSkipped(
                        self.run_id,
                        notebook=key,
                        status=NotebookStatus.SKIPPED,
                        reason="not selected",
                    )
                )
            elif self.options.only_stale and key not in reasons:
                self.emit(
                    NotebookSkipped(
                        self.run_id,
                        notebook=key,
                        status=NotebookStatus.UP_TO_DATE,
                        reason="nothing it reads changed",
                    )
                )
            else:
                todo.append(key)
        return todo

    def _missing_tables(self) -> dict[str, list[str]]:
        warehouse = Warehouse(self.warehouse)
        saved = set(warehouse.tables()) | set(warehouse.views())
        return {
            k: sorted(t for t in d.saved if t not in saved) for k, d in self.plan.notebooks.items()
        }

    def _execute(self, upstream: dict[str, tuple[str, ...]]) -> None:
        dispatch = Dispatch(upstream, limit=self.options.jobs)
        with ThreadPoolExecutor(
            max_workers=self.options.jobs, thread_name_prefix="sqlweave-pipeline"
        ) as pool:
            running: dict[Future[bool | None], str] = {}
            while not dispatch.done:
                if not self.cancel.cancelled:  # once cancelled, nothing new starts
                    for key in dispatch.take_ready():
                        running[pool.submit(self._notebook, key)] = key
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    outcome = future.result()
                    if outcome:
                        dispatch.succeed(key)
                    elif outcome is False:
                        for blocked in dispatch.fail(key):
                            self.emit(_blocked(self.run_id, blocked, key))

    def _notebook(self, key: str) -> bool | None:
        """Run one notebook with its retries; True when it succeeded, None when interrupted."""
        attempts = self.options.retries + 1
        for attempt in range(1, attempts + 1):
            if self.cancel.cancelled:  # cancelled during a retry's backoff
                return None
            reason = self._reasons.get(key, "") if attempt == 1 else ""
            self.emit(NotebookStarted(self.run_id, notebook=key, attempt=attempt, reason=reason))
            fingerprint = self._fingerprints[key]
            out = self.output / key
            t0 = time.perf_counter()
            try:
                report = run_notebook(
                    self.plan.path(key),
                    parameters=self.parameters,
                    output=out,
                    timeout=self.options.cell_timeout,
                    kernel_name=self.options.kernel,
                    env={
                        WAREHOUSE_ENV: str(self.warehouse),
                        RUN_ID_ENV: self.run_id,
                        NOTEBOOK_ENV: key,
                    },
                    notebook_timeout=self.options.timeout,
                    cancel=self.cancel,
                    kernel_log=out.with_suffix(KERNEL_LOG_SUFFIX),
                )
            except Exception as exc:  # a kernel that cannot start, an unreadable notebook
                report = None
                error, cell, source = f"{type(exc).__name__}: {exc}", None, ""
            seconds = round(time.perf_counter() - t0, 3)
            if self.cancel.cancelled and (report is None or report.interrupted):
                failed_cell = report.failure.number if report and report.failure else None
                self.emit(
                    NotebookInterrupted(
                        self.run_id,
                        notebook=key,
                        attempt=attempt,
                        seconds=seconds,
                        output=str(out),
                        cell=failed_cell,
                    )
                )
                return None
            if report is not None:
                self.reports[key] = report
                if report.ok:
                    upstream = self._upstream_execs(key)
                    self.emit(
                        NotebookSucceeded(
                            self.run_id,
                            notebook=key,
                            attempt=attempt,
                            seconds=seconds,
                            output=str(out),
                            fingerprint=fingerprint,
                            upstream=upstream,
                            inputs=self._inputs[key],
                        )
                    )
                    return True
                f = report.failure
                assert f is not None
                # numbered as the user's notebook numbers its cells (the injected one not counted)
                error, cell, source = f.error, f.number, f.source
                if cell is None:
                    error = f"{f.where}: {error}"
            if report is None or "the kernel died" in error:
                error += _kernel_log_note(out.with_suffix(KERNEL_LOG_SUFFIX))
            retry = attempt < attempts
            self.emit(
                NotebookFailed(
                    self.run_id,
                    notebook=key,
                    attempt=attempt,
                    seconds=seconds,
                    output=str(out),
                    cell=cell,
                    source=source,
                    error=error,
                    retry=retry,
                )
            )
            if retry:
                self.cancel.wait(self.options.backoff * 2 ** (attempt - 1))
        return False

    def _upstream_execs(self, key: str) -> dict[str, str]:
        """The executions of ``key``'s upstream notebooks whose tables it just read."""
        last = last_successes(read_runs(self.journal))
        return {
            u: last[u].exec_id if u in last else exec_id("?", u) for u in self.plan.upstream(key)
        }


def _kernel_log_note(path: Path, lines: int = 5) -> str:
    """The last lines a kernel that died or never started wrote to its stderr, if any."""
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    tail = "\n".join(text.splitlines()[-lines:])
    return f"\nthe kernel's stderr ({path}) ends:\n{tail}"


def _blocked(run_id: str, key: str, by: str) -> NotebookSkipped:
    return NotebookSkipped(
        run_id, notebook=key, status=NotebookStatus.BLOCKED, reason=f"upstream {by} failed"
    )


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix() or "."
    except ValueError:
        return str(path.resolve())
