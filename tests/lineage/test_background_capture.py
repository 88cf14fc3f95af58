"""Lineage captured on the background thread sees what the statement saw when it ran."""

from __future__ import annotations

import pandas as pd

import sqlweave
from sqlweave.lineage.capture import LineageCapture


def test_background_lineage_expands_star_over_a_dataframe():
    s = sqlweave.Session()
    capture = LineageCapture(background=True)
    s.add_listener(capture)
    s.sql(
        "CREATE TABLE c AS SELECT * FROM df", namespace={"df": pd.DataFrame({"p": [1], "q": [2]})}
    )
    capture.close()
    assert capture.graph.columns("c") == ("p", "q")  # not "*": the frame's columns were known


def test_background_lineage_uses_the_schema_at_statement_time():
    s = sqlweave.Session()
    capture = LineageCapture(background=True)
    s.add_listener(capture)
    s.sql(
        "CREATE OR REPLACE TABLE t AS SELECT 1 AS a;"
        " CREATE TABLE u AS SELECT * FROM t;"
        " CREATE OR REPLACE TABLE t AS SELECT 2 AS b"
    )
    capture.close()
    assert capture.graph.columns("u") == ("a",)


def test_a_statement_returns_while_its_lineage_is_still_being_extracted(ip, monkeypatch):
    """README: capture runs off the statement's path. The notebook's extractor is swapped for
    one that blocks until released: the %%sql cell still returns, its lineage is extracted
    on another thread, and the graph gets it only after the release."""
    import threading

    from waiting import wait_for

    from sqlweave.lineage.capture import _default_extract
    from sqlweave.magics.sql import SqlWeave

    entered, release = threading.Event(), threading.Event()
    extracted_on: list[threading.Thread] = []

    def blocking_extract(sql, dialect=None, schema=None):
        extracted_on.append(threading.current_thread())
        entered.set()
        release.wait(60)  # a synchronous capture would hold the cell this long, then fail below
        return _default_extract(sql, dialect, schema)

    try:
        (magics,) = [c for c in ip.configurables if isinstance(c, SqlWeave)]
        capture = magics.lineage_magics.capture
        monkeypatch.setattr(capture, "extract", blocking_extract)
        result = ip.run_cell("%%sql --quiet\nCREATE TABLE slow_lineage AS SELECT 1 AS x")
        result.raise_error()
        assert not release.is_set()  # the cell is done and its lineage not yet released
        assert magics.session.sql("SELECT x FROM slow_lineage").to_arrow().to_pylist() == [{"x": 1}]
        wait_for(entered.is_set, 30, "the lineage to be extracted in the background")
        assert extracted_on[0] is not threading.current_thread()
        assert "slow_lineage" not in capture.graph.datasets()
        release.set()
        capture.flush()
        assert "slow_lineage" in capture.graph.datasets()
    finally:
        release.set()
