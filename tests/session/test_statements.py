import pytest

from sqlweave.statements import Kind, explained, split, tables_read


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("SELECT 1", [("SELECT 1", Kind.QUERY, None)]),
        ("select ';' as x;", [("select ';' as x", Kind.QUERY, None)]),
        (
            'CREATE TABLE IF NOT EXISTS s.t AS SELECT 1; insert into "T" values (1)',
            [
                ("CREATE TABLE IF NOT EXISTS s.t AS SELECT 1", Kind.CREATE_TABLE, "s.t"),
                ('insert into "T" values (1)', Kind.INSERT, "T"),
            ],
        ),
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION 'a;b/'",
            [("CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION 'a;b/'", Kind.CREATE_TABLE, "x")],
        ),
        (
            "CREATE OR REPLACE VIEW v AS SELECT 1",
            [("CREATE OR REPLACE VIEW v AS SELECT 1", Kind.CREATE_VIEW, "v")],
        ),
        ("DROP VIEW IF EXISTS v", [("DROP VIEW IF EXISTS v", Kind.DROP, "v")]),
        ("UPDATE t SET a = 1", [("UPDATE t SET a = 1", Kind.UPDATE, "t")]),
        ("DELETE FROM t WHERE a = 1", [("DELETE FROM t WHERE a = 1", Kind.DELETE, "t")]),
        (
            "WITH a AS (SELECT 1) SELECT * FROM a",
            [("WITH a AS (SELECT 1) SELECT * FROM a", Kind.QUERY, None)],
        ),
        ("EXPLAIN SELECT 1", [("EXPLAIN SELECT 1", Kind.QUERY, None)]),
        (
            "SET datafusion.execution.batch_size = 1024",
            [("SET datafusion.execution.batch_size = 1024", Kind.OTHER, None)],
        ),
        (" ; ;\n", []),
        ("-- only a comment", []),
    ],
)
def test_split(script, expected):
    got = [(s.text, s.kind, s.target) for s in split(script)]
    assert got == expected


def test_offsets_point_into_the_script():
    script = "SELECT 1;\n\n  SELECT 2 ;SELECT 3"
    for stmt in split(script):
        assert script[stmt.start : stmt.end] == stmt.text


def test_unreadable_text_is_one_statement():
    # an unterminated string cannot be tokenized: the engine reports the error instead
    stmts = split("SELECT 'oops")
    assert len(stmts) == 1 and stmts[0].text == "SELECT 'oops"


def test_statements_after_quoted_tokens_keep_their_offsets():
    from sqlweave.statements import split

    script = '"t"; \'a\'; SELECT "x" FROM t'
    assert [(st.text, st.start) for st in split(script)] == [
        ('"t"', 0),
        ("'a'", 5),
        ('SELECT "x" FROM t', 10),
    ]


@pytest.mark.parametrize(
    ("sql", "inner"),
    [
        ("EXPLAIN SELECT a FROM t", "SELECT a FROM t"),
        ("explain analyze verbose select a from t", "select a from t"),
        ("EXPLAIN QUERY PLAN SELECT a FROM t", "SELECT a FROM t"),
        ("EXPLAIN FORMAT indent SELECT a FROM t", "SELECT a FROM t"),
        ("EXPLAIN (ANALYZE, FORMAT JSON) SELECT a FROM t", "SELECT a FROM t"),
        ("EXPLAIN (SELECT a FROM t)", "(SELECT a FROM t)"),
        ("EXPLAIN", None),
        ("SELECT 'EXPLAIN'", None),
    ],
)
def test_explained_statement_follows_every_explain_option_form(sql, inner):
    found = explained(split(sql)[0])
    assert (found.text if found else None) == inner


@pytest.mark.parametrize(
    ("sql", "dialect", "tables"),
    [
        ("SELECT * FROM a JOIN b ON a.k = b.k", "postgres", {"a", "b"}),
        ("CREATE TABLE t AS SELECT * FROM df", "duckdb", {"df"}),
        ("INSERT INTO t SELECT * FROM s.u, v", "postgres", {"v"}),
        ("WITH c AS (SELECT 1) SELECT * FROM c, d", "postgres", {"d"}),
        ("EXPLAIN (ANALYZE) SELECT * FROM df", "postgres", {"df"}),
        ("DROP TABLE t", "postgres", set()),
        ("DROP TABLE IF EXISTS t, u", "duckdb", set()),
        ("DELETE FROM t WHERE k IN (SELECT k FROM df)", "postgres", {"df"}),
    ],
)
def test_tables_read_are_never_the_target_a_cte_or_a_qualified_name(sql, dialect, tables):
    assert tables_read(split(sql, dialect)[0], dialect) == tables


def test_tables_read_of_unparsable_text_are_its_names_but_the_target():
    stmt = split("INSERT INTO t frobnicate df")[0]
    assert "df" in tables_read(stmt) and "t" not in tables_read(stmt)
