"""Draw a plan: as text for the terminal, as SVG (optionally coloured by run status).

The layout is sqlweave's own layered layout (:mod:`sqlweave.lineage.layout`); no graphviz.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from ..lineage.layout import Spacing, layered_layout
from .plan import Plan

#: fill colour per notebook status (see :class:`sqlweave.pipeline.journal.NotebookStatus`)
STATUS_COLOURS = {
    "succeeded": "#c8e6c9",
    "failed": "#ffcdd2",
    "skipped": "#eeeeee",
    "blocked": "#ffe0b2",
    "running": "#bbdefb",
    "pending": "#ffffff",
    "up-to-date": "#e8f5e9",
    "interrupted": "#fff9c4",
}
_CHAR_WIDTH = 7.2
_BOX_HEIGHT = 30.0


def plan_text(plan: Plan) -> str:
    """The run order, what each notebook reads and writes, and the edges of the DAG.

    >>> from sqlweave.pipeline.plan import build_plan
    >>> from sqlweave.pipeline.dependencies import Dependencies as D
    >>> print(plan_text(build_plan({"a.ipynb": D(writes=frozenset({"t"})),
    ...                             "b.ipynb": D(reads=frozenset({"t"}))})))
    2 notebooks in 2 levels; sources: none
    order:
      1. a.ipynb  writes t
      2. b.ipynb  reads t
    dag:
      level 1: a.ipynb
      level 2: b.ipynb
      a.ipynb --[t]--> b.ipynb
    """
    n = len(plan.order)
    lines = [
        f"{n} notebook{'s' if n != 1 else ''} in {len(plan.levels)} level"
        f"{'s' if len(plan.levels) != 1 else ''}; sources: {', '.join(plan.sources) or 'none'}"
        + (f"; notebook DataFrames: {', '.join(plan.frames)}" if plan.frames else ""),
        "order:",
    ]
    width = max(len(k) for k in plan.order) if plan.order else 0
    for i, key in enumerate(plan.order, 1):
        deps = plan.notebooks[key]
        frames = [(n, code) for n, code in deps.frames if n in plan.frames]
        reads = sorted(deps.reads - {n for n, _ in frames})
        registered = dict(deps.registered)
        files = sorted(deps.files - set(registered.values()))
        parts = []
        if reads:
            parts.append("reads " + ", ".join(reads))
        if frames:
            parts.append("DataFrames " + ", ".join(f"{n} ({code})" for n, code in frames))
        if registered:
            parts.append("registers " + ", ".join(f"{n} ({p})" for n, p in registered.items()))
        if deps.writes:
            parts.append("writes " + ", ".join(sorted(deps.writes)))
        if files:
            parts.append("files " + ", ".join(files))
        lines.append(f"  {i}. {key.ljust(width)}  {'; '.join(parts) or '(no tables)'}".rstrip())
        lines.extend(f"     warning: {w}" for w in deps.warnings)
    lines.extend(f"warning: {w}" for w in plan.warnings)
    lines.append("dag:")
    lines.extend(f"  level {i}: {', '.join(level)}" for i, level in enumerate(plan.levels, 1))
    lines.extend(f"  {e.upstream} --[{', '.join(e.tables)}]--> {e.downstream}" for e in plan.edges)
    return "\n".join(lines)


def plan_svg(plan: Plan, status: Mapping[str, str] | None = None) -> str:
    """An SVG drawing of the DAG, left to right; boxes filled by ``status`` (key -> status)."""
    status = status or {}
    sizes = {k: (len(k) * _CHAR_WIDTH + 24, _BOX_HEIGHT) for k in plan.order}
    layout = layered_layout(
        sizes, [(e.upstream, e.downstream) for e in plan.edges], Spacing(layer_gap=80.0)
    )
    pad = 10
    w, h = layout.width + 2 * pad, layout.height + 2 * pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
        f'viewBox="{-pad} {-pad} {w:.0f} {h:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
        'markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>',
    ]
    tables = {(e.upstream, e.downstream): ", ".join(e.tables) for e in plan.edges}
    for route in layout.routes:
        d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in route.points)
        title = escape(tables.get((route.source, route.target), ""))
        out.append(
            f'<path d="{d}" fill="none" stroke="#555" marker-end="url(#arrow)">'
            f"<title>{title}</title></path>"
        )
    for key in plan.order:
        box = layout.boxes[key]
        state = status.get(key, "")
        fill = STATUS_COLOURS.get(state, "#ffffff")
        label = escape(key)
        tip = escape(f"{key}: {state}" if state else key)
        out.append(
            f'<g class="notebook {escape(state)}"><title>{tip}</title>'
            f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" '
            f'height="{box.height:.1f}" rx="4" fill="{fill}" stroke="#333"/>'
            f'<text x="{box.x + 12:.1f}" y="{box.y + box.height / 2 + 4:.1f}">{label}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
