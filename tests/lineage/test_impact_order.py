"""``%lineage impact``'s cells to re-run come in dependency order, independent cells in
notebook order, and an execution count from an earlier kernel session says so."""

from __future__ import annotations

from graphs import info, stmt

from sqlweave.lineage.graph import LineageGraph
from sqlweave.lineage.model import StatementKind
from sqlweave.lineage.runs import EARLIER_SESSION

A = "SELECT carrier, count(*) AS n FROM flights GROUP BY carrier"
B = "CREATE OR REPLACE TABLE b AS SELECT * FROM a WHERE n > 1000"


def run(g: LineageGraph, cell: str, n: int, sql: str, session: str = "k1", **kw) -> None:
    g.add_run(info(cell, n, sql, session=session), stmt(sql, **kw))


def c4(g: LineageGraph, n: int, session: str = "k1") -> None:
    """``%%sql a << SELECT ... FROM flights``: the query's rows bound to the variable a."""
    run(g, "c4", n, A, session, kind=StatementKind.SELECT, reads=("flights",), writes=("a",))


def c5(g: LineageGraph, n: int, session: str = "k1") -> None:
    run(g, "c5", n, B, session, reads=("a",), writes=("b",))


def test_a_rerun_upstream_cell_still_comes_before_the_cells_reading_it() -> None:
    g = LineageGraph()
    c4(g, 4)
    c5(g, 5)
    c4(g, 7)  # re-run: its run is now the latest, but c5 still depends on it
    cells = g.impact("flights").cells
    assert [c.cell_id for c in cells] == ["c4", "c5"]
    assert [str(c) for c in cells] == [
        "In [7] cell c4 of nb.ipynb",
        "In [5] cell c5 of nb.ipynb",
    ]


def test_independent_cells_follow_the_notebook_order_when_it_is_known() -> None:
    g = LineageGraph()
    run(g, "late", 1, "CREATE TABLE x AS SELECT * FROM src", reads=("src",), writes=("x",))
    run(g, "early", 2, "CREATE TABLE y AS SELECT * FROM src", reads=("src",), writes=("y",))
    assert [c.cell_id for c in g.impact("src").cells] == ["late", "early"]  # run order
    positions = {("nb.ipynb", "early"): 0, ("nb.ipynb", "late"): 1}
    assert [c.cell_id for c in g.impact("src", positions).cells] == ["early", "late"]


def test_dependency_order_wins_over_notebook_order() -> None:
    g = LineageGraph()
    c4(g, 4)
    c5(g, 5)
    c4(g, 7)
    positions = {("nb.ipynb", "c5"): 0, ("nb.ipynb", "c4"): 1}  # c5 above c4 in the notebook
    assert [c.cell_id for c in g.impact("flights", positions).cells] == ["c4", "c5"]


def test_counts_from_an_earlier_kernel_session_are_marked() -> None:
    g = LineageGraph()
    c4(g, 4, session="old")
    c5(g, 5, session="old")
    c4(g, 1, session="new")  # kernel restarted, only c4 ran again
    cells = g.impact("flights").cells
    assert [str(c) for c in cells] == [
        "In [1] cell c4 of nb.ipynb",
        f"In [5] {EARLIER_SESSION} cell c5 of nb.ipynb",
    ]
    c5(g, 2, session="new")
    assert EARLIER_SESSION not in " ".join(map(str, g.impact("flights").cells))
