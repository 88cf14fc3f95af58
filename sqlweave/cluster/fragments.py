"""The contract between the cluster planner, the scheduler and the runtime.

A query becomes a :class:`DistributedPlan`: a DAG of :class:`Stage` s. A stage
runs as one or more :class:`TaskSpec` s (one per partition), each executing a
plan fragment over named input tables and routing its output (to the
coordinator, to every worker, or hash-partitioned to workers). The planner
(:mod:`.planning`) builds plans, the scheduler (:mod:`.scheduler`) turns them
into tasks and reacts to events, :mod:`.task` runs one task on a DataFusion
``SessionContext``; the coordinator and worker processes only carry these
values over ZeroMQ.

All values are frozen dataclasses, picklable-free: they serialise to JSON
headers via ``to_json``/``from_json`` defined in :mod:`.json_values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from ..engines.tuning import Settings

#: worker id under which the scheduler asks the coordinator itself to run a task
COORDINATOR = "coordinator"


class FragmentFormat(str, Enum):
    SUBSTRAIT = "substrait"  # bytes of a Substrait plan; tables resolved by name on the worker
    SQL = "sql"  # SQL text in DataFusion's dialect


class OutputMode(str, Enum):
    GATHER = "gather"  # all output goes to the coordinator
    BROADCAST = "broadcast"  # every consumer task receives all output
    HASH = "hash"  # rows go to partition hash(keys) % partitions


class Location(str, Enum):
    WORKERS = "workers"
    COORDINATOR = "coordinator"


@dataclass(frozen=True)
class Fragment:
    format: FragmentFormat
    payload: bytes | str


@dataclass(frozen=True)
class Output:
    mode: OutputMode = OutputMode.GATHER
    keys: tuple[str, ...] = ()
    partitions: int = 1


@dataclass(frozen=True)
class ScanInput:
    """A base table from the catalog; the scheduler assigns each task its share.

    A *replicated* scan instead gives every task the whole table, registered under
    :attr:`name` (the fragment reads that name): how a small table reaches every task
    of a join without a broadcast stage of its own.
    """

    table: str
    replicated: bool = False

    @property
    def name(self) -> str:
        """The table name the fragment reads."""
        return replica_name(self.table) if self.replicated else self.table


def replica_name(table: str) -> str:
    """What a replicated scan of ``table`` is registered as on the worker."""
    return f"__replica_{table}"


@dataclass(frozen=True)
class ExchangeInput:
    """The output of another stage, registered under ``table`` for the fragment."""

    stage: int
    table: str


StageInput = ScanInput | ExchangeInput


@dataclass(frozen=True)
class Stage:
    id: int
    fragment: Fragment
    inputs: tuple[StageInput, ...]
    output: Output
    location: Location = Location.WORKERS
    #: number of tasks; for scan stages the scheduler may lower it to the number of shares
    parallelism: int = 1
    #: one line for EXPLAIN ("partial aggregate over lineitem", "hash join build side", ...)
    description: str = ""


@dataclass(frozen=True)
class DistributedPlan:
    stages: tuple[Stage, ...]
    #: the stage whose (gathered) output is the query result
    root: int
    #: why parts run on the coordinator instead of being distributed
    notes: tuple[str, ...] = ()
    #: the client's session settings (``SET``): every task runs with them
    settings: Settings = ()
    #: the result's Arrow schema (a ``pa.Schema``) as DataFusion planned it; None: unknown
    schema: Any = None


# ----- what a task receives -------------------------------------------------


@dataclass(frozen=True)
class FilesShare:
    """A task's share of a file-backed table: these files (or row groups)."""

    table: str
    paths: tuple[str, ...]
    format: str = "parquet"
    #: optional per-path row-group lists, same order as ``paths``; empty = whole files
    row_groups: tuple[tuple[int, ...], ...] = ()
    #: the table's Arrow IPC-serialised schema as DataFusion reads these files; given, the
    #: worker registers the files without inferring it (which reads every footer: ~5 ms a file)
    schema: bytes = b""


@dataclass(frozen=True)
class MemoryShare:
    """A task's share of an in-memory table, cached on the worker by content hash."""

    table: str
    content_hash: str


@dataclass(frozen=True)
class ExchangeShare:
    """Partition ``partition`` of stage ``stage``'s output, produced by ``producers`` tasks.

    Exchange rules (the runtime implements them, :mod:`.simulate` shows them):

    * A producer task's output is ``dict[partition, batches]`` (see :func:`.task.run_task`).
      For HASH, piece ``p`` goes to ``destinations[p]``; for BROADCAST, the whole output is
      sent as piece ``p`` to every ``destinations[p]``; for GATHER, piece 0 goes to the
      coordinator. Every piece holds at least one (possibly empty) batch, so the schema travels.
    * The receiver keeps one piece per ``(query, stage, producer index, partition)``; a
      re-run producer's piece replaces the earlier one (no duplicates after retries).
    * The consumer's share is the concatenation of the ``producers`` pieces for
      ``partition``, ordered by producer index.
    """

    table: str
    stage: int
    partition: int
    producers: int


@dataclass(frozen=True)
class EmptyShare:
    """No rows of ``table`` for this task; ``schema`` is the Arrow IPC-serialised schema."""

    table: str
    schema: bytes


TaskInput = FilesShare | MemoryShare | ExchangeShare | EmptyShare


@dataclass(frozen=True)
class TaskSpec:
    query_id: str
    stage: int
    index: int  # partition index within the stage
    fragment: Fragment
    inputs: tuple[TaskInput, ...]
    output: Output
    #: for HASH/BROADCAST outputs: the worker id that owns each consumer partition
    destinations: tuple[str, ...] = ()
    attempt: int = 0
    #: DataFusion settings of the client's session, applied to the task's context
    settings: Settings = ()

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.query_id, self.stage, self.index)
