import datetime
import decimal

import pytest

import sqlweave
from sqlweave import params
from sqlweave.errors import ParameterError


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("SELECT :a", "SELECT $a"),
        ("SELECT ':a', \":a\"", "SELECT ':a', \":a\""),
        ("SELECT x::int, :a::text", "SELECT x::int, $a::text"),
        ("SELECT 1 -- :a\n", "SELECT 1 -- :a\n"),
        ("SELECT f(:a, :b)", "SELECT f($a, $b)"),
        ("SELECT arr[1:2]", "SELECT arr[1:2]"),
        ("SELECT $1", "SELECT $1"),
    ],
)
def test_rewrite(sql, rewritten):
    got, _ = params.bind(sql, {"a": 1, "b": 2})
    assert got == rewritten


def test_unbound_parameter_points_at_it():
    with pytest.raises(ParameterError) as err:
        params.bind("SELECT 1\nWHERE x = :missing", {})
    assert err.value.position == sqlweave.errors.Position(2, 11)
    assert "missing" in str(err.value)


def test_non_scalar_is_refused():
    with pytest.raises(ParameterError, match="only scalars"):
        params.bind("SELECT :xs", {"xs": [1, 2]})


@pytest.mark.parametrize("engine", ["local", "duckdb"])
@pytest.mark.parametrize(
    "value",
    [
        42,
        2.5,
        True,
        "x'; DROP TABLE t; --",
        datetime.date(2024, 2, 29),
        decimal.Decimal("12.50"),
    ],
    ids=["int", "float", "bool", "injection", "date", "decimal"],
)
def test_values_round_trip_as_typed_literals(engine, value):
    s = sqlweave.Session(engine)
    s.sql("CREATE TABLE t AS SELECT 1 AS a")
    got = s.sql("SELECT :v AS v", namespace={"v": value}).to_arrow().column("v")[0].as_py()
    assert got == value
    assert s.tables() == ["t"]  # the injection attempt did not drop anything


def test_explicit_params_win_over_namespace():
    s = sqlweave.Session()
    r = s.sql("SELECT :n AS n", params={"n": 2}, namespace={"n": 1})
    assert r.to_arrow().to_pylist() == [{"n": 2}]


@pytest.mark.parametrize("engine", ["local", "duckdb"])
def test_parameters_glued_to_operators(engine):
    s = sqlweave.Session(engine)
    r = s.sql("SELECT -:x AS a, 2<>:x AS b, 1 AS c WHERE 2=:x", namespace={"x": 2})
    assert r.to_arrow().to_pylist() == [{"a": -2, "b": False, "c": 1}]
