"""``%lineage stale`` through views follows the engine: a DuckDB view reads its tables by name
at each query, a DataFusion view keeps the rows of the table it was created over. Each test
first checks what the engine really returns, then what ``%lineage stale`` says of it."""

from __future__ import annotations

import pytest

from sqlweave.magics.sql import SqlWeave


def cell(ip, cell_id: str, source: str) -> None:
    ip.run_cell(source, store_history=True, cell_id=cell_id).raise_error()


def count_of_big(ip) -> int:
    cell(ip, "count", "%%sql counted << --quiet\nSELECT count(*) AS n FROM big")
    return int(ip.user_ns["counted"].to_pandas()["n"][0])


def stale_cells(ip) -> set[str]:
    (magics,) = [c for c in ip.configurables if isinstance(c, SqlWeave)]
    return {s.cell.cell_id for s in magics.lineage_magics.notebook_graph().stale()}


@pytest.fixture(params=["duckdb", "datafusion"])
def engine(request, ip) -> str:
    if request.param == "duckdb":
        ip.run_line_magic("sqlweave", "engine duckdb")
    return request.param


def test_stale_through_a_view_follows_the_engines_binding(ip, engine: str) -> None:
    cell(ip, "t", "%%sql --quiet\nCREATE TABLE t AS SELECT 1 AS x UNION ALL SELECT 2")
    cell(ip, "view", "%%sql --quiet\nCREATE VIEW big AS SELECT * FROM t WHERE x > 0")
    cell(ip, "early", "%%sql --quiet\nSELECT count(*) FROM big")
    cell(ip, "replace", "%%sql --quiet\nCREATE OR REPLACE TABLE t AS SELECT 5 AS x")
    cell(ip, "late", "%%sql --quiet\nSELECT count(*) FROM big")
    rows = count_of_big(ip)
    if engine == "duckdb":
        assert rows == 1  # the view reads the new t
        # only the query that ran before t was replaced shows old rows
        assert stale_cells(ip) == {"early"}
    else:
        assert rows == 2  # the view still shows the old t
        assert stale_cells(ip) == {"view", "early", "late", "count"}


def test_a_duckdb_view_over_a_view_reads_through_both(ip) -> None:
    ip.run_line_magic("sqlweave", "engine duckdb")
    cell(ip, "t", "%%sql --quiet\nCREATE TABLE t AS SELECT 1 AS x UNION ALL SELECT 2")
    cell(ip, "v1", "%%sql --quiet\nCREATE VIEW v1 AS SELECT * FROM t")
    cell(ip, "v2", "%%sql --quiet\nCREATE VIEW big AS SELECT * FROM v1 WHERE x > 0")
    cell(ip, "early", "%%sql --quiet\nCREATE TABLE kept AS SELECT * FROM big")
    cell(ip, "replace", "%%sql --quiet\nCREATE OR REPLACE TABLE t AS SELECT 5 AS x")
    assert count_of_big(ip) == 1
    # the table copied from the view before t changed holds old rows; the views do not
    assert stale_cells(ip) == {"early"}
