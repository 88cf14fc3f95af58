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
