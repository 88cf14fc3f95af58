"""The distributed planner: plan shapes, and (cheaply) that each shape gives the right answer.

Shape-only tests plan over TPC-H SF 1 *statistics* (``tpch_statistics``: row counts, no rows);
tests that also check answers run the plan over the generated SF 0.01 files. The golden plans
of ``tests/cluster/planning`` pin every shape's EXPLAIN text.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from datafusion import substrait as ss

from sqlweave.cluster.fragments import (
    ExchangeInput,
    FragmentFormat,
    Location,
    OutputMode,
    ScanInput,
)
from sqlweave.cluster.planning import PlannerOptions, plan_query
from sqlweave.cluster.simulate import simulate

TWO = PlannerOptions(workers=2)
#: at SF 1, these thresholds hash-shuffle the joins of two large sides
SF1_SHUFFLE = PlannerOptions(
    workers=2, broadcast_rows=200_000, broadcast_ratio=16, replicate_rows=10_000, reduce_ratio=0
)


def worker_stages(plan):
    return [s for s in plan.stages if s.location == Location.WORKERS]


def check(sql, catalog, reference, assert_result, options=TWO, **params):
    plan = plan_query(sql, catalog, options, params or None)
    got = simulate(plan, catalog, workers=options.workers).table
    expected = reference.sql(sql, param_values=params).to_arrow_table() if params else None
    assert_result(got, expected if params else reference.sql(sql).to_arrow_table())
    return plan


def test_q1_is_a_partial_aggregate_on_workers_and_a_final_one_on_the_coordinator(
    tpch_statistics, tpch_queries
):
    plan = plan_query(tpch_queries["q01"], tpch_statistics, TWO)
    assert len(plan.stages) == 2
    scan, root = plan.stages
    assert root.id == plan.root and root.location == Location.COORDINATOR
    assert scan.inputs == (ScanInput("lineitem"),)
    assert scan.output.mode == OutputMode.GATHER and scan.parallelism == 2
    assert "partial aggregate" in scan.description
    assert root.inputs == (ExchangeInput(scan.id, f"__stage{scan.id}"),)
    assert "final aggregate runs on the coordinator" in plan.notes
    for stage in plan.stages:
        assert stage.fragment.format == FragmentFormat.SUBSTRAIT
        ss.Serde.deserialize_bytes(stage.fragment.payload)  # a valid Substrait plan


def test_large_joins_are_hash_shuffled_and_small_sides_broadcast(tpch_statistics, tpch_queries):
    plan = plan_query(tpch_queries["q03"], tpch_statistics, SF1_SHUFFLE)
    by_mode = {m: [s for s in plan.stages if s.output.mode == m] for m in OutputMode}
    assert len(by_mode[OutputMode.HASH]) == 2
    assert all(s.output.keys and s.output.partitions == 2 for s in by_mode[OutputMode.HASH])
    assert [s.inputs for s in by_mode[OutputMode.BROADCAST]] == [(ScanInput("customer"),)]
    join = next(
        s
        for s in plan.stages
        if sum(isinstance(i, ExchangeInput) for i in s.inputs) == 2
        and s.location.value == "workers"
    )
    assert "by hash partition" in join.description


def test_with_default_options_small_tpch_tables_are_broadcast(tpch_statistics, tpch_queries):
    no_replicas = PlannerOptions(workers=2, replicate_rows=0)
    plan = plan_query(tpch_queries["q05"], tpch_statistics, no_replicas)
    modes = {s.output.mode for s in worker_stages(plan)}
    assert OutputMode.HASH not in modes and OutputMode.BROADCAST in modes
    (probe,) = [s for s in worker_stages(plan) if ScanInput("lineitem") in s.inputs]
    assert "partial aggregate" in probe.description


def test_small_sides_are_read_whole_by_every_task_instead_of_a_broadcast_stage(
    tpch_catalog, tpch_queries, tpch_reference, assert_result
):
    # q08 joins nation twice: one replicated input serves both reads
    for q in ("q05", "q08"):
        plan = check(tpch_queries[q], tpch_catalog, tpch_reference, assert_result)
        (probe,) = worker_stages(plan)  # at SF 0.01 every other table is small
        assert probe.output.mode == OutputMode.GATHER
        assert ScanInput("lineitem") in probe.inputs
        replicas = [i for i in probe.inputs if isinstance(i, ScanInput) and i.replicated]
        assert {i.table for i in replicas} >= {"nation", "region", "supplier", "customer"}
        assert len(replicas) == len(set(replicas))
        assert "read whole (scan nation" in probe.description


def test_a_replicated_in_memory_table_reaches_every_task_whole(assert_result):
    import pyarrow as pa
    from datafusion import SessionContext

    from sqlweave.cluster.catalog import Catalog

    facts = pa.table({"k": [i % 7 for i in range(1000)], "v": list(range(1000))})
    dims = pa.table({"k": list(range(7)), "name": [f"n{i}" for i in range(7)]})
    catalog = Catalog()
    catalog.add_arrow("facts", facts, partitions=4)
    catalog.add_arrow("dims", dims, partitions=3)  # three partitions, all on every task
    reference = SessionContext()
    reference.from_arrow(facts, name="facts")
    reference.from_arrow(dims, name="dims")
    sql = "select name, sum(v) as s from facts join dims on facts.k = dims.k group by name order by name"
    plan = check(sql, catalog, reference, assert_result)
    (probe,) = worker_stages(plan)
    assert ScanInput("dims", replicated=True) in probe.inputs


def test_order_by_limit_is_a_top_k_per_worker(tpch_catalog, tpch_reference, assert_result):
    sql = "select l_orderkey, l_extendedprice from lineitem order by l_extendedprice desc, l_orderkey limit 7"
    plan = check(sql, tpch_catalog, tpch_reference, assert_result)
    assert "top 7" in worker_stages(plan)[0].description


def test_limit_with_offset_keeps_the_right_rows(tpch_catalog, tpch_reference, assert_result):
    sql = "select o_orderkey from orders order by o_orderkey limit 5 offset 3"
    plan = check(sql, tpch_catalog, tpch_reference, assert_result)
    assert "top 8" in worker_stages(plan)[0].description


def test_union_all_runs_both_branches_in_one_stage(tpch_catalog, tpch_reference, assert_result):
    sql = """
        select l_orderkey as k from lineitem where l_quantity > 45
        union all
        select o_orderkey from orders where o_totalprice > 400000
    """
    plan = check(sql, tpch_catalog, tpch_reference, assert_result)
    (stage,) = worker_stages(plan)
    assert set(stage.inputs) == {ScanInput("lineitem"), ScanInput("orders")}


def test_non_decomposable_aggregate_is_shuffled_by_group_keys(
    tpch_catalog, tpch_reference, assert_result
):
    sql = "select l_returnflag, median(l_quantity) as m, count(*) as n from lineitem group by 1"
    plan = check(sql, tpch_catalog, tpch_reference, assert_result)
    (shuffle,) = [s for s in plan.stages if s.output.mode == OutputMode.HASH]
    assert shuffle.output.keys


def test_count_distinct_and_avg_of_integers(tpch_catalog, tpch_reference, assert_result):
    sql = """
        select l_linestatus, count(distinct l_suppkey) as suppliers, avg(l_linenumber) as line,
               min(l_shipdate) as first, max(l_comment) as last
        from lineitem group by l_linestatus
    """
    check(sql, tpch_catalog, tpch_reference, assert_result)


def test_global_aggregate_without_rows(tpch_catalog, tpch_reference, assert_result):
    sql = (
        "select sum(l_quantity) s, avg(l_discount) a, count(*) n from lineitem where l_quantity < 0"
    )
    check(sql, tpch_catalog, tpch_reference, assert_result)


def test_window_functions_run_on_the_coordinator_and_say_so(
    tpch_catalog, tpch_reference, assert_result
):
    sql = """
        select n_name, n_regionkey, rank() over (partition by n_regionkey order by n_name) as r
        from nation
    """
    plan = check(sql, tpch_catalog, tpch_reference, assert_result)
    assert any("window" in n for n in plan.notes)


def test_full_outer_join_of_large_sides_is_hash_shuffled(
    tpch_catalog, tpch_reference, assert_result, shuffle_options
):
    sql = """
        select count(*) as n, count(o_orderkey) as o, count(l_orderkey) as l
        from (select * from orders where o_orderkey % 3 = 0) o
        full outer join (select * from lineitem where l_linenumber = 1) l on o_orderkey = l_orderkey
    """
    plan = check(sql, tpch_catalog, tpch_reference, assert_result, shuffle_options)
    assert sum(s.output.mode == OutputMode.HASH for s in plan.stages) == 2


def test_parameters(tpch_catalog, tpch_reference, assert_result):
    sql = "select count(*) as n from lineitem where l_quantity > $q"
    check(sql, tpch_catalog, tpch_reference, assert_result, q=45)


def test_unknown_table_is_an_error(tpch_statistics):
    with pytest.raises(ValueError, match=r"table 'datafusion\.public\.nope' not found"):
        plan_query("select * from nope", tpch_statistics, TWO)


def test_a_plan_shape_the_planner_cannot_cut_runs_on_the_coordinator(
    tpch_catalog, tpch_reference, tpch_queries, assert_result, monkeypatch
):
    from sqlweave.cluster.planning.context import PlanContext

    def refuse(self, rel):
        raise NotImplementedError("no")

    monkeypatch.setattr(PlanContext, "plan", refuse)
    sql = tpch_queries["q18"]
    plan = plan_query(sql, tpch_catalog, TWO)
    assert "could not be distributed (NotImplementedError: no)" in plan.notes[0]
    assert {s.inputs[0].table for s in worker_stages(plan)} == {"customer", "orders", "lineitem"}
    got = simulate(plan, tpch_catalog, workers=2).table
    assert_result(got, tpch_reference.sql(sql).to_arrow_table())


def test_co_partitioned_sides_are_not_shuffled_again(tpch_statistics, tpch_queries):
    plan = plan_query(tpch_queries["q18"], tpch_statistics, SF1_SHUFFLE)
    hashed = [s for s in plan.stages if s.output.mode == OutputMode.HASH]
    assert len(hashed) == 3  # orders+customer, lineitem, lineitem for the IN subquery
    (final,) = [s for s in worker_stages(plan) if s.output.mode == OutputMode.GATHER]
    assert "semi join (by hash partition)" in final.description
    assert "aggregate (partitions already by group keys)" in final.description


def test_uncorrelated_subquery_results_are_broadcast_to_the_workers(tpch_statistics, tpch_queries):
    plan = plan_query(tpch_queries["q22"], tpch_statistics, TWO)
    assert not any("filter runs on the coordinator" in n for n in plan.notes)
    (probe,) = [s for s in worker_stages(plan) if "filter with broadcast subquery" in s.description]
    sub = [s for s in worker_stages(plan) if "broadcast for a subquery" in s.description]
    assert sub and all(s.output.mode == OutputMode.BROADCAST for s in sub)
    assert {i.stage for i in probe.inputs if isinstance(i, ExchangeInput)} >= {s.id for s in sub}


def test_an_aggregate_below_a_join_shuffles_partial_results(
    tpch_catalog, tpch_queries, tpch_reference, assert_result, shuffle_options
):
    q18 = tpch_queries["q18"]
    plan = check(q18, tpch_catalog, tpch_reference, assert_result, shuffle_options)
    partial = [s for s in plan.stages if "partial aggregate (hash shuffle" in s.description]
    assert partial and all(s.output.mode == OutputMode.HASH for s in partial)
    assert any("final aggregate (by hash partition)" in s.description for s in plan.stages)


def test_anti_joins_are_hash_shuffled_only_when_no_key_can_be_null(
    tpch_catalog, tpch_reference, assert_result
):
    shuffle = PlannerOptions(workers=2, broadcast_rows=100, broadcast_ratio=1000)
    not_exists = (
        "select count(*) as n from orders where not exists "
        "(select 1 from lineitem where l_orderkey = o_orderkey and l_quantity > 45)"
    )
    plan = check(not_exists, tpch_catalog, tpch_reference, assert_result, shuffle)
    assert any("anti join (by hash partition)" in s.description for s in plan.stages)
    not_in = (
        "select count(*) as n from orders where o_custkey not in "
        "(select case when c_nationkey = 1 then c_custkey end from customer)"
    )
    # NOT IN's null-aware anti join would lose that flag in Substrait: it is never cut into
    # fragments (and the answer is right: see test_simulate.py::test_not_in_keeps_null_semantics)
    plan = check(not_in, tpch_catalog, tpch_reference, assert_result, shuffle)
    assert any("NOT IN" in note for note in plan.notes)
    assert not any("anti join (by hash partition)" in s.description for s in plan.stages)


def test_no_reduction_when_the_smaller_side_is_volatile(tpch_statistics):
    options = replace(SF1_SHUFFLE, reduce_ratio=4)
    sql = (
        "select count(*) from lineitem join (select o_orderkey from orders where {cond}) o"
        " on l_orderkey = o.o_orderkey"
    )
    steady = plan_query(sql.format(cond="o_totalprice > 1000"), tpch_statistics, options)
    assert any("(reduction)" in s.description for s in steady.stages)
    # the keys would come from a second run of the side: random() would pick other rows
    volatile = plan_query(sql.format(cond="random() > 0.5"), tpch_statistics, options)
    assert not any("(reduction)" in s.description for s in volatile.stages)


def test_a_user_table_named_like_a_replica_is_never_shadowed(tpch_statistics, tpch_queries):
    from sqlweave.cluster.catalog import Catalog

    catalog = Catalog()
    for name in tpch_statistics.names():
        catalog.add_entry(tpch_statistics[name], {})
    catalog.add_statistics("__replica_nation", catalog["nation"].schema, rows=25)
    plan = plan_query(tpch_queries["q05"], catalog, TWO)
    inputs = {i for s in plan.stages for i in s.inputs}
    assert ScanInput("nation", replicated=True) not in inputs
    assert ScanInput("region", replicated=True) in inputs


def test_a_semi_join_filters_the_broadcast_stage_its_key_comes_from(
    tpch_catalog, tpch_queries, tpch_reference, assert_result
):
    options = PlannerOptions(workers=2, broadcast_rows=20_000, replicate_rows=100)
    plan = check(tpch_queries["q18"], tpch_catalog, tpch_reference, assert_result, options)
    (pushed,) = [s for s in plan.stages if "semi join (pushed down)" in s.description]
    assert pushed.output.mode == OutputMode.BROADCAST and "scan orders" in pushed.description
    # the semi join's key is o_orderkey, which the broadcast orders side carries; the
    # result stage still applies the semi join itself
    assert any(
        "left semi join" in s.description and "pushed" not in s.description for s in plan.stages
    )
    # a key from the split side (lineitem) has no broadcast stage to filter
    sql = (
        "select sum(l_quantity) as q from lineitem join orders on l_orderkey = o_orderkey"
        " where l_partkey in (select p_partkey from part where p_size = 1)"
    )
    other = check(sql, tpch_catalog, tpch_reference, assert_result, options)
    assert not any("pushed down" in s.description for s in other.stages)
