"""A kernel opened on a pipeline notebook, as JupyterLab opens it (the notebook's path in
``JPY_SESSION_NAME``, the kernel in its folder), reads the tables the pipeline saved: it finds
the project warehouse the way ``sqlweave run`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jupyter_client.manager import KernelManager
from robust.kernels import answer

from sqlweave import Session
from sqlweave.errors import PlanError
from sqlweave.pipeline.journal import JOURNAL_PATH
from sqlweave.project import PROJECT_MARKERS, project_warehouse
from sqlweave.warehouse import WAREHOUSE_ENV


@pytest.mark.process
def test_a_lab_kernel_of_a_pipeline_notebook_reads_the_project_warehouse(tmp_path: Path) -> None:
    project = tmp_path / "flights"
    (project / JOURNAL_PATH.parent).mkdir(parents=True)  # a pipeline ran here
    warehouse = project / ".sqlweave" / "warehouse"
    Session(warehouse=warehouse).sql(
        "CREATE TABLE carrier_month AS SELECT * FROM (VALUES ('AA', 1, 5.0), ('UA', 1, 20.0))"
        " AS t(carrier, month, delay)"
    )
    notebook = project / "report.ipynb"
    notebook.write_text("{}")
    assert project_warehouse(notebook) == warehouse.resolve()  # what `sqlweave run` uses
    env = {k: v for k, v in os.environ.items() if k != WAREHOUSE_ENV}
    km = KernelManager(kernel_name="python3")
    km.start_kernel(cwd=str(project), env={**env, "JPY_SESSION_NAME": str(notebook)})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        root = answer(
            kc,
            "%load_ext sqlweave",
            "str(get_ipython().magics_manager.registry['SqlWeave'].session.warehouse.root)",
        )
        assert root.strip("'") == str(warehouse.resolve())
        worst = answer(
            kc,
            "%%sql worst <<\nSELECT carrier FROM carrier_month ORDER BY delay DESC LIMIT 1",
            "worst.to_arrow().to_pylist()",
        )
        assert worst == "[{'carrier': 'UA'}]"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_the_project_ends_where_pipeline_runs_keep_their_journal() -> None:
    assert JOURNAL_PATH.parent.as_posix() in PROJECT_MARKERS


def test_a_table_not_found_names_the_project_warehouse_that_has_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "flights"
    (project / ".git").mkdir(parents=True)
    warehouse = project / ".sqlweave" / "warehouse"
    Session(warehouse=warehouse).sql("CREATE TABLE carrier_month AS SELECT 1 AS month")
    (project / "notebooks").mkdir()
    monkeypatch.chdir(project / "notebooks")  # no JPY_SESSION_NAME: a terminal IPython
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(PlanError) as caught:
        Session().sql("SELECT * FROM carrier_month")
    assert caught.value.hint == (
        f"it is saved in the project warehouse {warehouse.resolve()}: "
        f"%config SqlWeave.warehouse = '{warehouse.resolve()}' (or Session(warehouse=...)) loads it"
    )
    with pytest.raises(PlanError) as caught:  # not a hint for a table nobody saved
        Session().sql("SELECT * FROM carrier_year")
    assert "project warehouse" not in str(caught.value)
