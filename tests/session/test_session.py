import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sqlweave
from sqlweave.errors import ParseError, PlanError, Position, UsageError
from sqlweave.events import Status

ENGINES = ["local", "duckdb"]


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "orders").mkdir()
    for i in range(3):
        pq.write_table(
            pa.table(
                {"id": [i * 10 + j for j in range(10)], "amount": [float(j) for j in range(10)]}
            ),
            tmp_path / "orders" / f"part-{i}.parquet",
        )
    (tmp_path / "people.csv").write_text("id,name\n1,ada\n2,grace\n")
    (tmp_path / "events.json").write_text('{"k": 1}\n{"k": 2}\n')
    return tmp_path


@pytest.mark.parametrize("engine", ENGINES)
def test_register_files(engine, data_dir):
    s = sqlweave.Session(engine)
    s.register("orders", data_dir / "orders")
    s.register("people", str(data_dir / "people.csv"))
    s.register("events", str(data_dir / "events.json"))
    s.register("subset", str(data_dir / "orders" / "part-[01].parquet"))
    assert s.tables() == ["events", "orders", "people", "subset"]
    assert s.schema("orders").names == ["id", "amount"]
    assert s.sql("SELECT count(*) AS n FROM orders").to_arrow().column(0)[0].as_py() == 30
    assert s.sql("SELECT count(*) AS n FROM subset").to_arrow().column(0)[0].as_py() == 20
    assert s.sql("SELECT name FROM people ORDER BY id").to_arrow().column(0).to_pylist() == [
        "ada",
        "grace",
    ]
    assert s.sql("SELECT sum(k) AS s FROM events").to_arrow().column(0)[0].as_py() == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_register_missing_path_is_a_usage_error(engine, tmp_path):
    with pytest.raises(UsageError, match="no data files"):
        sqlweave.Session(engine).register("x", tmp_path / "nothing")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "make",
    [
        lambda: pa.table({"a": [1, 2, 3]}),
        lambda: pd.DataFrame({"a": [1, 2, 3]}),
        lambda: pl.DataFrame({"a": [1, 2, 3]}),
        lambda: pa.RecordBatchReader.from_batches(
            pa.schema([("a", pa.int64())]), [pa.record_batch({"a": [1, 2, 3]})]
        ),
    ],
    ids=["arrow", "pandas", "polars", "reader"],
)
def test_frames_by_name(engine, make):
    s = sqlweave.Session(engine)
    r = s.sql("SELECT sum(a) AS total FROM frame", namespace={"frame": make()})
    assert r.to_arrow().to_pylist() == [{"total": 6}]
    assert s.tables() == []  # registered only for the statement


@pytest.mark.parametrize("engine", ENGINES)
def test_cross_join_of_frames_with_schema_metadata(engine):
    # pandas' schema metadata made DataFusion refuse the plan ("Physical input schema should
    # be the same as the one converted from logical input schema"), found by a new user
    a = pd.DataFrame({"x": [1, 2, 3]})
    b = pa.table({"y": ["p", "q"]}).replace_schema_metadata({"origin": "user"})
    s = sqlweave.Session(engine)
    s.register("b", b)
    r = s.sql("SELECT count(*) AS n FROM a CROSS JOIN b", namespace={"a": a})
    assert r.to_arrow().to_pylist() == [{"n": 6}]
    r = s.sql("SELECT count(*) AS n FROM a CROSS JOIN a AS a2", namespace={"a": a})
    assert r.to_arrow().to_pylist() == [{"n": 9}]


def test_catalog_table_wins_over_variable_and_says_so():
    s = sqlweave.Session()
    s.register("t", pa.table({"a": [1]}))
    r = s.sql("SELECT * FROM t", namespace={"t": pd.DataFrame({"a": [9, 9]})})
    assert r.to_arrow().to_pylist() == [{"a": 1}]
    assert any("catalog table" in n for n in r.notices)
    assert "catalog table" in r._repr_html_()


def test_a_column_named_like_a_frame_is_not_a_table():
    s = sqlweave.Session()
    s.register("t", pa.table({"a": [1]}))
    r = s.sql("SELECT a FROM t", namespace={"a": pd.DataFrame({"x": [1]})})
    assert r.notices == ()


@pytest.mark.parametrize("engine", ENGINES)
def test_script_reports_each_statement(engine):
    s = sqlweave.Session(engine)
    said = []
    r = s.sql(
        "CREATE TABLE t AS SELECT 1 AS a; INSERT INTO t VALUES (2), (3);"
        " CREATE VIEW v AS SELECT a * 2 AS b FROM t; SELECT b FROM v ORDER BY b",
        feedback=said.append,
    )
    assert said == ["created table t", "inserted 2 rows into t", "created view v"]
    assert r.to_arrow().column("b").to_pylist() == [2, 4, 6]


@pytest.mark.parametrize("engine", ENGINES)
def test_conversions(engine):
    r = sqlweave.Session(engine).sql("SELECT 1 AS x, 'a' AS y")
    assert r.to_pandas().to_dict("records") == [{"x": 1, "y": "a"}]
    assert r.to_polars().to_dicts() == [{"x": 1, "y": "a"}]
    assert pa.table(r).to_pylist() == [{"x": 1, "y": "a"}]  # __arrow_c_stream__
    assert pl.DataFrame(r).shape == (1, 2)
    assert r.to_arrow() is r.table  # no copy


@pytest.mark.parametrize(
    ("engine", "sql", "kind", "position", "hint"),
    [
        ("local", "SELECT 1;\nSELEC 2", ParseError, Position(2, 1), "Did you mean SELECT?"),
        ("local", "SELECT *\nFROM ordrs", PlanError, Position(2, 6), "Did you mean orders?"),
        ("local", "SELECT amout FROM orders", PlanError, Position(1, 8), "Did you mean amount?"),
        ("duckdb", "SELECT 1;\nSELEC 2", ParseError, Position(2, 1), "Did you mean SELECT?"),
        ("duckdb", "SELECT *\nFROM ordrs", PlanError, Position(2, 6), 'Did you mean "orders"?'),
    ],
)
def test_errors_point_at_the_position(engine, sql, kind, position, hint, data_dir):
    s = sqlweave.Session(engine)
    s.register("orders", data_dir / "orders")
    with pytest.raises(kind) as err:
        s.sql(sql)
    assert err.value.position == position
    assert err.value.hint == hint
    rendered = err.value.render().splitlines()
    caret_line = rendered[2]
    assert caret_line.strip() == "^"
    # the caret sits under the offending column
    assert caret_line.index("^") - rendered[1].index(":") - 2 == position.column - 1


def test_listeners_see_every_statement():
    s = sqlweave.Session()
    events = []
    s.add_listener(events.append)
    s.add_listener(lambda e: 1 / 0)  # a broken listener never fails the statement
    s.sql("CREATE TABLE t AS SELECT 1 AS a; SELECT a FROM t")
    with pytest.raises(PlanError):
        s.sql("SELECT nope FROM t")
    assert [(e.sql, e.status) for e in events] == [
        ("CREATE TABLE t AS SELECT 1 AS a", Status.COMPLETE),
        ("SELECT a FROM t", Status.COMPLETE),
        ("SELECT nope FROM t", Status.FAIL),
    ]
    assert events[1].rows == 1 and events[1].catalog == {"t": ["a"]}


def test_set_engine_keeps_registered_tables(data_dir):
    s = sqlweave.Session()
    s.register("orders", data_dir / "orders")
    s.register("mem", pa.table({"a": [1, 2]}))
    s.set_engine("duckdb")
    assert s.engine.name == "duckdb"
    assert s.tables() == ["mem", "orders"]
    assert s.sql("SELECT count(*) FROM orders").to_arrow().column(0)[0].as_py() == 30


def test_bad_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown engine"):
        sqlweave.Session("postgres")


def test_empty_script_is_a_usage_error():
    with pytest.raises(UsageError):
        sqlweave.Session().sql("  -- nothing\n")
