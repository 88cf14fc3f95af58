"""The cluster answers like embedded DataFusion: one minimal repro per root cause found.

Each query runs on ``sqlweave.Session()`` (embedded) and on
``sqlweave.Session(engine=cluster.address)`` (a real coordinator and 2 workers) over the
same tables, registered as Arrow tables so the cluster really distributes them. One
cluster serves the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

import sqlweave
from sqlweave.cluster.localcluster import LocalCluster

TABLES = {
    "t": pa.table({"i": [1, 2, 3, 4, 5], "j": [10, None, 30, None, 50], "s": list("abcde")}),
    "u": pa.table({"k": list(range(100)), "v": [x * 0.5 for x in range(100)]}),
    "tz": pa.table({"ts": pa.array([0, 10**12, None], pa.timestamp("us", tz="UTC"))}),
    "dict": pa.table(
        {
            "d": pa.array(["x", "y", "x", None]).dictionary_encode(),
            "n": pa.array([1, 2, 3, 4]).dictionary_encode(),
        }
    ),
    "st": pa.table(
        {"id": [1, 2, 3], "s": pa.array([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, None])}
    ),
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2, heartbeat_s=0.5) as c:
        yield c


def _session(engine: object) -> sqlweave.Session:
    s = sqlweave.Session(engine)
    for name, table in TABLES.items():
        s.register(name, table)
    return s


@pytest.fixture
def sessions(cluster: LocalCluster) -> Iterator[tuple[sqlweave.Session, sqlweave.Session]]:
    """(embedded, cluster), fresh for each test so that SET settings do not leak."""
    embedded, remote = _session("local"), _session(cluster.address)
    yield embedded, remote
    remote.close()
    embedded.close()


def same_answer(sessions, sql: str) -> list[dict]:
    embedded, remote = sessions
    want = embedded.sql(sql).to_arrow()
    got = remote.sql(sql).to_arrow()
    assert got.schema.names == want.schema.names
    assert got.schema.types == want.schema.types, sql
    assert repr(got.to_pylist()) == repr(want.to_pylist()), sql  # (repr: NaN equals NaN)
    return got.to_pylist()


def explain(session: sqlweave.Session, sql: str) -> str:
    table = session.sql(f"EXPLAIN {sql}").to_arrow()
    return "\n".join(str(v) for v in table.column("plan").to_pylist())


# ----- plans Substrait cannot carry run whole on the coordinator ---------------------------

LOSSY = {
    "range-frame-offset": (
        "SELECT i, count(*) OVER (ORDER BY i RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS c "
        "FROM t ORDER BY i",
        "window frame offsets",
    ),
    "ignore-nulls": (
        "SELECT i, lag(j) IGNORE NULLS OVER (ORDER BY i) AS c FROM t ORDER BY i",
        "IGNORE NULLS",
    ),
    "window-filter": (
        "SELECT i, sum(i) FILTER (WHERE i > 2) OVER (ORDER BY i) AS c FROM t ORDER BY i",
        "FILTER",
    ),
    "window-distinct": (
        "SELECT i, count(DISTINCT j) OVER (PARTITION BY i % 2) AS c FROM t ORDER BY i",
        "DISTINCT",
    ),
    "struct-names": ("SELECT struct(1 AS a, 'e') AS s, i FROM t ORDER BY i", "struct"),
    "time-zone-name": (
        "SELECT '2000-12-01 04:04:12' AT TIME ZONE 'America/New_York' AS v, i FROM t",
        "time zones",
    ),
    "time-zone-cast-in-filter": (
        "SELECT count(*) AS n FROM tz WHERE (ts AT TIME ZONE '-03:00')::varchar LIKE '%-03:00'",
        "time zones",
    ),
    "array-agg-ignore-nulls": (
        "SELECT i % 2 AS g, array_agg(j IGNORE NULLS ORDER BY i) AS a FROM t GROUP BY i % 2 "
        "ORDER BY g",
        "IGNORE NULLS",
    ),
    "window-filter-null": (
        "SELECT i, count(*) FILTER (WHERE NULL) OVER () AS c FROM t ORDER BY i",
        "FILTER",
    ),
}


@pytest.mark.parametrize("case", sorted(LOSSY))
def test_lossy_plans_answer_like_embedded_and_explain_why(sessions, case: str) -> None:
    sql, reason = LOSSY[case]
    same_answer(sessions, sql)
    assert reason in explain(sessions[1], sql)


# ----- cluster-only errors: the query falls back and answers -------------------------------

CLUSTER_ONLY_ERRORS = {
    "infinity-literal": "SELECT ln(0) AS v",
    "infinity-over-a-table": "SELECT i, ln(0) AS v, 'inf'::double AS w FROM t ORDER BY i",
    "exists-constant-over-a-table": "SELECT i FROM t WHERE EXISTS (SELECT 1) ORDER BY i",
    "list-of-struct-over-a-table": "SELECT i, [struct(i AS a)] AS v FROM t ORDER BY i",
    "nan-literal": "SELECT 'NaN'::double AS v, i FROM t ORDER BY i",
    "one-arg-log": "SELECT log(100) AS v, log(i) AS w FROM t ORDER BY i",
    "exists-constant": "SELECT 1 AS v WHERE EXISTS (SELECT 1)",
    "generate-series": "SELECT value FROM generate_series(1, 3) ORDER BY value",
    "generate-series-join": (
        "SELECT i, value FROM t JOIN generate_series(1, 3) g ON t.i = g.value ORDER BY i"
    ),
    "list-of-struct": "SELECT [struct(1 AS a)] AS v",
    "duplicate-names-after-join": (
        "SELECT a.i AS x, b.i AS y FROM (SELECT i FROM t) a JOIN (SELECT i FROM t) b "
        "ON a.i = b.i ORDER BY 1"
    ),
    "interval-day-time": "SELECT arrow_cast('1 day', 'Interval(DayTime)') IS NOT NULL AS v",
    "named-struct": "SELECT named_struct('field_a', 1, 'field_b', 2) AS s",
    "list-of-struct-widened": "SELECT [{val: 1}, {val: 2.5}] AS l",
    "struct-column-under-window": (
        "SELECT id, s['a'] AS a, count(*) OVER (PARTITION BY id) AS n FROM st ORDER BY id"
    ),
    "duplicate-unqualified-names": (
        "SELECT c.b, e.d FROM (SELECT 1 AS a, 2 AS b) c JOIN (SELECT 1 AS a, 3 AS d) e ON c.a = e.a"
    ),
    "duplicate-names-cross-join": (
        "SELECT a.i AS x, b.i AS y, sum(a.j) AS s FROM t a CROSS JOIN t b GROUP BY a.i, b.i "
        "ORDER BY 1, 2"
    ),
    "log-of-column": "SELECT log(v) AS l FROM u WHERE v > 0 ORDER BY 1 LIMIT 3",
    "zero-following": (
        "SELECT i, sum(i) OVER (ORDER BY i ROWS BETWEEN UNBOUNDED PRECEDING AND 0 FOLLOWING) "
        "AS s FROM t ORDER BY i"
    ),
    "dictionary-result": "SELECT arrow_cast(s, 'Dictionary(Int32, Utf8)') AS d FROM t ORDER BY i",
    "dictionary-in-list": "SELECT [arrow_cast('a', 'Dictionary(Int32, Utf8)')] AS d",
    "dictionary-table": "SELECT d, n, arrow_typeof(n) AS tn FROM dict ORDER BY n",
    "dictionary-table-grouped": "SELECT arrow_typeof(d) AS t, count(*) AS c FROM dict GROUP BY d ORDER BY c, t",
}


@pytest.mark.parametrize("case", sorted(CLUSTER_ONLY_ERRORS))
def test_queries_embedded_answers_do_not_fail_on_the_cluster(sessions, case: str) -> None:
    same_answer(sessions, CLUSTER_ONLY_ERRORS[case])


@pytest.mark.parametrize(
    ("value", "arrow"),
    [
        ("'1 day', 'Interval(DayTime)'", "day_time_interval"),
        ("'1 month', 'Interval(YearMonth)'", "month_interval"),
    ],
)
def test_interval_results_do_not_kill_the_coordinator(sessions, value: str, arrow: str) -> None:
    _, remote = sessions
    # (pyarrow has no Python class for these types: they travel as Arrow IPC)
    table = remote.sql(f"SELECT arrow_cast({value}) AS v, i FROM t").to_arrow()
    assert table.num_rows == 5 and str(table.schema.field("v").type) == arrow
    assert same_answer(sessions, "SELECT count(*) AS n FROM u") == [{"n": 100}]


def test_explain_says_why_a_failed_fragment_ran_on_the_coordinator(sessions) -> None:
    # (two output columns named i: the coordinator's final fragment does not decode)
    sql = "SELECT a.i, b.i FROM (SELECT i FROM t) a JOIN (SELECT i FROM t) b ON a.i = b.i"
    plan = explain(sessions[1], sql)
    assert "a distributed fragment failed" in plan and "duplicate" in plan, plan


def test_a_dictionary_of_dictionaries_comes_back(sessions) -> None:
    # (Arrow IPC cannot carry it: it travels as its inner dictionary)
    sql = (
        "SELECT arrow_cast(arrow_cast(s, 'Dictionary(UInt32, Utf8)'), "
        "'Dictionary(Int32, Dictionary(UInt32, Utf8))') AS d FROM t ORDER BY i"
    )
    same_answer(sessions, sql)


def test_data_errors_still_fail_on_both(sessions) -> None:
    embedded, remote = sessions
    sql = "SELECT k / (k - k) AS v FROM u"
    with pytest.raises(sqlweave.errors.SqlError, match=r"(?i)divide by zero"):
        embedded.sql(sql)
    with pytest.raises(sqlweave.errors.SqlError, match=r"(?i)divide by zero"):
        remote.sql(sql)


def test_faithful_queries_stay_distributed(sessions) -> None:
    sql = "SELECT k % 3 AS g, count(*) AS n, sum(v) AS total FROM u GROUP BY k % 3 ORDER BY g"
    same_answer(sessions, sql)
    plan = explain(sessions[1], sql)
    assert "could not be distributed" not in plan and "partial aggregate" in plan, plan


# ----- session settings plan and run the client's queries, and stay the client's ----------

SETTINGS = {
    "dialect": (
        "SET datafusion.sql_parser.dialect = 'postgresql'",
        "SELECT 2 ^ 3 AS p, count(*) AS n FROM u",
    ),
    "null-ordering": (
        "SET datafusion.sql_parser.default_null_ordering = 'nulls_min'",
        "SELECT i, j FROM t ORDER BY j, i",
    ),
    "time-zone": ("SET TIME ZONE = 'America/New_York'", "SELECT arrow_typeof(now()) AS t"),
    "time-zone-cast": (
        "SET TIME ZONE = '+08:00'",
        "SELECT '2000-01-01T00:00:00'::TIMESTAMP::TIMESTAMPTZ AS x",
    ),
    "float-as-decimal": (
        "SET datafusion.sql_parser.parse_float_as_decimal = true",
        "SELECT 100000000000000000000000000000000000::decimal(38,0) + k AS x FROM u WHERE k < 2",
    ),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_settings_apply_to_cluster_queries(sessions, case: str) -> None:
    setting, sql = SETTINGS[case]
    before = same_answer(sessions, sql)
    for s in sessions:
        s.sql(setting)
    assert same_answer(sessions, sql) != before  # (so the setting did change the answer)


def test_settings_survive_switching_the_information_schema_off(sessions) -> None:
    for s in sessions:
        s.sql("SET datafusion.catalog.information_schema = false")
        s.sql("SET datafusion.sql_parser.dialect = 'postgresql'")
    assert same_answer(sessions, "SELECT 2 ^ 3 AS p, count(*) AS n FROM u") == [
        {"p": 8.0, "n": 100}
    ]
    for s in sessions:
        s.sql("RESET datafusion.catalog.information_schema")


def test_settings_do_not_leak_to_other_clients(sessions, cluster) -> None:
    _, remote = sessions
    remote.sql("SET datafusion.sql_parser.dialect = 'postgresql'")
    assert remote.sql("SELECT 2 ^ 3 AS p FROM u LIMIT 1").to_arrow().to_pylist() == [{"p": 8.0}]
    other = _session(cluster.address)
    try:
        assert other.sql("SELECT 2 ^ 3 AS p FROM u LIMIT 1").to_arrow().to_pylist() == [{"p": 1}]
    finally:
        other.close()


def test_settings_reach_the_workers(sessions) -> None:
    embedded, remote = sessions
    sql = "SELECT k, count(*) AS n FROM u GROUP BY k ORDER BY k LIMIT 2"
    for s in sessions:
        s.sql("SET datafusion.runtime.memory_limit = '1K'")
    with pytest.raises(sqlweave.errors.SqlError, match="Resources exhausted"):
        embedded.sql(sql)
    with pytest.raises(sqlweave.errors.WorkerError, match=r"(?i)resources exhausted"):
        remote.sql(sql)  # the aggregate ran on a worker, under the client's limit


# ----- stages without columns keep their rows ------------------------------------------------

COLUMNLESS = [
    "SELECT count(*) AS n FROM (SELECT i FROM t LIMIT 3)",
    "SELECT count(*) AS n FROM (SELECT k FROM u WHERE k > 10 LIMIT 50)",
    "SELECT count(*) AS n FROM t a CROSS JOIN t b",
    "SELECT count(*) AS n FROM u WHERE k IN (SELECT i FROM t)",
]


@pytest.mark.parametrize("sql", COLUMNLESS)
def test_stages_without_columns_keep_their_rows(sessions, sql: str) -> None:
    same_answer(sessions, sql)


# ----- tables made by statements -------------------------------------------------------------


def test_declared_csv_schema_and_options_are_kept(sessions, tmp_path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("1.5,3\n2.25,4\n")
    for s in sessions:
        s.sql(
            "CREATE EXTERNAL TABLE declared_csv (a DECIMAL(10,6), b TINYINT) STORED AS CSV "
            f"LOCATION '{path}' OPTIONS ('has_header' 'false')"
        )
    rows = same_answer(
        sessions,
        "SELECT a, b, arrow_typeof(a) AS ta, arrow_typeof(b) AS tb FROM declared_csv ORDER BY b",
    )
    assert len(rows) == 2 and rows[0]["tb"] == "Int8"


def test_external_table_at_a_location_made_later(sessions, tmp_path) -> None:
    for i, s in enumerate(sessions):
        s.sql(f"CREATE EXTERNAL TABLE later (x INT) STORED AS PARQUET LOCATION '{tmp_path}/{i}/'")
        s.sql("INSERT INTO later VALUES (1), (2)")
    assert same_answer(sessions, "SELECT sum(x) AS s FROM later") == [{"s": 3}]


def test_select_into_creates_a_table(sessions) -> None:
    for s in sessions:
        s.sql("SELECT i INTO t_copy FROM t WHERE i > 2")
    assert same_answer(sessions, "SELECT count(*) AS n FROM t_copy") == [{"n": 3}]


def test_rows_inserted_into_a_registered_table_are_seen(sessions) -> None:
    for s in sessions:
        s.sql("INSERT INTO t VALUES (6, 60, 'f')")
    assert same_answer(sessions, "SELECT count(*) AS n, sum(i) AS s FROM t") == [{"n": 6, "s": 21}]
