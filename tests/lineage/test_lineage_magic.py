"""The %lineage magic and automatic capture: ``%load_ext sqlweave`` in a real InteractiveShell,
cells run with ``run_cell`` (so IPython itself fires ``pre_run_cell`` with the cell id) and a
real Session executing the SQL on DataFusion."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from lab_rules import svg_in_html

from sqlweave.lineage.store import DEFAULT_PATH, LineageStore
from sqlweave.lineage.widget import StaticDrawing
from sqlweave.magics.lineage import LineageMagics
from sqlweave.magics.sql import SqlWeave
from sqlweave.runner import WIDGET_VIEW


def lineage_magics(ip: InteractiveShell) -> LineageMagics:
    (magics,) = [c for c in ip.configurables if isinstance(c, SqlWeave)]
    return magics.lineage_magics


def cell(ip: InteractiveShell, cell_id: str, *sqls: str) -> None:
    """Run a ``%%sql`` cell holding ``sqls`` as the frontend would (with its cell id)."""
    result = ip.run_cell("%%sql --quiet\n" + ";\n".join(sqls), store_history=True, cell_id=cell_id)
    result.raise_error()


def tour(ip: InteractiveShell) -> None:
    cell(ip, "a", "CREATE OR REPLACE TABLE raw AS SELECT 1 AS id, 2 AS amount")
    cell(
        ip,
        "b",
        "CREATE OR REPLACE TABLE clean AS SELECT id, amount FROM raw",
        "CREATE OR REPLACE TABLE summary AS SELECT sum(amount) AS total FROM clean",
    )


def test_statements_are_captured_per_cell(ip) -> None:
    tour(ip)
    g = lineage_magics(ip).graph
    assert g.datasets() == ("clean", "raw", "summary")
    assert [r.info.cell_id for r in g.runs] == ["a", "b", "b"]
    assert g.runs[1].info.execution_count == g.runs[2].info.execution_count
    assert g.runs[0].info.execution_count < g.runs[1].info.execution_count
    assert g.columns("summary") == ("total",)
    # re-running cell b with different SQL replaces both of its statements
    cell(ip, "b", "CREATE OR REPLACE TABLE clean AS SELECT id FROM raw")
    g = lineage_magics(ip).graph
    assert [r.info.cell_id for r in g.runs] == ["a", "b"]
    assert g.columns("clean") == ("id",)
    # a failed statement is not captured as a write
    failed = ip.run_cell(
        "%%sql\nCREATE TABLE nope AS SELECT * FROM missing", store_history=True, cell_id="c"
    )
    assert not failed.success
    assert "nope" not in lineage_magics(ip).graph.datasets()


def test_drawing_commands(ip) -> None:
    assert "no lineage" in repr(ip.run_line_magic("lineage", ""))
    tour(ip)
    plain = ip.run_line_magic("lineage", "")  # static by default: it survives saving
    assert isinstance(plain, StaticDrawing)
    data = plain._repr_mimebundle_()
    assert WIDGET_VIEW not in data and "summary" in svg_in_html(data["text/html"])
    widget = ip.run_line_magic("lineage", "--interactive")
    data, _ = widget._repr_mimebundle_()
    assert WIDGET_VIEW in data and "<svg" in data["image/svg+xml"]
    assert "summary" in svg_in_html(data["text/html"])  # with the static drawing beside it
    assert not isinstance(ip.run_line_magic("lineage", "show raw --interactive"), StaticDrawing)
    up = ip.run_line_magic("lineage", "summary.total --upstream --static")
    assert isinstance(up, StaticDrawing)
    svg = up._repr_mimebundle_()["image/svg+xml"]
    assert "<svg" in svg and "amount" in svg
    down = ip.run_line_magic("lineage", "show raw --downstream --depth 1 --static")
    svg = down._repr_mimebundle_()["image/svg+xml"]
    assert "clean" in svg and ">summary<" not in svg


def test_impact_stale_export_clear(ip, tmp_path: Path) -> None:
    tour(ip)
    impact = ip.run_line_magic("lineage", "impact raw")
    assert "clean, summary" in repr(impact) and "<svg" in svg_in_html(impact._repr_html_())
    assert "no stale" in repr(ip.run_line_magic("lineage", "stale"))
    cell(ip, "a", "CREATE OR REPLACE TABLE raw AS SELECT 2 AS id, 3 AS amount")
    stale = repr(ip.run_line_magic("lineage", "stale"))
    assert "cell b" in stale and "raw" in stale
    out = tmp_path / "out" / "g.graphml"
    ip.run_line_magic("lineage", f"export graphml '{out}'")
    assert out.read_text().startswith("<?xml")
    ip.run_line_magic("lineage", "clear")
    assert lineage_magics(ip).graph.datasets() == ()
    assert len(LineageStore(tmp_path / DEFAULT_PATH).load()) == 0


def test_impact_marks_the_cells_that_only_read_affected_data_re_run(ip) -> None:
    tour(ip)
    cell(ip, "c", "SELECT total FROM summary")
    cell(ip, "d", "SELECT 1 AS one")
    text = re.sub(r"In \[\d+\] ", "", repr(ip.run_line_magic("lineage", "impact raw")))
    assert text.splitlines() == [
        "impact of raw:",
        "  datasets: clean, summary",
        "  columns:  clean.amount, clean.id, summary.total",
        "  cells:    cell b",
        "  re-run:   cell c (cells that only read affected data)",
    ]
    html = ip.run_line_magic("lineage", "impact raw")._repr_html_()
    assert "<li><code>" in html and "</code> <i>re-run</i></li>" in html


@pytest.mark.parametrize(
    "line",
    [
        "impact",
        "impact a b",
        "nope",
        "raw --bogus",
        "raw --depth x",
        "raw --depth",
        "raw --upstream --downstream",
        "export png x.png",
        "export graphml",
        "stale now",
        "'unclosed",
        "clear raw",
    ],
)
def test_bad_arguments_raise_usage_error(ip, line: str) -> None:
    tour(ip)
    with pytest.raises(UsageError):
        ip.run_line_magic("lineage", line)


def test_capture_switches_with_the_config_trait_and_on_off(ip) -> None:
    assert ip.run_cell("%config SqlWeave.lineage = False").success
    tour(ip)
    assert lineage_magics(ip).graph.datasets() == ()
    assert ip.run_cell("%config SqlWeave.lineage = True").success
    ip.run_line_magic("lineage", "off")
    tour(ip)
    assert lineage_magics(ip).graph.datasets() == ()
    ip.run_line_magic("lineage", "on")
    tour(ip)
    assert "summary" in lineage_magics(ip).graph.datasets()


def test_lineage_survives_a_kernel_restart(ip) -> None:
    tour(ip)
    first = lineage_magics(ip)
    # what a restart does: the extension (and its Session) go, a fresh one loads the store
    ip.run_line_magic("unload_ext", "sqlweave")
    assert first.tracker.pre_run_cell not in ip.events.callbacks["pre_run_cell"]
    ip.run_line_magic("load_ext", "sqlweave")
    again = lineage_magics(ip)
    assert again.graph.datasets() == ("clean", "raw", "summary")
    assert [r.info.cell_id for r in again.graph.runs] == ["a", "b", "b"]


def test_notebook_path_comes_from_the_frontend(ip, monkeypatch) -> None:
    monkeypatch.setitem(ip.user_ns, "__vsc_ipynb_file__", "/proj/tour.ipynb")
    tour(ip)
    assert {r.info.notebook for r in lineage_magics(ip).graph.runs} == {"/proj/tour.ipynb"}
