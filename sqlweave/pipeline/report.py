"""The HTML run report: the DAG coloured by status, each notebook's time, failures with SQL."""

from __future__ import annotations

from html import escape
from pathlib import Path
from urllib.parse import quote

from .draw import STATUS_COLOURS, plan_svg
from .journal import NotebookStatus
from .plan import Plan
from .state import RunState

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; }
td.num { text-align: right; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
.status { padding: 1px 8px; border-radius: 3px; }
"""


def run_report(plan: Plan, state: RunState, folder: Path | None = None) -> str:
    """A self-contained HTML page describing one run, to be saved in ``folder``: executed
    notebooks there are linked by relative path (the page still works when the folder moves).
    """
    status = {k: nb.status.value for k, nb in state.notebooks.items()}
    rows = []
    for key in plan.order:
        nb = state.notebooks.get(key)
        if nb is None:
            continue
        colour = STATUS_COLOURS.get(nb.status.value, "#fff")
        output = nb.success.output if nb.success else (nb.failure.output if nb.failure else "")
        rows.append(
            "<tr>"
            f"<td>{escape(key)}</td>"
            f'<td><span class="status" style="background:{colour}">{escape(nb.status.value)}</span></td>'
            f'<td class="num">{nb.attempts or ""}</td>'
            f'<td class="num">{f"{nb.seconds:.1f} s" if nb.seconds else ""}</td>'
            f"<td>{escape(nb.reason)}</td>"
            f"<td>{_link(output, folder)}</td>"
            "</tr>"
        )
    failures = []
    for key, nb in state.notebooks.items():
        if nb.status is NotebookStatus.FAILED and nb.failure is not None:
            f = nb.failure
            failures.append(
                f"<h3>{escape(key)}: cell {f.cell or '?'} (attempt {f.attempt})</h3>"
                f"<pre>{escape(f.source)}</pre><pre>{escape(f.error)}</pre>"
            )
    started = state.started
    params = ", ".join(f"{k}={v!r}" for k, v in started.parameters.items()) or "none"
    return "\n".join(
        [
            "<!DOCTYPE html>",
            f"<html><head><meta charset='utf-8'><title>sqlweave run {escape(state.run_id)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Pipeline run {escape(state.run_id)}: {escape(state.status.value)}</h1>",
            f"<p>started {escape(started.at)}, {state.seconds:.1f} s; parameters: {escape(params)}</p>",
            plan_svg(plan, status),
            "<table><tr><th>notebook</th><th>status</th><th>attempts</th><th>time</th>"
            "<th>reason</th><th>executed notebook</th></tr>",
            *rows,
            "</table>",
            *(["<h2>Failures</h2>", *failures] if failures else []),
            "</body></html>",
        ]
    )


def _link(output: str, folder: Path | None) -> str:
    """A link to an executed notebook, relative to the report's folder when inside it."""
    if not output:
        return ""
    path = Path(output)
    if folder is not None and path.is_relative_to(folder):
        rel = path.relative_to(folder).as_posix()
        return f'<a href="{escape(quote(rel))}">{escape(rel)}</a>'
    return escape(output)
