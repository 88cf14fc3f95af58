"""Render a result's first rows as HTML (notebooks) or plain text (terminals, headless runs).

Only the first ``limit`` rows are ever converted to Python values, so a
10-million-row result renders as fast as a 10-row one.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

import pyarrow as pa

MAX_CELL_CHARS = 200
#: longest column name shown in a header; an unaliased expression can run to hundreds
MAX_HEADER_CHARS = 48
#: bytes of a binary value shown as hex before the rest is left out
MAX_BINARY_BYTES = 32
_SPACING = re.compile(r"\s\s|\n|^\s|\s$")
# Inline styles only, each from JupyterLab's sanitizer allowlist: an untrusted notebook
# (any notebook executed headless and reopened) renders text/html through that sanitizer,
# which removes <style> elements but keeps these properties.
_TABLE_STYLE = "border-collapse:collapse;font-size:12px"
_TH_STYLE = "padding:2px 8px;text-align:right;vertical-align:bottom"
_TYPE_STYLE = "display:block;font-weight:normal;opacity:0.6"
_NULL_STYLE = "opacity:0.45;font-style:italic"
_PRE_STYLE = "white-space:pre"
_META_STYLE = "font-size:11px;opacity:0.7;margin-top:4px"
_NOTICE_STYLE = "font-size:11px;color:#8a6d3b"


_SVG_SIZE = re.compile(r"<svg[^>]*?\swidth=['\"]([\d.]+)['\"][^>]*?\sheight=['\"]([\d.]+)['\"]")


def svg_as_img(svg: str, alt: str) -> str:
    """A drawing as sanitizer-safe HTML: an ``<img>`` of the SVG as a data URI.

    JupyterLab renders the ``text/html`` of an untrusted notebook through its sanitizer,
    which strips ``<svg>`` (leaving its text as a wall of words) but keeps ``<img>`` with a
    data URI and inline ``overflow-x``/``max-width`` styles. The image keeps its natural size
    and its box scrolls sideways rather than shrinking it.

    >>> svg_as_img("<svg width='40' height='20'></svg>", "a box")[:60]
    "<div style='overflow-x:auto;max-width:100%'><img src='data:i"
    """
    size = _SVG_SIZE.search(svg)
    dims = f" width='{size.group(1)}' height='{size.group(2)}'" if size else ""
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f"<div style='overflow-x:auto;max-width:100%'>"
        f"<img src='data:image/svg+xml;base64,{data}'{dims} alt={quoteattr(alt)} "
        f"style='max-width:none'></div>"
    )


def type_name(t: pa.DataType) -> str:
    """Short display name of an Arrow type."""
    text = str(t)
    return {"string_view": "string", "large_string": "string", "utf8": "string"}.get(text, text)


#: how a NULL is shown (text); HTML marks it with a class instead, so a string 'NULL' differs
NULL = "NULL"


def short_name(name: str, limit: int = MAX_HEADER_CHARS) -> str:
    """``name`` cut in the middle to ``limit`` characters, keeping its start and its end
    (an expression's shape shows at both).

    >>> short_name("count(a > b AND c < d)", 15)
    'count(a >… < d)'
    """
    if len(name) <= limit:
        return name
    head = (limit - 1) * 2 // 3
    tail = limit - 1 - head
    return f"{name[:head]}…{name[-tail:]}" if tail else f"{name[:head]}…"


def binary_hex(value: bytes, limit: int = MAX_BINARY_BYTES) -> str:
    r"""A binary value as hex with a ``\x`` prefix, as PostgreSQL prints ``bytea``; only the
    first ``limit`` bytes are shown, then how many there are.

    >>> binary_hex(bytes([1, 2, 255]))
    '\\x0102ff'
    >>> binary_hex(bytes(40), 2)
    '\\x0000… (40 bytes)'
    """
    if len(value) <= limit:
        return "\\x" + value.hex()
    return f"\\x{value[:limit].hex()}… ({len(value):,} bytes)"


def _shown(value: Any) -> str:
    """A value as display text: binary as hex, also inside lists, maps and structs, whose
    other members read as Python's ``repr`` (as ``str`` of a list would show them)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return binary_hex(bytes(value))
    if isinstance(value, list):
        return "[" + ", ".join(_member(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_member(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):  # a map's (key, value) pairs
        return "(" + ", ".join(_member(v) for v in value) + ")"
    return str(value)


def _member(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview, list, dict, tuple)):
        return _shown(value)
    return repr(value)


def _cell(value: Any, whole: bool = False) -> str | None:
    if value is None:
        return None
    text = _shown(value)
    if not whole and len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def head_rows(table: pa.Table, limit: int, whole: bool = False) -> list[list[str | None]]:
    """The first ``limit`` rows as display strings (``None`` for NULL); long values are
    cut at ``MAX_CELL_CHARS`` unless ``whole`` (query plans, which are small)."""
    head = table.slice(0, limit)
    columns = [col.to_pylist() for col in head.columns]
    return [[_cell(col[i], whole) for col in columns] for i in range(head.num_rows)]


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


@dataclass(frozen=True)
class Display:
    """How a result is shown: how many rows, and the words around them.

    >>> Display(limit=5, engine="duckdb").plan
    False
    """

    limit: int
    elapsed_s: float | None = None
    engine: str | None = None
    notices: tuple[str, ...] = ()
    message: str | None = None
    #: an EXPLAIN result: values shown whole, and as text each plan under its label
    plan: bool = False


@dataclass(frozen=True)
class Shown:
    """One rendering's input: the table, its head rows converted once, and the display."""

    table: pa.Table
    rows: list[list[str | None]]
    display: Display

    @classmethod
    def of(cls, table: pa.Table, display: Display) -> Shown:
        """Convert the first ``display.limit`` rows of ``table`` (whole values for a plan)."""
        return cls(table, head_rows(table, display.limit, whole=display.plan), display)

    def footer(self) -> str:
        """The line under the table: rows (and how many shown), time, engine."""
        rows, d = self.table.num_rows, self.display
        return footer(rows, min(d.limit, rows), d.elapsed_s, d.engine)


def to_bundle(table: pa.Table, display: Display) -> dict[str, str]:
    """Both renderings as a MIME bundle (``text/plain`` and ``text/html``).

    The head rows are converted once for the two of them.
    """
    shown = Shown.of(table, display)
    return {"text/plain": _text(shown), "text/html": _html(shown)}


def to_html(table: pa.Table, display: Display) -> str:
    """An HTML table of the first ``display.limit`` rows with names, types and a footer."""
    return _html(Shown.of(table, display))


def _html(shown: Shown) -> str:
    table = shown.table
    out = ['<div class="sqlweave-result">']
    for note in shown.display.notices:
        out.append(f'<div class="notice" style="{_NOTICE_STYLE}">{html.escape(note)}</div>')
    if shown.display.message and table.num_columns == 0:
        out.append(f"<div>{html.escape(shown.display.message)}</div>")
    if table.num_columns:
        out.append(f'<table style="{_TABLE_STYLE}"><thead><tr>')
        for field in table.schema:
            name = short_name(field.name)
            # the whole name in a tooltip when the header shows only part of it
            title = f" title={quoteattr(field.name)}" if name != field.name else ""
            out.append(
                f'<th style="{_TH_STYLE}"{title}>{html.escape(name)}'
                f'<small style="{_TYPE_STYLE}">{html.escape(type_name(field.type))}</small></th>'
            )
        out.append("</tr></thead><tbody>")
        for row in shown.rows:
            out.append("<tr>")
            for value in row:
                if value is None:
                    out.append(f'<td class="null" style="{_NULL_STYLE}">{NULL}</td>')
                elif _SPACING.search(value):  # keep runs of spaces and line breaks
                    out.append(f'<td style="{_PRE_STYLE}">{html.escape(value)}</td>')
                else:
                    out.append(f"<td>{html.escape(value)}</td>")
            out.append("</tr>")
        out.append("</tbody></table>")
    out.append(f'<div class="meta" style="{_META_STYLE}">{html.escape(shown.footer())}</div>')
    out.append("</div>")
    return "".join(out)


def to_text(table: pa.Table, display: Display) -> str:
    """A plain-text table of the first ``display.limit`` rows, for terminals and headless runs."""
    return _text(Shown.of(table, display))


def _text(shown: Shown) -> str:
    return _plan_text(shown) if shown.display.plan else _table_text(shown)


def _plan_text(shown: Shown) -> str:
    """An EXPLAIN result as text: each row's short cells as a heading, its plan in full below
    (a plan's lines do not fit a column layout)."""
    lines = list(shown.display.notices)
    for row in shown.rows:
        values = [v for v in row if v is not None]
        if not values:
            continue
        *labels, body = values
        if labels:
            lines.append(" · ".join(labels))
        lines.extend(("  " + line) if labels else line for line in body.splitlines())
    lines.append(shown.footer())
    return "\n".join(lines)


def _table_text(shown: Shown) -> str:
    table = shown.table
    lines = list(shown.display.notices)
    if shown.display.message and table.num_columns == 0:
        lines.append(shown.display.message)
        return "\n".join(lines)
    if table.num_columns:
        header = [short_name(f.name) for f in table.schema]
        types = [type_name(f.type) for f in table.schema]
        rows = [[NULL if v is None else v for v in r] for r in shown.rows]
        widths = [
            max(len(header[i]), len(types[i]), *(len(r[i]) for r in rows))
            for i in range(len(header))
        ]
        lines.append("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        lines.append("  ".join(t.rjust(w) for t, w in zip(types, widths)))
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows)
    lines.append(shown.footer())
    return "\n".join(lines)
