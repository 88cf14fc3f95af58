"""The ``%lineage`` magic and automatic lineage capture in IPython.

:func:`setup_lineage` (called by ``%load_ext sqlweave``) registers the magic,
subscribes a :class:`~sqlweave.lineage.capture.LineageCapture` to the Session
and tracks the running cell (id, execution count, notebook path).
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.display import display

from .. import errors
from ..lineage import exports
from ..lineage.capture import INTERACTIVE, CellContext, LineageCapture
from ..lineage.graph import Impact, LineageGraph, Node, NodeKind, StaleCell
from ..lineage.kernel_scope import scope_to_kernels
from ..lineage.model import Span, StatementKind, StatementLineage
from ..lineage.notebook_finder import NotebookFinder
from ..lineage.runs import SCRIPT_CELL, Run, RunInfo, in_folder
from ..lineage.store import DEFAULT_PATH, LineageStore, cell_order, notebook_key, saved_cells
from ..lineage.svg import draw
from ..lineage.view import build_view
from ..lineage.widget import StaticDrawing, html_fallback, make_widget, view_summary
from .bindings import running_count

USAGE = """usage:
  %lineage [--folder] [--interactive]        draw this notebook's lineage (--folder: all)
  %lineage [show] NAME [--upstream|--downstream] [--columns] [--depth N] [--interactive]
  (drawings are static and survive saving; --interactive: a live widget, kernel needed)
  %lineage impact NAME [--folder]            what depends on a dataset or column
  %lineage stale [--folder]                  cells whose inputs changed after they ran
  %lineage declare IN[,IN...] -> OUT[,OUT...]  what this Python cell reads and writes
  %lineage export graphml|json|dot|mermaid|openlineage|svg PATH
  %lineage clear [--notebook]                forget lineage (all, or this notebook's)
  %lineage on|off                            turn automatic capture on or off"""

#: the engine of runs declared with ``%lineage declare`` (a Python cell, not SQL)
PYTHON_ENGINE = "python"
_NAME = re.compile(r"[\w.$\"'`]+")

#: commands that read the graph (of this notebook, or of the folder with --folder)
_READERS = frozenset({"show", "impact", "stale", "export"})

#: ask for the live widget; ``--static`` (the default drawing) is kept for old notebooks
INTERACTIVE_FLAG = "--interactive"
STATIC_FLAG = "--static"

_COMMANDS = ("show", "impact", "stale", "declare", "export", "clear", "on", "off", "help")

#: user_ns names frontends set to the notebook path (JupyterLab/ipykernel, VS Code)
_NOTEBOOK_VARS = ("__session__", "__vsc_ipynb_file__")
#: the user_ns name IPython sets to the file it runs (``ipython build.ipy``)
_SCRIPT_VAR = "__file__"


@dataclass(frozen=True)
class Report:
    """A small rich result: HTML in notebooks, plain text in terminals."""

    text: str
    html: str

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html


class CellTracker:
    """Remembers which cell runs (from IPython's ``pre_run_cell`` event) and in which notebook.

    The cell id is the frontend's (JupyterLab 4, Notebook 7 and VS Code send ``cellId`` in
    the execute request's metadata, ipykernel hands it to IPython; the headless runner sends
    it too). The notebook path comes from ``__session__`` (ipykernel sets it from the
    ``JPY_SESSION_NAME`` that jupyter-server and the runner put in the kernel's environment)
    or ``__vsc_ipynb_file__`` (VS Code), and is stored relative to ``folder``. A script run
    by IPython (``ipython build.ipy``: ``__file__`` set, no cell id) is keyed by its path,
    its statements all in one cell, :data:`SCRIPT_CELL`. A kernel told neither (``jupyter
    nbconvert --execute``, plain nbclient) finds its notebook among the saved ones of
    ``folder`` by the cells it runs (:class:`~sqlweave.lineage.notebook_finder.NotebookFinder`).
    """

    def __init__(self, shell: Any, folder: Path | None = None) -> None:
        self.shell = shell
        self.folder = folder if folder is not None else Path.cwd()
        self.cell_id: str | None = None
        self.execution_count: int | None = None
        #: the saved notebook of ``folder`` a kernel runs, found from its cells when the
        #: frontend names none (nbconvert --execute, plain nbclient): see NotebookFinder
        self.found: str | None = None
        self._finder = NotebookFinder(self.folder)

    def pre_run_cell(self, info: Any) -> None:
        # JupyterLab and VS Code send a cell id; nbclient/papermill and terminals do not, and
        # then the cell's text stands in for it (re-running unchanged text replaces its runs)
        cell_id = getattr(info, "cell_id", None)
        raw = getattr(info, "raw_cell", None) or ""
        if self._unnamed_kernel():
            cell_id = self._find(cell_id, raw)
        if not cell_id:
            cell_id = "src-" + hashlib.sha1(raw.encode("utf-8")).hexdigest()[:12]
        self.cell_id = cell_id
        self.execution_count = running_count(self.shell)

    def _unnamed_kernel(self) -> bool:
        """A kernel whose frontend names no notebook (and no script runs)."""
        ns = getattr(self.shell, "user_ns", {}) or {}
        return (
            getattr(self.shell, "kernel", None) is not None
            and self._frontend_path() is None
            and not ns.get(_SCRIPT_VAR)
        )

    def _find(self, cell_id: str | None, raw: str) -> str | None:
        """Look for this kernel's notebook among the folder's saved ones; the cell's id."""
        if cell_id:
            if self.found is None:
                self.found = self._finder.by_cell_id(cell_id)
            return cell_id
        match = self._finder.by_source(raw)
        if match is None:
            return None
        if self.found is None:
            self.found = match[0]
        return match[1] if match[0] == self.found else None

    def _frontend_path(self) -> str | None:
        """The notebook path the frontend gave the kernel, if any."""
        ns = getattr(self.shell, "user_ns", {}) or {}
        return next(
            (ns[var] for var in _NOTEBOOK_VARS if isinstance(ns.get(var), str) and ns[var]),
            os.environ.get("JPY_SESSION_NAME") or None,
        )

    def notebook(self) -> str:
        """This notebook's key in the folder's store: the notebook's, else the script's,
        else ``<interactive>``."""
        return self._file()[0]

    def _file(self) -> tuple[str, bool]:
        """This notebook's or script's key, and whether it is a script."""
        ns = getattr(self.shell, "user_ns", {}) or {}
        path = self._frontend_path()
        if path:
            return notebook_key(path, self.folder), False
        script = ns.get(_SCRIPT_VAR)
        if isinstance(script, str) and script:
            return notebook_key(script, self.folder), True
        if self.found is not None:
            return notebook_key(str(self.folder / self.found), self.folder), False
        return INTERACTIVE, False

    def context(self) -> CellContext:
        notebook, script = self._file()
        cell_id = self.cell_id if self.cell_id or not script else SCRIPT_CELL
        return CellContext(notebook, cell_id, self.execution_count)


@magics_class
class LineageMagics(Magics):
    """``%lineage``: draw, query and export the lineage captured from ``%%sql`` cells."""

    def __init__(self, shell: Any, capture: LineageCapture, tracker: CellTracker) -> None:
        super().__init__(shell=shell)
        self.capture = capture
        self.tracker = tracker
        #: draw the live widget by default rather than the static drawing. Off: a widget
        #: view saved in a notebook the user trusts is what Lab shows on reopening, and
        #: without the kernel's model (Lab saves no widget state) it reads "model not found"
        self.interactive = False
        self._folder = False
        self._interactive = False  # --interactive given to the running command
        self._view = capture.graph  # the graph the running command reads

    @property
    def graph(self) -> LineageGraph:
        """Everything this kernel knows: its runs and what the store held when it started."""
        self.capture.flush()  # statements recorded on the background thread
        return self.capture.graph

    def notebook_graph(self, folder: bool = False) -> LineageGraph:
        """This notebook's lineage (cells deleted from the saved notebook forgotten), or with
        ``folder`` every notebook and script of the folder (runs carry their ``notebook``);
        runs outside any file only when this session made them. Other notebooks' private
        datasets (in-memory tables, variables, DataFrames) are named ``notebook:name``: only
        files and shared catalogs' tables join notebooks."""
        notebook = self.tracker.notebook()
        saved = saved_cells(self.tracker.folder / notebook) if notebook != INTERACTIVE else None
        if saved is not None:
            self.capture.forget_cells(notebook, *saved)
        if not folder:
            return self.graph.for_notebook(notebook)
        runs = list(self.graph.runs)
        if self.capture.store is not None:
            with contextlib.suppress(errors.SqlWeaveError, OSError):
                runs += self.capture.store.runs()
        runs = in_folder(runs, self.capture.session_id)
        return LineageGraph(scope_to_kernels(runs, notebook, self.capture.session_id))

    def close(self, session: Any = None) -> None:
        """Stop tracking cells and (given the session) stop capturing; for extension unload."""
        with contextlib.suppress(ValueError):
            self.shell.events.unregister("pre_run_cell", self.tracker.pre_run_cell)
        if session is not None and hasattr(session, "remove_listener"):
            session.remove_listener(self.capture)
        self.capture.close()

    @no_var_expand
    @line_magic
    def lineage(self, line: str = "") -> Any:
        """Draw, query and export lineage; ``%lineage help`` lists the commands."""
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"{exc}\n{USAGE}") from None
        self._folder = "--folder" in words
        self._interactive = self.interactive or INTERACTIVE_FLAG in words
        words = [w for w in words if w not in ("--folder", INTERACTIVE_FLAG)]
        if not words:
            return self._show_all()
        command = words[0] if words[0] in _COMMANDS else "show"
        args = words[1:] if words[0] in _COMMANDS else words
        handler: Callable[[list[str]], Any] = getattr(self, f"_cmd_{command}")
        try:
            if command in _READERS:
                self._view = self.notebook_graph(self._folder)
            return handler(args)
        except errors.UsageError as exc:
            raise UsageError(str(exc)) from None

    # ----- commands ----------------------------------------------------------------------
    def _cmd_help(self, args: list[str]) -> Report:
        return Report(USAGE, f"<pre>{html.escape(USAGE)}</pre>")

    def _cmd_on(self, args: list[str]) -> None:
        _expect(args, 0, "on")
        self.capture.enabled = True

    def _cmd_off(self, args: list[str]) -> None:
        _expect(args, 0, "off")
        self.capture.enabled = False

    def _show_all(self) -> Any:
        self._view = self.notebook_graph(self._folder)
        if not len(self._view.datasets()):
            return Report("no lineage captured yet", "<i>no lineage captured yet</i>")
        return self._picture(columns=False, nodes=None, focus=None)

    def _cmd_show(self, args: list[str]) -> Any:
        flags, values, rest = _options(
            args, {"--upstream", "--downstream", "--columns", STATIC_FLAG}, {"--depth"}
        )
        if len(rest) != 1:
            raise UsageError(f"%lineage show takes one dataset or column name\n{USAGE}")
        if "--upstream" in flags and "--downstream" in flags:
            raise UsageError("choose one of --upstream and --downstream (or neither for both)")
        depth = _int(values.get("--depth"), "--depth")
        start = self._view.node(rest[0])
        picked: list[Node] = [start]
        if "--downstream" not in flags:
            picked += self._view.upstream(start, depth)
        if "--upstream" not in flags:
            picked += self._view.downstream(start, depth)
        columns = "--columns" in flags or start.kind is NodeKind.COLUMN
        shown = self._frame(picked)
        return self._picture(columns=columns, nodes=shown, focus=start, static=STATIC_FLAG in flags)

    def _cmd_impact(self, args: list[str]) -> Report:
        _, _, rest = _options(args, set(), set())
        if len(rest) != 1:
            raise UsageError(f"%lineage impact takes one dataset or column name\n{USAGE}")
        impact = self._view.impact(rest[0], self._positions())
        shown = self._frame([impact.source, *self._view.downstream(impact.source)])
        shown |= {Node(NodeKind.DATASET, d) for d in impact.datasets}
        picture = draw(
            self._view,
            nodes=shown,
            focus=impact.source,
            columns=impact.source.kind is NodeKind.COLUMN,
        )
        return _impact_report(impact, picture)

    def _cmd_stale(self, args: list[str]) -> Report:
        _expect(args, 0, "stale")
        return _stale_report(self._view.stale())

    def _cmd_declare(self, args: list[str]) -> Report:
        reads, writes = _declaration(" ".join(args))
        ctx = self.tracker.context()
        sql = f"%lineage declare {', '.join(reads)} -> {', '.join(writes)}"
        info = RunInfo.new(
            notebook=ctx.notebook,
            cell_id=ctx.cell_id,
            execution_count=ctx.execution_count,
            sql=sql,
            engine=PYTHON_ENGINE,
            session_id=self.capture.session_id,
            variables=writes,
            frames=reads,
        )
        lineage = StatementLineage(
            StatementKind.DECLARED,
            sql,
            Span(0, len(sql)),
            reads=frozenset(reads),
            writes=frozenset(writes),
        )
        self.capture.add([Run(info, lineage)])
        text = f"declared: {', '.join(reads)} -> {', '.join(writes)} (this cell)"
        return Report(text, html.escape(text))

    def _cmd_export(self, args: list[str]) -> None:
        """Write the export and show where at once, so every export of a cell is reported."""
        _expect(args, 2, "export")
        path = Path(args[1]).expanduser()
        missing = exports.missing_folder(path)
        # a missing folder inside the notebook's folder (out/lineage.json) is made; elsewhere
        # (/nonexistent_dir/x.jsonl) it is more likely a typo than a wish for a new folder
        inside = missing is not None and _inside(missing, Path.cwd())
        if missing is not None and not inside:
            raise UsageError(
                f"cannot write {path}: there is no folder {missing} "
                "(only folders under the notebook's folder are made for an export)"
            )
        path = exports.export(self._view, args[0], path, make_folders=inside)
        text = f"lineage written to {path} ({args[0]})"
        if missing is not None:
            text += f"; made the folder {missing}"
        display(Report(text, html.escape(text)))

    def _cmd_clear(self, args: list[str]) -> Report:
        flags, _, rest = _options(args, {"--notebook"}, set())
        if rest:
            raise UsageError(f"%lineage clear takes no names\n{USAGE}")
        notebook = self.tracker.notebook() if "--notebook" in flags else None
        self.capture.clear(notebook)
        text = f"lineage of {notebook} cleared" if notebook else "lineage cleared"
        return Report(text, html.escape(text))

    def _positions(self) -> dict[tuple[str, str], int]:
        """Each saved cell's place in its notebook, for the notebooks of the viewed graph."""
        notebooks = {r.info.notebook for r in self._view.runs if r.info.notebook.endswith(".ipynb")}
        return {
            (notebook, cell_id): place
            for notebook in sorted(notebooks)
            for place, cell_id in enumerate(cell_order(self.tracker.folder / notebook))
        }

    def _frame(self, picked: list[Node]) -> set[Node]:
        """What to draw for ``picked``: columns become their datasets plus the runs deriving them."""
        shown: set[Node] = set()
        for n in picked:
            if n.kind is NodeKind.COLUMN:
                shown.add(Node(NodeKind.DATASET, n.name))
                shown |= {Node(NodeKind.RUN, r) for r in self._view.producers(n)}
            else:
                shown.add(n)
        return shown

    def _picture(
        self, *, columns: bool, nodes: set[Node] | None, focus: Node | None, static: bool = False
    ) -> Any:
        if self._interactive and not static:
            return make_widget(self._view, columns=columns, nodes=nodes, focus=focus)
        svg = draw(self._view, columns=columns, nodes=nodes, focus=focus)
        return StaticDrawing(svg, view_summary(build_view(self._view, nodes)))


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (relative paths from the working directory) is under ``folder``."""
    try:
        (folder / path).resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _declaration(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``a, b -> c`` as ``(("a", "b"), ("c",))``; a clear UsageError otherwise."""
    left, arrow, right = text.partition("->")
    reads = tuple(n for n in (p.strip() for p in left.split(",")) if n)
    writes = tuple(n for n in (p.strip() for p in right.split(",")) if n)
    if not arrow or not writes or "->" in right:
        raise UsageError(
            f"%lineage declare takes INPUTS -> OUTPUTS, e.g. flights -> clean, not {text!r}"
        )
    bad = [n for n in (*reads, *writes) if not _NAME.fullmatch(n)]
    if bad:
        raise UsageError(f"%lineage declare: {bad[0]!r} is not a dataset or variable name")
    return reads, writes


def _expect(args: list[str], n: int, command: str) -> None:
    if len(args) != n:
        raise UsageError(f"%lineage {command} takes {n} argument(s), got {len(args)}\n{USAGE}")


def _options(
    args: list[str], flags: set[str], valued: set[str]
) -> tuple[set[str], dict[str, str], list[str]]:
    seen: set[str] = set()
    values: dict[str, str] = {}
    rest: list[str] = []
    it = iter(args)
    for word in it:
        if word in flags:
            seen.add(word)
        elif word in valued:
            value = next(it, None)
            if value is None:
                raise UsageError(f"{word} needs a value\n{USAGE}")
            values[word] = value
        elif word.startswith("--"):
            raise UsageError(f"unknown option {word}\n{USAGE}")
        else:
            rest.append(word)
    return seen, values, rest


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise UsageError(f"{name} takes a whole number, not {value!r}") from None
    if number < 0:
        raise UsageError(f"{name} must be >= 0")
    return number


#: how the text report marks the cells that only read affected data
RERUN = "re-run"


def _impact_report(impact: Impact, picture: str) -> Report:
    lines = [f"impact of {impact.source}:"]
    lines.append("  datasets: " + (", ".join(impact.datasets) or "none"))
    lines.append("  columns:  " + (", ".join(map(str, impact.columns)) or "none"))
    lines.append("  cells:    " + (", ".join(map(str, impact.cells)) or "none"))
    if impact.readers:
        readers = ", ".join(map(str, impact.readers))
        lines.append(f"  {RERUN}:   {readers} (cells that only read affected data)")
    esc = html.escape

    def items(values: Any) -> str:
        return "".join(f"<li><code>{esc(str(v))}</code></li>" for v in values) or "<li>none</li>"

    readers_html = "".join(
        f"<li><code>{esc(str(c))}</code> <i>{RERUN}</i></li>" for c in impact.readers
    )
    body = (
        f"<div class='sqlweave-impact'><b>Impact of <code>{esc(str(impact.source))}</code></b>"
        f"<table><tr><th style='text-align:left'>datasets</th><th style='text-align:left'>"
        f"columns</th><th style='text-align:left'>cells to re-run (in order)</th></tr>"
        f"<tr style='vertical-align:top'><td><ol>{items(impact.datasets)}</ol></td>"
        f"<td><ol>{items(impact.columns)}</ol></td>"
        f"<td><ol>{items(impact.cells) if impact.cells or not readers_html else ''}"
        f"{readers_html}</ol></td></tr>"
        f"</table>{html_fallback(picture)}</div>"
    )
    return Report("\n".join(lines), body)


def _stale_report(stale: list[StaleCell]) -> Report:
    if not stale:
        return Report("no stale cells", "<i>no stale cells</i>")
    lines = [f"{s.cell}: {s.reason}" for s in stale]
    rows = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return Report("stale cells:\n  " + "\n  ".join(lines), f"<b>Stale cells</b><ul>{rows}</ul>")


def _lineage_switch(ipython: Any, session: Any) -> Any:
    """The configurable (``SqlWeave``) owning ``session`` whose ``lineage`` trait switches capture."""
    for conf in getattr(ipython, "configurables", []):
        if (
            getattr(conf, "session", None) is session
            and hasattr(conf, "has_trait")
            and conf.has_trait("lineage")
        ):
            return conf
    return None


def setup_lineage(
    ipython: Any,
    session: Any,
    *,
    store_path: str | os.PathLike[str] | None = None,
    enabled: bool | None = None,
) -> LineageMagics:
    """Register ``%lineage``, capture lineage from ``session`` and track the running cell.

    Args:
        ipython: the InteractiveShell.
        session: a :class:`sqlweave.Session` (anything with ``add_listener``).
        store_path: the lineage store; default ``.sqlweave/`` in the working directory
            (the notebook's folder), ``""`` for none (memory only).
        enabled: capture on or off; default: the ``SqlWeave.lineage`` trait of the
            configurable owning ``session``, else on. Later changes of that trait
            (``%config SqlWeave.lineage = False``) switch capture too.
    """
    store = None if store_path == "" else LineageStore(store_path or Path.cwd() / DEFAULT_PATH)
    # notebook paths are kept relative to the folder the store belongs to
    tracker = CellTracker(ipython, store.root.absolute().parent if store else Path.cwd())
    capture = LineageCapture(store=store, context=tracker.context, background=True)
    try:
        capture.load()
    except errors.SqlWeaveError as exc:  # e.g. a store from a newer sqlweave: memory only
        print(f"sqlweave: lineage store not loaded: {exc}")
        capture.store = None
    switch = _lineage_switch(ipython, session)
    if enabled is None:
        enabled = bool(switch.lineage) if switch is not None else True
    capture.enabled = enabled
    if switch is not None:
        switch.observe(lambda change: setattr(capture, "enabled", bool(change["new"])), "lineage")
    ipython.events.register("pre_run_cell", tracker.pre_run_cell)
    session.add_listener(capture)
    magics = LineageMagics(ipython, capture, tracker)
    ipython.register_magics(magics)
    return magics
