"""The cluster from the notebook side: start/status/stop, queries, and EXPLAIN drawn as a DAG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sqlweave.errors import UsageError
from sqlweave.explained import DistributedExplain
from sqlweave.magics.explain import ExplainView

pytestmark = pytest.mark.process


def test_cluster_from_the_notebook(ip, tpch_dir, capsys):
    ip.run_line_magic("sqlweave", "cluster start --workers 2")
    assert "started a cluster with 2 workers at tcp://127.0.0.1:" in capsys.readouterr().out
    status = ip.run_line_magic("sqlweave", "cluster status").to_arrow()
    assert status.column("liveness").to_pylist() == ["alive", "alive"]

    ip.user_ns["df"] = pd.DataFrame({"k": [1, 2, 3, 1], "v": [10, 20, 30, 40]})
    r = ip.run_cell_magic("sql", "", "SELECT k, sum(v) AS s FROM df GROUP BY k ORDER BY k")
    assert r.engine == "cluster"
    assert r.to_arrow().to_pylist() == [{"k": 1, "s": 50}, {"k": 2, "s": 20}, {"k": 3, "s": 30}]

    ip.run_line_magic("sqlweave", f"register lineitem {tpch_dir / 'lineitem'}")
    view = ip.run_cell_magic(
        "sql",
        "",
        "EXPLAIN -- a comment first\nSELECT l_returnflag, count(*) FROM lineitem GROUP BY 1",
    )
    assert isinstance(view, ExplainView)
    assert view.text.startswith("Distributed plan:")
    # a typed value, not a JSON cell: the rows are the plan's text only
    explained = view.result.explain
    assert isinstance(explained, DistributedExplain) and explained.text == view.text
    assert {n.kind for n in explained.graph.nodes} == {"table", "stage"}
    assert view.to_arrow().column_names == ["plan_type", "plan"]
    assert r.explain is None  # an answer, not a plan
    assert "partial aggregate" in view.text and "on w1" in view.text and "on w2" in view.text
    svg = ET.fromstring(view.svg())
    labels = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert "lineitem" in labels and "workers ×2" in labels
    bundle = view._repr_mimebundle_()
    assert bundle["image/svg+xml"] == view.svg()
    # saved notebooks: an <img> of the drawing, which Lab keeps in untrusted notebooks
    assert "<svg" not in bundle["text/html"] and "data:image/svg+xml;base64," in bundle["text/html"]
    assert "Distributed plan" in bundle["text/html"]

    ip.run_line_magic("sqlweave", "cluster stop")
    assert ip.run_line_magic("sql", "SELECT 1 AS x").engine == "datafusion"


def test_cluster_start_allow_path(ip, tmp_path, monkeypatch, capsys):
    from sqlweave.engines.paths_policy import ALLOW_ENV

    cwd, extra, outside = (tmp_path / d for d in ("cwd", "extra dir", "outside"))
    for d in (cwd, extra, outside):
        d.mkdir()
    pq.write_table(pa.table({"x": [1, 2]}), extra / "s.parquet")
    pq.write_table(pa.table({"x": [3]}), outside / "o.parquet")
    monkeypatch.delenv(ALLOW_ENV, raising=False)  # only what the magic allows
    monkeypatch.chdir(cwd)
    ip.run_line_magic("sqlweave", f"cluster start --workers 1 --allow-path '{extra}'")
    assert f"SQL may also use files under {extra}" in capsys.readouterr().out
    ip.run_cell_magic(
        "sql", "", f"CREATE EXTERNAL TABLE s STORED AS PARQUET LOCATION '{extra}/s.parquet'"
    )
    assert ip.run_cell_magic("sql", "", "SELECT sum(x) AS t FROM s").to_arrow().to_pylist() == [
        {"t": 3}
    ]
    with pytest.raises(UsageError, match="not allowed"):
        ip.run_cell_magic(
            "sql", "", f"CREATE EXTERNAL TABLE o STORED AS PARQUET LOCATION '{outside}/o.parquet'"
        )
    ip.run_line_magic("sqlweave", "cluster stop")


def test_cluster_tour_notebook_in_a_real_kernel(tmp_path):
    from pathlib import Path

    import nbformat

    from sqlweave.runner import run_notebook

    root = Path(__file__).resolve().parents[2]
    report = run_notebook(
        root / "notebooks" / "cluster_tour.ipynb", output=tmp_path / "out.ipynb", cwd=tmp_path
    )
    assert report.ok, report.failure and report.failure.summary()
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    text = "\n".join(
        str(o.get("text") or o.get("data", {}).get("text/plain", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    html = "\n".join(
        str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    )
    assert "started a cluster with 2 workers" in text
    assert "Distributed plan:" in text and "read whole by every task" in text
    svgs = [
        o.get("data", {}).get("image/svg+xml", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
    ]
    assert any("<svg" in s for s in svgs)  # the EXPLAIN DAG is saved with the notebook
    assert "data:image/svg+xml;base64," in html  # and as an <img> for untrusted viewers
    assert "INDONESIA  1000000.0          5" in text  # a notebook DataFrame joined on the workers
    assert "cluster stopped" in text
