""" "Did you mean" knows the notebook's DataFrames and saved results, on every engine."""

from __future__ import annotations

import pandas as pd
import pytest

import sqlweave
from sqlweave.errors import PlanError


@pytest.mark.parametrize("engine", ["local", "duckdb"])
def test_magic_suggests_a_notebook_dataframe(ip, engine: str) -> None:
    ip.run_line_magic("sqlweave", f"engine {engine}")
    ip.user_ns["flights"] = pd.DataFrame({"carrier": ["UA"], "dep_delay": [3.0]})
    ip.run_cell_magic("sql", "", "CREATE TABLE flight_weather AS SELECT 1 AS origin")
    result = ip.run_cell("%%sql\nSELECT carrier FROM flight")
    assert isinstance(result.error_in_exec, PlanError)
    assert result.error_in_exec.hint == "Did you mean flights?"


def test_magic_suggests_an_earlier_result(ip) -> None:
    ip.run_cell("%%sql carrier_totals <<\nSELECT 'UA' AS carrier, 3 AS n")
    result = ip.run_cell("%%sql\nSELECT * FROM carrier_total")
    assert isinstance(result.error_in_exec, PlanError)
    assert result.error_in_exec.hint == "Did you mean carrier_totals?"


def test_session_suggests_dataframes_on_every_engine(session: sqlweave.Session) -> None:
    session.sql("CREATE TABLE flight_weather AS SELECT 1 AS origin")
    ns = {"flights": pd.DataFrame({"carrier": ["UA"]})}
    with pytest.raises(PlanError) as info:
        session.sql("SELECT carrier FROM flight", namespace=ns)
    assert info.value.hint == "Did you mean flights?"
    # the catalog's own tables are still suggested when they are closest
    with pytest.raises(PlanError) as info:
        session.sql("SELECT * FROM flight_weathr", namespace=ns)
    assert info.value.hint == "Did you mean flight_weather?"
