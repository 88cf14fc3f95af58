"""One notebook, one graph: real kernels run a DataFrame -> ``<<`` -> CTAS -> view -> ``<<``
chain headless (sqlweave.runner) and JupyterLab-like (cell ids in the execute request's
metadata, the notebook path in ``JPY_SESSION_NAME``), into one folder store."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from notebook_files import write_notebook

from sqlweave.lineage.graph import DatasetKind
from sqlweave.lineage.store import LineageStore
from sqlweave.runner import run_notebook

pytestmark = pytest.mark.process

CELLS = (
    ("setup", "%load_ext sqlweave"),
    (
        "frame",
        "import pandas as pd\n"
        "flights = pd.DataFrame({'carrier': ['AA', 'UA', 'AA'], 'dep_delay': [5.0, 20.0, 1.0],"
        " 'year': [2013, 2013, 2013]})",
    ),
    (
        "delays",
        "%%sql carrier_delays <<\n"
        "SELECT carrier, avg(dep_delay) AS delay FROM flights WHERE year = 2013 GROUP BY carrier",
    ),
    ("big", "%%sql\nCREATE TABLE big AS SELECT carrier, delay FROM carrier_delays WHERE delay > 2"),
    ("view", "%%sql\nCREATE VIEW late AS SELECT carrier, delay * 60 AS seconds FROM big"),
    ("final", "%%sql worst <<\nSELECT carrier FROM late ORDER BY seconds DESC LIMIT 1"),
    ("scratch", "%%sql\nCREATE TABLE scratch AS SELECT 1 AS x"),
    ("impact", "%lineage impact flights"),
)
DOWNSTREAM = ("carrier_delays", "big", "late", "worst")
PRODUCERS = ("delays", "big", "view", "final")


def notebook(path: Path, cells=CELLS) -> None:
    write_notebook(path, *cells)


def impact_text(nb: nbformat.NotebookNode) -> str:
    cell = next(c for c in nb.cells if c.id == "impact")
    return "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def listed(text: str, label: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.strip().startswith(label + ":"))
    return [item.strip() for item in line.split(":", 1)[1].split(", ")]


def run_lab_like(path: Path, cells=CELLS) -> None:
    """Execute ``cells`` as JupyterLab does: the notebook path in the kernel's environment,
    each cell's id in its execute request's metadata."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(path.parent), env={**os.environ, "JPY_SESSION_NAME": str(path)})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for cell_id, source in cells:
            msg = kc.session.msg(
                "execute_request",
                {"code": source, "silent": False, "store_history": True, "stop_on_error": True},
                metadata={"cellId": cell_id},
            )
            kc.shell_channel.send(msg)
            reply = kc.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                reply = kc.get_shell_msg(timeout=60)
            assert reply["content"]["status"] == "ok", (cell_id, reply["content"])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # graceful: the kernel writes pending lineage at exit


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("chain")
    notebook(work / "chain.ipynb")
    return work


@pytest.fixture(scope="module")
def headless(folder: Path):
    report = run_notebook(folder / "chain.ipynb")
    assert report.ok, report.failure and report.failure.summary()
    return nbformat.read(report.output, as_version=4)


def test_impact_lists_every_downstream_dataset_and_cell_once(headless) -> None:
    text = impact_text(headless)
    assert listed(text, "datasets") == list(DOWNSTREAM)
    cells = listed(text, "cells")
    assert len(cells) == len(PRODUCERS)
    for cell_id in PRODUCERS:
        assert sum(f"cell {cell_id}" in c for c in cells) == 1, cells
    assert "scratch" not in text


def test_notebook_variables_and_frames_are_datasets(folder: Path, headless) -> None:
    graph = LineageStore(folder / ".sqlweave").load("chain.ipynb")
    kinds = {name: graph.attrs(name)["dataset_kind"] for name in graph.datasets()}
    assert kinds["flights"] is DatasetKind.DATAFRAME
    assert kinds["carrier_delays"] is DatasetKind.NOTEBOOK_VARIABLE
    assert kinds["worst"] is DatasetKind.NOTEBOOK_VARIABLE
    assert kinds["big"] is DatasetKind.TABLE
    assert graph.columns("carrier_delays") == ("carrier", "delay")


def test_lab_like_and_headless_runs_make_one_graph(folder: Path, headless) -> None:
    store = LineageStore(folder / ".sqlweave")
    before = store.load()
    assert store.notebooks() == ("chain.ipynb",)
    run_lab_like(folder / "chain.ipynb")
    after = store.load()
    assert store.notebooks() == ("chain.ipynb",)  # same key from both frontends
    cell_ids = sorted(r.info.cell_id for r in after.runs)
    assert cell_ids == sorted(r.info.cell_id for r in before.runs)  # replaced, not doubled
    assert not any(c.startswith("src-") for c in cell_ids)
    assert after.datasets() == before.datasets()
    assert shape(after) == shape(before)


def shape(graph) -> list[tuple[str, str, str]]:
    """The graph's edges, each run node named by its cell (run ids differ between runs)."""

    def name(node) -> str:
        return f"cell {graph.cell_of(node.name).cell_id}" if node.kind.value == "run" else str(node)

    return sorted((name(u), name(v), k.value) for u, v, k in graph.edges())


def test_a_deleted_cell_is_dropped_when_the_notebook_runs_again(folder: Path, headless) -> None:
    assert "scratch" in LineageStore(folder / ".sqlweave").load().datasets()
    notebook(folder / "chain.ipynb", [c for c in CELLS if c[0] != "scratch"])
    report = run_notebook(folder / "chain.ipynb")
    assert report.ok, report.failure and report.failure.summary()
    graph = LineageStore(folder / ".sqlweave").load()
    assert "scratch" not in graph.datasets()
    assert "scratch" not in {r.info.cell_id for r in graph.runs}
    assert set(DOWNSTREAM) <= set(graph.datasets())
