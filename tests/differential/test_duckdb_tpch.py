"""Differential test: the embedded engine (DataFusion) and DuckDB must agree.

Every query runs on ``sqlweave.Session()`` and ``sqlweave.Session(engine="duckdb")``
over the same TPC-H parquet files (scale factor 0.01). Results are compared with
:func:`tpchdata.assert_same`, which normalises result *types* only (decimal vs
double, integer widths, string_view vs string, date vs timestamp) and never values.

TPC-H has no NULLs, so the NULL cases make them with NULLIF, outer joins and VALUES.
Queries avoid constructs whose *semantics* differ between the engines on purpose:
integer ``/`` (DuckDB returns a double, DataFusion truncates) and ``date - date``
(an integer in DuckDB, an interval in DataFusion).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import tpchdata

import sqlweave


@dataclass(frozen=True)
class Case:
    id: str
    sql: str
    #: whether row order is part of the answer; defaults to "the query has ORDER BY"
    ordered: bool | None = None

    def is_ordered(self) -> bool:
        return tpchdata.is_ordered(self.sql) if self.ordered is None else self.ordered


EXTRA = [
    # ---- joins ----------------------------------------------------------------------
    Case(
        "join-left-outer-count-vs-count-star",
        """
        select c_mktsegment, count(*) as n_rows, count(o_orderkey) as n_orders,
               count(distinct c_custkey) as n_customers
        from customer left join orders on c_custkey = o_custkey
        group by c_mktsegment order by c_mktsegment
        """,
    ),
    Case(
        "join-full-outer-null-padding",
        """
        select a.k as a_k, b.k as b_k
        from (select n_nationkey as k from nation where n_nationkey < 8) a
        full outer join (select n_nationkey as k from nation where n_nationkey > 4 and n_nationkey < 12) b
          on a.k = b.k
        order by coalesce(a.k, b.k)
        """,
    ),
    Case(
        "join-null-keys-never-match",
        """
        select count(*) as n
        from (select nullif(n_regionkey, 0) as k from nation) a
        join (select nullif(r_regionkey, 0) as k from region) b on a.k = b.k
        """,
    ),
    Case(
        "join-is-not-distinct-from-matches-nulls",
        """
        select count(*) as n
        from (select nullif(n_regionkey, 0) as k from nation) a
        join (select nullif(r_regionkey, 0) as k from region) b
          on a.k is not distinct from b.k
        """,
    ),
    Case(
        "join-semi-and-anti",
        """
        select
          (select count(*) from part where p_partkey in
             (select l_partkey from lineitem where l_quantity > 49)) as semi,
          (select count(*) from part where not exists
             (select 1 from lineitem where l_partkey = p_partkey)) as anti
        """,
    ),
    Case(
        "join-not-in-with-null-is-empty",
        """
        select count(*) as n from nation
        where n_nationkey not in (select nullif(r_regionkey, 0) from region)
        """,
    ),
    Case(
        "join-non-equi-range",
        """
        select r_name, count(*) as n
        from region join nation on n_nationkey between r_regionkey * 5 and r_regionkey * 5 + 4
        group by r_name order by r_name
        """,
    ),
    # ---- aggregates -----------------------------------------------------------------
    Case(
        "agg-nulls-ignored",
        """
        select count(*) as n, count(x) as n_x, count(distinct x) as nd_x,
               sum(x) as sum_x, min(x) as min_x, max(x) as max_x, avg(x) as avg_x
        from (select nullif(l_linenumber, 1) as x from lineitem) t
        """,
    ),
    Case(
        "agg-empty-input",
        """
        select count(*) as n, count(l_orderkey) as n_key, sum(l_quantity) as s,
               max(l_shipdate) as m
        from lineitem where l_quantity < 0
        """,
    ),
    Case(
        "agg-null-group-and-filter-clause",
        """
        select nullif(o_orderpriority, '1-URGENT') as prio, count(*) as n,
               count(*) filter (where o_orderstatus = 'F') as n_f
        from orders group by 1 order by prio nulls first
        """,
    ),
    Case(
        "agg-having-distinct",
        """
        select l_shipmode, count(distinct l_suppkey) as suppliers
        from lineitem group by l_shipmode
        having count(distinct l_suppkey) > 10 order by l_shipmode
        """,
    ),
    # ---- ordering with NULLs ----------------------------------------------------------
    Case(
        "order-nulls-first-last",
        """
        select nullif(n_regionkey, 2) as r, n_nationkey
        from nation order by r asc nulls last, n_nationkey desc
        """,
    ),
    Case(
        "order-desc-nulls-first-limit-offset",
        """
        select nullif(n_regionkey, 2) as r, n_name
        from nation order by r desc nulls first, n_name limit 7 offset 3
        """,
    ),
    # ---- window functions -----------------------------------------------------------
    Case(
        "window-ranks",
        """
        select o_custkey, o_orderkey,
               row_number() over (partition by o_custkey order by o_orderdate, o_orderkey) as rn,
               rank() over (partition by o_custkey order by o_orderpriority) as rnk,
               dense_rank() over (partition by o_custkey order by o_orderpriority) as drnk
        from orders where o_custkey < 40 order by o_custkey, o_orderkey
        """,
    ),
    Case(
        "window-running-and-moving-sums",
        """
        select o_orderkey,
               sum(o_totalprice) over (order by o_orderkey) as running,
               avg(o_totalprice) over (order by o_orderkey rows between 2 preceding and current row) as moving,
               lag(o_totalprice) over (order by o_orderkey) as prev,
               lead(o_orderkey, 2) over (order by o_orderkey) as next2
        from orders where o_orderkey < 200 order by o_orderkey
        """,
    ),
    Case(
        "window-first-last-value-partition-total",
        """
        select s_nationkey, s_suppkey,
               first_value(s_suppkey) over (partition by s_nationkey order by s_acctbal desc, s_suppkey) as richest,
               last_value(s_suppkey) over (partition by s_nationkey order by s_suppkey
                   rows between unbounded preceding and unbounded following) as max_key,
               count(*) over (partition by s_nationkey) as n_in_nation
        from supplier order by s_nationkey, s_suppkey
        """,
    ),
    # ---- dates ------------------------------------------------------------------------
    Case(
        "date-trunc-month-group",
        """
        select date_trunc('month', o_orderdate) as month, count(*) as n
        from orders where o_orderdate < date '1993-01-01'
        group by 1 order by 1
        """,
    ),
    Case(
        "date-extract-parts",
        """
        select extract(year from l_shipdate) as y, extract(quarter from l_shipdate) as q,
               extract(month from l_shipdate) as m, count(*) as n
        from lineitem where extract(day from l_shipdate) = 1
        group by 1, 2, 3 order by 1, 2, 3
        """,
    ),
    Case(
        "date-interval-arithmetic",
        """
        select o_orderkey, o_orderdate,
               o_orderdate + interval '1 month' as plus_month,
               o_orderdate - interval '10 days' as minus_10d,
               o_orderdate + interval '1 year' < date '1993-06-30' as before
        from orders where o_orderkey < 100 order by o_orderkey
        """,
    ),
    Case(
        "date-range-filter-between",
        """
        select count(*) as n, min(l_shipdate) as first, max(l_shipdate) as last
        from lineitem where l_shipdate between date '1995-02-28' and date '1995-03-01' + interval '1 day'
        """,
    ),
    # ---- decimals ---------------------------------------------------------------------
    Case(
        "decimal-sum-avg-round",
        """
        select l_returnflag, sum(l_extendedprice) as s, avg(l_extendedprice) as a,
               round(avg(l_discount), 2) as a_disc, sum(l_extendedprice * l_discount) as s_prod,
               min(l_tax) as min_tax
        from lineitem group by l_returnflag order by l_returnflag
        """,
    ),
    Case(
        "decimal-cast-round-abs",
        """
        select ps_partkey, ps_suppkey, cast(ps_supplycost as decimal(10, 1)) as c1,
               round(ps_supplycost * 1.075, 2) as taxed, abs(ps_supplycost - 500) as dist
        from partsupp where ps_partkey < 20 order by ps_partkey, ps_suppkey
        """,
    ),
    # ---- other shapes ---------------------------------------------------------------
    Case(
        "values-with-nulls-coalesce-case",
        """
        select a, b, coalesce(a, 0) as a0, case when b is null then 'none' else upper(b) end as b2
        from (values (1, 'x'), (null, 'y'), (3, null), (null, null)) as t(a, b)
        """,
        ordered=False,
    ),
    Case(
        "set-ops-union-intersect-except",
        """
        select k, src from (
          select n_regionkey as k, 'union' as src from nation where n_nationkey < 5
          union select r_regionkey, 'union' from region
          union all (select n_regionkey, 'intersect' from nation intersect select r_regionkey, 'intersect' from region where r_regionkey > 1)
          union all (select r_regionkey, 'except' from region except select n_regionkey, 'except' from nation where n_nationkey < 10)
        ) t
        """,
        ordered=False,
    ),
    Case(
        "strings-substring-like-concat",
        """
        select substring(c_phone from 1 for 2) as cc, count(*) as n,
               min(length(c_name)) as min_len, max(c_name || '/' || c_mktsegment) as tag
        from customer where c_name like 'Customer#00000%' group by 1 order by 1
        """,
    ),
    Case(
        "cte-reused-and-correlated-scalar",
        """
        with per_nation as (
          select c_nationkey, sum(c_acctbal) as bal from customer group by c_nationkey
        )
        select n_name, p.bal,
               (select count(*) from customer c where c.c_nationkey = n.n_nationkey and c.c_acctbal < 0) as n_neg
        from nation n join per_nation p on p.c_nationkey = n.n_nationkey
        where p.bal > (select avg(bal) from per_nation)
        order by n_name
        """,
    ),
]

CASES = [Case(name, sql) for name, sql in tpchdata.queries().items()] + EXTRA


@pytest.fixture(scope="module")
def sessions(tpch_dir: Path) -> tuple[sqlweave.Session, sqlweave.Session]:
    local = sqlweave.Session()
    duck = sqlweave.Session(engine="duckdb")
    for s in (local, duck):
        tpchdata.register_all(s, tpch_dir)
    return local, duck


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_datafusion_matches_duckdb(case: Case, sessions: tuple) -> None:
    local, duck = sessions
    got: pa.Table = local.sql(case.sql).to_arrow()
    want: pa.Table = duck.sql(case.sql).to_arrow()
    tpchdata.assert_same(got, want, ordered=case.is_ordered())


def test_tpch_answers_are_not_trivially_empty(sessions: tuple) -> None:
    # guards the differential test against both engines agreeing on "no rows"
    local, _ = sessions
    empty = [n for n, q in tpchdata.queries().items() if local.sql(q).to_arrow().num_rows == 0]
    assert empty == []


def test_assert_same_catches_a_value_difference() -> None:
    a = pa.table({"x": pa.array([1.0, 2.0]), "s": pa.array(["a", "b"], pa.string_view())})
    b = pa.table({"x": pa.array([1.0, 2.1]), "s": pa.array(["a", "b"])})
    with pytest.raises(AssertionError, match="'x' row 1"):
        tpchdata.assert_same(a, b, ordered=True)


def test_assert_same_normalises_types_only() -> None:
    dec = pa.array([Decimal("1.00"), Decimal("2.00")], pa.decimal128(15, 2))
    a = pa.table({"v": dec, "d": pa.array([0, 1], pa.date32())})
    b = pa.table(
        {"v": pa.array([2.0, 1.0]), "d": pa.array([86_400_000_000, 0], pa.timestamp("us"))}
    )
    tpchdata.assert_same(a, b, ordered=False)
    with pytest.raises(AssertionError):
        tpchdata.assert_same(a, b, ordered=True)


def test_tpch_queries_are_the_22_standard_ones() -> None:
    qs = tpchdata.queries()
    assert list(qs) == [f"q{i:02d}" for i in range(1, 23)]
    assert not any(q.rstrip().endswith(";") for q in qs.values())
    unordered = sorted(name for name, q in qs.items() if not tpchdata.is_ordered(q))
    assert unordered == ["q06", "q14", "q17", "q19"]  # the single-row aggregates


def test_generate_is_cached(tpch_dir: Path) -> None:
    again = tpchdata.generate(tpch_dir.parent, scale_factor=0.01, parts=4)
    assert again == tpch_dir
    assert sorted(tpchdata.table_paths(tpch_dir)) == sorted(tpchdata.TABLES)


def test_assert_same_gives_exact_pairs_no_tolerance() -> None:
    # int vs decimal(38, 0) (q12 on DuckDB) must compare exactly, not within one unit
    a = pa.table({"n": pa.array([5], pa.int64())})
    b = pa.table({"n": pa.array([Decimal(6)], pa.decimal128(38, 0))})
    with pytest.raises(AssertionError, match="'n' row 0"):
        tpchdata.assert_same(a, b, ordered=True)
