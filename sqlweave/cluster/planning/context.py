"""The shared plan context: what every rule reads and adds to while one query is cut into stages.

A rule gets the context, a relation and its body, and returns the relation *planned*:

* a :class:`Pipeline` runs on every worker over its share of the partitioned inputs (base
  table shares, or one hash partition of an exchange), plus broadcast inputs;
* a :class:`Local` runs on the coordinator over gathered inputs.

Cutting a subtree out (:meth:`PlanContext.finish`) makes it a stage whose output columns are
named ``c0..cN`` and puts, in its place, a read of the exchange table ``__stage<N>`` with
the same positional schema. The context collects the stages, and the notes that say what
runs on the coordinator and why.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("k", pa.int64())]), rows=10)
>>> ctx = catalog.planning_context()
>>> plan = PlanContext(ctx, catalog, {}, PlannerOptions(workers=3), walk=lambda c, r: Local(r))
>>> read = plan.substrait.read_rel("t")
>>> local = plan.gather(Pipeline(read, ("t",), rows=10, steps=("scan t",)), "why not")
>>> [(s.id, s.description, s.parallelism) for s in plan.stages], plan.notes, local.rows
([(0, 'scan t', 3)], ['why not'], 10)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from datafusion import SessionContext

from ..catalog import Catalog, register_table
from ..fragments import (
    ExchangeInput,
    Fragment,
    FragmentFormat,
    Location,
    Output,
    OutputMode,
    ScanInput,
    Stage,
    StageInput,
    replica_name,
)
from . import estimates
from .substrait import (
    Rel,
    SubstraitPlan,
    direct_field,
    kind_of,
    read_replicas,
    with_constant_column,
    without_columns,
)


@dataclass(frozen=True)
class PlannerOptions:
    """Knobs of the distributed planner.

    Attributes:
        workers: tasks per distributed stage (usually the number of live workers).
        broadcast_rows: a join side with at most this many (estimated) rows is broadcast.
            Broadcasting is cheap next to hash-splitting and pushing the other side's rows
            (TPC-H SF1 on 2 workers: every table but lineitem is better broadcast).
        broadcast_ratio: ... or one at least this many times smaller than the other side.
            Estimates have no statistics: a filter or a grouped aggregate halves the rows.
        replicate_rows: a side to broadcast that only scans tables of at most this many
            rows in all (and reads no exchange) is not a stage of its own: every task reads
            those tables whole and computes the side itself. A stage costs a scheduling
            round and a transfer; re-reading a small table costs less (TPC-H: nation,
            region, supplier, customer and part at SF1).
        reduce_ratio: before shuffling the larger side of a hash join whose unmatched rows
            are dropped, filter it by the join keys of the other side when that side is
            estimated at least this many times smaller (a semi-join reduction: TPC-H q04
            and q21 then shuffle a few percent of lineitem instead of all of it).
        hash_joins: shuffle both sides of large equi-joins between workers.
        partial_aggregates: two-phase aggregation (else: shuffle by group keys).
    """

    workers: int = 2
    broadcast_rows: int = 2_000_000
    broadcast_ratio: int = 3
    replicate_rows: int = 250_000
    reduce_ratio: int = 4
    hash_joins: bool = True
    partial_aggregates: bool = True


class NotDistributable(Exception):
    """The query must run whole on the coordinator and cannot go there as SQL text
    (it has bound parameters): the caller runs the statement itself."""


@dataclass
class Pipeline:
    """A subtree that runs on every worker over partitioned inputs.

    ``scans`` are the tables split between the tasks; ``exchanges`` every other input:
    exchanges from other stages and replicated scans (tables each task reads whole).
    """

    rel: Rel
    scans: tuple[str, ...] = ()
    exchanges: tuple[StageInput, ...] = ()
    rows: int = 0
    steps: tuple[str, ...] = ()
    #: output columns whose hash (in this order) chose each row's partition; None = unknown
    partitioned_by: tuple[int, ...] | None = None
    #: estimated rows before this pipeline's filters (``rows / base_rows`` is how selective
    #: they are, which a join with this pipeline passes on to the other side); 0 = unknown
    base_rows: int = 0

    @property
    def selectivity(self) -> float:
        """The fraction of its unfiltered rows this pipeline is estimated to keep."""
        return estimates.selectivity(self.rows, self.base_rows)


@dataclass
class Local:
    """A subtree that runs on the coordinator."""

    rel: Rel
    exchanges: tuple[ExchangeInput, ...] = ()
    rows: int = 0


Planned = Pipeline | Local

#: how the context plans a child relation: the planner's walk over its rules
Walk = Callable[["PlanContext", Rel], Planned]


class PlanContext:
    """One query being planned: its Substrait header, the stages cut so far, the notes.

    Rules call :meth:`plan` for their inputs (the planner's walk picks the rule for each
    relation) and :meth:`gather`, :meth:`broadcast` or :meth:`shuffle` to end a pipeline
    as a stage.
    """

    def __init__(
        self,
        ctx: SessionContext,
        catalog: Catalog,
        plan_json: dict[str, Any],
        options: PlannerOptions,
        walk: Walk,
    ) -> None:
        self.catalog = catalog
        self.options = options
        self.substrait = SubstraitPlan(ctx, plan_json)
        self.stages: list[Stage] = []
        #: why parts of the query run on the coordinator (EXPLAIN lists them)
        self.notes: list[str] = []
        self.schemas: dict[int, pa.Schema] = {}
        #: the rel each worker stage runs, for rewriting it later (see reduce.push_semi_join)
        self.stage_rels: dict[int, Rel] = {}
        #: how many joins (or unions) the relation being planned sits under
        self.inside_join = 0
        self._walk = walk

    @property
    def ctx(self) -> SessionContext:
        """The planning context (empty tables of the catalog's schemas)."""
        return self.substrait.ctx

    def plan(self, rel: Rel) -> Planned:
        """Plan ``rel`` and everything under it."""
        return self._walk(self, rel)

    def plan_inside_join(self, rel: Rel) -> Planned:
        """Plan an input of a join or union (aggregates under one stay on the workers)."""
        self.inside_join += 1
        try:
            return self.plan(rel)
        finally:
            self.inside_join -= 1

    def base_table(self, read: dict[str, Any]) -> str | None:
        """The catalog table a read relation's body names, if it names one."""
        names = read.get("namedTable", {}).get("names")
        if names and names[-1] in self.catalog:
            return names[-1]
        return None

    def through(self, new: Rel, child: Pipeline) -> tuple[int, ...] | None:
        """Where the child's partitioning columns are in the output of filter/project ``new``
        (None: unknown, or not passed through unchanged)."""
        if child.partitioned_by is None:
            return None
        kind = kind_of(new)
        body = new[kind]
        positions: list[int | None] = list(child.partitioned_by)
        if kind == "project":
            width = len(self.substrait.schema_of(child.rel))
            out = list(range(width))
            for expr in body.get("expressions", []):
                ref = direct_field(expr)
                out.append(ref if ref is not None else -1)
            mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
            produced = [out[m] for m in mapping] if mapping else out
            positions = [produced.index(c) if c in produced else None for c in positions]
        elif kind != "filter":
            return None
        if any(p is None for p in positions):
            return None
        return tuple(p for p in positions if p is not None)

    def finish(self, p: Pipeline, output: Output, description: str) -> tuple[Rel, ExchangeInput]:
        """Make pipeline ``p`` a stage; return a read of its exchange table and the input."""
        schema = self.substrait.schema_of(p.rel)
        rel = p.rel
        columnless = len(schema) == 0
        if columnless:
            # an Arrow table without columns loses its row count between processes (and
            # count(*) over it then says 0): the stage carries one constant column instead
            rel = with_constant_column(rel)
            schema = self.substrait.schema_of(rel)
        names = [f"c{i}" for i in range(len(schema))]
        sid = len(self.stages)
        table = f"__stage{sid}"
        inputs = tuple(dict.fromkeys((*(ScanInput(t) for t in p.scans), *p.exchanges)))
        self.stages.append(
            Stage(
                id=sid,
                fragment=Fragment(FragmentFormat.SUBSTRAIT, self.substrait.plan_bytes(rel, names)),
                inputs=inputs,
                output=output,
                location=Location.WORKERS,
                parallelism=self.options.workers,
                description=description,
            )
        )
        renamed = pa.schema([f.with_name(n) for f, n in zip(schema, names)])
        register_table(self.ctx, table, renamed.empty_table())
        read = self.substrait.read_rel(table)
        if columnless:
            # readers see the columns the stage had: none (its rows still count)
            read = without_columns(read)
            renamed = pa.schema([])
        else:
            self.stage_rels[sid] = p.rel  # (nothing to filter by in a stage without columns)
        self.schemas[sid] = renamed
        return read, ExchangeInput(sid, table)

    def gather(self, planned: Planned, why: str = "") -> Local:
        """``planned`` on the coordinator: a pipeline becomes a stage gathered there, and
        ``why`` (if given) joins the notes."""
        if isinstance(planned, Local):
            return planned
        desc = " -> ".join(planned.steps) or "scan"
        rel, inp = self.finish(planned, Output(OutputMode.GATHER), desc)
        if why:
            self.notes.append(why)
        return Local(rel, (inp,), planned.rows)

    def broadcast(self, p: Pipeline) -> tuple[Rel, tuple[StageInput, ...], int]:
        """``p``'s whole output on every task: its rel there, the inputs, its width.

        Usually a stage whose output is broadcast; a pipeline over small tables only
        (:attr:`PlannerOptions.replicate_rows`) instead runs inside each consumer task
        over replicated scans of those tables.
        """
        if self.replicable(p):
            tables = tuple(dict.fromkeys(p.scans))
            for t in tables:  # so the planning context can resolve the replicas' reads
                if not self.ctx.table_exist(replica_name(t)):
                    register_table(self.ctx, replica_name(t), self.catalog[t].schema.empty_table())
            return (
                read_replicas(p.rel, set(tables)),
                tuple(ScanInput(t, replicated=True) for t in tables) + p.exchanges,
                len(self.substrait.schema_of(p.rel)),
            )
        desc = " -> ".join(p.steps) + " (broadcast)"
        out = Output(OutputMode.BROADCAST, partitions=self.options.workers)
        read, inp = self.finish(p, out, desc.strip())
        return read, (inp,), len(self.schemas[inp.stage])

    def replicable(self, p: Pipeline) -> bool:
        """Only small base tables under ``p`` (replicated scans already count as small)."""
        if not p.scans or any(not isinstance(e, ScanInput) for e in p.exchanges):
            return False
        if any(replica_name(t) in self.catalog for t in p.scans):
            return False  # a user table already has the name the replica would read
        return estimates.table_rows(self.catalog, p.scans) <= self.options.replicate_rows

    def shuffle(self, p: Pipeline, keys: list[int], why: str) -> tuple[Rel, ExchangeInput]:
        """End ``p`` as a stage whose rows are hash-partitioned by the columns ``keys``."""
        desc = f"{' -> '.join(p.steps)} (hash shuffle for {why})"
        out = Output(OutputMode.HASH, tuple(f"c{k}" for k in keys), self.options.workers)
        return self.finish(p, out, desc.strip())
