"""LineageGraph behaviour: re-runs, renames, drops, upstream/downstream, impact, stale."""

from __future__ import annotations

from dataclasses import replace

import pytest
from graphs import add, chain, drop, info, rename, stmt

from sqlweave.errors import UsageError
from sqlweave.events import Status
from sqlweave.lineage.graph import (
    CellRef,
    EdgeKind,
    LineageGraph,
    NodeKind,
    UnknownNodeError,
)
from sqlweave.lineage.model import ColumnRef, StatementKind


def names(nodes, kind=NodeKind.DATASET):
    return [str(n) for n in nodes if n.kind is kind]


def edge_set(g: LineageGraph, kind: EdgeKind) -> set[tuple[str, str]]:
    return {(str(u), str(v)) for u, v, _ in g.edges(kind)}


def test_upstream_and_downstream_in_topological_order() -> None:
    g = chain()
    assert names(g.upstream("summary")) == ["raw", "clean"]
    assert names(g.upstream("summary", depth=1)) == ["clean"]
    assert names(g.downstream("raw")) == ["clean", "summary"]
    assert names(g.upstream("summary.total"), NodeKind.COLUMN) == ["raw.amount", "clean.amount"]
    runs = [g.run(n.name).info.cell_id for n in g.upstream("summary") if n.kind is NodeKind.RUN]
    assert runs == ["c0", "c1", "c2"]  # c0 created raw


def test_rerunning_a_cell_replaces_its_contribution() -> None:
    g = chain()
    # c1 now reads from another table and keeps only id
    add(
        g,
        "c1",
        5,
        "CREATE TABLE clean AS SELECT id FROM other",
        reads=("other",),
        writes=("clean",),
        cols=(("other.id", "clean.id"),),
    )
    assert names(g.upstream("clean")) == ["other"]
    # no run reads raw any more (dataset -> run edges): c1 was its only reader
    readers_of_raw = [g.run(r).info.cell_id for d, r in edge_set(g, EdgeKind.READS) if d == "raw"]
    assert readers_of_raw == []
    derives = edge_set(g, EdgeKind.DERIVES)
    assert ("raw.id", "clean.id") not in derives
    assert ("raw.amount", "clean.amount") not in derives
    assert ("other.id", "clean.id") in derives
    assert [r.info.cell_id for r in g.runs].count("c1") == 1
    # the same execution twice (a second statement of the same cell) adds, not replaces
    add(
        g,
        "c1",
        5,
        "CREATE TABLE clean2 AS SELECT id FROM clean",
        reads=("clean",),
        writes=("clean2",),
    )
    assert [r.info.cell_id for r in g.runs].count("c1") == 2


def test_rerun_is_idempotent_and_leaves_no_duplicates() -> None:
    g1, g2 = chain(), chain()
    for n in (10, 11, 12):
        add(
            g2,
            "c1",
            n,
            "CREATE TABLE clean AS SELECT id, amount FROM raw",
            reads=("raw",),
            writes=("clean",),
            cols=(("raw.id", "clean.id"), ("raw.amount", "clean.amount")),
        )
    assert len(g2.runs) == len(g1.runs)
    for kind in EdgeKind:
        assert len(edge_set(g2, kind)) == len(edge_set(g1, kind))


def test_older_execution_is_ignored_when_merging() -> None:
    g = chain()
    old = info("c1", 1, at=g.runs[0].info.started_at)  # earlier than the current c1
    assert g.add_run(old, stmt(reads=("x",), writes=("clean",))) is False
    assert "x" not in g.datasets()


def test_drop_marks_the_dataset_and_recreate_revives_it() -> None:
    g = chain()
    drop(g, "clean")
    assert g.attrs("clean")["dropped"] is True
    assert "clean" not in g.datasets(include_dropped=False)
    # history stays: summary still derives from the dropped table
    assert names(g.upstream("summary")) == ["raw", "clean"]
    add(g, "c1", 10, "CREATE TABLE clean AS SELECT id FROM raw", reads=("raw",), writes=("clean",))
    assert g.attrs("clean")["dropped"] is False
    # re-running the dropping cell without the DROP undoes it
    g.remove_cell("nb.ipynb", "c9")
    assert g.attrs("clean")["dropped"] is False


def test_rename_moves_edges_and_columns() -> None:
    g = chain()
    rename(g)
    assert "clean" not in g.datasets()
    assert g.attrs("tidy")["previous_names"] == ("clean",)
    assert g.columns("tidy") == ("amount", "id")
    assert names(g.downstream("raw")) == ["tidy", "summary"]
    assert names(g.upstream("summary.total"), NodeKind.COLUMN) == ["raw.amount", "tidy.amount"]
    # undoing the rename (cell re-run without it) restores the old name
    add(g, "c8", 9, "SELECT 1", kind=StatementKind.SELECT)
    assert "clean" in g.datasets() and "tidy" not in g.datasets()


def test_impact_lists_datasets_columns_and_cells_in_order() -> None:
    g = chain()
    imp = g.impact("raw")
    assert imp.datasets == ("clean", "summary")
    assert ColumnRef("summary", "total") in imp.columns
    assert [c.cell_id for c in imp.cells] == ["c1", "c2"]
    assert [c.cell_id for c in imp.readers] == ["c3"]  # SELECT total FROM summary
    col = g.impact("raw.id")
    assert col.columns == (ColumnRef("clean", "id"),)
    assert [c.cell_id for c in col.cells] == ["c1"]


def test_impact_lists_cells_that_only_read_affected_data_as_readers() -> None:
    g = chain()
    # displayed queries write IPython's `_`; none of them makes the others affected
    shown = {"kind": StatementKind.SELECT, "writes": ("_",)}
    add(g, "c4", 5, "SELECT count(*) FROM raw", reads=("raw",), **shown)
    add(g, "c5", 6, "SELECT 1", **shown)
    add(g, "c6", 7, "SELECT * FROM clean", reads=("clean",), **shown)
    imp = g.impact("clean")
    assert imp.datasets == ("summary",)  # not `_`: no cell reads it
    assert [c.cell_id for c in imp.cells] == ["c2"]
    assert [c.cell_id for c in imp.readers] == ["c3", "c6"]
    assert [c.cell_id for c in g.impact("raw").readers] == ["c3", "c4", "c6"]
    # a cell reading `_` makes the displayed result a dataset like any other
    add(g, "c7", 8, "CREATE TABLE kept AS SELECT * FROM _", reads=("_",), writes=("kept",))
    imp = g.impact("clean")
    assert imp.datasets == ("summary", "_", "kept")
    assert [c.cell_id for c in imp.cells] == ["c2", "c6", "c7"]
    assert [c.cell_id for c in imp.readers] == ["c3"]


def test_stale_cells_after_an_input_is_rewritten() -> None:
    g = chain()
    assert g.stale() == []
    add(
        g,
        "c1",
        5,
        "CREATE TABLE clean AS SELECT id, amount FROM raw WHERE id > 0",
        reads=("raw",),
        writes=("clean",),
    )
    stale = g.stale()
    # c3 read summary, which stale c2 wrote: stale too, transitively
    assert [s.cell.cell_id for s in stale] == ["c2", "c3"]
    assert stale[0].inputs == ("clean",)
    assert stale[0].rewritten_by == (CellRef("nb.ipynb", "c1", 5),)
    assert stale[1].inputs == ("summary",) and stale[1].rewritten_by == ()
    assert [c.cell_id for c in stale[1].via] == ["c2"]
    assert "written by stale" in stale[1].reason
    add(
        g,
        "c2",
        6,
        "CREATE TABLE summary AS SELECT sum(amount) AS total FROM clean",
        reads=("clean",),
        writes=("summary",),
    )
    assert [s.cell.cell_id for s in g.stale()] == ["c3"]


@pytest.mark.parametrize("engine", ["datafusion", "duckdb"])
def test_staleness_flows_through_a_view_built_on_a_replaced_table(engine: str) -> None:
    g = LineageGraph()

    def run(cell: str, n: int, sql: str, **kw: object) -> None:
        g.add_run(replace(info(cell, n, sql), engine=engine), stmt(sql, **kw))  # type: ignore[arg-type]

    run("load", 1, "CREATE TABLE big AS SELECT 1 AS x", writes=("big",))
    run(
        "view",
        2,
        "CREATE VIEW big_named AS SELECT x FROM big",
        reads=("big",),
        writes=("big_named",),
        kind=StatementKind.CREATE_VIEW,
    )
    run("worst", 3, "SELECT max(x) FROM big_named", reads=("big_named",))
    assert g.stale() == []
    run("load", 4, "CREATE TABLE big AS SELECT 2 AS x", writes=("big",))
    stale = {s.cell.cell_id: s for s in g.stale()}
    if engine == "datafusion":  # the view keeps the old rows: it and its readers are stale
        assert list(stale) == ["view", "worst"]
        assert stale["worst"].inputs == ("big_named",)
        assert [c.cell_id for c in stale["worst"].via] == ["view"]
    else:  # a DuckDB view reads big afresh: only the query that ran before the reload
        assert list(stale) == ["worst"]
        assert stale["worst"].inputs == ("big",)
        assert [c.cell_id for c in stale["worst"].rewritten_by] == ["load"]
    run("worst", 5, "SELECT max(x) FROM big_named", reads=("big_named",))
    assert ("worst" in {s.cell.cell_id for s in g.stale()}) is (engine == "datafusion")


def test_cycles_do_not_break_ordering() -> None:
    g = chain()
    add(
        g,
        "c5",
        5,
        "INSERT INTO clean SELECT * FROM clean",
        kind=StatementKind.INSERT,
        reads=("clean",),
        writes=("clean",),
    )
    assert names(g.downstream("raw")) == ["clean", "summary"]
    assert names(g.upstream("summary")) == ["raw", "clean"]
    # c2 read clean before c5 rewrote it; c5 reading its own output is not stale
    stale = [(s.cell.cell_id, s.inputs, [c.cell_id for c in s.rewritten_by]) for s in g.stale()]
    assert stale == [("c2", ("clean",), ["c5"]), ("c3", ("summary",), [])]


def test_failed_runs_are_kept_without_edges() -> None:
    g = LineageGraph()
    g.add_run(info("c1", 1, status=Status.FAIL), stmt(reads=("a",), writes=("b",)))
    assert len(g.runs) == 1 and g.datasets() == ()


def test_unknown_names_raise_a_usage_error() -> None:
    with pytest.raises(UsageError, match="nope"):
        chain().upstream("nope")
    assert issubclass(UnknownNodeError, UsageError)
    assert "raw" in chain() and "raw.id" in chain() and "nope" not in chain()


def test_impact_of_a_typo_suggests_and_of_an_unused_column_says_nothing_depends() -> None:
    g = chain()
    with pytest.raises(UnknownNodeError, match=r"did you mean clean\?"):
        g.impact("clan")
    with pytest.raises(UnknownNodeError, match=r"raw\.tailnum: nothing depends on it"):
        g.impact("raw.tailnum")
    with pytest.raises(UnknownNodeError, match="did you mean") as typo:
        g.impact("sumary.total")
    assert "summary.total" in str(typo.value)
    with pytest.raises(UnknownNodeError) as far:
        g.impact("zzzz")
    assert "did you mean" not in str(far.value)


def test_dotted_dataset_names_resolve_before_columns() -> None:
    g = LineageGraph()
    add(g, "c1", 1, "x", reads=("db.raw",), writes=("db.out",), cols=(("db.raw.a", "db.out.a"),))
    assert g.node("db.out").kind is NodeKind.DATASET
    assert g.node("db.out.a").kind is NodeKind.COLUMN
    assert names(g.upstream("db.out")) == ["db.raw"]


def test_recreating_a_dataset_forgets_its_old_column_derivations() -> None:
    g = chain()
    add(
        g,
        "c7",
        7,
        "CREATE OR REPLACE TABLE clean AS SELECT id FROM raw",
        reads=("raw",),
        writes=("clean",),
        cols=(("raw.id", "clean.id"),),
    )
    derives = edge_set(g, EdgeKind.DERIVES)
    assert ("raw.amount", "clean.amount") not in derives
    assert ("raw.id", "clean.id") in derives
    # clean.amount still feeds summary.total (that cell has not re-run), so it stays
    assert "amount" in g.columns("clean")
    add(
        g,
        "c2",
        8,
        "CREATE TABLE summary AS SELECT count(*) AS total FROM clean",
        reads=("clean",),
        writes=("summary",),
    )
    assert g.columns("clean") == ("id",)


def test_folder_staleness_crosses_notebooks_only_through_shared_datasets() -> None:
    from dataclasses import replace

    from graphs import info as make_info

    def run(g, nb, cell, n, sql, shared=False, variables=(), **kw):
        i = replace(make_info(cell, n, sql, notebook=nb, session=nb), shared_catalog=shared)
        g.add_run(replace(i, variables=variables), stmt(sql, **kw))

    g = LineageGraph()
    # inter.ipynb reads its own variable, an in-memory table, a warehouse table and a file
    run(
        g,
        "inter.ipynb",
        "v",
        1,
        "delays",
        writes=("carrier_delays",),
        variables=("carrier_delays",),
    )
    run(g, "inter.ipynb", "r1", 2, "q1", reads=("carrier_delays",))
    run(g, "inter.ipynb", "r2", 3, "q2", reads=("mem",))
    run(g, "inter.ipynb", "r3", 4, "q3", reads=("wh",), shared=True)
    run(g, "inter.ipynb", "r4", 5, "q4", reads=("data/x.csv",))
    # chain.ipynb, another kernel, then writes the same names
    run(g, "chain.ipynb", "w1", 1, "d", writes=("carrier_delays",), variables=("carrier_delays",))
    run(g, "chain.ipynb", "w2", 2, "m", writes=("mem",))
    run(g, "chain.ipynb", "w3", 3, "w", writes=("wh",), shared=True)
    run(g, "chain.ipynb", "w4", 4, "COPY", writes=("data/x.csv",))
    assert [(s.cell.cell_id, s.inputs) for s in g.stale()] == [
        ("r3", ("wh",)),
        ("r4", ("data/x.csv",)),
    ]


def test_the_shared_chain_builds() -> None:
    g = chain()
    assert g.datasets() == ("clean", "raw", "summary")
    assert len(g.runs) == 4
