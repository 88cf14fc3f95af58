"""Notebooks executed in a real kernel (nbclient / jupyter_client), and the ``sqlweave run`` CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import start_new_kernel
from robust.kernels import native_cpu_ticks, reply_to
from waiting import wait_for

from sqlweave.runner import run_notebook

pytestmark = pytest.mark.process
ROOT = Path(__file__).resolve().parents[2]
SQLWEAVE = [sys.executable, "-m", "sqlweave.cli"]


def _outputs(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
        parts.append(str(out.get("data", {}).get("text/html", "")))
        parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def _cell(nb, startswith: str):
    return next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(startswith))


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    work = tmp_path_factory.mktemp("quickstart")
    shutil.copy(ROOT / "notebooks" / "quickstart.ipynb", work)
    report = run_notebook(work / "quickstart.ipynb", {"region": "ASIA"}, output=work / "out.ipynb")
    return report, nbformat.read(work / "out.ipynb", as_version=4)


def test_quickstart_runs_clean(quickstart):
    report, nb = quickstart
    assert report.ok, report.failure and report.failure.summary()
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")


def test_quickstart_outputs(quickstart):
    _, nb = quickstart
    # parameters were injected after the parameters cell
    injected = nb.cells[2]
    assert "injected-parameters" in injected.metadata.tags and "region = 'ASIA'" in injected.source
    by_region = _outputs(_cell(nb, "%%sql by_region <<"))
    assert "<table" in by_region and "4 rows" in by_region and "datafusion" in by_region
    for region in ("EUROPE", "ASIA", "AMERICA", "AFRICA"):
        assert region in by_region
    # the parameter cell filtered on the injected region (ASIA)
    param_out = _outputs(_cell(nb, "%%sql\nSELECT c.name, count(*) AS big_orders"))
    assert "5 rows" in param_out
    # the injection attempt stayed a string
    assert "orders is still there: True" in _outputs(_cell(nb, "sneaky ="))
    # a notebook DataFrame and an earlier result joined by name
    assert "pct_of_target" in _outputs(_cell(nb, "%%sql\nSELECT b.region"))
    # the expected error: short, with caret and suggestion, no Python traceback
    err_cell = _cell(nb, "%%sql\nSELECT regin")
    err = next(o for o in err_cell.outputs if o.output_type == "error")
    text = "\n".join(err.traceback)
    assert err.ename == "PlanError"
    assert "column regin not found" in text and "^" in text and "Did you mean region?" in text
    assert "Traceback" not in text and ".py" not in text


def test_run_cli_reports_the_failing_cell(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext sqlweave"),
            nbformat.v4.new_code_cell("%%sql\nCREATE TABLE t AS SELECT 1 AS a;\nSELECT b FROM t"),
            nbformat.v4.new_code_cell("print('never runs')"),
        ],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    proc = subprocess.run(
        [*SQLWEAVE, "run", str(path), "-o", str(tmp_path / "bad.out.ipynb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "cell 2 [2] failed:" in proc.stderr
    assert "SELECT b FROM t" in proc.stderr
    assert "column b not found" in proc.stderr and "line 2" in proc.stderr
    out = nbformat.read(tmp_path / "bad.out.ipynb", as_version=4)  # written, and valid
    assert out.cells[2].execution_count is None


def test_run_cli_parameters_and_bad_input(tmp_path):
    proc = subprocess.run(
        [*SQLWEAVE, "run", str(tmp_path / "missing.ipynb")], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "no notebook at" in proc.stderr
    proc = subprocess.run(
        [*SQLWEAVE, "run", "x.ipynb", "-p", "novalue"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and "NAME=VALUE" in proc.stderr


LONG_QUERIES = {  # each runs for minutes
    "local": "SELECT count(*) FROM generate_series(1, 2000000000) a(x) WHERE x % 7 = 3",
    "duckdb": "SELECT count(*) FROM range(20000000000) t(x) WHERE x % 7 = 3",
}


@pytest.mark.parametrize("engine", sorted(LONG_QUERIES))
def test_interrupt_cancels_a_long_query(engine):
    # how fast it stops is measured by bench/interrupt.py, not asserted here
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(f"%load_ext sqlweave\n%sqlweave engine {engine}", timeout=60)
        pid = km.provisioner.pid
        before = native_cpu_ticks(pid, prefix="")
        msg_id = kc.execute(f"%sql {LONG_QUERIES[engine]}")
        # the query is under way once the kernel has worked a quarter second on it
        wait_for(lambda: native_cpu_ticks(pid, prefix="") - before > 25, 120, "the query to run")
        km.interrupt_kernel()
        reply = reply_to(kc, msg_id, 120)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "QueryCancelled"
        assert "query cancelled" in "\n".join(reply["content"]["traceback"])
        # the kernel is alive and usable
        out = []
        kc.execute_interactive("%sql SELECT 7 AS seven", timeout=60, output_hook=out.append)
        assert any("seven" in str(m["content"]) for m in out)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _result_texts(nb) -> list[str]:
    """Text outputs of every code cell with the timing/engine footer lines removed."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        # a cell's prints may arrive as one stream message or several (timing): join them
        printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        shown = [
            str(o.get("data", {}).get("text/plain", ""))
            for o in outputs
            if o.get("output_type") != "stream"
        ]
        for text in ([printed] if printed else []) + shown:
            lines = [
                ln for ln in text.splitlines() if " · " not in ln and not ln.startswith("engine:")
            ]
            texts.append("\n".join(lines))
    return texts


def _tokens(texts: list[str]) -> list[float | str]:
    """Every whitespace-separated token, numbers as floats (so they compare with a tolerance)."""
    out: list[float | str] = []
    for text in texts:
        for tok in text.split():
            try:
                out.append(float(tok))
            except ValueError:
                out.append(tok)
    return out


def test_dataframes_notebook_same_answers_on_both_engines(tmp_path):
    results = {}
    for engine in ("local", "duckdb"):
        report = run_notebook(
            ROOT / "notebooks" / "dataframes.ipynb",
            {"engine": engine},
            output=tmp_path / f"{engine}.ipynb",
            cwd=tmp_path,
        )
        assert report.ok, report.failure and report.failure.summary()
        results[engine] = _result_texts(nbformat.read(tmp_path / f"{engine}.ipynb", as_version=4))
    # the engines sum doubles in different orders: round(sum(x), 2) may differ in the last digit
    assert _tokens(results["local"]) == pytest.approx(_tokens(results["duckdb"]), abs=0.0101)
    joined = "\n".join(results["local"])
    # the pandas x polars x arrow join (3.055 rounds either way, by summation order)
    assert re.search(r"NO      3   11\.75    3\.0[56]         3\.42", joined)
    assert "8          7        7" in joined  # NULL-aware counts
    assert "8 rows (showing first 2)" not in joined  # footer stripped, but the limit applied:
    assert joined.rstrip().endswith("2    Lima    12.0    25.0")
