"""Run a notebook headless in a real kernel (nbclient), papermill-style parameters included.

>>> parse_parameter("limit=10")
('limit', 10)
>>> parse_parameter("region=EUROPE")
('region', 'EUROPE')
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat

from .cancel import Cancel
from .cellids import SESSION_ENV
from .errors import SqlWeaveError, UsageError
from .kernels import HeadlessKernelManager
from .lineage import store as lineage_store
from .lineage.widget import STATIC_CLASS

PARAMETERS_TAG = "parameters"
#: the error of a notebook stopped by its cancel token (Ctrl-C on the pipeline runner, say)
INTERRUPTED = "interrupted"
#: seconds an interrupted kernel gets to stop before it is killed
INTERRUPT_GRACE_S = 5.0
INJECTED_TAG = "injected-parameters"
#: how a failure in the injected parameters cell is named (it has no number of the user's)
INJECTED_CELL = "the injected parameters cell"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class CellFailure:
    index: int  # 0-based cell index in the executed notebook
    execution_count: int | None
    source: str
    error: str  # ename: evalue plus the rendered traceback, ANSI-free
    injected_at: int | None = None  # index of the injected parameters cell, if any

    @property
    def number(self) -> int | None:
        """The failing cell's 1-based number in the user's notebook (the injected parameters
        cell not counted); None when the injected cell itself failed.

        >>> CellFailure(3, 4, "1/0", "ZeroDivisionError", injected_at=2).number
        3
        """
        if self.injected_at is None or self.index < self.injected_at:
            return self.index + 1
        return None if self.index == self.injected_at else self.index

    @property
    def where(self) -> str:
        """``cell 3``, or ``the injected parameters cell``."""
        return INJECTED_CELL if self.number is None else f"cell {self.number}"

    def summary(self, max_lines: int = 12) -> str:
        src = self.source.strip().splitlines()
        shown = src[:max_lines] + (["..."] if len(src) > max_lines else [])
        count = f"[{self.execution_count}]" if self.execution_count else ""
        if count and self.injected_at is not None and self.index > self.injected_at:
            # the traceback's In [n] counts the injected cell; the cell number does not
            count = f"({count} in the executed notebook, with the injected parameters)"
        head = " ".join(p for p in (self.where, count, "failed:") if p)
        return "\n".join([head, *("  " + s for s in shown), "", self.error])


@dataclass
class RunReport:
    input: Path
    output: Path | None
    cells: int
    seconds: float
    failure: CellFailure | None = None
    lineage_store: Path | None = None
    interrupted: bool = False  # stopped by its cancel token, not by an error of its own

    @property
    def ok(self) -> bool:
        return self.failure is None and not self.interrupted


def parse_parameter(text: str) -> tuple[str, Any]:
    """``name=value`` with ints, floats, true/false and none typed, anything else a string."""
    if "=" not in text:
        raise UsageError(f"parameter {text!r} is not NAME=VALUE")
    name, raw = text.split("=", 1)
    name = name.strip()
    if not name.isidentifier():
        raise UsageError(f"parameter name {name!r} is not a Python identifier")
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return name, lowered == "true"
    if lowered in ("none", "null"):
        return name, None
    for cast in (int, float):
        try:
            return name, cast(raw)
        except ValueError:
            pass
    return name, raw


#: what ``sqlweave run -p`` says when a notebook has no cell tagged ``parameters``
NO_PARAMETERS_CELL = (
    f"no cell tagged '{PARAMETERS_TAG}': parameters were injected at the top "
    "(an assignment in the notebook overrides them; tag the cell that sets their defaults)"
)


def inject_parameters(nb: nbformat.NotebookNode, parameters: dict[str, Any]) -> str | None:
    """Insert a cell assigning ``parameters`` after the cell tagged ``parameters`` (papermill's
    rule); with no such cell at the top, and return a warning saying so (else ``None``)."""
    cells = [c for c in nb.cells if INJECTED_TAG not in c.get("metadata", {}).get("tags", [])]
    nb.cells = cells
    if not parameters:
        return None
    source = "# Injected parameters\n" + "".join(
        f"{k} = {_literal(v)}\n" for k, v in parameters.items()
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [INJECTED_TAG]})
    at = next(
        (
            i + 1
            for i, c in enumerate(cells)
            if PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])
        ),
        0,
    )
    nb.cells.insert(at, cell)
    return NO_PARAMETERS_CELL if at == 0 else None


def _literal(value: Any) -> str:
    """Python source for ``value`` (``nan``/``inf`` are not literals)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


def write_atomic(nb: nbformat.NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` via a temporary file and rename: never a half-written notebook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lineage_store.write_atomic(path, nbformat.writes(nb))


def default_output(path: Path) -> Path:
    return path.with_name(f"{path.stem}.out.ipynb")


def run_notebook(
    path: str | os.PathLike[str],
    parameters: dict[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    timeout: int = 600,
    kernel_name: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    notebook_timeout: float | None = None,
    on_warning: Callable[[str], None] | None = None,
    cancel: Cancel | None = None,
    interrupt_grace: float = INTERRUPT_GRACE_S,
    kernel_log: str | os.PathLike[str] | None = None,
) -> RunReport:
    """Execute the notebook at ``path`` in a fresh kernel and save the executed copy.

    Stops at the first failing cell (cells tagged ``raises-exception`` may fail);
    the executed notebook is written either way. ``timeout`` bounds each cell,
    ``notebook_timeout`` the whole notebook (the kernel is killed when it passes);
    ``env`` is added to the kernel's environment. ``on_warning`` hears of parameters
    injected at the top of a notebook with no cell tagged ``parameters``.

    Cancelling ``cancel`` interrupts the kernel (SIGINT, as Jupyter's interrupt button) and
    runs no further cell; a kernel still busy ``interrupt_grace`` seconds later (a native
    query that does not yield), or when the token is forced, is killed. The report then
    says ``interrupted``.

    ``kernel_log`` receives what the kernel process writes to its stderr (its log, a crash's
    last words) instead of this process's stderr, where parallel pipeline kernels would
    interleave it with the runner's progress lines.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    src = Path(path)
    if not src.is_file():
        raise UsageError(f"no notebook at {src}")
    try:
        nb = nbformat.read(src, as_version=4)
    except Exception as exc:
        raise UsageError(f"{src} is not a readable notebook: {exc}") from None
    warning = inject_parameters(nb, parameters or {})
    if warning is not None and on_warning is not None:
        on_warning(warning)  # before the run, which may be long
    workdir = Path(cwd) if cwd is not None else src.resolve().parent
    name = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    # nbclient owns the kernel: graceful shutdown (the kernel writes pending lineage at
    # exit). Given a kernel manager instance of our own, its cell timeout and dead-kernel
    # detection stopped working; it makes one of our class: IPC sockets in a private
    # folder, no TCP port (see sqlweave.kernels).
    # like JupyterLab: the kernel learns the notebook's path from JPY_SESSION_NAME and each
    # cell's id from the execute request, so headless and interactive runs share one graph
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=name,
        shutdown_kernel="graceful",
        resources={"metadata": {"path": str(workdir)}},
        kernel_manager_class=HeadlessKernelManager,
        on_cell_execute=lambda cell, cell_index: _before_cell(client, cell, cancel),
    )
    started = time.perf_counter()
    started_at = datetime.now(timezone.utc)
    failure = None
    watchdog = _Watchdog(client, notebook_timeout) if notebook_timeout else None
    interrupter = _Interrupter(client, cancel, interrupt_grace) if cancel is not None else None
    launch: dict[str, Any] = {"env": {**os.environ, SESSION_ENV: str(src.resolve()), **(env or {})}}
    log = None
    if kernel_log is not None:
        Path(kernel_log).parent.mkdir(parents=True, exist_ok=True)
        log = open(kernel_log, "wb")  # noqa: SIM115 (closed below, after the kernel is gone)
        launch["stderr"] = log  # passed through to the kernel's Popen
    try:
        client.execute(**launch)
    except CellExecutionError as exc:
        failure = _find_failure(nb, exc)
    except CellTimeoutError as exc:
        failure = _find_failure(nb, exc, f"cell timed out after {timeout} s")
    except DeadKernelError as exc:
        failure = _find_failure(nb, exc, "the kernel died")
    except Exception as exc:
        # killed while starting: a timeout; stopped before a cell or while starting: cancelled
        if (watchdog is None or not watchdog.fired) and (cancel is None or not cancel.cancelled):
            raise
        failure = _find_failure(nb, exc, "stopped")
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if interrupter is not None:
            interrupter.close()
        if log is not None:
            log.close()
    # a notebook whose last cell finished before the cancel took effect succeeded
    interrupted = failure is not None and cancel is not None and cancel.cancelled
    if interrupted:
        failure = _find_failure(nb, None, INTERRUPTED)
    elif watchdog is not None and watchdog.fired:
        failure = _find_failure(nb, None, f"the notebook timed out after {notebook_timeout:g} s")
    if failure is not None:
        failure.injected_at = _injected_index(nb)
    seconds = time.perf_counter() - started
    freeze_drawings(nb)
    out = Path(output) if output is not None else default_output(src)
    write_atomic(nb, out)
    store = workdir / lineage_store.DEFAULT_PATH
    if store.exists():
        _forget_deleted_cells(store, src, workdir, nb, started_at)
    return RunReport(
        input=src,
        output=out,
        cells=sum(1 for c in nb.cells if c.cell_type == "code" and c.get("execution_count")),
        seconds=seconds,
        failure=failure,
        lineage_store=store if store.exists() else None,
        interrupted=interrupted,
    )


def _forget_deleted_cells(
    store: Path, src: Path, workdir: Path, nb: nbformat.NotebookNode, started_at: datetime
) -> None:
    """The notebook ran whole: lineage of cells no longer in it (deleted) goes."""
    ids = {c.get("id") for c in nb.cells}
    if None in ids:  # nbformat < 4.5 has no cell ids: nothing to compare
        return
    key = lineage_store.notebook_key(str(src.resolve()), workdir)
    try:
        lineage_store.LineageStore(store).forget_cells(key, ids, started_at)
    except (SqlWeaveError, OSError) as exc:
        print(f"sqlweave: lineage of deleted cells not removed: {exc}", file=sys.stderr)


class _Cancelled(Exception):
    """Raised before a cell once the run's cancel token is cancelled: no further cell runs."""


def _before_cell(client: Any, cell: Any, cancel: Cancel | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise _Cancelled(INTERRUPTED)
    client.kc.cell_id = cell.get("id")


def _kernel_process(client: Any) -> Any:
    """The kernel's ``Popen`` (None before it started)."""
    return getattr(getattr(getattr(client, "km", None), "provisioner", None), "process", None)


class _Interrupter:
    """Interrupts the kernel of ``client`` when ``cancel`` is cancelled, kills it when the
    kernel is still busy ``grace`` seconds later or when the token is forced."""

    def __init__(self, client: Any, cancel: Cancel, grace: float) -> None:
        self.client, self.grace = client, grace
        self._timer: threading.Timer | None = None
        self._forget = cancel.on_cancel(self._on_cancel)

    def _on_cancel(self, force: bool) -> None:
        # runs in the cancelling thread (a signal handler): signal and start a timer only
        if force:
            self._kill()
            return
        process = _kernel_process(self.client)
        if process is not None and process.poll() is None:
            # the kernel leads its own process group (jupyter_client starts a new session):
            # the group holds what the kernel started, and never this process
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGINT)
        self._timer = threading.Timer(self.grace, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def _kill(self) -> None:
        process = _kernel_process(self.client)
        if process is not None and process.poll() is None:
            process.kill()  # only the kernel this run started

    def close(self) -> None:
        self._forget()
        if self._timer is not None:
            self._timer.cancel()


class _Watchdog:
    """Kills the kernel of ``client`` when ``seconds`` pass; nbclient then reports it dead."""

    def __init__(self, client: Any, seconds: float) -> None:
        self.client = client
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        process = getattr(getattr(self.client.km, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            self.fired = True
            process.kill()  # only the kernel this run started

    def cancel(self) -> None:
        self._timer.cancel()


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def freeze_drawings(nb: nbformat.NotebookNode) -> int:
    """Keep only the static drawing of each sqlweave lineage widget output; return how many.

    A saved run is a report read without a kernel: JupyterLab (trusted or not), nbconvert's
    HTML and GitHub then all show the drawing (``image/svg+xml`` and an ``<img>`` in
    ``text/html``). A widget view would win over it wherever widgets render, and there it
    needs the live kernel or a widget manager fetched from the network.
    """
    frozen: set[str] = set()
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if WIDGET_VIEW in data and STATIC_CLASS in str(data.get("text/html", "")):
                frozen.add(str(data.pop(WIDGET_VIEW).get("model_id")))
    # the frozen widgets' saved state (the same drawing again, and their layouts) goes too
    widgets = nb.metadata.get("widgets", {})
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    todo = list(frozen)
    while todo:
        model = state.pop(todo.pop(), None) or {}
        for value in model.get("state", {}).values():
            if isinstance(value, str) and value.startswith("IPY_MODEL_"):
                todo.append(value.removeprefix("IPY_MODEL_"))
    if WIDGET_STATE in widgets and not state:
        del widgets[WIDGET_STATE]
        if not widgets:
            del nb.metadata["widgets"]
    return len(frozen)


def _injected_index(nb: nbformat.NotebookNode) -> int | None:
    """Index of the injected parameters cell in ``nb``, if it has one."""
    tagged = (
        i for i, c in enumerate(nb.cells) if INJECTED_TAG in c.get("metadata", {}).get("tags", [])
    )
    return next(tagged, None)


def _find_failure(
    nb: nbformat.NotebookNode, exc: Exception | None, reason: str | None = None
) -> CellFailure:
    """The cell that stopped the run: the first with an unexpected error output, else the
    last one executed (a ``UsageError`` fails a cell but prints to stderr). With a
    ``reason`` (a timeout, a dead kernel), the last cell that started, with that reason."""
    executed = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")
    ]
    if reason is not None:
        i = executed[-1] if executed else 0
        cell = nb.cells[i]
        return CellFailure(i, cell.get("execution_count"), cell.get("source", ""), reason)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if "raises-exception" in cell.get("metadata", {}).get("tags", []):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                trace = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                head = f"{out.get('ename')}: {out.get('evalue')}"
                text = trace if trace.strip() else head
                if len(text.splitlines()) > 20:  # a Python traceback: keep its end
                    text = "\n".join(["...", *text.splitlines()[-15:]])
                return CellFailure(i, cell.get("execution_count"), cell.source, text)
    i = executed[-1] if executed else 0
    cell = nb.cells[i]
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    return CellFailure(i, cell.get("execution_count"), cell.get("source", ""), f"{ename}: {evalue}")
