"""Golden tests of :func:`substrait_loss`: SQL in, "survives" or the reason out.

Pure: one DataFusion context, no processes. The lossy cases are each a construct that
Substrait dropped silently (the cluster answered differently from embedded DataFusion);
the faithful ones are shapes that must stay distributed.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from datafusion import SessionContext

from sqlweave.cluster.planning import plan_query
from sqlweave.cluster.roundtrip import atoms, substrait_loss

LOSSY = [
    (
        "SELECT i, count(*) OVER (ORDER BY i RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
        "window frame offsets",
    ),
    ("SELECT i, lag(j) IGNORE NULLS OVER (ORDER BY i) FROM t", "IGNORE NULLS"),
    ("SELECT i, first_value(j) IGNORE NULLS OVER (ORDER BY i) FROM t", "IGNORE NULLS"),
    ("SELECT i, sum(i) FILTER (WHERE i > 2) OVER (ORDER BY i) FROM t", "FILTER"),
    ("SELECT i, count(DISTINCT j) OVER (PARTITION BY s) FROM t", "DISTINCT"),
    ("SELECT struct(1 AS a, 'e') AS s", "named struct fields"),
    ("SELECT '2000-12-01 04:04:12' AT TIME ZONE 'America/New_York'", "time zones"),
    ("SELECT ln(0)", "cannot express"),
    ("SELECT 1 WHERE EXISTS (SELECT 1)", "cannot express"),
    ("SELECT * FROM generate_series(1, 3)", "cannot express"),
    ("SELECT [struct(1 AS a)]", "cannot express"),
]

FAITHFUL = [
    "SELECT i, sum(i) OVER (ORDER BY i ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
    "SELECT i, row_number() OVER (PARTITION BY j ORDER BY i) FROM t",
    "SELECT j, count(*) FILTER (WHERE i > 1), count(DISTINCT s) FROM t GROUP BY j",
    "SELECT j, sum(i) FROM t WHERE s <> 'x' GROUP BY j HAVING sum(i) > 1 ORDER BY 2 DESC LIMIT 3",
    "SELECT a.i, b.j FROM (SELECT i FROM t) a JOIN (SELECT j FROM t) b ON a.i = b.j",
    "SELECT count(*) FROM (SELECT i FROM t LIMIT 3)",
    "SELECT log(100), interval '1 day', date '2000-01-01' + 1",
]


@pytest.fixture(scope="module")
def ctx() -> SessionContext:
    ctx = SessionContext()
    t = pa.table({"i": [1, 2, 3, 4, 5], "j": [1, None, 3, None, 5], "s": list("abcde")})
    ctx.register_record_batches("t", [t.to_batches()])
    return ctx


@pytest.mark.parametrize(("sql", "reason"), LOSSY)
def test_lossy_plans_are_caught_with_their_reason(ctx, sql: str, reason: str) -> None:
    loss = substrait_loss(ctx, ctx.sql(sql).optimized_logical_plan())
    assert loss is not None and reason in loss, loss


@pytest.mark.parametrize("sql", FAITHFUL)
def test_faithful_plans_pass(ctx, sql: str) -> None:
    assert substrait_loss(ctx, ctx.sql(sql).optimized_logical_plan()) is None


def test_every_tpch_query_survives(tpch_catalog, tpch_queries) -> None:
    ctx = tpch_catalog.planning_context()
    lost = {
        name: substrait_loss(ctx, ctx.sql(sql).optimized_logical_plan())
        for name, sql in tpch_queries.items()
    }
    assert {k: v for k, v in lost.items() if v} == {}


def test_atoms_keep_offset_types_that_plan_text_hides() -> None:
    a = atoms("WindowFrame { start_bound: Preceding(Int64(1)) }")
    b = atoms("WindowFrame { start_bound: Preceding(UInt64(1)) }")
    assert a["frame"] != b["frame"]


def test_a_lossy_query_is_planned_whole_on_the_coordinator(tpch_catalog) -> None:
    sql = "SELECT n_name, lag(n_name) IGNORE NULLS OVER (ORDER BY n_nationkey) FROM nation"
    plan = plan_query(sql, tpch_catalog)
    root = plan.stages[plan.root]
    assert root.fragment.payload == sql  # the SQL text, not a lossy Substrait plan
    assert any("IGNORE NULLS is not representable" in n for n in plan.notes), plan.notes
