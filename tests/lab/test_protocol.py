"""The lab message contract, from the Python side: every message the kernel builds is valid
against ``sqlweave/lab/schema.json``, and the TypeScript mirror names the same things."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlweave
from sqlweave.errors import UsageError
from sqlweave.lab import (
    COMM_TARGET,
    PROTOCOL_VERSION,
    SCHEMA_PATH,
    Scope,
    error_message,
    graph_message,
    parse_request,
    schema_message,
)
from sqlweave.lineage.capture import CellContext, LineageCapture
from sqlweave.lineage.graph import DatasetKind

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_TS = ROOT / "labextension" / "src" / "contract.ts"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def _valid(message: dict) -> dict:
    VALIDATOR.validate(message)
    return message


class _Cells:
    """Plays the notebook: which cell runs now."""

    def __init__(self) -> None:
        self.now = CellContext("nb.ipynb", "c0", 0)

    def run(self, session: sqlweave.Session, cell_id: str, count: int, sql: str, nb="nb.ipynb"):
        self.now = CellContext(nb, cell_id, count)
        session.sql(sql)


@pytest.fixture
def captured():
    session = sqlweave.Session("duckdb")
    cells = _Cells()
    capture = LineageCapture(context=lambda: cells.now)
    session.add_listener(capture)
    cells.run(session, "a", 1, "CREATE TABLE raw AS SELECT 1 AS id, 10 AS amount")
    cells.run(session, "b", 2, "CREATE TABLE clean AS SELECT id, amount * 2 AS amount FROM raw")
    cells.run(
        session,
        "c",
        3,
        "SELECT count(*) FROM clean; SELECT sum(amount) FROM clean; SELECT * FROM raw",
    )
    yield session, capture.graph, cells
    session.close()


def test_graph_message_folds_statements_into_cells(captured):
    _session, graph, _ = captured
    msg = _valid(graph_message(graph, notebook="nb.ipynb"))
    assert msg["type"] == "graph" and msg["version"] == PROTOCOL_VERSION
    assert [d["name"] for d in msg["datasets"]] == ["clean", "raw"]
    cells = {c["cell_id"]: c for c in msg["cells"]}
    assert set(cells) == {"a", "b", "c"}
    assert len(cells["c"]["sql"]) == 3 and cells["c"]["read_only"]
    assert cells["c"]["label"].startswith("[3] SELECT count(*)") and "(+2)" in cells["c"]["label"]
    assert not cells["a"]["read_only"] and not cells["b"]["read_only"]
    edges = {(e["source"], e["target"], e["kind"]) for e in msg["edges"]}
    c = cells["c"]["id"]
    assert ("dataset:clean", c, "reads") in edges and ("dataset:raw", c, "reads") in edges
    assert (cells["b"]["id"], "dataset:clean", "writes") in edges
    derived = {(tuple(d["source"]), tuple(d["target"])) for d in msg["columns"]}
    assert (("raw", "amount"), ("clean", "amount")) in derived
    clean = next(d for d in msg["datasets"] if d["name"] == "clean")
    assert clean["columns"] == ["amount", "id"]


def test_graph_message_marks_stale_cells_and_scopes(captured):
    session, graph, cells = captured
    cells.run(session, "a", 4, "CREATE OR REPLACE TABLE raw AS SELECT 2 AS id, 20 AS amount")
    cells.run(session, "x", 1, "CREATE TABLE other AS SELECT 1 AS z", nb="other.ipynb")
    msg = _valid(graph_message(graph, notebook="nb.ipynb"))
    stale = {c["cell_id"]: c["stale_inputs"] for c in msg["cells"]}
    assert stale["b"] == ["raw"] and stale["a"] == []
    assert "other" not in {d["name"] for d in msg["datasets"]}
    folder = _valid(graph_message(graph, notebook="nb.ipynb", scope=Scope.FOLDER))
    assert folder["scope"] == "folder"
    assert "other" in {d["name"] for d in folder["datasets"]}
    assert {c["notebook"] for c in folder["cells"]} == {"nb.ipynb", "other.ipynb"}


def test_schema_message_lists_catalog_files_and_dataframes(tmp_path):
    path = tmp_path / "trips.parquet"
    pq.write_table(pa.table({"trip_id": [1, 2], "fare": [2.5, 3.0]}), path)
    with sqlweave.Session() as session:
        session.sql("CREATE TABLE airports AS SELECT 'JFK' AS code, 40.6 AS lat")
        session.register("trips", path)
        session.register("arrow_t", pa.table({"k": pa.array([1], pa.int32())}))
        namespace = {
            "flights": pd.DataFrame({"carrier": ["AA"], "dep_delay": [3]}),
            "_hidden": pd.DataFrame({"a": [1]}),
            "n": 3,
        }
        msg = _valid(schema_message(session, namespace))
    tables = {t["name"]: t for t in msg["tables"]}
    assert set(tables) == {"airports", "trips", "arrow_t", "flights"}
    assert tables["airports"]["source"] == "catalog"
    assert tables["trips"]["source"] == "file"
    assert tables["arrow_t"]["source"] == "dataframe"
    assert tables["flights"]["source"] == "dataframe"
    assert {c["name"]: c["type"] for c in tables["trips"]["columns"]} == {
        "trip_id": "int64",
        "fare": "double",
    }
    flights = {c["name"]: c["type"] for c in tables["flights"]["columns"]}
    assert flights["dep_delay"] == "int64"
    assert flights["carrier"] in ("object", "str")  # pandas 3 has a string dtype
    assert tables["arrow_t"]["columns"] == [{"name": "k", "type": "int32"}]


def test_requests_and_errors():
    assert (
        parse_request(_valid({"type": "request", "version": 1, "scope": "folder"})) is Scope.FOLDER
    )
    _valid(error_message("boom"))
    with pytest.raises(UsageError, match="unknown scope"):
        parse_request({"type": "request", "version": PROTOCOL_VERSION, "scope": "galaxy"})
    with pytest.raises(UsageError, match="protocol version"):
        parse_request({"type": "request", "version": 99, "scope": "notebook"})
    with pytest.raises(UsageError, match="not a request"):
        parse_request(["request"])


# ----- the TypeScript mirror -------------------------------------------------------------


def _ts_const(name: str) -> str:
    match = re.search(rf"export const {name}[^=]*=\s*([^;]+);", CONTRACT_TS.read_text())
    assert match, f"{name} not found in {CONTRACT_TS}"
    return match.group(1)


def _ts_strings(text: str) -> list[str]:
    return re.findall(r"'([^']*)'", text)


def test_typescript_contract_matches_the_schema():
    defs = SCHEMA["$defs"]
    assert _ts_strings(_ts_const("COMM_TARGET")) == [COMM_TARGET]
    assert int(_ts_const("PROTOCOL_VERSION")) == PROTOCOL_VERSION
    assert _ts_strings(_ts_const("SCOPES")) == defs["scope"]["enum"]
    assert _ts_strings(_ts_const("EDGE_KINDS")) == defs["edge"]["properties"]["kind"]["enum"]
    assert _ts_strings(_ts_const("TABLE_SOURCES")) == defs["table"]["properties"]["source"]["enum"]
    assert _ts_strings(_ts_const("DATASET_KINDS")) == defs["dataset"]["properties"]["kind"]["enum"]
    assert defs["dataset"]["properties"]["kind"]["enum"] == [k.value for k in DatasetKind]
    required = _ts_const("REQUIRED_KEYS")
    blocks = dict(re.findall(r"(\w+):\s*\[([^\]]*)\]", required))
    assert set(blocks) == {k for k, v in defs.items() if "required" in v}
    for name, keys in blocks.items():
        assert _ts_strings(keys) == defs[name]["required"], name
    kernel_types = _ts_strings(_ts_const("KERNEL_MESSAGE_TYPES"))
    lab_types = _ts_strings(_ts_const("LAB_MESSAGE_TYPES"))
    top = [ref["$ref"].rsplit("/", 1)[1] for ref in SCHEMA["oneOf"]]
    assert sorted(kernel_types + lab_types) == sorted(top)


def test_displayed_query_stays_read_only_until_its_result_is_read():
    from sqlweave.lineage import extract
    from sqlweave.lineage.graph import LineageGraph, RunInfo
    from sqlweave.lineage.variables import LAST_RESULT, bind_result

    graph = LineageGraph()

    def run(cell: str, sql: str, bind: str | None = None) -> None:
        info = RunInfo.new(
            notebook="nb.ipynb", cell_id=cell, execution_count=1, sql=sql, engine="duckdb"
        )
        lineage = extract(sql, dialect="duckdb")[0]
        graph.add_run(info, bind_result(lineage, bind) if bind else lineage)

    run("a", "CREATE TABLE t AS SELECT 1 AS x")
    run("b", "SELECT x FROM t", bind=LAST_RESULT)
    msg = _valid(graph_message(graph, notebook="nb.ipynb"))
    assert [d["name"] for d in msg["datasets"]] == ["t"]
    assert {c["cell_id"]: c["read_only"] for c in msg["cells"]} == {"a": False, "b": True}
    assert all(LAST_RESULT not in e["target"] for e in msg["edges"])

    run("c", "CREATE TABLE u AS SELECT x FROM _")
    msg = _valid(graph_message(graph, notebook="nb.ipynb"))
    assert {d["name"] for d in msg["datasets"]} == {"t", "_", "u"}
