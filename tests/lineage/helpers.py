"""Golden fixtures for lineage extraction: the one reader of ``fixtures/extract/*.sql``.

A fixture file holds cases about one concept (file name = concept). Each case::

    -- case: insert with a column list
    -- dialect: duckdb                      (optional; default: DataFusion/postgres)
    -- schema: {"a": ["x", "y"]}            (optional JSON, table -> columns)
    INSERT INTO b (y) SELECT x FROM a;      (SQL: any lines not starting with "--")
    -- kind: INSERT                         (expected, one block per statement)
    -- reads: a
    -- writes: b
    -- edge: a.x -> b.y DIRECT/IDENTITY

Expectation lines per statement: ``kind``, ``reads``, ``writes`` (comma-separated, sorted),
then, only when present, ``drops``, ``renames`` (``old -> new``), ``rewrites`` (targets
changed in place from their own rows: UPDATE/DELETE/MERGE), ``intermediate``,
``error`` (``line L, col C``), ``approximate`` (tables found by patterns on text the
parser rejected), and one ``edge`` line per column edge (sorted). An
unresolved source column ends in ``?``: ``a.x? -> <result>.x DIRECT/IDENTITY``.

The test renders the actual lineage into the same lines and compares them, so a failure
reads as a diff. ``python tests/lineage/helpers.py FILE...`` rewrites the expectations of
the given files from the current code (review the diff before keeping it!).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "extract"
_HEADERS = ("case", "dialect", "schema")
_PREFIX = "-- "


@dataclass(frozen=True)
class Case:
    """One golden case: SQL and settings in, expected rendered lines out."""

    file: str
    name: str
    sql: str
    dialect: str | None
    schema: dict[str, Any] | None
    expected: tuple[str, ...]

    @property
    def id(self) -> str:
        """pytest id: ``file:case name``."""
        return f"{self.file}:{self.name}"


def load_cases(directory: Path = FIXTURES) -> list[Case]:
    """Every case of every fixture file, in file then case order."""
    cases: list[Case] = []
    for path in sorted(directory.glob("*.sql")):
        cases.extend(_parse_file(path))
    return cases


def _split_cases(path: Path) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in path.read_text().splitlines():
        if line.startswith(_PREFIX + "case:"):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


def _parse_file(path: Path) -> list[Case]:
    return [_parse_case(path.stem, block) for block in _split_cases(path)]


def _parse_case(file: str, lines: list[str]) -> Case:
    headers: dict[str, str] = {}
    sql: list[str] = []
    expected: list[str] = []
    for line in lines:
        if line.startswith(_PREFIX):
            key, _, value = line[len(_PREFIX) :].partition(":")
            if key in _HEADERS and not sql:
                headers[key] = value.strip()
            else:
                expected.append(line.rstrip())
        elif line.strip():
            sql.append(line)
    schema = json.loads(headers["schema"]) if headers.get("schema") else None
    return Case(
        file=file,
        name=headers.get("case", ""),
        sql="\n".join(sql),
        dialect=headers.get("dialect") or None,
        schema=schema,
        expected=tuple(expected),
    )


def render(statements: Iterable[Any]) -> tuple[str, ...]:
    """The expectation lines for a list of :class:`StatementLineage`."""
    lines: list[str] = []
    for s in statements:
        lines.append(f"-- kind: {s.kind.value}")
        lines.append(f"-- reads: {', '.join(sorted(s.reads))}".rstrip())
        lines.append(f"-- writes: {', '.join(sorted(s.writes))}".rstrip())
        if s.drops:
            lines.append(f"-- drops: {', '.join(sorted(s.drops))}")
        for old, new in s.renames:
            lines.append(f"-- renames: {old} -> {new}")
        if s.rewrites:
            lines.append(f"-- rewrites: {', '.join(sorted(s.rewrites))}")
        if s.intermediate:
            lines.append(f"-- intermediate: {', '.join(sorted(s.intermediate))}")
        if s.error is not None:
            lines.append(f"-- error: line {s.error_line}, col {s.error_column}")
        if s.approximate:
            lines.append("-- approximate: true")
        edges = sorted(
            f"-- edge: {e.source}{'?' if e.source.unresolved else ''} -> {e.target} "
            f"{e.type.value}/{e.subtype.value}"
            for e in s.column_edges
        )
        lines.extend(edges)
    return tuple(lines)


def regenerate(path: Path) -> None:
    """Rewrite ``path``'s expectations from the current extractor (review the diff!)."""
    from sqlweave.lineage.extract import extract

    out: list[str] = []
    for block in _split_cases(path):
        case = _parse_case(path.stem, block)
        out.extend(line for line in block if not line.startswith(_PREFIX) or _is_header(line))
        while out and not out[-1].strip():
            out.pop()
        out.extend(render(extract(case.sql, case.dialect, case.schema)))
        out.append("")
    path.write_text("\n".join(out))


def _is_header(line: str) -> bool:
    key = line[len(_PREFIX) :].partition(":")[0]
    return key in _HEADERS


if __name__ == "__main__":
    for name in sys.argv[1:]:
        regenerate(Path(name))
