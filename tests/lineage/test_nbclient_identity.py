"""A notebook executed by plain nbclient (as ``jupyter nbconvert --execute`` does: no cell ids,
no notebook path, only the kernel's working directory) is tied to its file: real kernels run
it and the lineage store keys its cells by the notebook and the saved cells' ids, the same keys
``sqlweave run`` and JupyterLab use, so ``%lineage --folder`` counts it once."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from notebook_files import write_notebook

from sqlweave.cellids import CELL_ID_KEY, SESSION_ENV
from sqlweave.lineage.runs import INTERACTIVE
from sqlweave.lineage.store import LineageStore
from sqlweave.runner import run_notebook

pytestmark = pytest.mark.process

SETUP = (
    ("setup", "%load_ext sqlweave"),
    ("frames", "import pandas as pd\nflights = pd.DataFrame({'carrier': ['AA', 'UA']})"),
)
P = (
    *SETUP,
    ("p_base", "%%sql\nCREATE TABLE base AS SELECT carrier FROM flights"),
    ("p_top", "%%sql\nCREATE TABLE top AS SELECT carrier FROM flights"),
)
# q begins like p (same setup cells, other ids), then runs a cell p has further down
Q = (
    ("q_setup", SETUP[0][1]),
    ("q_frames", SETUP[1][1]),
    ("q_same", P[3][1]),
    ("q_other", "%%sql\nCREATE TABLE other AS SELECT carrier FROM top"),
)


def environment() -> dict[str, str]:
    """The test process's environment without a notebook path (as a terminal has it)."""
    return {k: v for k, v in os.environ.items() if k != SESSION_ENV}


def nbclient_run(path: Path) -> None:
    """``jupyter nbconvert --execute``: nbclient, kernel started in the notebook's folder."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=environment())


def cells_of(store: LineageStore) -> set[tuple[str, str | None]]:
    return {(r.info.notebook, r.info.cell_id) for r in store.runs()}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_notebook(tmp_path / "p.ipynb", *P)
    write_notebook(tmp_path / "q.ipynb", *Q)
    return tmp_path


def test_nbclient_run_is_keyed_by_the_notebook_and_its_cell_ids(folder: Path) -> None:
    nbclient_run(folder / "p.ipynb")
    store = LineageStore(folder / ".sqlweave")
    assert cells_of(store) == {("p.ipynb", "p_base"), ("p.ipynb", "p_top")}
    # the same notebook run as sqlweave run does (path and ids sent): the same cells, once
    assert run_notebook(folder / "p.ipynb").ok
    assert store.notebooks() == ("p.ipynb",)
    assert cells_of(store) == {("p.ipynb", "p_base"), ("p.ipynb", "p_top")}
    assert len(store.runs()) == 2


def test_cells_are_tied_once_only_one_notebook_fits(folder: Path) -> None:
    nbclient_run(folder / "q.ipynb")
    store = LineageStore(folder / ".sqlweave")
    # q_same's text is p's p_top too, further down in both: which notebook runs is still
    # open when it runs (it stays <interactive>); q_other, only in q, settles it
    assert cells_of(store) == {(INTERACTIVE, cells_of_interactive(store)), ("q.ipynb", "q_other")}


def cells_of_interactive(store: LineageStore) -> str:
    (cell_id,) = [r.info.cell_id for r in store.runs() if r.info.notebook == INTERACTIVE]
    assert cell_id is not None and cell_id.startswith("src-")
    return cell_id


def test_a_cell_id_without_a_path_finds_its_notebook(folder: Path) -> None:
    """A frontend sending cell ids but no path: the one saved notebook with those ids."""
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(folder), env=environment())
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        for cell_id, source in P:
            msg = kc.session.msg(
                "execute_request",
                {"code": source, "silent": False, "store_history": True, "stop_on_error": True},
                metadata={CELL_ID_KEY: cell_id},
            )
            kc.shell_channel.send(msg)
            reply = kc.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                reply = kc.get_shell_msg(timeout=60)
            assert reply["content"]["status"] == "ok", (cell_id, reply["content"])
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)  # graceful: the kernel writes pending lineage at exit
    store = LineageStore(folder / ".sqlweave")
    assert cells_of(store) == {("p.ipynb", "p_base"), ("p.ipynb", "p_top")}


def test_copies_of_the_notebook_beside_it_do_not_move_its_lineage(folder: Path) -> None:
    """``jupyter nbconvert --execute`` writes ``p.nbconvert.ipynb`` beside ``p.ipynb`` (the
    same cells and ids): later runs of p still land on p's cells, replacing the earlier."""
    nbclient_run(folder / "p.ipynb")
    (folder / "p.nbconvert.ipynb").write_bytes((folder / "p.ipynb").read_bytes())
    (folder / "p-Copy1.ipynb").write_bytes((folder / "p.ipynb").read_bytes())
    nbclient_run(folder / "p.ipynb")
    store = LineageStore(folder / ".sqlweave")
    assert cells_of(store) == {("p.ipynb", "p_base"), ("p.ipynb", "p_top")}
    assert len(store.runs()) == 2
