"""Builders for hand-made lineage values shared by the graph, store, export and drawing tests."""

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


def test_chain_builds() -> None:
    g = chain()
    assert g.datasets() == ("clean", "raw", "summary")
    assert len(g.runs) == 4
