"""Differences between the cluster and embedded DataFusion that are known and not fixed yet.

Nothing here passes silently: the tests check that every entry STILL fails (strict xfail).
When a fix lands, the tests name the entries that now pass: delete them from the
generated lists; a repro's status becomes ``FIXED`` and it stays as a regression test.

- :data:`REPROS`: one minimal query per root cause (written here, always run).
- :data:`known_generated.GENERATED`: seeds of the random generator that still differ.
- :data:`known_corpus.CORPUS`: records of the public corpus that still differ (checked
  when the corpus is on the machine, see :mod:`tests.differential.corpus`).

``python -m tests.differential.update_known`` rewrites the two generated lists from a run
(each entry with the cause :func:`causes.triage` gives it: review the diff).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .causes import Cause
from .runner import Mode

#: a three-line headerless CSV the repros read (written by the test into ``data/``)
CSV_NO_HEADER = "1,a\n2,b\n3,c\n"


class Status(str, enum.Enum):
    #: still differs: the test checks it still does
    OPEN = "open"
    #: fixed: the test checks it agrees (a regression test)
    FIXED = "fixed"


OPEN, FIXED = Status.OPEN, Status.FIXED


@dataclass(frozen=True)
class Repro:
    """A minimal query showing one root cause, open or fixed."""

    id: str
    cause: Cause
    status: Status
    sql: str
    #: statements run first; in REGISTERED mode the tables they make reach the cluster as Arrow
    setup: tuple[str, ...] = ()
    mode: Mode = Mode.SQL


_T5 = "CREATE TABLE t AS VALUES (1, 1), (2, 1), (3, 2), (4, NULL), (5, 2)"

REPROS: tuple[Repro, ...] = (
    # ---- types ------------------------------------------------------------------------
    Repro(
        "declared-csv-schema",
        Cause.DECLARED_SCHEMA,
        FIXED,
        "SELECT * FROM data",
        (
            "CREATE EXTERNAL TABLE data (x INT, s VARCHAR) STORED AS CSV LOCATION "
            "'data/no_header.csv' OPTIONS ('format.has_header' 'false')",
        ),
    ),
    Repro(
        "dictionary-result",
        Cause.DICTIONARY_DECODED,
        FIXED,
        "SELECT arrow_cast('a', 'Dictionary(Int32, Utf8)') AS d",
    ),
    Repro(
        "dictionary-in-list",
        Cause.DICTIONARY_IN_LIST,
        FIXED,
        "SELECT [arrow_cast('a', 'Dictionary(Int32, Utf8)')] AS d",
    ),
    # ---- settings and time zones ------------------------------------------------------
    Repro(
        "set-dialect-caret",
        Cause.SETTINGS,
        FIXED,
        "SELECT 2 ^ 3 AS x",
        ("SET datafusion.sql_parser.dialect = 'postgresql'",),
    ),
    Repro(
        "set-null-ordering",
        Cause.SETTINGS,
        FIXED,
        "SELECT * FROM (VALUES (1), (NULL)) t(x) ORDER BY x",
        ("SET datafusion.sql_parser.default_null_ordering = 'nulls_min'",),
    ),
    Repro(
        "set-time-zone",
        Cause.SETTINGS,
        FIXED,
        "SELECT '2000-01-01T00:00:00'::TIMESTAMP::TIMESTAMPTZ AS ts",
        ("SET TIME ZONE = '+08:00'",),
    ),
    Repro(
        "set-parse-float-as-decimal",
        Cause.SETTINGS,
        FIXED,
        "SELECT 100000000000000000000000000000000000::decimal(38,0) AS x",
        ("SET datafusion.sql_parser.parse_float_as_decimal = true",),
    ),
    Repro(
        "at-time-zone-name",
        Cause.TIME_ZONE,
        FIXED,
        "SELECT '2000-12-01 04:04:12' AT TIME ZONE 'America/New_York' AS ts",
    ),
    # ---- windows ----------------------------------------------------------------------
    Repro(
        "window-range-offset",
        Cause.WINDOW_RANGE,
        FIXED,
        "SELECT x, count(*) OVER (ORDER BY x RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS n "
        "FROM (VALUES (1), (2), (5)) t(x) ORDER BY x",
    ),
    Repro(
        "window-zero-following",
        Cause.WINDOW_ZERO_FOLLOWING,
        FIXED,
        "SELECT x, sum(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND 0 FOLLOWING) AS s "
        "FROM (VALUES (1), (2), (5)) t(x) ORDER BY x",
    ),
    Repro(
        "lag-ignore-nulls",
        Cause.IGNORE_NULLS,
        FIXED,
        "SELECT id, lag(a) IGNORE NULLS OVER (ORDER BY id) AS prev "
        "FROM (VALUES (1, 'b'), (2, NULL), (3, 'c')) t(id, a) ORDER BY id",
    ),
    Repro(
        "array-agg-ignore-nulls",
        Cause.IGNORE_NULLS,
        FIXED,
        "SELECT array_agg(y IGNORE NULLS) AS ys FROM (VALUES (1), (NULL), (2)) t(y)",
    ),
    Repro(
        "window-count-filter",
        Cause.WINDOW_FILTER,
        FIXED,
        "SELECT count(*) FILTER (WHERE NULL) OVER () AS n FROM (VALUES (1)) t(x)",
    ),
    Repro(
        "window-count-distinct",
        Cause.WINDOW_DISTINCT,
        FIXED,
        "SELECT column1, count(DISTINCT column2) OVER () AS n FROM t ORDER BY column1",
        (_T5,),
        Mode.REGISTERED,
    ),
    Repro(
        "window-rows-frame",
        Cause.WINDOW_RANGE,
        FIXED,
        "SELECT column1, sum(column1) OVER (ORDER BY column1 ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) "
        "AS s FROM t ORDER BY column1",
        (_T5,),
        Mode.REGISTERED,
    ),
    # ---- structs ----------------------------------------------------------------------
    Repro("struct-named-field", Cause.STRUCT_LITERAL, FIXED, "SELECT struct(1 AS a, 'e') AS s"),
    Repro(
        "named-struct",
        Cause.STRUCT_LITERAL,
        FIXED,
        "SELECT named_struct('field_a', 1, 'field_b', 2) AS s",
    ),
    Repro("list-of-struct", Cause.STRUCT_LITERAL, FIXED, "SELECT [{val: 1}, {val: 2.5}] AS l"),
    Repro(
        "struct-column-window",
        Cause.STRUCT_SUBSTRAIT,
        FIXED,
        "SELECT id, st['a'] AS a, count(*) OVER (PARTITION BY id) AS n FROM s ORDER BY id",
        (
            "CREATE TABLE s AS SELECT * FROM (VALUES (1, named_struct('a', 1, 'b', 'x')), "
            "(2, named_struct('a', 2, 'b', 'y'))) t(id, st)",
        ),
        Mode.REGISTERED,
    ),
    # ---- other cluster-only errors ----------------------------------------------------
    Repro("nan-literal", Cause.NAN_LITERAL, FIXED, "SELECT 'nan'::float AS f"),
    Repro(
        "generate-series",
        Cause.TABLE_FUNCTION,
        FIXED,
        "SELECT v1 FROM generate_series(1, 3) AS t1(v1) ORDER BY v1",
    ),
    Repro(
        "duplicate-names-join",
        Cause.DUPLICATE_NAMES,
        FIXED,
        "SELECT * FROM (SELECT 1 AS a, 2 AS b) c JOIN (SELECT 1 AS a, 3 AS d) e ON c.a = e.a",
    ),
    Repro("exists-uncorrelated", Cause.EMPTY_JOIN, FIXED, "SELECT 1 AS x WHERE EXISTS (SELECT 1)"),
    Repro(
        "select-into",
        Cause.SELECT_INTO,
        FIXED,
        "SELECT count(*) AS n FROM cpu",
        ("SELECT * INTO cpu FROM (VALUES (1)) t(x)",),
    ),
    Repro(
        "log-one-argument",
        Cause.LOG_ONE_ARG,
        FIXED,
        "SELECT log(x) AS l FROM (VALUES (1000.0), (10.0)) t(x)",
    ),
    Repro(
        "interval-day-time",
        Cause.INTERVAL_TRANSPORT,
        FIXED,
        "SELECT arrow_cast('1 day', 'Interval(DayTime)') AS v",
    ),
    # ---- wrong values -----------------------------------------------------------------
    Repro(
        "zero-column-stage",
        Cause.ZERO_COLUMN_STAGE,
        FIXED,
        "SELECT count(*) AS n FROM (SELECT column1 FROM t LIMIT 3)",
        (_T5,),
        Mode.REGISTERED,
    ),
    *(
        Repro(f"{rid}-registered", cause, status, sql, (_T5,), Mode.REGISTERED)
        for rid, cause, status, sql in (
            (
                "window-range-offset",
                Cause.WINDOW_RANGE,
                FIXED,
                "SELECT column1, count(*) OVER (ORDER BY column1 RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) AS n FROM t ORDER BY column1",
            ),
            (
                "window-zero-following",
                Cause.WINDOW_ZERO_FOLLOWING,
                FIXED,
                "SELECT column1, sum(column1) OVER (ORDER BY column1 ROWS BETWEEN UNBOUNDED PRECEDING AND 0 FOLLOWING) AS s FROM t ORDER BY column1",
            ),
            (
                "lag-ignore-nulls",
                Cause.IGNORE_NULLS,
                FIXED,
                "SELECT column1, lag(column2) IGNORE NULLS OVER (ORDER BY column1) AS p FROM t ORDER BY column1",
            ),
            (
                "array-agg-ignore-nulls",
                Cause.IGNORE_NULLS,
                FIXED,
                "SELECT array_agg(column2 IGNORE NULLS ORDER BY column2) AS a FROM t",
            ),
            (
                "window-count-filter",
                Cause.WINDOW_FILTER,
                FIXED,
                "SELECT column1, count(*) FILTER (WHERE column2 = 1) OVER () AS n FROM t ORDER BY column1",
            ),
            (
                "struct-named-field",
                Cause.STRUCT_LITERAL,
                FIXED,
                "SELECT column1, struct(column1 AS a, 'e') AS s FROM t ORDER BY column1",
            ),
            (
                "named-struct",
                Cause.STRUCT_LITERAL,
                FIXED,
                "SELECT column1, named_struct('a', column1, 'b', column2) AS s FROM t ORDER BY column1",
            ),
            (
                "list-of-struct",
                Cause.STRUCT_LITERAL,
                FIXED,
                "SELECT column1, [{val: column1}, {val: 2.5}] AS l FROM t ORDER BY column1",
            ),
            (
                "nan-literal",
                Cause.NAN_LITERAL,
                FIXED,
                "SELECT column1, 'nan'::float AS f, column1 / 0.0 AS inf FROM t ORDER BY column1",
            ),
            (
                "generate-series",
                Cause.TABLE_FUNCTION,
                FIXED,
                "SELECT column1, v FROM t JOIN generate_series(1, 3) AS g(v) ON column1 = v ORDER BY column1",
            ),
            (
                "duplicate-names-join",
                Cause.DUPLICATE_NAMES,
                FIXED,
                "SELECT * FROM (SELECT column1 AS a FROM t) c JOIN (SELECT column1 AS a FROM t) e ON c.a = e.a",
            ),
            (
                "exists-uncorrelated",
                Cause.EMPTY_JOIN,
                FIXED,
                "SELECT column1 FROM t WHERE EXISTS (SELECT 1 FROM t WHERE column2 = 2) ORDER BY column1",
            ),
            (
                "log-one-argument",
                Cause.LOG_ONE_ARG,
                FIXED,
                "SELECT column1, log(column1) AS l FROM t ORDER BY column1",
            ),
            (
                "interval-day-time",
                Cause.INTERVAL_TRANSPORT,
                FIXED,
                "SELECT column1, arrow_cast('1 day', 'Interval(DayTime)') AS v FROM t ORDER BY column1",
            ),
            (
                "at-time-zone-name",
                Cause.TIME_ZONE,
                FIXED,
                "SELECT column1, '2000-12-01 04:04:12' AT TIME ZONE 'America/New_York' AS ts FROM t ORDER BY column1",
            ),
            (
                "dictionary-result",
                Cause.DICTIONARY_DECODED,
                FIXED,
                "SELECT column1, arrow_cast(CAST(column2 AS VARCHAR), 'Dictionary(Int32, Utf8)') AS d FROM t ORDER BY column1",
            ),
            (
                "dictionary-in-list",
                Cause.DICTIONARY_IN_LIST,
                FIXED,
                "SELECT column1, [arrow_cast(CAST(column2 AS VARCHAR), 'Dictionary(Int32, Utf8)')] AS d FROM t ORDER BY column1",
            ),
            (
                "struct-self-join",
                Cause.STRUCT_SUBSTRAIT,
                FIXED,
                "SELECT a.column1, struct(a.column1 AS x, b.column2 AS y) AS s FROM t a JOIN t b ON a.column1 = b.column1 ORDER BY 1",
            ),
        )
    ),
    Repro(
        "set-dialect-caret-registered",
        Cause.SETTINGS,
        FIXED,
        "SELECT column1, column1 ^ 2 AS sq FROM t ORDER BY column1",
        (_T5, "SET datafusion.sql_parser.dialect = 'postgresql'"),
        Mode.REGISTERED,
    ),
    Repro(
        "set-null-ordering-registered",
        Cause.SETTINGS,
        FIXED,
        "SELECT column2 FROM t ORDER BY column2",
        (_T5, "SET datafusion.sql_parser.default_null_ordering = 'nulls_min'"),
        Mode.REGISTERED,
    ),
    Repro(
        "set-time-zone-registered",
        Cause.SETTINGS,
        FIXED,
        "SELECT column1, CAST('2000-01-01T00:00:00' AS TIMESTAMP)::TIMESTAMPTZ AS ts FROM t ORDER BY column1",
        (_T5, "SET TIME ZONE = '+08:00'"),
        Mode.REGISTERED,
    ),
    Repro(
        "union-order-by-equal-columns",
        Cause.EMBEDDED_PLAN_CHECK,
        OPEN,
        "SELECT * FROM ((SELECT CAST(column1 AS VARCHAR) AS c0, CAST(column1 AS VARCHAR) AS c1 FROM t) "
        "UNION ALL (SELECT CAST(column2 AS VARCHAR), CAST(column2 AS VARCHAR) FROM t)) u "
        "ORDER BY 1 DESC NULLS LAST, 2 DESC NULLS FIRST",
        (_T5,),
        Mode.REGISTERED,
    ),
    Repro(
        "cube-order-by-fixed-key",
        Cause.EMBEDDED_GROUPING_SORT,
        OPEN,
        "SELECT column1, column2, count(*) AS n FROM g WHERE column1 = 1 "
        "GROUP BY CUBE (column1, column2) ORDER BY 1 ASC NULLS LAST, 2 ASC NULLS LAST",
        ("CREATE TABLE g AS VALUES (1, true), (1, NULL), (2, false), (NULL, true)",),
        Mode.REGISTERED,
    ),
    Repro(
        "empty-sum-decimal-beside-distinct",
        Cause.EMBEDDED_TYPE_DRIFT,
        OPEN,
        "SELECT * FROM (SELECT column2, sum(CAST(column1 AS DECIMAL(10, 2))) AS s, "
        "sum(DISTINCT column1) AS d FROM t WHERE column1 > 100 GROUP BY column2) q "
        "ORDER BY 1 LIMIT 5",
        (_T5,),
        Mode.REGISTERED,
    ),
    Repro(
        "nested-dictionary-values",
        Cause.DICTIONARY_NESTED,
        FIXED,
        "SELECT bit_length(arrow_cast(arrow_cast('é', 'Dictionary(UInt32, Utf8)'), "
        "'Dictionary(Int32, Dictionary(UInt32, Utf8))')) AS n",
    ),
    Repro(
        "nested-dictionary-result",
        Cause.DICTIONARY_NESTED,
        FIXED,
        "SELECT arrow_cast(arrow_cast('x', 'Dictionary(UInt32, Utf8)'), "
        "'Dictionary(Int32, Dictionary(UInt32, Utf8))') AS s",
    ),
    Repro(
        "registered-dictionary-column",
        Cause.REGISTERED_DICTIONARY,
        FIXED,
        "SELECT d FROM d",
        (
            "CREATE TABLE d AS SELECT arrow_cast(column1, 'Dictionary(Int32, Utf8)') AS d "
            "FROM (VALUES ('a'), ('b'), ('a'))",
        ),
        Mode.REGISTERED,
    ),
    Repro(
        "information-schema-off",
        Cause.INFO_SCHEMA_SETTING,
        FIXED,
        "RESET datafusion.sql_parser.dialect",
        ("SET datafusion.catalog.information_schema = false",),
    ),
    Repro(
        "semi-join-registered",
        Cause.EMPTY_JOIN,
        FIXED,
        "SELECT column1 FROM t WHERE column2 IN (SELECT column2 FROM t WHERE column1 > 3) "
        "ORDER BY column1",
        (_T5,),
        Mode.REGISTERED,
    ),
)
