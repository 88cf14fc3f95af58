"""Render a result's first rows as HTML (notebooks) or plain text (terminals, headless runs).

Only the first ``limit`` rows are ever converted to Python values, so a
10-million-row result renders as fast as a 10-row one.
"""

from __future__ import annotations

import html
from typing import Any

import pyarrow as pa

MAX_CELL_CHARS = 200
_STYLE = (
    "<style>"
    ".sqlweave-result table{border-collapse:collapse;font-size:12px}"
    ".sqlweave-result th,.sqlweave-result td{padding:2px 8px;text-align:right;"
    "border-bottom:1px solid var(--jp-border-color2,#ddd);white-space:pre}"
    ".sqlweave-result th{vertical-align:bottom}"
    ".sqlweave-result th small{display:block;font-weight:normal;opacity:.6}"
    ".sqlweave-result .null{opacity:.45;font-style:italic}"
    ".sqlweave-result .meta{font-size:11px;opacity:.7;margin-top:4px}"
    ".sqlweave-result .notice{font-size:11px;color:#8a6d3b}"
    "</style>"
)


def type_name(t: pa.DataType) -> str:
    """Short display name of an Arrow type."""
    text = str(t)
    return {"string_view": "string", "large_string": "string", "utf8": "string"}.get(text, text)


#: how a NULL is shown (text); HTML marks it with a class instead, so a string 'NULL' differs
NULL = "NULL"


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def head_rows(table: pa.Table, limit: int) -> list[list[str | None]]:
    """The first ``limit`` rows as display strings (``None`` for NULL)."""
    head = table.slice(0, limit)
    columns = [col.to_pylist() for col in head.columns]
    return [[_cell(col[i]) for col in columns] for i in range(head.num_rows)]


def footer(rows: int, shown: int, elapsed_s: float | None, engine: str | None) -> str:
    parts = [f"{rows:,} row{'s' if rows != 1 else ''}"]
    if shown < rows:
        parts[0] += f" (showing first {shown:,})"
    if elapsed_s is not None:
        parts.append(format_duration(elapsed_s))
    if engine:
        parts.append(engine)
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    """``"1.23 s"``, ``"45.6 ms"`` or ``"789 µs"``."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def to_bundle(
    table: pa.Table,
    limit: int,
    elapsed_s: float | None = None,
    engine: str | None = None,
    notices: tuple[str, ...] = (),
    message: str | None = None,
) -> dict[str, str]:
    """Both renderings as a MIME bundle (``text/plain`` and ``text/html``).

    The head rows are converted once for the two of them.
    """
    rows = head_rows(table, limit)
    args = (limit, elapsed_s, engine, notices, message)
    return {"text/plain": _text(table, rows, *args), "text/html": _html(table, rows, *args)}


def to_html(
    table: pa.Table,
    limit: int,
    elapsed_s: float | None = None,
    engine: str | None = None,
    notices: tuple[str, ...] = (),
    message: str | None = None,
) -> str:
    """An HTML table of the first ``limit`` rows with names, types and a footer."""
    return _html(table, head_rows(table, limit), limit, elapsed_s, engine, notices, message)


def _html(
    table: pa.Table,
    rows: list[list[str | None]],
    limit: int,
    elapsed_s: float | None,
    engine: str | None,
    notices: tuple[str, ...],
    message: str | None,
) -> str:
    out = [_STYLE, '<div class="sqlweave-result">']
    for note in notices:
        out.append(f'<div class="notice">{html.escape(note)}</div>')
    if message and table.num_columns == 0:
        out.append(f"<div>{html.escape(message)}</div>")
    if table.num_columns:
        out.append("<table><thead><tr>")
        for field in table.schema:
            out.append(
                f"<th>{html.escape(field.name)}<small>{html.escape(type_name(field.type))}</small></th>"
            )
        out.append("</tr></thead><tbody>")
        for row in rows:
            out.append("<tr>")
            for value in row:
                if value is None:
                    out.append(f'<td class="null">{NULL}</td>')
                else:
                    out.append(f"<td>{html.escape(value)}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
    shown = min(limit, table.num_rows)
    out.append(
        f'<div class="meta">{html.escape(footer(table.num_rows, shown, elapsed_s, engine))}</div>'
    )
    out.append("</div>")
    return "".join(out)


def to_text(
    table: pa.Table,
    limit: int,
    elapsed_s: float | None = None,
    engine: str | None = None,
    notices: tuple[str, ...] = (),
    message: str | None = None,
) -> str:
    """A plain-text table of the first ``limit`` rows, for terminals and headless runs."""
    return _text(table, head_rows(table, limit), limit, elapsed_s, engine, notices, message)


def _text(
    table: pa.Table,
    head: list[list[str | None]],
    limit: int,
    elapsed_s: float | None,
    engine: str | None,
    notices: tuple[str, ...],
    message: str | None,
) -> str:
    lines = list(notices)
    if message and table.num_columns == 0:
        lines.append(message)
        return "\n".join(lines)
    if table.num_columns:
        header = [f.name for f in table.schema]
        types = [type_name(f.type) for f in table.schema]
        rows = [[NULL if v is None else v for v in r] for r in head]
        widths = [
            max(len(header[i]), len(types[i]), *(len(r[i]) for r in rows))
            for i in range(len(header))
        ]
        lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        lines.append("  ".join(t.rjust(w) for t, w in zip(types, widths)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows)
    lines.append(footer(table.num_rows, min(limit, table.num_rows), elapsed_s, engine))
    return "\n".join(lines)
