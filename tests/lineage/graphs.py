"""Hand-made lineage graphs shared by the graph, store, export and drawing tests.

The one place these tests build graphs: :func:`chain` (raw -> clean -> summary, a reader),
:func:`history` (the chain with a rename and a drop), and the builders under them.
Imported as ``from graphs import ...`` (``tests/lineage`` has no ``__init__.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

from sqlweave.events import Status
from sqlweave.lineage.graph import LineageGraph, RunInfo
from sqlweave.lineage.model import (
    ColumnEdge,
    ColumnRef,
    Span,
    StatementKind,
    StatementLineage,
    TransformSubtype,
    TransformType,
)

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
_tick = count()


def stmt(
    sql: str = "SELECT 1",
    kind: StatementKind = StatementKind.CREATE_TABLE_AS,
    reads: tuple[str, ...] = (),
    writes: tuple[str, ...] = (),
    cols: tuple[tuple[str, str], ...] = (),
    drops: tuple[str, ...] = (),
    renames: tuple[tuple[str, str], ...] = (),
) -> StatementLineage:
    """A StatementLineage; ``cols`` are ``("src.col", "dst.col")`` pairs."""
    edges = tuple(
        ColumnEdge(
            ColumnRef(*s.rsplit(".", 1)),
            ColumnRef(*t.rsplit(".", 1)),
            TransformType.DIRECT,
            TransformSubtype.IDENTITY
            if s.rsplit(".", 1)[1] == t.rsplit(".", 1)[1]
            else TransformSubtype.TRANSFORMATION,
        )
        for s, t in cols
    )
    return StatementLineage(
        kind,
        sql,
        Span(0, len(sql)),
        frozenset(reads),
        frozenset(writes),
        edges,
        frozenset(drops),
        tuple(renames),
    )


def info(
    cell: str | None = "c1",
    n: int | None = 1,
    sql: str = "SELECT 1",
    notebook: str = "nb.ipynb",
    status: Status = Status.COMPLETE,
    session: str = "k1",
    at: datetime | None = None,
) -> RunInfo:
    """A RunInfo whose start times increase with every call (deterministic order)."""
    return RunInfo.new(
        notebook=notebook,
        cell_id=cell,
        execution_count=n,
        sql=sql,
        engine="duckdb",
        status=status,
        started_at=at or T0 + timedelta(seconds=next(_tick)),
        session_id=session,
        rows=3,
        duration_s=0.01,
        dialect="duckdb",
    )


def add(g: LineageGraph, cell: str, n: int, sql: str, **kw: object) -> None:
    """Run one statement ``sql`` in ``cell`` (execution count ``n``)."""
    g.add_run(info(cell, n, sql), stmt(sql, **kw))  # type: ignore[arg-type]


def chain() -> LineageGraph:
    """raw -> (c1) clean -> (c2) summary; c3 reads summary; column lineage throughout."""
    g = LineageGraph()
    add(
        g,
        "c0",
        1,
        "CREATE TABLE raw (id INT, amount INT)",
        kind=StatementKind.CREATE_TABLE,
        writes=("raw",),
    )
    add(
        g,
        "c1",
        2,
        "CREATE TABLE clean AS SELECT id, amount FROM raw",
        reads=("raw",),
        writes=("clean",),
        cols=(("raw.id", "clean.id"), ("raw.amount", "clean.amount")),
    )
    add(
        g,
        "c2",
        3,
        "CREATE TABLE summary AS SELECT sum(amount) AS total FROM clean",
        reads=("clean",),
        writes=("summary",),
        cols=(("clean.amount", "summary.total"),),
    )
    add(g, "c3", 4, "SELECT total FROM summary", kind=StatementKind.SELECT, reads=("summary",))
    return g


def rename(g: LineageGraph, old: str = "clean", new: str = "tidy", sql: str | None = None) -> None:
    """Cell c8 renames ``old`` to ``new`` (``sql``: the statement's text as shown)."""
    add(
        g,
        "c8",
        8,
        sql or f"ALTER TABLE {old} RENAME TO {new}",
        kind=StatementKind.RENAME,
        renames=((old, new),),
    )


def drop(g: LineageGraph, name: str = "raw", sql: str | None = None) -> None:
    """Cell c9 drops ``name`` (``sql``: the statement's text as shown)."""
    add(g, "c9", 9, sql or f"DROP TABLE {name}", kind=StatementKind.DROP, drops=(name,))


def history(rename_sql: str | None = None) -> LineageGraph:
    """:func:`chain`, then clean renamed to tidy (c8) and raw dropped (c9)."""
    g = chain()
    rename(g, sql=rename_sql)
    drop(g)
    return g
