"""Planning without kernels: static dependencies, ordering, sources, conflicts and cycles."""

from __future__ import annotations

from pathlib import Path

import pytest
from notebook_files import write_notebook

from sqlweave.pipeline import (
    ConflictingWritersError,
    CycleError,
    PipelineError,
    plan,
    plan_svg,
    plan_text,
)
from sqlweave.pipeline.dependencies import notebook_dependencies, sql_dependencies
from sqlweave.pipeline.discover import discover


def test_sql_cells_lines_registrations_and_metadata(tmp_path: Path) -> None:
    import nbformat

    path = write_notebook(
        tmp_path / "nb.ipynb",
        "%load_ext sqlweave\n%sqlweave register events data/events.csv",
        "%%sql totals << --limit 5\nCREATE TABLE t AS SELECT * FROM events JOIN dims USING (k)",
        "rows = %sql --quiet SELECT * FROM t JOIN other USING (k)",
        "%%sql\nCREATE TABLE scratch AS SELECT 1 AS x; DROP TABLE scratch",
        metadata={"reads": ["py_in"], "writes": ["py_out"], "files": ["raw/x.json"]},
    )
    deps = notebook_dependencies(nbformat.read(path, as_version=4))
    assert sorted(deps.reads) == ["dims", "other", "py_in"]
    assert sorted(deps.writes) == ["py_out", "t"]  # scratch was dropped again
    assert sorted(deps.files) == ["data/events.csv", "raw/x.json"]


def test_a_table_written_before_it_is_read_is_not_a_read() -> None:
    deps = sql_dependencies(["CREATE TABLE a AS SELECT * FROM src", "SELECT * FROM a"])
    assert deps.reads == {"src"} and deps.writes == {"a"}


def test_unparseable_sql_is_a_warning_not_an_error() -> None:
    deps = sql_dependencies(["SELECT FROM WHERE ((", "CREATE TABLE b AS SELECT 1 AS x"])
    assert deps.writes == {"b"}
    assert deps.warnings and "cannot parse" in deps.warnings[0]


def _chain(root: Path) -> None:
    write_notebook(root / "ingest.ipynb", "%%sql\nCREATE TABLE raw AS SELECT * FROM 'data/x.csv'")
    write_notebook(root / "b_clean.ipynb", "%%sql\nCREATE TABLE clean AS SELECT * FROM raw")
    write_notebook(root / "a_stats.ipynb", "%%sql\nCREATE TABLE stats AS SELECT count(*) FROM raw")
    write_notebook(
        root / "sub" / "report.ipynb",
        "%sql SELECT * FROM clean JOIN stats ON true JOIN dim ON true",
    )


def test_order_levels_sources_and_edges(tmp_path: Path) -> None:
    _chain(tmp_path)
    (tmp_path / ".ipynb_checkpoints").mkdir()
    write_notebook(tmp_path / ".ipynb_checkpoints" / "x.ipynb", "%sql SELECT 1")
    write_notebook(tmp_path / "ingest.out.ipynb", "%sql SELECT 1")
    p = plan([tmp_path])
    assert p.order == ("ingest.ipynb", "a_stats.ipynb", "b_clean.ipynb", "sub/report.ipynb")
    assert p.levels == (
        ("ingest.ipynb",),
        ("a_stats.ipynb", "b_clean.ipynb"),
        ("sub/report.ipynb",),
    )
    assert p.sources == ("dim",)
    assert p.upstream("sub/report.ipynb") == ("a_stats.ipynb", "b_clean.ipynb")
    assert p.descendants(["b_clean.ipynb"]) == {"b_clean.ipynb", "sub/report.ipynb"}
    text = plan_text(p)
    assert "ingest.ipynb --[raw]--> a_stats.ipynb" in text
    svg = plan_svg(p, {"ingest.ipynb": "failed"})
    assert svg.count("<rect") == 4 and "#ffcdd2" in svg


def test_select_dbt_style(tmp_path: Path) -> None:
    _chain(tmp_path)
    p = plan([tmp_path])
    assert p.select(["b_clean"]) == {"b_clean.ipynb"}
    assert p.select(["b_clean+"]) == {"b_clean.ipynb", "sub/report.ipynb"}
    assert p.select(["+b_clean"]) == {"b_clean.ipynb", "ingest.ipynb"}
    with pytest.raises(PipelineError, match="matches no notebook"):
        p.select(["nope"])


def test_two_writers_of_a_table_are_named(tmp_path: Path) -> None:
    write_notebook(tmp_path / "one.ipynb", "%%sql\nCREATE TABLE t AS SELECT 1 AS x")
    write_notebook(tmp_path / "two.ipynb", "%%sql\nINSERT INTO t VALUES (2)")
    with pytest.raises(ConflictingWritersError, match=r"t: written by one.ipynb, two.ipynb"):
        plan([tmp_path])


def test_a_cycle_is_reported_with_its_tables(tmp_path: Path) -> None:
    write_notebook(tmp_path / "x.ipynb", "%%sql\nCREATE TABLE a AS SELECT * FROM b")
    write_notebook(tmp_path / "y.ipynb", "%%sql\nCREATE TABLE b AS SELECT * FROM a")
    with pytest.raises(CycleError) as info:
        plan([tmp_path])
    message = str(info.value)
    assert "x.ipynb writes a read by y.ipynb" in message
    assert "y.ipynb writes b read by x.ipynb" in message


def test_bad_paths_and_metadata_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="no such file"):
        discover([tmp_path / "missing"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(PipelineError, match="not a notebook"):
        discover([tmp_path / "notes.txt"])
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(PipelineError, match=r"broken\.ipynb is not a readable notebook"):
        plan([tmp_path])
    (tmp_path / "broken.ipynb").unlink()
    write_notebook(tmp_path / "m.ipynb", "1", metadata={"reads": [1]})
    with pytest.raises(PipelineError, match=r"metadata\.sqlweave\.reads"):
        plan([tmp_path])


def test_cli_plan_prints_order_and_writes_svg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlweave.cli import main

    _chain(tmp_path)
    assert main(["pipeline", "plan", str(tmp_path), "--svg", str(tmp_path / "dag.svg")]) == 0
    out = capsys.readouterr().out
    assert "1. ingest.ipynb" in out
    assert (tmp_path / "dag.svg").read_text().startswith("<svg")
    write_notebook(tmp_path / "dup.ipynb", "%%sql\nCREATE TABLE raw AS SELECT 1 AS x")
    assert main(["pipeline", "plan", str(tmp_path)]) == 2
    assert "raw: written by dup.ipynb, ingest.ipynb" in capsys.readouterr().err


def test_run_reports_a_cycle_before_starting_any_kernel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlweave.cli import main

    write_notebook(tmp_path / "x.ipynb", "%%sql\nCREATE TABLE a AS SELECT * FROM b")
    write_notebook(tmp_path / "y.ipynb", "%%sql\nCREATE TABLE b AS SELECT * FROM a")
    assert main(["pipeline", "run", str(tmp_path), "--jobs", "2"]) == 2
    assert "cycle" in capsys.readouterr().err
    assert not (tmp_path / ".sqlweave").exists()  # nothing journaled, nothing ran


def test_resume_refuses_a_run_whose_runner_is_alive(tmp_path: Path) -> None:
    import os
    import socket

    from sqlweave.pipeline.execute import resume
    from sqlweave.pipeline.journal import Journal, RunStarted

    journal = Journal.of_project(tmp_path)
    journal.append(RunStarted("r1", paths=(".",), pid=os.getpid(), host=socket.gethostname()))
    with pytest.raises(PipelineError, match="still being run by process"):
        resume(tmp_path)
    with pytest.raises(PipelineError, match="no run nope"):
        resume(tmp_path, "nope")


def test_bad_run_options_are_usage_errors() -> None:
    from sqlweave.pipeline.execute import RunOptions

    with pytest.raises(PipelineError, match="--jobs"):
        RunOptions(jobs=0)
    with pytest.raises(PipelineError, match="--timeout"):
        RunOptions(timeout=-1)


def test_the_pipeline_package_does_not_import_ipython() -> None:
    import subprocess
    import sys

    code = "import sys, sqlweave.pipeline.cli, sqlweave.pipeline.execute; print('IPython' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_views_order_notebooks_like_tables_and_declared_tables_are_not_saved(
    tmp_path: Path,
) -> None:
    write_notebook(
        tmp_path / "a.ipynb",
        "%%sql\nCREATE TABLE t AS SELECT 1 AS x; CREATE VIEW v AS SELECT * FROM t",
        metadata={"writes": ["py_table"]},
    )
    write_notebook(tmp_path / "b.ipynb", "%sql SELECT * FROM v JOIN py_table ON true")
    p = plan([tmp_path])
    deps = p.notebooks["a.ipynb"]
    assert deps.writes == {"t", "v", "py_table"} and deps.saved == {"t", "v"}
    assert p.upstream("b.ipynb") == ("a.ipynb",)
    assert p.edges[0].tables == ("py_table", "v")
    assert p.warnings == () and "warning" not in plan_text(p)


def test_results_kept_as_variables_are_internal_not_sources(tmp_path: Path) -> None:
    import nbformat

    write_notebook(
        tmp_path / "a_ingest.ipynb",
        "%%sql carrier_delays <<\nSELECT carrier, avg(delay) AS d FROM flights GROUP BY carrier",
        "top = %sql SELECT * FROM carrier_delays ORDER BY d DESC",
        "%sql worst << SELECT * FROM top LIMIT 1",
        "%%sql\nCREATE TABLE summary AS SELECT * FROM worst",
    )
    # another kernel: the same name there is not the first notebook's variable
    write_notebook(tmp_path / "b_other.ipynb", "%sql SELECT * FROM carrier_delays")
    p = plan([tmp_path])
    assert p.sources == ("carrier_delays", "flights")
    assert p.upstream("b_other.ipynb") == ()
    deps = notebook_dependencies(nbformat.read(tmp_path / "a_ingest.ipynb", 4))
    assert deps.reads == {"flights"} and deps.writes == {"summary"}


def test_status_says_when_the_runner_of_an_unfinished_run_died(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import os
    import socket
    import subprocess
    import sys
    from datetime import datetime, timedelta, timezone

    from sqlweave.cli import main
    from sqlweave.pipeline.journal import Journal, NotebookStarted, RunStarted
    from sqlweave.pipeline.liveness import pid_alive

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid = int(dead.stdout)
    journal = Journal.of_project(tmp_path)
    host = socket.gethostname()
    journal.append(RunStarted("r1", notebooks=("a.ipynb",), pid=pid, host=host))
    journal.append(NotebookStarted("r1", notebook="a.ipynb"))
    assert main(["pipeline", "status", "--project", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"runner died (pid {pid}): `sqlweave pipeline resume`" in out
    assert "interrupted" in out
    # a live runner stays `running`; a live pid that began after the run is a reused pid
    journal.append(RunStarted("r2", notebooks=("a.ipynb",), pid=os.getpid(), host=host))
    assert main(["pipeline", "status", "--project", str(tmp_path)]) == 0
    assert "runner died" not in capsys.readouterr().out
    long_ago = (datetime.now(timezone.utc) - timedelta(days=3650)).isoformat()
    assert pid_alive(os.getpid(), datetime.now(timezone.utc).isoformat())
    assert not pid_alive(os.getpid(), long_ago)


def test_fingerprints_cover_only_the_parameters_a_notebook_uses(tmp_path: Path) -> None:
    from sqlweave.pipeline.fingerprint import plan_fingerprints

    write_notebook(tmp_path / "ingest.ipynb", "%%sql\nCREATE TABLE raw AS SELECT 1 AS x")
    write_notebook(
        tmp_path / "daily.ipynb",
        "day = '2024-01-01'",
        "%%sql\nCREATE TABLE d AS SELECT * FROM raw WHERE x = :day",
        tags={0: ["parameters"]},
    )
    p = plan([tmp_path])
    bare = plan_fingerprints(p, {}, None)
    given = plan_fingerprints(p, {"day": "2024-02-02"}, None)
    assert bare["ingest.ipynb"] == given["ingest.ipynb"]  # it does not use `day`
    assert bare["daily.ipynb"] != given["daily.ipynb"]


def test_a_pipeline_notebook_run_alone_finds_the_warehouse_or_gets_a_hint(tmp_path: Path) -> None:
    from sqlweave.pipeline.standalone import pipeline_hint, project_warehouse

    folder = tmp_path / "pipe"
    write_notebook(folder / "ingest.ipynb", "%%sql\nCREATE TABLE raw_orders AS SELECT 1 AS x")
    clean = write_notebook(folder / "clean.ipynb", "%sql SELECT * FROM raw_orders JOIN dim ON true")
    assert project_warehouse(clean) is None
    hint = pipeline_hint(clean)
    assert hint is not None and "raw_orders (from ingest.ipynb)" in hint and "dim" not in hint
    assert "--select clean" in hint and "SQLWEAVE_WAREHOUSE" in hint
    assert pipeline_hint(folder / "ingest.ipynb") is None
    (tmp_path / ".sqlweave" / "warehouse").mkdir(parents=True)
    assert project_warehouse(clean) == (tmp_path / ".sqlweave" / "warehouse").resolve()


def test_the_warehouse_lookup_stops_at_the_project_boundary(tmp_path: Path) -> None:
    from sqlweave.pipeline.standalone import project_warehouse

    outer = tmp_path / ".sqlweave" / "warehouse"
    outer.mkdir(parents=True)  # a warehouse above the project: never used
    repo = tmp_path / "repo"
    nb = write_notebook(repo / "pipe" / "sub" / "clean.ipynb", "%sql SELECT 1")
    (nb.parent / ".sqlweave").mkdir()  # the notebook's own lineage store: not a boundary
    assert project_warehouse(nb) == outer.resolve()
    (repo / ".git").mkdir()
    assert project_warehouse(nb) is None
    # a pipeline's project folder (its journal) ends the lookup below the repository root
    (repo / ".sqlweave" / "warehouse").mkdir(parents=True)
    assert project_warehouse(nb) == (repo / ".sqlweave" / "warehouse").resolve()
    (repo / "pipe" / ".sqlweave" / "pipeline").mkdir(parents=True)
    assert project_warehouse(nb) is None
    (repo / "pipe" / ".sqlweave" / "warehouse").mkdir()
    assert project_warehouse(nb) == (repo / "pipe" / ".sqlweave" / "warehouse").resolve()


def test_sql_too_deep_to_analyse_keeps_its_tables_approximately_and_warns() -> None:
    from sqlweave.lineage import extract

    sql = "CREATE TABLE u AS SELECT " + " + ".join(["x"] * 1200) + " AS y FROM t"
    (st,) = extract(sql)
    assert st.approximate and st.error and "too deeply nested" in st.error
    assert st.writes == {"u"} and st.reads == {"t"}
    deps = sql_dependencies([sql])
    assert deps.writes == {"u"} and deps.reads == {"t"}
    assert any("approximate" in w and "writes u" in w for w in deps.warnings)
    assert sql_dependencies(["SET datafusion.x = 1"]).warnings == ()
