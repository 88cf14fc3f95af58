"""``%lineage impact --folder`` and the ``--folder`` drawing keep kernels apart: real kernels
run ``p.ipynb`` and ``q.ipynb`` (each with an in-memory table ``t`` of its own) headless, as
``sqlweave run`` does; only shared datasets (files, warehouse and cluster tables) join
notebooks, the rule ``%lineage stale --folder`` follows."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_files import write_notebook

from sqlweave.runner import run_notebook

pytestmark = pytest.mark.process

P = (
    ("setup", "%load_ext sqlweave"),
    (
        "frames",
        "import pandas as pd\n"
        "flights = pd.DataFrame({'carrier': ['AA', 'UA'], 'dep_delay': [5.0, 20.0]})",
    ),
    ("p_t", "%%sql\nCREATE TABLE t AS SELECT carrier, dep_delay FROM flights"),
    ("p_csv", "%%sql\nCOPY t TO 'shared.csv' STORED AS CSV"),
    ("impact", "%lineage impact flights --folder"),
    ("drawing", "%lineage --folder"),
    ("stale", "%lineage stale --folder"),
)
Q = (
    ("setup", "%load_ext sqlweave"),
    (
        "frames",
        "import pandas as pd\nweather = pd.DataFrame({'origin': ['EWR'], 'temp': [40.0]})",
    ),
    ("q_t", "%%sql\nCREATE TABLE t AS SELECT origin, temp FROM weather"),
    ("q_u", "%%sql\nCREATE TABLE u AS SELECT * FROM t"),
    ("q_csv", "%%sql\nCREATE EXTERNAL TABLE from_p STORED AS CSV LOCATION 'shared.csv'"),
)


def text_of(nb: nbformat.NotebookNode, cell_id: str, mime: str = "text/plain") -> str:
    cell = next(c for c in nb.cells if c.id == cell_id)
    return "".join(o.get("data", {}).get(mime, "") for o in cell.outputs)


@pytest.fixture(scope="module")
def p_again(tmp_path_factory) -> nbformat.NotebookNode:
    """p, q, then p again, each in a fresh kernel; p's second executed copy."""
    folder: Path = tmp_path_factory.mktemp("kernels")
    write_notebook(folder / "p.ipynb", *P)
    write_notebook(folder / "q.ipynb", *Q)
    for name in ("p", "q", "p"):
        report = run_notebook(folder / f"{name}.ipynb")
        assert report.ok, report.failure and report.failure.summary()
    return nbformat.read(report.output, as_version=4)


def test_impact_in_the_folder_stays_in_the_kernel_of_the_notebook(p_again) -> None:
    text = text_of(p_again, "impact")
    datasets = next(ln for ln in text.splitlines() if "datasets:" in ln)
    cells = next(ln for ln in text.splitlines() if "cells:" in ln)
    # p's t, the file p wrote, and q's table read from that file: shared through the file
    assert datasets.split(":", 1)[1].split(", ") == [" t", "shared.csv", "q.ipynb:from_p"]
    assert "q_t" not in cells and "q_u" not in cells
    assert "cell q_csv of q.ipynb" in cells


def test_the_folder_drawing_shows_each_kernels_table_t_apart(p_again) -> None:
    svg = text_of(p_again, "drawing", "image/svg+xml")
    assert "q.ipynb:t" in svg and "q.ipynb:u" in svg and "q.ipynb:weather" in svg
    # flights, t, shared.csv (p); q.ipynb: weather, t, u, from_p
    assert text_of(p_again, "drawing").startswith("lineage graph: 7 datasets")


def test_stale_in_the_folder_is_unchanged(p_again) -> None:
    # p ran again after q: q's from_p read the file p rewrote since
    text = text_of(p_again, "stale")
    assert "q_csv" in text and "q_t" not in text and "q_u" not in text


def test_only_shared_datasets_keep_their_name_across_kernels() -> None:
    from sqlweave.lineage.kernel_scope import scope_to_kernels
    from sqlweave.lineage.model import Span, StatementKind, StatementLineage
    from sqlweave.lineage.runs import INTERACTIVE, Run, RunInfo

    sl = StatementLineage(
        StatementKind.CREATE_TABLE_AS,
        "",
        Span(0, 0),
        reads=frozenset({"flights", "data/x.parquet"}),
        writes=frozenset({"t", "v"}),
    )

    def run(notebook: str, shared: bool = False, session: str = "k") -> Run:
        info = RunInfo.new(
            notebook=notebook,
            sql="",
            engine="duckdb",
            frames=("flights",),
            variables=("v",),
            shared_catalog=shared,
            session_id=session,
        )
        return Run(info, sl)

    mine, other, warehouse, terminal = scope_to_kernels(
        [
            run("p.ipynb"),
            run("q.ipynb"),
            run("q.ipynb", shared=True),
            run(INTERACTIVE, session="me"),
        ],
        "p.ipynb",
        "me",
    )
    assert mine.lineage is sl and terminal.lineage is sl  # the asking kernel's own names
    assert sorted(other.lineage.reads) == ["data/x.parquet", "q.ipynb:flights"]
    assert sorted(other.lineage.writes) == ["q.ipynb:t", "q.ipynb:v"]
    assert other.info.variables == ("q.ipynb:v",) and other.info.frames == ("q.ipynb:flights",)
    # a warehouse table is the same table for every kernel; a variable never is
    assert sorted(warehouse.lineage.writes) == ["q.ipynb:v", "t"]
