"""The %lineage magic and automatic capture, through a real InteractiveShell."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import ExecutionInfo, InteractiveShell
from lab_rules import svg_in_html
from traitlets import Bool
from traitlets.config import Configurable

from sqlweave.events import StatementEvent, Status
from sqlweave.lineage.store import LineageStore
from sqlweave.lineage.widget import StaticDrawing
from sqlweave.magics.lineage import LineageMagics, setup_lineage
from sqlweave.runner import WIDGET_VIEW


class FakeSession:
    """Just enough Session: holds listeners and reports statements to them."""

    def __init__(self) -> None:
        self.listeners: list = []
        self.tables: dict[str, list[str]] = {}

    def add_listener(self, fn) -> None:
        self.listeners.append(fn)

    def run(self, sql: str, status: Status = Status.COMPLETE) -> None:
        event = StatementEvent(
            sql=sql,
            script=sql,
            span=(0, len(sql)),
            engine="datafusion",
            dialect="postgres",
            status=status,
            started_at=datetime.now(timezone.utc),
            duration_s=0.001,
            rows=1,
            error=None if status is Status.COMPLETE else "boom",
            catalog=self.tables,
        )
        for fn in self.listeners:
            fn(event)


class Switch(Configurable):
    lineage = Bool(True)

    def __init__(self, session, **kw) -> None:
        super().__init__(**kw)
        self.session = session


@pytest.fixture
def ip() -> InteractiveShell:
    return InteractiveShell.instance()


def cell(ip: InteractiveShell, session: FakeSession, cell_id: str, *sqls: str) -> None:
    """Pretend the frontend runs a cell holding ``sqls``."""
    ip.execution_count += 1
    ip.events.trigger("pre_run_cell", ExecutionInfo("\n".join(sqls), True, False, True, cell_id))
    for sql in sqls:
        session.run(sql)


@pytest.fixture
def setup(ip: InteractiveShell, tmp_path: Path):
    session = FakeSession()
    switch = Switch(session)
    ip.configurables.append(switch)
    magics = setup_lineage(ip, session, store_path=tmp_path / "lineage.json")
    yield ip, session, magics, switch
    ip.configurables.remove(switch)
    magics.close(session)
    assert ip.events.callbacks["pre_run_cell"].count(magics.tracker.pre_run_cell) == 0


def tour(ip, session) -> None:
    cell(ip, session, "a", "CREATE TABLE raw AS SELECT 1 AS id, 2 AS amount")
    cell(
        ip,
        session,
        "b",
        "CREATE TABLE clean AS SELECT id, amount FROM raw",
        "CREATE TABLE summary AS SELECT sum(amount) AS total FROM clean",
    )


def test_statements_are_captured_per_cell(setup) -> None:
    ip, session, magics, _ = setup
    tour(ip, session)
    g = magics.graph
    assert g.datasets() == ("clean", "raw", "summary")
    assert [r.info.cell_id for r in g.runs] == ["a", "b", "b"]
    assert g.runs[1].info.execution_count == g.runs[2].info.execution_count
    # re-running cell b with different SQL replaces both of its statements
    cell(ip, session, "b", "CREATE TABLE clean AS SELECT id FROM raw")
    assert [r.info.cell_id for r in magics.graph.runs] == ["a", "b"]
    # failed statements are not captured
    session.run("CREATE TABLE nope AS SELECT * FROM missing", Status.FAIL)
    assert "nope" not in g.datasets()


def test_drawing_commands(setup) -> None:
    ip, session, _, _ = setup
    assert "no lineage" in repr(ip.run_line_magic("lineage", ""))
    tour(ip, session)
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


def test_impact_stale_export_clear(setup, tmp_path: Path) -> None:
    ip, session, magics, _ = setup
    tour(ip, session)
    impact = ip.run_line_magic("lineage", "impact raw")
    assert "clean, summary" in repr(impact) and "<svg" in svg_in_html(impact._repr_html_())
    assert "no stale" in repr(ip.run_line_magic("lineage", "stale"))
    cell(ip, session, "a", "CREATE TABLE raw AS SELECT 2 AS id, 3 AS amount")
    stale = repr(ip.run_line_magic("lineage", "stale"))
    assert "cell b" in stale and "raw" in stale
    out = tmp_path / "out" / "g.graphml"
    ip.run_line_magic("lineage", f"export graphml '{out}'")
    assert out.read_text().startswith("<?xml")
    ip.run_line_magic("lineage", "clear")
    assert magics.graph.datasets() == ()
    assert len(LineageStore(tmp_path / "lineage.json").load()) == 0


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
def test_bad_arguments_raise_usage_error(setup, line: str) -> None:
    ip, session, _, _ = setup
    tour(ip, session)
    with pytest.raises(UsageError):
        ip.run_line_magic("lineage", line)


def test_capture_switches_with_the_trait_and_on_off(setup) -> None:
    ip, session, magics, switch = setup
    switch.lineage = False
    tour(ip, session)
    assert magics.graph.datasets() == ()
    switch.lineage = True
    ip.run_line_magic("lineage", "off")
    tour(ip, session)
    assert magics.graph.datasets() == ()
    ip.run_line_magic("lineage", "on")
    tour(ip, session)
    assert "summary" in magics.graph.datasets()


def test_lineage_survives_a_kernel_restart(setup, ip, tmp_path: Path) -> None:
    _, session, first, _ = setup
    tour(ip, session)
    first.capture.flush()  # what the kernel does at exit
    again = setup_lineage(ip, FakeSession(), store_path=tmp_path / "lineage.json")
    try:
        assert isinstance(again, LineageMagics)
        assert again.graph.datasets() == ("clean", "raw", "summary")
    finally:
        again.close()


def test_notebook_path_comes_from_the_frontend(setup, monkeypatch) -> None:
    ip, session, magics, _ = setup
    monkeypatch.setitem(ip.user_ns, "__vsc_ipynb_file__", "/proj/tour.ipynb")
    tour(ip, session)
    assert {r.info.notebook for r in magics.graph.runs} == {"/proj/tour.ipynb"}
