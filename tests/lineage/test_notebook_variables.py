"""Notebook variables and DataFrames as datasets, through a real InteractiveShell and Session."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sqlweave.lineage.graph import DatasetKind


def run(ip: InteractiveShell, cell_id: str, source: str) -> None:
    result = ip.run_cell(source, store_history=True, cell_id=cell_id)
    result.raise_error()


def graph(ip: InteractiveShell):
    (magics,) = [c for c in ip.configurables if getattr(c, "lineage_magics", None)]
    return magics.lineage_magics.graph


def chain(ip: InteractiveShell) -> None:
    run(ip, "f", "import pyarrow as pa\nflights = pa.table({'carrier': ['AA'], 'delay': [3.0]})")
    run(ip, "a", "%%sql per_carrier <<\nSELECT carrier, avg(delay) AS d FROM flights GROUP BY 1")
    run(ip, "b", "%%sql\nCREATE TABLE big AS SELECT carrier, d FROM per_carrier WHERE d > 1")
    run(ip, "c", "top = %sql SELECT carrier FROM big")
    run(ip, "d", "%sql SELECT d FROM big")


def test_bound_results_are_notebook_variables(ip) -> None:
    chain(ip)
    g = graph(ip)
    kinds = {n: g.attrs(n)["dataset_kind"] for n in g.datasets()}
    assert kinds == {
        "flights": DatasetKind.DATAFRAME,
        "per_carrier": DatasetKind.NOTEBOOK_VARIABLE,
        "big": DatasetKind.TABLE,
        "top": DatasetKind.NOTEBOOK_VARIABLE,
        "_": DatasetKind.NOTEBOOK_VARIABLE,
    }
    impact = g.impact("flights")
    assert impact.datasets[:2] == ("per_carrier", "big")
    # `_` (the last displayed result) is read by no cell: the displaying cell d is a reader
    assert impact.datasets[2:] == ("top",)
    assert [c.cell_id for c in impact.cells] == ["a", "b", "c"]
    assert [c.cell_id for c in impact.readers] == ["d"]
    assert g.columns("top") == ("carrier",)


def test_quiet_and_undisplayed_results_bind_nothing(ip) -> None:
    chain(ip)
    run(ip, "q", "%sql --quiet SELECT carrier FROM big")
    run(ip, "s", "%sql SELECT carrier AS c2 FROM big\ny = 2")
    assert [r.info.variables for r in graph(ip).runs if r.info.cell_id in ("q", "s")] == [(), ()]


def test_rebinding_a_variable_is_a_new_version_and_makes_readers_stale(ip) -> None:
    chain(ip)
    assert graph(ip).attrs("per_carrier")["version"] == 1
    run(ip, "a2", "%%sql per_carrier <<\nSELECT carrier, max(delay) AS d FROM flights GROUP BY 1")
    g = graph(ip)
    assert g.attrs("per_carrier")["version"] == 2
    stale = g.stale()
    # c and d read big, which b (now stale) wrote: stale through it
    assert [s.cell.cell_id for s in stale] == ["b", "c", "d"]
    assert stale[0].rewritten_by and not stale[0].via
    assert [c.cell_id for c in stale[1].via] == ["b"] and not stale[1].rewritten_by


def test_a_declared_python_cell_joins_the_chain(ip) -> None:
    chain(ip)
    run(ip, "py", "clean = top.to_arrow()\n%lineage declare top -> clean")
    g = graph(ip)
    assert g.attrs("clean")["dataset_kind"] is DatasetKind.NOTEBOOK_VARIABLE
    assert "clean" in g.impact("flights").datasets
    run(ip, "py", "%lineage declare big -> clean")  # re-running the cell replaces its edge
    assert "clean" not in graph(ip).impact("top").datasets
    with pytest.raises(UsageError, match="INPUTS -> OUTPUTS"):
        ip.run_line_magic("lineage", "declare top clean")


def test_lineage_shows_this_notebook_unless_folder(ip, monkeypatch) -> None:
    monkeypatch.setitem(ip.user_ns, "__session__", str(Path.cwd() / "one.ipynb"))
    run(ip, "x", "%%sql\nCREATE TABLE t1 AS SELECT 1 AS a")
    monkeypatch.setitem(ip.user_ns, "__session__", str(Path.cwd() / "two.ipynb"))
    run(ip, "y", "%%sql\nCREATE TABLE t2 AS SELECT a FROM t1")
    assert {r.info.notebook for r in graph(ip).runs} == {"one.ipynb", "two.ipynb"}
    monkeypatch.setitem(ip.user_ns, "__session__", str(Path.cwd() / "one.ipynb"))
    mine = repr(ip.run_line_magic("lineage", "impact t1"))
    assert "datasets: none" in mine  # two.ipynb's t2 is not this notebook's
    folder = repr(ip.run_line_magic("lineage", "impact t1 --folder"))
    assert "t2" in folder and "two.ipynb" in folder
    g = graph(ip)
    assert g.attrs("t1")["notebooks"] == ("one.ipynb", "two.ipynb")
    assert g.to_networkx().nodes["dataset:t2"]["notebooks"] == ("two.ipynb",)
