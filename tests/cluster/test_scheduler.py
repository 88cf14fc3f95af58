"""Pure tests of the scheduler state machine: events in, instructions out, no execution."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.fragments import (
    COORDINATOR,
    DistributedPlan,
    ExchangeInput,
    ExchangeShare,
    Fragment,
    FragmentFormat,
    Location,
    MemoryShare,
    Output,
    OutputMode,
    ScanInput,
    Stage,
)
from sqlweave.cluster.scheduler import (
    LaunchTask,
    QueryAborted,
    QueryCompleted,
    QueryState,
    TaskCompleted,
    TaskErrored,
    WorkerGone,
)

SQL = Fragment(FragmentFormat.SQL, "select * from t")


def shuffle_plan(n: int = 2) -> DistributedPlan:
    """scan t (hash by c0) -> aggregate per partition (gather) -> coordinator."""
    return DistributedPlan(
        (
            Stage(0, SQL, (ScanInput("t"),), Output(OutputMode.HASH, ("c0",), n), parallelism=n),
            Stage(1, SQL, (ExchangeInput(0, "__stage0"),), Output(), parallelism=n),
            Stage(2, SQL, (ExchangeInput(1, "__stage1"),), Output(), Location.COORDINATOR),
        ),
        root=2,
    )


@pytest.fixture
def catalog() -> Catalog:
    cat = Catalog()
    cat.add_arrow("t", pa.table({"x": list(range(8))}), partitions=4)
    return cat


def done(instr: LaunchTask, rows: int = 1) -> TaskCompleted:
    return TaskCompleted(instr.spec.key, instr.worker, rows, 0.01, instr.spec.attempt)


def by_stage(instrs, stage: int) -> list[LaunchTask]:
    return [i for i in instrs if isinstance(i, LaunchTask) and i.spec.stage == stage]


def test_start_runs_scan_tasks_with_shares_and_destinations(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    first = state.start()
    assert [i.spec.stage for i in first] == [0, 0]
    assert [i.worker for i in first] == ["a", "b"]
    shares = [i.spec.inputs for i in first]
    assert all(isinstance(s, MemoryShare) for share in shares for s in share)
    assert sorted(s.content_hash for share in shares for s in share) == sorted(
        catalog["t"].source.hashes
    )
    assert all(i.spec.destinations == ("a", "b") for i in first)
    assert all(i.spec.output.partitions == 2 for i in first)


def test_consumers_wait_for_every_producer_then_read_their_partition(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    assert state.handle(done(s0[0])) == []
    s1 = state.handle(done(s0[1]))
    assert [(i.worker, i.spec.index) for i in s1] == [("a", 0), ("b", 1)]
    assert s1[1].spec.inputs == (ExchangeShare("__stage0", 0, 1, 2),)
    assert s1[0].spec.destinations == (COORDINATOR,)
    root = state.handle(done(s1[0])) + state.handle(done(s1[1]))
    assert len(root) == 1 and root[0].worker == COORDINATOR
    assert root[0].spec.inputs == (ExchangeShare("__stage1", 1, 0, 2),)
    assert state.handle(done(root[0], rows=5)) == [QueryCompleted("q", 5, pytest.approx(0.05))]
    assert state.finished
    assert state.progress.fragments_done == state.progress.fragments_total == 5


def test_stale_and_unknown_events_are_ignored(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    stale = TaskCompleted(s0[0].spec.key, "a", 1, 0.0, attempt=7)
    wrong_worker = TaskCompleted(s0[0].spec.key, "b", 1, 0.0, 0)
    other_query = TaskCompleted(("other", 0, 0), "a")
    for event in (stale, wrong_worker, other_query):
        assert state.handle(event) == []
    assert state.progress.fragments_done == 0


def test_losing_a_consumer_home_reruns_all_producers_toward_the_survivor(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    state.handle(done(s0[0]))
    s1 = state.handle(done(s0[1]))
    assert {i.worker for i in s1} == {"a", "b"}
    again = state.handle(WorkerGone("b"))
    # b held partition 1 of stage 0's output: both producers run again, sending to a only
    rerun = by_stage(again, 0)
    assert sorted(i.spec.index for i in rerun) == [0, 1]
    assert all(i.worker == "a" and i.spec.attempt == 1 for i in rerun)
    assert all(i.spec.destinations == ("a", "a") for i in rerun)
    assert by_stage(again, 1) == []  # waits for the re-run producers
    # the earlier stage-1 task on b can no longer report
    assert state.handle(done(s1[1])) == []
    ready = state.handle(done(rerun[0])) + state.handle(done(rerun[1]))
    assert [(i.worker, i.spec.index, i.spec.attempt) for i in ready] == [("a", 1, 1)]


def test_lost_worker_with_finished_gather_output_is_not_rerun(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    state.handle(done(s0[0]))
    s1 = state.handle(done(s0[1]))
    state.handle(done(s1[1]))  # b's gathered output already reached the coordinator
    assert state.handle(WorkerGone("b")) == []
    root = state.handle(done(s1[0]))
    assert [i.worker for i in root] == [COORDINATOR]


def test_losing_the_last_worker_fails_the_query(catalog):
    state = QueryState("q", shuffle_plan(), ["a"], catalog)
    state.start()
    out = state.handle(WorkerGone("a"))
    assert isinstance(out[0], QueryAborted) and "no workers are left" in out[0].error
    assert state.handle(WorkerGone("a")) == []


def test_task_failure_names_worker_and_stage(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    out = state.handle(TaskErrored(s0[1].spec.key, "b", "boom", 0))
    assert out == [QueryAborted("q", "stage 0 task 1 failed on worker b: boom", "b", 0)]


def test_retries_rerun_a_failed_task(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog, retries=1)
    s0 = state.start()
    out = state.handle(TaskErrored(s0[1].spec.key, "b", "flaky", 0))
    assert [(i.worker, i.spec.attempt) for i in out] == [("b", 1)]


def test_more_tasks_than_workers_share_workers(catalog):
    state = QueryState("q", shuffle_plan(n=3), ["a", "b"], catalog)
    first = state.start()
    assert [i.worker for i in first] == ["a", "b", "a"]
    assert first[0].spec.destinations == ("a", "b", "a")
    # 4 memory partitions over 3 tasks
    assert [len(i.spec.inputs) for i in first] == [2, 1, 1]


def test_cancel_stops_the_query(catalog):
    state = QueryState("q", shuffle_plan(), ["a", "b"], catalog)
    s0 = state.start()
    assert state.cancel() == [QueryAborted("q", "cancelled")]
    assert state.handle(done(s0[0])) == [] and state.cancel() == []


def test_a_stage_read_by_two_consumers_keeps_one_destination_per_partition(catalog):
    # E (hash) is read by K (done early) and by J; after two losses partition 1 must still go
    # where both consumers' task 1 lives, and never to a dead worker
    plan = DistributedPlan(
        (
            Stage(0, SQL, (ScanInput("t"),), Output(OutputMode.HASH, ("c0",), 4), parallelism=4),
            Stage(1, SQL, (ExchangeInput(0, "__stage0"),), Output(), parallelism=4),
            Stage(2, SQL, (ScanInput("t"),), Output(OutputMode.HASH, ("c0",), 4), parallelism=4),
            Stage(
                3,
                SQL,
                (ExchangeInput(0, "__stage0"), ExchangeInput(2, "__stage2")),
                Output(),
                parallelism=4,
            ),
            Stage(
                4,
                SQL,
                (ExchangeInput(1, "__stage1"), ExchangeInput(3, "__stage3")),
                Output(),
                Location.COORDINATOR,
            ),
        ),
        root=4,
    )
    q = QueryState("q", plan, ["w0", "w1", "w2", "w3"], catalog)
    first = q.start()
    out = [i for s in (0, 2) for i in by_stage(first, s)]
    for instr in by_stage(first, 0):
        out += q.handle(done(instr))
    for instr in by_stage(out, 1):  # K finishes everywhere
        q.handle(done(instr))
    q.handle(WorkerGone("w1"))  # J's inputs on w1 are gone; K.1 was done there
    later = q.handle(WorkerGone("w0"))
    live = {"w2", "w3"}
    homes = {s: [r.home for r in q.tasks[s]] for s in (1, 3)}
    assert homes[1] == homes[3] and set(homes[3]) <= live
    reruns = [i for i in later if isinstance(i, LaunchTask) and i.spec.stage == 0]
    for instr in reruns:
        assert set(instr.spec.destinations) <= live
        assert list(instr.spec.destinations) == homes[3]
