"""Property: extraction never raises on arbitrary or mangled SQL and always returns a list."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlweave.lineage.extract import extract
from sqlweave.lineage.model import StatementLineage

REAL = (
    "WITH c AS (SELECT a.x, sum(b.y) AS s FROM a JOIN b ON a.id = b.id GROUP BY a.x) "
    "INSERT INTO t (x, s) SELECT x, s FROM c WHERE s > 0",
    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
    "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)",
    "SELECT id, row_number() OVER (PARTITION BY g ORDER BY ts) AS rn, "
    "CASE WHEN k > 0 THEN v END AS c FROM 'data/x.parquet'",
    "UPDATE t SET a = (SELECT max(v) FROM s WHERE s.id = t.id) WHERE t.flag",
    "CREATE EXTERNAL TABLE e (a INT) STORED AS CSV LOCATION 'e.csv'",
    "SELECT x FROM a UNION ALL SELECT y FROM b EXCEPT SELECT z FROM c",
    "ALTER TABLE s.a RENAME TO b; DROP TABLE IF EXISTS b, c",
)
DIALECTS = st.sampled_from(
    [None, "duckdb", "spark", "bigquery", "snowflake", "tsql", "mysql", "hive", "trino"]
)
SQL_ALPHABET = st.sampled_from(
    [*"abcxyz_ ();,.*'\"`=<>+-/\n", "SELECT ", "FROM ", "WITH ", "JOIN ", "ON ", " AS "]
)


def _check(sql: str, dialect: str | None) -> None:
    result = extract(sql, dialect)
    assert isinstance(result, list)
    assert all(isinstance(s, StatementLineage) for s in result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120), DIALECTS)
def test_random_text_never_raises(sql: str, dialect: str | None) -> None:
    _check(sql, dialect)


@settings(max_examples=150, deadline=None)
@given(st.lists(SQL_ALPHABET, max_size=40).map("".join), DIALECTS)
def test_sql_like_soup_never_raises(sql: str, dialect: str | None) -> None:
    _check(sql, dialect)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(REAL), st.integers(0, 400), DIALECTS)
def test_truncated_statements_never_raise(sql: str, cut: int, dialect: str | None) -> None:
    _check(sql[: cut % (len(sql) + 1)], dialect)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(REAL), st.randoms(use_true_random=False), DIALECTS)
def test_shuffled_tokens_never_raise(sql: str, rng, dialect: str | None) -> None:
    words = sql.split()
    rng.shuffle(words)
    _check(" ".join(words), dialect)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), DIALECTS)
def test_a_bad_statement_never_hides_its_neighbours(garbage: str, dialect: str | None) -> None:
    garbage = garbage.replace(";", " ")
    statements = extract(f"SELECT x FROM first_t;\n{garbage}\n;\nSELECT y FROM last_t", dialect)
    reads = [{name.lower() for name in s.reads} for s in statements]
    assert reads[0] == {"first_t"}
    assert reads[-1] == {"last_t"}
