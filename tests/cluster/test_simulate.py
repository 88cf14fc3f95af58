"""End-to-end through the real planner, scheduler and run_task, with in-process workers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.explain import explain_graph, explain_text
from sqlweave.cluster.planning import PlannerOptions, plan_query
from sqlweave.cluster.scheduler import WorkerGone
from sqlweave.cluster.simulate import SimulationError, simulate

QUERIES = [f"q{i:02d}" for i in range(1, 23)]


@pytest.mark.parametrize("name", QUERIES)
def test_tpch_with_shuffle_joins_matches_datafusion(
    name, tpch_catalog, tpch_reference, tpch_queries, shuffle_options, assert_result
):
    sql = tpch_queries[name]
    plan = plan_query(sql, tpch_catalog, shuffle_options)
    got = simulate(plan, tpch_catalog, workers=2).table
    assert_result(got, tpch_reference.sql(sql).to_arrow_table())


@pytest.mark.parametrize("name", ["q01", "q03", "q05", "q10", "q13", "q18", "q21"])
def test_tpch_with_broadcast_joins_on_three_workers(
    name, tpch_catalog, tpch_reference, tpch_queries, assert_result
):
    sql = tpch_queries[name]
    plan = plan_query(sql, tpch_catalog, PlannerOptions(workers=3))
    assert not any("join (by hash partition)" in s.description for s in plan.stages)
    got = simulate(plan, tpch_catalog, workers=3).table
    assert_result(got, tpch_reference.sql(sql).to_arrow_table())


@pytest.mark.parametrize("lost_after", [1, 3, 5])
def test_worker_lost_mid_shuffle_still_gives_the_answer(
    lost_after, tpch_catalog, tpch_reference, tpch_queries, shuffle_options, assert_result
):
    sql = tpch_queries["q03"]
    plan = plan_query(sql, tpch_catalog, shuffle_options)
    run = simulate(plan, tpch_catalog, workers=2, lose_after={lost_after: "w1"})
    assert_result(run.table, tpch_reference.sql(sql).to_arrow_table())
    assert WorkerGone("w1") in run.events
    later = run.runs[lost_after:]
    assert later and all(worker != "w1" for worker, *_ in later)
    assert any(attempt > 0 for *_, attempt in run.runs)


#: the SF 1 shapes at SF 0.01: shuffled joins whose larger side is reduced first
REDUCING = PlannerOptions(workers=2, broadcast_rows=2_000, broadcast_ratio=16, replicate_rows=100)


@pytest.mark.parametrize("name", ["q03", "q04", "q10", "q12", "q13", "q18", "q21", "q22"])
def test_semi_join_reduction_keeps_the_answers(
    name, tpch_catalog, tpch_reference, tpch_queries, assert_result
):
    sql = tpch_queries[name]
    plan = plan_query(sql, tpch_catalog, REDUCING)
    got = simulate(plan, tpch_catalog, workers=2).table
    assert_result(got, tpch_reference.sql(sql).to_arrow_table())


@pytest.mark.parametrize("lost_after", [2, 4, 6])
def test_reduction_keys_read_by_two_stages_survive_a_lost_worker(
    lost_after, tpch_catalog, tpch_reference, tpch_queries, assert_result
):
    # q21: l1 feeds a shuffle and the keys that reduce l2; the keys of (l1 semi l2) are
    # read by the stage reducing l3 while its shuffle is read by the anti join
    sql = tpch_queries["q21"]
    plan = plan_query(sql, tpch_catalog, REDUCING)
    reduced = [s for s in plan.stages if "(reduction)" in s.description]
    assert len(reduced) == 2
    readers: dict[int, int] = {}
    for s in plan.stages:
        for inp in s.inputs:
            if getattr(inp, "stage", None) is not None:
                readers[inp.stage] = readers.get(inp.stage, 0) + 1
    assert max(readers.values()) == 2  # a stage with two consumers
    run = simulate(plan, tpch_catalog, workers=2, lose_after={lost_after: "w1"})
    assert_result(run.table, tpch_reference.sql(sql).to_arrow_table())
    assert WorkerGone("w1") in run.events


@pytest.mark.parametrize("losses", [{2: "w1", 6: "w0"}, {4: "w1", 9: "w0"}, {1: "w3", 12: "w1"}])
def test_two_losses_keep_every_consumer_of_a_stage_on_one_home(
    losses, tpch_catalog, tpch_reference, tpch_queries, assert_result
):
    # a finished task moves with its siblings, so partition p of a stage with two
    # consumers still has one destination after the second loss
    sql = tpch_queries["q21"]
    options = PlannerOptions(
        workers=4, broadcast_rows=2_000, broadcast_ratio=16, replicate_rows=100
    )
    plan = plan_query(sql, tpch_catalog, options)
    run = simulate(plan, tpch_catalog, workers=4, lose_after=losses)
    assert_result(run.table, tpch_reference.sql(sql).to_arrow_table())
    assert sum(isinstance(e, WorkerGone) for e in run.events) == 2


def test_losing_every_worker_fails_the_query(tpch_catalog, tpch_queries):
    plan = plan_query(tpch_queries["q06"], tpch_catalog, PlannerOptions(workers=1))
    with pytest.raises(SimulationError, match="no workers are left"):
        simulate(plan, tpch_catalog, workers=1, lose_after={1: "w0"})


def test_in_memory_tables_are_partitioned_and_joined(assert_result):
    from datafusion import SessionContext

    facts = pa.table(
        {
            "k": pa.array([i % 7 for i in range(1000)], pa.int32()),
            "v": pa.array(range(1000), pa.int64()),
        }
    )
    dims = pa.table({"k": pa.array(range(7), pa.int32()), "name": [f"n{i}" for i in range(7)]})
    catalog = Catalog()
    catalog.add_arrow("facts", facts, partitions=3)
    catalog.add_arrow("dims", dims, partitions=2)
    sql = """
        select d.name, count(*) as n, avg(f.v) as mean, count(distinct f.v % 10) as kinds
        from facts f join dims d on f.k = d.k
        where f.v > 10 group by d.name
        union all
        select 'total', count(*), avg(v), 0 from facts
    """
    plan = plan_query(sql, catalog, PlannerOptions(workers=2, broadcast_rows=1))
    got = simulate(plan, catalog, workers=2).table
    ref = SessionContext()
    ref.register_record_batches("facts", [facts.to_batches()])
    ref.register_record_batches("dims", [dims.to_batches()])
    assert_result(got, ref.sql(sql).to_arrow_table())


def test_explain_after_a_run_names_workers_rows_and_notes(tpch_catalog, tpch_queries):
    plan = plan_query(tpch_queries["q01"], tpch_catalog, PlannerOptions(workers=2))
    run = simulate(plan, tpch_catalog, workers=2)
    text = explain_text(plan, run.state.tasks)
    assert "partial aggregate" in text
    assert "on w0" in text and "on w1" in text
    assert "final aggregate runs on the coordinator" in text
    graph = explain_graph(plan, run.state.tasks).to_dict()
    kinds = {n["kind"] for n in graph["nodes"]}
    assert kinds == {"table", "stage"}
    assert {"source": "table:lineitem", "target": "stage0", "kind": "scan", "keys": ()} in graph[
        "edges"
    ]
    root = next(n for n in graph["nodes"] if n["id"] == f"stage{plan.root}")
    assert root["rows"] == run.table.num_rows
    assert run.state.progress.fragments_done == run.state.progress.fragments_total


def test_explain_accepts_the_coordinators_list_of_runs(tpch_catalog, tpch_queries):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Run:
        stage: int
        index: int
        worker: str
        rows: int
        seconds: float
        attempt: int = 0

    plan = plan_query(tpch_queries["q06"], tpch_catalog, PlannerOptions(workers=2))
    runs = [
        Run(0, 1, "w1", 1, 0.5),
        Run(0, 0, "w0", 1, 0.25),
        Run(plan.root, 0, "coordinator", 1, 0.1),
    ]
    text = explain_text(plan, iter(runs))
    assert "task 0 on w0: done, 1 rows, 0.250 s" in text
    graph = explain_graph(plan, runs)
    stage0 = next(n for n in graph.nodes if n.id == "stage0")
    assert [t.worker for t in stage0.tasks] == ["w0", "w1"] and stage0.seconds == 0.75


@pytest.mark.parametrize(
    "sql",
    [
        # the subquery yields NULLs: NOT IN must answer 0 rows, NOT EXISTS would not
        "select count(*) AS n from orders where o_custkey not in"
        " (select case when c_nationkey = 1 then c_custkey end from customer)",
        "select count(*) AS n from orders where o_custkey not in"
        " (select c_custkey from customer where c_nationkey = 1)",
    ],
    ids=["with-nulls", "without-nulls"],
)
def test_not_in_keeps_null_semantics(sql, tpch_catalog, tpch_reference, assert_result):
    plan = plan_query(sql, tpch_catalog, PlannerOptions(workers=2))
    # DataFusion plans a null-aware anti join only when the subquery column can be NULL
    null_aware = "case when" in sql
    assert any("NOT IN" in note for note in plan.notes) == null_aware
    got = simulate(plan, tpch_catalog, workers=2).table
    assert_result(got, tpch_reference.sql(sql).to_arrow_table())
