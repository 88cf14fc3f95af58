"""notebooks/lineage_tour.ipynb executed in a real kernel keeps its drawings in the saved file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from lab_rules import drawing
from nbclient import NotebookClient

from sqlweave.lineage.store import LineageStore

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[2]
TOUR = ROOT / "notebooks" / "lineage_tour.ipynb"


def _html(cell) -> str:
    """Every output of ``cell`` as text, drawings as their SVG source."""
    return "\n".join(
        drawing(o.get("data", {})) + str(o.get("data", {}).get("text/html", "")) + o.get("text", "")
        for o in cell.get("outputs", [])
    )


def _cell(nb, source: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(source))


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("tour")
    shutil.copy(TOUR, work / "tour.ipynb")
    nb = nbformat.read(work / "tour.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    nbformat.write(nb, work / "tour.out.ipynb")
    return work, nbformat.read(work / "tour.out.ipynb", as_version=4)


def test_saved_outputs_contain_the_svg_and_table_names(executed) -> None:
    _, nb = executed
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    whole = _html(next(c for c in nb.cells if c.cell_type == "code" and c.source == "%lineage"))
    assert "<svg" in whole
    for table in ("customers", "orders", "big_orders", "customer_totals", "region_totals"):
        assert table in whole
    upstream = _html(_cell(nb, "%lineage region_totals"))
    assert "<svg" in upstream and "total" in upstream and "big_orders" in upstream


def test_impact_and_stale_name_cells_and_tables(executed) -> None:
    _, nb = executed
    impact = _html(_cell(nb, "%lineage impact"))
    assert "<svg" in impact
    for table in ("big_orders", "customer_totals", "region_totals"):
        assert table in impact
    stale = _html(_cell(nb, "%lineage stale"))
    assert "big_orders" in stale and "Stale cells" in stale


def test_store_and_export_are_written_next_to_the_notebook(executed) -> None:
    work, _ = executed
    runs = LineageStore(work / ".sqlweave").runs()
    assert runs
    # plain nbclient sends no cell ids: the cell text stands in, so each %%sql cell is one key
    assert len({r.info.cell_id for r in runs}) == 3
    events = (work / ".sqlweave" / "lineage_tour.openlineage.jsonl").read_text().splitlines()
    assert json.loads(events[0])["eventType"] == "START"


def test_a_second_kernel_replaces_rather_than_duplicates(executed) -> None:
    work, _ = executed
    before = LineageStore(work / ".sqlweave").runs()
    nb = nbformat.read(work / "tour.ipynb", as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(work)}}
    ).execute()
    after = LineageStore(work / ".sqlweave").runs()
    assert len(after) == len(before)
    assert {r.info.run_id for r in after}.isdisjoint(r.info.run_id for r in before)
    assert "<svg" in _html(next(c for c in nb.cells if c.source == "%lineage"))
