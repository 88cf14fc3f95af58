"""Pure tests of the worker's state machine: stimuli in, instructions out, no processes.

Each test drives :class:`WorkerState` with a sequence of stimuli and the time as a value,
and asserts the instructions it gives and the data it keeps.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from sqlweave.cluster.fragments import (
    COORDINATOR,
    ExchangeShare,
    Fragment,
    FragmentFormat,
    MemoryShare,
    Output,
    OutputMode,
    TaskSpec,
)
from sqlweave.cluster.protocol import ErrorKind, TaskDone, TaskFailed, TaskFigures
from sqlweave.cluster.worker_events import (
    CancelRequested,
    DropData,
    DropTask,
    ExchangeArrived,
    Execute,
    FragmentErred,
    FragmentSucceeded,
    Interrupt,
    PeersChanged,
    PushConfirmed,
    PushFailed,
    QueryReleased,
    SendResult,
    SendToPeer,
    TableStored,
    TaskAssigned,
    Tick,
)
from sqlweave.cluster.worker_state import WorkerState

FRAGMENT = Fragment(FragmentFormat.SQL, "SELECT * FROM x")
PEERS = {"w1": "tcp://127.0.0.1:1", "w2": "tcp://127.0.0.1:2", "w3": "tcp://127.0.0.1:3"}


def table(*values: int) -> pa.Table:
    return pa.table({"v": pa.array(values, pa.int64())})


def spec(
    query: str = "q",
    stage: int = 1,
    index: int = 0,
    inputs: tuple = (),
    mode: OutputMode = OutputMode.GATHER,
    destinations: tuple[str, ...] = (COORDINATOR,),
    attempt: int = 0,
) -> TaskSpec:
    return TaskSpec(query, stage, index, FRAGMENT, inputs, Output(mode), destinations, attempt)


def exchange(producers: int = 1, stage: int = 0, partition: int = 0) -> ExchangeShare:
    return ExchangeShare("x", stage, partition, producers)


def kinds(instructions: list) -> list[str]:
    return [type(i).__name__ for i in instructions]


def sent(instructions: list) -> list[TaskDone | TaskFailed]:
    return [i.message for i in instructions if isinstance(i, SendResult)]


def state() -> WorkerState:
    ws = WorkerState("w1", input_timeout_s=30.0, push_timeout_s=60.0, orphan_ttl_s=120.0)
    ws.handle(PeersChanged(PEERS))
    return ws


def run_to_execution(ws: WorkerState, s: TaskSpec, now: float = 0.0) -> Execute:
    out = ws.handle(TaskAssigned(s), now)
    assert kinds(out) == ["Execute"], out
    return out[0]


# ----- starting tasks ---------------------------------------------------------------------


def test_a_task_waits_for_every_producer_then_executes_with_pieces_in_producer_order() -> None:
    ws = state()
    s = spec(inputs=(exchange(producers=2),))
    assert ws.handle(TaskAssigned(s), now=1.0) == []
    assert ws.running == 1  # waiting for inputs counts as busy
    assert ws.handle(ExchangeArrived("q", 0, 0, 1, table(2)), now=1.5) == []
    [ex] = ws.handle(ExchangeArrived("q", 0, 0, 0, table(1)), now=2.0)
    assert isinstance(ex, Execute) and ex.spec == s
    assert [t.to_pydict() for t in ex.inputs[exchange(producers=2)]] == [{"v": [1]}, {"v": [2]}]
    [done] = sent(ws.handle(FragmentSucceeded(s.key, 0, {0: table(1, 2)}), now=3.5))
    # the task's time counts from when it started waiting for its inputs
    assert (done.rows, done.seconds, done.output.to_pydict()) == (2, 2.5, {"v": [1, 2]})
    assert ws.running == 0 and ws.fragments_run == 1


def test_in_memory_inputs_come_from_the_cache_and_a_missing_one_fails_at_once() -> None:
    ws = state()
    share = MemoryShare("t", "abc")
    ws.handle(TableStored("abc", table(7)))
    ex = run_to_execution(ws, spec(index=0, inputs=(share,)))
    assert ex.inputs[share][0].to_pydict() == {"v": [7]}
    ws.handle(FragmentSucceeded(ex.spec.key, 0, {0: table(7)}))
    [failed] = sent(ws.handle(TaskAssigned(spec(index=1, inputs=(MemoryShare("t", "nope"),)))))
    assert isinstance(failed, TaskFailed) and failed.error == "in-memory partition nope not shipped"


def test_tasks_execute_one_at_a_time_in_arrival_order() -> None:
    ws = state()
    a, b, c = spec(index=0), spec(index=1), spec(index=2)
    assert kinds(ws.handle(TaskAssigned(a))) == ["Execute"]
    assert ws.handle(TaskAssigned(b)) == [] and ws.handle(TaskAssigned(c)) == []
    out = ws.handle(FragmentSucceeded(a.key, 0, {0: table()}))
    assert kinds(out) == ["SendResult", "Execute"] and out[1].spec == b
    out = ws.handle(FragmentErred(b.key, 0, "boom"))
    assert sent(out)[0].error == "boom" and out[1].spec == c


def test_a_head_waiting_for_inputs_holds_back_later_tasks() -> None:
    ws = state()
    waiting, ready = spec(index=0, inputs=(exchange(),)), spec(index=1)
    ws.handle(TaskAssigned(waiting))
    assert ws.handle(TaskAssigned(ready)) == []
    out = ws.handle(ExchangeArrived("q", 0, 0, 0, table(1)))
    assert [i.spec for i in out] == [waiting]


# ----- cancel -------------------------------------------------------------------------------


def test_cancel_before_start_drops_the_task_and_its_data_and_ignores_what_comes_later() -> None:
    ws = state()
    s = spec(inputs=(exchange(producers=2),))
    ws.handle(TaskAssigned(s))
    ws.handle(ExchangeArrived("q", 0, 0, 0, table(1)))
    assert ws.handle(CancelRequested("q")) == []
    assert not ws.queue and not ws.exchange and ws.running == 0
    assert ws.handle(ExchangeArrived("q", 0, 0, 1, table(2))) == []  # a straggler
    assert ws.handle(TaskAssigned(s)) == []  # a late assignment of the cancelled query
    assert not ws.exchange and not ws.queue


def test_cancel_while_running_interrupts_and_reports_the_task_cancelled() -> None:
    ws = state()
    s, other = spec("q"), spec("other")
    run_to_execution(ws, s)
    ws.handle(TaskAssigned(other))
    assert ws.handle(CancelRequested("q")) == [Interrupt(s.key)]
    assert ws.interrupted == s.key
    out = ws.handle(FragmentErred(s.key, 0, "cancelled", ErrorKind.CANCELLED))
    assert sent(out)[0].kind is ErrorKind.CANCELLED
    assert kinds(out) == ["SendResult", "Execute"] and out[1].spec == other
    assert ws.interrupted is None


def test_a_fragment_that_finishes_after_its_query_was_cancelled_sends_nothing() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2",))
    run_to_execution(ws, s)
    ws.handle(CancelRequested("q"))
    assert ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)})) == [
        DropTask(s.key, 0, "its query is over")
    ]


def test_cancel_while_pushing_ends_the_push() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2",))
    run_to_execution(ws, s)
    assert kinds(ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)}))) == ["SendToPeer"]
    assert ws.handle(CancelRequested("q")) == [DropTask(s.key, 0, "its query is over")]
    assert ws.pushing is None
    assert ws.handle(PushConfirmed(s.key, 0, "w2")) == []  # late: nothing more to report


# ----- attempts -------------------------------------------------------------------------------


def test_a_duplicate_assignment_runs_once() -> None:
    ws = state()
    s = spec()
    run_to_execution(ws, s)
    assert ws.handle(TaskAssigned(s)) == []
    out = ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)}))
    assert kinds(out) == ["SendResult"]  # and no second execution


def test_a_newer_attempt_supersedes_a_queued_or_executing_one_and_an_older_is_ignored() -> None:
    ws = state()
    first, blocked = spec(index=9), spec(index=0)
    run_to_execution(ws, first)
    ws.handle(TaskAssigned(blocked))
    retry = spec(index=0, attempt=1)
    ws.handle(TaskAssigned(retry))
    out = ws.handle(FragmentSucceeded(first.key, 0, {0: table()}))
    assert kinds(out) == ["SendResult", "Execute"] and out[1].spec == retry  # attempt 0 skipped
    assert ws.handle(TaskAssigned(blocked)) == []  # an older attempt arriving late
    again = spec(index=0, attempt=2)
    ws.handle(TaskAssigned(again))
    # the executing attempt 1 finishes after attempt 2 arrived: its output goes nowhere
    out = ws.handle(FragmentSucceeded(retry.key, 1, {0: table()}))
    assert out[0] == DropTask(retry.key, 1, "superseded by a newer attempt")
    assert kinds(out) == ["DropTask", "Execute"] and out[1].spec == again


def test_a_newer_attempt_ends_the_push_of_the_older() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2",))
    run_to_execution(ws, s)
    ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)}))
    out = ws.handle(TaskAssigned(spec(mode=OutputMode.HASH, destinations=("w2",), attempt=1)))
    assert out[0] == DropTask(s.key, 0, "superseded by a newer attempt")
    assert kinds(out) == ["DropTask", "Execute"] and out[1].spec.attempt == 1


def test_results_for_a_task_not_executing_are_ignored() -> None:
    ws = state()
    s = spec()
    assert ws.handle(FragmentSucceeded(s.key, 0, {0: table()})) == []
    run_to_execution(ws, s)
    assert ws.handle(FragmentErred(s.key, 5, "stale attempt")) == []
    assert ws.executing == s


# ----- pushing --------------------------------------------------------------------------------


def test_hash_output_goes_to_each_partitions_owner_and_is_done_when_all_confirmed() -> None:
    ws = state()
    s = spec(index=3, mode=OutputMode.HASH, destinations=("w2", "w1", "w3", "w2"))
    run_to_execution(ws, s, now=10.0)
    out = ws.handle(FragmentSucceeded(s.key, 0, {0: table(1), 1: table(2), 3: table(4)}), 11.0)
    assert [(i.worker, i.address, i.message.partition) for i in out] == [
        ("w2", PEERS["w2"], 0),
        ("w3", PEERS["w3"], 2),
        ("w2", PEERS["w2"], 3),
    ]
    assert all(isinstance(i, SendToPeer) and i.message.producer == 3 for i in out)
    # a partition with no rows travels as an empty table of the same schema
    assert out[1].message.table.num_rows == 0 and out[1].message.table.schema == table().schema
    # partition 1 is this worker's own: stored here, not sent
    assert ws.exchange.parts(("q", 1, 1))[3].to_pydict() == {"v": [2]}
    assert ws.running == 1
    assert ws.handle(PushConfirmed(s.key, 0, "w2"), 11.5) == []
    assert ws.handle(PushConfirmed(s.key, 0, "w3"), 11.6) == []
    [done] = sent(ws.handle(PushConfirmed(s.key, 0, "w2"), 12.0))
    assert (done.rows, done.seconds, done.output) == (3, 2.0, None)
    assert ws.pushing is None and ws.running == 0


def test_broadcast_output_goes_whole_to_every_destination_and_counts_once() -> None:
    ws = state()
    s = spec(mode=OutputMode.BROADCAST, destinations=("w2", "w3"))
    run_to_execution(ws, s)
    out = ws.handle(FragmentSucceeded(s.key, 0, {0: table(1, 2)}))
    assert [i.message.table.num_rows for i in out] == [2, 2]
    ws.handle(PushConfirmed(s.key, 0, "w2"))
    [done] = sent(ws.handle(PushConfirmed(s.key, 0, "w3")))
    assert done.rows == 2


def test_the_fragments_figures_travel_with_its_result_gathered_or_pushed() -> None:
    ws = state()
    figures = TaskFigures(rows_scanned=10, bytes_scanned=80, rows_out=2)
    gather, push = spec(index=0), spec(index=1, mode=OutputMode.HASH, destinations=("w2",))
    run_to_execution(ws, gather)
    ws.handle(TaskAssigned(push))
    out = ws.handle(FragmentSucceeded(gather.key, 0, {0: table(1, 2)}, figures))
    assert sent(out)[0].figures == figures and out[1].spec == push
    ws.handle(FragmentSucceeded(push.key, 0, {0: table(1)}, figures))
    [done] = sent(ws.handle(PushConfirmed(push.key, 0, "w2")))
    assert done.figures == figures


def test_a_peer_lost_during_the_shuffle_fails_the_task() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2", "w3"))
    run_to_execution(ws, s)
    ws.handle(FragmentSucceeded(s.key, 0, {0: table(1), 1: table(2)}))
    ws.handle(PushConfirmed(s.key, 0, "w2"))
    # w2 already confirmed: its loss does not matter; w3's does
    assert ws.handle(PeersChanged({"w1": PEERS["w1"], "w3": PEERS["w3"]})) == []
    [failed] = sent(ws.handle(PeersChanged({"w1": PEERS["w1"]})))
    assert failed.error == "peer worker(s) w3 lost during the shuffle"
    assert ws.pushing is None


def test_a_transport_error_while_pushing_fails_the_task_and_frees_the_executor() -> None:
    ws = state()
    s, after = spec(mode=OutputMode.HASH, destinations=("w2",)), spec(index=1)
    run_to_execution(ws, s)
    ws.handle(TaskAssigned(after))
    ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)}))
    assert ws.handle(PushFailed(("q", 1, 7), 0, "not this task")) == []
    out = ws.handle(PushFailed(s.key, 0, "Connection refused"))
    assert sent(out)[0].error == "Connection refused"
    assert kinds(out) == ["SendResult", "Execute"] and out[1].spec == after


def test_an_unknown_destination_fails_the_task_before_anything_is_sent() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2", "w9"))
    run_to_execution(ws, s)
    out = ws.handle(FragmentSucceeded(s.key, 0, {0: table(1)}))
    assert kinds(out) == ["SendResult"]
    assert sent(out)[0].error == "no address for peer worker w9"


def test_output_only_for_this_worker_is_done_without_a_push() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w1",))
    run_to_execution(ws, s)
    [done] = sent(ws.handle(FragmentSucceeded(s.key, 0, {0: table(5)})))
    assert isinstance(done, TaskDone) and ws.exchange.parts(("q", 1, 0))[0].num_rows == 1


# ----- time -----------------------------------------------------------------------------------


def test_waiting_for_inputs_times_out_and_the_next_task_starts() -> None:
    ws = state()
    waiting, after = spec(index=0, inputs=(exchange(producers=3),)), spec(index=1)
    ws.handle(TaskAssigned(waiting), now=100.0)
    ws.handle(TaskAssigned(after), now=100.0)
    ws.handle(ExchangeArrived("q", 0, 0, 0, table(1)), now=101.0)
    assert kinds(ws.handle(Tick(), now=129.9)) == []
    out = ws.handle(Tick(), now=130.0)
    assert sent(out)[0].error == "exchange ('q', 0, 0) has 1 of 3 inputs"
    assert kinds(out) == ["SendResult", "Execute"] and out[1].spec == after


def test_a_push_nobody_confirms_times_out() -> None:
    ws = state()
    s = spec(mode=OutputMode.HASH, destinations=("w2", "w3"))
    run_to_execution(ws, s, now=0.0)
    ws.handle(FragmentSucceeded(s.key, 0, {0: table(1), 1: table(2)}), now=1.0)
    ws.handle(PushConfirmed(s.key, 0, "w2"), now=2.0)
    assert ws.handle(Tick(), now=60.9) == []
    [failed] = sent(ws.handle(Tick(), now=61.0))
    assert failed.error == "peer worker(s) w3 did not take shuffle data"


# ----- bounded memory -----------------------------------------------------------------------


def test_release_drops_a_querys_data_and_late_data_for_it() -> None:
    ws = state()
    ws.handle(ExchangeArrived("done", 0, 0, 0, table(1)))
    assert ws.exchange
    ws.handle(QueryReleased("done"))
    assert not ws.exchange
    ws.handle(ExchangeArrived("done", 0, 0, 1, table(2)))  # a straggler
    assert not ws.exchange


def test_data_no_task_asked_for_is_kept_while_young_then_dropped() -> None:
    ws = WorkerState("w1", input_timeout_s=1000.0, orphan_ttl_s=120.0)
    ws.handle(Tick(), now=0.0)
    ws.handle(ExchangeArrived("nobody-asked", 0, 0, 0, table(1)), now=1.0)
    ws.handle(ExchangeArrived("wanted", 0, 0, 0, table(1)), now=1.0)
    ws.handle(TaskAssigned(spec("wanted", inputs=(exchange(producers=2),))), now=2.0)
    assert ws.handle(Tick(), now=60.0) == []  # young: its consumer task may be on its way
    assert ws.exchange.count(("nobody-asked", 0, 0)) == 1
    out = ws.handle(Tick(), now=200.0)
    assert out == [DropData("nobody-asked", "no task here asked for it")]
    assert len(ws.exchange) == 1 and ws.exchange.count(("wanted", 0, 0)) == 1  # asked for
    assert ws.handle(ExchangeArrived("nobody-asked", 0, 0, 1, table(2)), now=201.0) == []
    assert ws.exchange.count(("nobody-asked", 0, 0)) == 0


def test_shuffle_data_past_the_byte_limit_fails_only_that_querys_tasks() -> None:
    ws = WorkerState("w1", exchange_limit_bytes=100)
    big, small = spec("big", inputs=(exchange(producers=2),)), spec("small", inputs=(exchange(),))
    ws.handle(TaskAssigned(big))
    ws.handle(TaskAssigned(small))
    assert ws.handle(ExchangeArrived("big", 0, 0, 0, table(*range(5)))) == []  # 40 bytes
    out = ws.handle(ExchangeArrived("big", 0, 0, 1, table(*range(10))))  # 80 more: refused
    assert isinstance(out[0], DropData) and "exchange buffer limit of 0 KiB" in out[0].reason
    # the waiting task fails naming the limit; the next query's task runs once its data is here
    assert sent(out)[0].error == out[0].reason and len(ws.exchange) == 0
    assert kinds(ws.handle(ExchangeArrived("small", 0, 0, 0, table(1)))) == ["Execute"]
    assert ws.handle(ExchangeArrived("big", 0, 0, 1, table(1))) == []  # refused, said once


def test_the_memory_of_finished_queries_is_bounded() -> None:
    ws = WorkerState("w1", remembered_queries=100)
    for i in range(1_000):
        ws.handle(QueryReleased(f"q{i}"))
    assert len(ws.finished) == 100
    assert list(ws.finished)[-1] == "q999"  # the newest are remembered


@pytest.mark.parametrize("stimulus", [CancelRequested("q"), QueryReleased("q")])
def test_a_finished_query_leaves_no_task_records(stimulus: object) -> None:
    ws = state()
    for i in range(3):
        ws.handle(TaskAssigned(spec(index=i, inputs=(exchange(producers=2),))))
    ws.handle(stimulus)
    assert not ws.latest and not ws.queue and not ws.orphans
