"""SQL + catalog -> :class:`DistributedPlan`, by cutting DataFusion's own optimized plan.

DataFusion optimizes the query (projection/filter pushdown, decorrelation, join
planning); we serialise that plan to Substrait, read it as plain data (its JSON form)
and walk it bottom-up. Every relation is either

* a *pipeline*: runs on every worker over its share of the partitioned inputs (base
  table shares, or one hash partition of an exchange), plus broadcast inputs; or
* *local*: runs on the coordinator over gathered inputs.

Cutting a subtree out means: finish it as a stage of its own (a Substrait plan whose
output columns are named ``c0..cN``) and splice, in its place, a read of the exchange
table ``__stage<N>`` with the same positional schema. Because Substrait field
references are positional, the parent relations stay valid unchanged.

Distributed: scans with pushed filters/projections, filters and projections, two-phase
aggregation (sum/count/min/max/avg; others and DISTINCT via a hash shuffle on the group
keys; below a join, aggregates are shuffled so the join stays on the workers), joins by
broadcasting a small side or hash-shuffling both sides on the equi keys (a side already
partitioned on its keys is not shuffled again, and an aggregate over rows partitioned by
its group keys runs in place), ORDER BY + LIMIT as per-worker top-k, LIMIT, UNION ALL,
filters with uncorrelated subqueries (their results are broadcast). Everything else runs
on the coordinator over gathered inputs, and :attr:`DistributedPlan.notes` says why; a
plan the walk cannot cut at all falls back to gathering every table it names.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from datafusion import SessionContext
from datafusion import substrait as ss

from .catalog import Catalog, register_table
from .fragments import (
    DistributedPlan,
    ExchangeInput,
    Fragment,
    FragmentFormat,
    Location,
    Output,
    OutputMode,
    ScanInput,
    Settings,
    Stage,
    StageInput,
    replica_name,
)
from .roundtrip import substrait_loss

Rel = dict[str, Any]

REL_KINDS = frozenset(
    {
        "read",
        "filter",
        "fetch",
        "aggregate",
        "sort",
        "join",
        "project",
        "set",
        "extensionSingle",
        "extensionMulti",
        "extensionLeaf",
        "cross",
        "reference",
        "write",
        "ddl",
        "hashJoin",
        "mergeJoin",
        "nestedLoopJoin",
        "window",
        "exchange",
        "expand",
        "update",
    }
)
CHILD_KEYS = ("input", "left", "right")

#: aggregate functions whose partial results combine with another function
DECOMPOSABLE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}

# join types by which side may be partitioned while the other is broadcast
BROADCAST_RIGHT_OK = {
    "JOIN_TYPE_INNER",
    "JOIN_TYPE_LEFT",
    "JOIN_TYPE_LEFT_SEMI",
    "JOIN_TYPE_LEFT_ANTI",
    "JOIN_TYPE_LEFT_SINGLE",
    "JOIN_TYPE_LEFT_MARK",
}
BROADCAST_LEFT_OK = {
    "JOIN_TYPE_INNER",
    "JOIN_TYPE_RIGHT",
    "JOIN_TYPE_RIGHT_SEMI",
    "JOIN_TYPE_RIGHT_ANTI",
    "JOIN_TYPE_RIGHT_SINGLE",
    "JOIN_TYPE_RIGHT_MARK",
}
# anti joins may be null-aware (NOT IN): a partition without the NULL key would answer wrongly,
# so they are hash-partitioned only when no key can be NULL
ANTI_JOINS = frozenset({"JOIN_TYPE_LEFT_ANTI", "JOIN_TYPE_RIGHT_ANTI"})
# joins that drop the unmatched rows of their right (left) input: that input may be reduced to
# the rows whose keys occur in the other input before it is shuffled
REDUCIBLE_RIGHT = frozenset(
    {
        "JOIN_TYPE_INNER",
        "JOIN_TYPE_LEFT",
        "JOIN_TYPE_LEFT_SEMI",
        "JOIN_TYPE_RIGHT_SEMI",
        "JOIN_TYPE_LEFT_ANTI",
    }
)
REDUCIBLE_LEFT = frozenset(
    {
        "JOIN_TYPE_INNER",
        "JOIN_TYPE_RIGHT",
        "JOIN_TYPE_LEFT_SEMI",
        "JOIN_TYPE_RIGHT_SEMI",
        "JOIN_TYPE_RIGHT_ANTI",
    }
)
HASH_JOIN_OK = {
    "JOIN_TYPE_INNER",
    "JOIN_TYPE_LEFT",
    "JOIN_TYPE_RIGHT",
    "JOIN_TYPE_OUTER",
    "JOIN_TYPE_LEFT_SEMI",
    "JOIN_TYPE_RIGHT_SEMI",
}


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


class PlanningError(Exception):
    """The query cannot be planned for the cluster (e.g. an unknown table)."""


class NotDistributable(Exception):
    """The query must run whole on the coordinator and cannot go there as SQL text
    (it has bound parameters): the caller runs the statement itself."""


@dataclass
class _Pipeline:
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


@dataclass
class _Local:
    """A subtree that runs on the coordinator."""

    rel: Rel
    exchanges: tuple[ExchangeInput, ...] = ()
    rows: int = 0


_Planned = _Pipeline | _Local


def _kind(rel: Rel) -> str:
    (kind,) = rel.keys()
    return kind


def _field_ref(i: int) -> dict[str, Any]:
    return {"selection": {"directReference": {"structField": {"field": i}}, "rootReference": {}}}


def _direct_field(expr: Mapping[str, Any]) -> int | None:
    sel = expr.get("selection")
    if not sel or "rootReference" not in sel:
        return None
    ref = sel.get("directReference", {}).get("structField")
    if ref is None or "child" in ref:
        return None
    return int(ref.get("field", 0))


def _walk(obj: Any) -> Iterator[Any]:
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)


def _own_parts(body: Mapping[str, Any]) -> dict[str, Any]:
    """A relation's own expressions (everything but its inputs)."""
    return {k: v for k, v in body.items() if k not in (*CHILD_KEYS, "inputs")}


def _has_key(obj: Any, key: str) -> bool:
    return any(isinstance(o, dict) and key in o for o in _walk(obj))


class _Builder:
    def __init__(self, ctx: SessionContext, catalog: Catalog, plan_json: dict[str, Any], options):
        self.ctx = ctx
        self.catalog = catalog
        self.options: PlannerOptions = options
        self.header = {k: v for k, v in plan_json.items() if k != "relations"}
        self.header.setdefault("extensions", [])
        self.stages: list[Stage] = []
        self.notes: list[str] = []
        self.schemas: dict[int, pa.Schema] = {}
        #: the rel each worker stage runs, for rewriting it later (see _push_semi_join)
        self.stage_rels: dict[int, Rel] = {}
        self._tmp = 0
        self._inside_join = 0

    # -- Substrait helpers --------------------------------------------------------

    def function_name(self, anchor: int) -> str:
        for ext in self.header["extensions"]:
            fn = ext.get("extensionFunction")
            if fn and int(fn.get("functionAnchor", 0)) == anchor:
                return fn["name"].split(":")[0]
        return ""

    def function_anchor(self, name: str) -> int:
        anchors = []
        for ext in self.header["extensions"]:
            fn = ext.get("extensionFunction")
            if fn:
                if fn["name"].split(":")[0] == name:
                    return int(fn.get("functionAnchor", 0))
                anchors.append(int(fn.get("functionAnchor", 0)))
        anchor = max(anchors, default=-1) + 1
        urn = {"extensionUrnReference": 4294967295}
        self.header["extensions"].append(
            {"extensionFunction": {**urn, "functionAnchor": anchor, "name": name}}
        )
        return anchor

    def plan_bytes(self, rel: Rel, names: list[str]) -> bytes:
        doc = {**self.header, "relations": [{"root": {"input": rel, "names": names}}]}
        return ss.Plan.from_json(json.dumps(doc)).encode()

    def schema_of(self, rel: Rel) -> pa.Schema:
        doc = {**self.header, "relations": [{"rel": rel}]}
        lp = ss.Consumer.from_substrait_plan(self.ctx, ss.Plan.from_json(json.dumps(doc)))
        return self.ctx.create_dataframe_from_logical_plan(lp).schema()

    def types_of(self, schema: pa.Schema) -> list[dict[str, Any]]:
        """Substrait type JSON of each field, as DataFusion's producer writes them."""
        self._tmp += 1
        name = f"__types{self._tmp}"
        plain = pa.schema([f.with_name(f"t{i}") for i, f in enumerate(schema)])
        register_table(self.ctx, name, plain.empty_table())
        try:
            return self._read_rel(name)["read"]["baseSchema"]["struct"]["types"]
        finally:
            self.ctx.deregister_table(name)

    def _read_rel(self, table: str) -> Rel:
        lp = self.ctx.table(table).logical_plan()
        doc = json.loads(ss.Producer.to_substrait_plan(lp, self.ctx).to_json())
        for obj in _walk(doc["relations"][0]):
            if isinstance(obj, dict) and "read" in obj and len(obj) == 1:
                read = copy.deepcopy(obj)
                read["read"].pop("projection", None)
                return read
        raise PlanningError(f"no read relation for {table}")

    # -- stages ------------------------------------------------------------------

    def finish(self, p: _Pipeline, output: Output, description: str) -> tuple[Rel, ExchangeInput]:
        """Make pipeline ``p`` a stage; return a read of its exchange table and the input."""
        schema = self.schema_of(p.rel)
        rel = p.rel
        columnless = len(schema) == 0
        if columnless:
            # an Arrow table without columns loses its row count between processes (and
            # count(*) over it then says 0): the stage carries one constant column instead
            rel = _with_constant_column(rel)
            schema = self.schema_of(rel)
        names = [f"c{i}" for i in range(len(schema))]
        sid = len(self.stages)
        table = f"__stage{sid}"
        inputs = tuple(dict.fromkeys((*(ScanInput(t) for t in p.scans), *p.exchanges)))
        self.stages.append(
            Stage(
                id=sid,
                fragment=Fragment(FragmentFormat.SUBSTRAIT, self.plan_bytes(rel, names)),
                inputs=inputs,
                output=output,
                location=Location.WORKERS,
                parallelism=self.options.workers,
                description=description,
            )
        )
        renamed = pa.schema([f.with_name(n) for f, n in zip(schema, names)])
        register_table(self.ctx, table, renamed.empty_table())
        read = self._read_rel(table)
        if columnless:
            # readers see the columns the stage had: none (its rows still count)
            read = _without_columns(read)
            renamed = pa.schema([])
        else:
            self.stage_rels[sid] = p.rel  # (nothing to filter by in a stage without columns)
        self.schemas[sid] = renamed
        return read, ExchangeInput(sid, table)

    def gather(self, planned: _Planned, why: str = "") -> _Local:
        if isinstance(planned, _Local):
            return planned
        desc = " -> ".join(planned.steps) or "scan"
        rel, inp = self.finish(planned, Output(OutputMode.GATHER), desc)
        if why:
            self.notes.append(why)
        return _Local(rel, (inp,), planned.rows)

    def broadcast(self, p: _Pipeline) -> tuple[Rel, tuple[StageInput, ...], int]:
        """``p``'s whole output on every task: its rel there, the inputs, its width.

        Usually a stage whose output is broadcast; a pipeline over small tables only
        (:attr:`PlannerOptions.replicate_rows`) instead runs inside each consumer task
        over replicated scans of those tables.
        """
        if self._replicable(p):
            tables = tuple(dict.fromkeys(p.scans))
            for t in tables:  # so the planning context can resolve the replicas' reads
                if not self.ctx.table_exist(replica_name(t)):
                    register_table(self.ctx, replica_name(t), self.catalog[t].schema.empty_table())
            return (
                _read_replicas(p.rel, set(tables)),
                tuple(ScanInput(t, replicated=True) for t in tables) + p.exchanges,
                len(self.schema_of(p.rel)),
            )
        desc = " -> ".join(p.steps) + " (broadcast)"
        out = Output(OutputMode.BROADCAST, partitions=self.options.workers)
        read, inp = self.finish(p, out, desc.strip())
        return read, (inp,), len(self.schemas[inp.stage])

    def _replicable(self, p: _Pipeline) -> bool:
        """Only small base tables under ``p`` (replicated scans already count as small)."""
        if not p.scans or any(not isinstance(e, ScanInput) for e in p.exchanges):
            return False
        if any(replica_name(t) in self.catalog for t in p.scans):
            return False  # a user table already has the name the replica would read
        rows = sum(self.catalog[t].rows for t in dict.fromkeys(p.scans))
        return rows <= self.options.replicate_rows

    def shuffle(self, p: _Pipeline, keys: list[int], why: str) -> tuple[Rel, ExchangeInput]:
        desc = f"{' -> '.join(p.steps)} (hash shuffle for {why})"
        out = Output(OutputMode.HASH, tuple(f"c{k}" for k in keys), self.options.workers)
        return self.finish(p, out, desc.strip())

    # -- the walk ----------------------------------------------------------------

    def plan(self, rel: Rel) -> _Planned:
        kind = _kind(rel)
        body = rel[kind]
        handler = getattr(self, f"_plan_{kind}", None)
        if handler is not None and not self._has_subquery(body):
            return handler(rel, body)
        if kind in ("filter", "project") and not _has_key(_own_parts(body), "outerReference"):
            planned = self._with_broadcast_subqueries(rel, body)
            if planned is not None:
                return planned
        return self._plan_local(rel, body, f"{kind} runs on the coordinator")

    def _with_broadcast_subqueries(self, rel: Rel, body: dict[str, Any]) -> _Planned | None:
        """Keep a filter/projection with uncorrelated subqueries on the workers.

        Each subquery's result is broadcast to every worker: a subquery that is itself a
        pipeline broadcasts its output; one that ends on the coordinator (say, a final
        aggregate) instead broadcasts its gathered inputs and runs on every worker.
        """
        if _has_key(body.get("expressions", []), "windowFunction"):
            return None
        child = self.plan(body["input"])
        if isinstance(child, _Local):
            own, extra = self._gather_subquery_reads(_own_parts(body))
            return _Local(
                {_kind(rel): {**body, **own, "input": child.rel}}, child.exchanges + extra
            )
        exchanges: list[ExchangeInput] = []

        def visit(obj: Any) -> Any:
            if isinstance(obj, dict):
                if len(obj) == 1 and next(iter(obj)) in REL_KINDS:
                    read, inputs = self._broadcast_result(obj)
                    exchanges.extend(inputs)
                    return read
                return {k: visit(v) for k, v in obj.items()}
            if isinstance(obj, list):
                return [visit(v) for v in obj]
            return obj

        own = visit(copy.deepcopy(_own_parts(body)))
        new = {_kind(rel): {**body, **own, "input": child.rel}}
        step = f"{_kind(rel)} with broadcast subquery"
        return replace(
            child,
            rel=new,
            exchanges=(*child.exchanges, *exchanges),
            steps=(*child.steps, step),
            partitioned_by=self._through(new, child),
        )

    def _broadcast_result(self, rel: Rel) -> tuple[Rel, tuple[ExchangeInput, ...]]:
        notes = len(self.notes)
        planned = self.plan(rel)
        if isinstance(planned, _Pipeline):
            read, inputs, _ = self.broadcast(planned)
            return read, inputs
        # computed from gathered inputs: broadcast those instead, run the rest everywhere
        del self.notes[notes:]
        for inp in planned.exchanges:
            stage = self.stages[inp.stage]
            out = Output(OutputMode.BROADCAST, partitions=self.options.workers)
            desc = f"{stage.description} (broadcast for a subquery)"
            self.stages[inp.stage] = replace(stage, output=out, description=desc)
        return planned.rel, planned.exchanges

    def _has_subquery(self, body: Mapping[str, Any]) -> bool:
        return _has_key(_own_parts(body), "subquery")

    def _plan_local(self, rel: Rel, body: dict[str, Any], why: str) -> _Local:
        """Run ``rel`` on the coordinator: gather its inputs, and any table its subqueries read."""
        new = dict(body)
        exchanges: tuple[ExchangeInput, ...] = ()
        rows = 0
        for key in CHILD_KEYS:
            if key in body:
                child = self.gather(self.plan(body[key]), why)
                new[key] = child.rel
                exchanges += child.exchanges
                rows = max(rows, child.rows)
        if "inputs" in body:
            new["inputs"] = []
            for sub in body["inputs"]:
                child = self.gather(self.plan(sub), why)
                new["inputs"].append(child.rel)
                exchanges += child.exchanges
                rows = max(rows, child.rows)
        own, extra = self._gather_subquery_reads(_own_parts(body))
        new.update(own)
        return _Local({_kind(rel): new}, exchanges + extra, rows)

    def _gather_subquery_reads(self, parts: dict[str, Any]):
        """Plan the relations inside subquery expressions; the results are gathered.

        An uncorrelated subquery is planned like any query (so its scans, aggregates and
        joins are distributed). A correlated one runs on the coordinator, over gathered
        copies of the tables it reads.
        """
        parts = copy.deepcopy(parts)
        exchanges: list[ExchangeInput] = []

        def visit(obj: Any) -> Any:
            if isinstance(obj, dict):
                if len(obj) == 1 and next(iter(obj)) in REL_KINDS:
                    if not _has_key(obj, "outerReference"):
                        local = self.gather(self.plan(obj), "subquery results are gathered")
                        exchanges.extend(local.exchanges)
                        return local.rel
                    if "read" in obj and self._base_table(obj["read"]):
                        table = self._base_table(obj["read"])
                        p = _Pipeline(obj, (table,), steps=(f"scan {table} (for a subquery)",))
                        why = f"correlated subquery over {table} runs on the coordinator"
                        local = self.gather(p, why)
                        exchanges.extend(local.exchanges)
                        return local.rel
                return {k: visit(v) for k, v in obj.items()}
            if isinstance(obj, list):
                return [visit(v) for v in obj]
            return obj

        if not _has_key(parts, "subquery"):
            return parts, ()
        return visit(parts), tuple(exchanges)

    def _base_table(self, read: Mapping[str, Any]) -> str | None:
        names = read.get("namedTable", {}).get("names")
        if names and names[-1] in self.catalog:
            return names[-1]
        return None

    def _plan_read(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        table = self._base_table(body)
        if table is None:
            names = body.get("namedTable", {}).get("names")
            if names:
                raise PlanningError(f"table {names[-1]!r} is not in the cluster catalog")
            return _Local(rel)
        rows = self.catalog[table].rows
        step = f"scan {table}"
        if "filter" in body or "bestEffortFilter" in body:
            step += " (filter pushed)"
            rows = _estimate_filtered(rows)
        return _Pipeline(
            rel, (table,), rows=rows, steps=(step,), base_rows=self.catalog[table].rows
        )

    def _plan_filter(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        return self._unary(rel, body, "filter")

    def _plan_project(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        if _has_key(body.get("expressions", []), "windowFunction"):
            return self._plan_local(rel, body, "window functions run on the coordinator")
        return self._unary(rel, body, "project")

    def _unary(self, rel: Rel, body: dict[str, Any], step: str) -> _Planned:
        child = self.plan(body["input"])
        new = {_kind(rel): {**body, "input": child.rel}}
        if isinstance(child, _Pipeline):
            steps = child.steps if child.steps and child.steps[-1] == step else (*child.steps, step)
            by = self._through(new, child)
            rows = _estimate_filtered(child.rows) if step == "filter" else child.rows
            return replace(child, rel=new, steps=steps, partitioned_by=by, rows=rows)
        return replace(child, rel=new)

    def _through(self, new: Rel, child: _Pipeline) -> tuple[int, ...] | None:
        """Where the child's partitioning columns are in the output of filter/project ``new``."""
        if child.partitioned_by is None:
            return None
        kind = _kind(new)
        body = new[kind]
        positions: list[int | None] = list(child.partitioned_by)
        if kind == "project":
            width = len(self.schema_of(child.rel))
            out = list(range(width))
            for expr in body.get("expressions", []):
                ref = _direct_field(expr)
                out.append(ref if ref is not None else -1)
            mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
            produced = [out[m] for m in mapping] if mapping else out
            positions = [produced.index(c) if c in produced else None for c in positions]
        elif kind != "filter":
            return None
        if any(p is None for p in positions):
            return None
        return tuple(p for p in positions if p is not None)

    def _plan_fetch(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        count = _literal_int(body.get("countExpr"), body.get("count"))
        offset = _literal_int(body.get("offsetExpr"), body.get("offset")) or 0
        inner = body["input"]
        is_sort = _kind(inner) == "sort" and not self._has_subquery(inner["sort"])
        child = self.plan(inner["sort"]["input"] if is_sort else inner)
        if isinstance(child, _Local) or count is None:
            if is_sort:
                child = self.gather(child, "sort runs on the coordinator")
                inner = {"sort": {**inner["sort"], "input": child.rel}}
                child = replace(child, rel=inner)
            local = self.gather(child, "limit runs on the coordinator")
            return replace(local, rel={"fetch": {**body, "input": local.rel}})
        # per-worker top-k (or first rows), then the same sort + fetch on the coordinator
        top = {k: v for k, v in body.items() if k not in ("offset", "offsetExpr", "count")}
        top["countExpr"] = {"literal": {"i64": str(count + offset)}}
        if is_sort:
            top["input"] = {"sort": {**inner["sort"], "input": child.rel}}
            step = f"top {count + offset}"
        else:
            top["input"] = child.rel
            step = f"limit {count + offset}"
        local = self.gather(replace(child, rel={"fetch": top}, steps=(*child.steps, step)))
        final_input = local.rel
        if is_sort:
            final_input = {"sort": {**inner["sort"], "input": local.rel}}
        self.notes.append(f"final merge of the top {count + offset} rows runs on the coordinator")
        return replace(local, rel={"fetch": {**body, "input": final_input}})

    def _plan_sort(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        child = self.gather(self.plan(body["input"]), "sort runs on the coordinator")
        return replace(child, rel={"sort": {**body, "input": child.rel}})

    def _plan_set(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        if body.get("op") != "SET_OP_UNION_ALL":
            return self._plan_local(rel, body, f"{body.get('op')} runs on the coordinator")
        children = [self._plan_inside_join(r) for r in body["inputs"]]
        if all(isinstance(c, _Pipeline) for c in children):
            scans = tuple(t for c in children for t in c.scans)
            exchanges = tuple(e for c in children for e in c.exchanges)
            steps = ("union all of (" + "; ".join(" -> ".join(c.steps) for c in children) + ")",)
            new = {"set": {**body, "inputs": [c.rel for c in children]}}
            return _Pipeline(new, scans, exchanges, sum(c.rows for c in children), steps)
        gathered = [self.gather(c, "union all with a coordinator-side input") for c in children]
        new = {"set": {**body, "inputs": [g.rel for g in gathered]}}
        exchanges = tuple(e for g in gathered for e in g.exchanges)
        return _Local(new, exchanges, sum(g.rows for g in gathered))

    def _plan_aggregate(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        child = self.plan(body["input"])
        if isinstance(child, _Local):
            return replace(child, rel={"aggregate": {**body, "input": child.rel}})
        groupings = body.get("groupings", [])
        if len(groupings) > 1:
            local = self.gather(child, "grouping sets run on the coordinator")
            return replace(local, rel={"aggregate": {**body, "input": local.rel}})
        keys = body.get("groupingExpressions") or (
            groupings[0].get("groupingExpressions", []) if groupings else []
        )
        measures = body.get("measures", [])
        key_fields = [_direct_field(k) for k in keys]
        shuffle_ok = bool(keys) and all(k is not None for k in key_fields)
        by = child.partitioned_by
        if shuffle_ok and by is not None and set(by) <= set(key_fields) and not body.get("common"):
            # rows of one group already share a partition: aggregate where they are
            new = {"aggregate": {**body, "input": child.rel}}
            where = tuple(key_fields.index(c) for c in by)
            steps = (*child.steps, "aggregate (partitions already by group keys)")
            return replace(child, rel=new, steps=steps, partitioned_by=where)
        # below a join or union, a coordinator-side aggregate would drag the join there too:
        # aggregate per hash partition instead, so the result stays on the workers
        if (
            self.options.partial_aggregates
            and all(self._decomposable(m) for m in measures)
            and not (shuffle_ok and self._inside_join)
        ):
            return self._two_phase(body, child, keys, measures)
        if (
            shuffle_ok
            and self.options.partial_aggregates
            and all(self._decomposable(m) for m in measures)
            and not body.get("common")
        ):
            return self._two_phase(body, child, keys, measures, shuffle=True)
        if shuffle_ok:
            read, inp = self.shuffle(child, key_fields, "aggregate")
            new = {"aggregate": {**body, "input": read}}
            by = None if body.get("common") else tuple(range(len(key_fields)))
            rows = _estimate_groups(child.rows)
            return _Pipeline(new, (), (inp,), rows, ("aggregate (by hash partition)",), by)
        local = self.gather(
            child, "aggregate without decomposable measures runs on the coordinator"
        )
        return replace(local, rel={"aggregate": {**body, "input": local.rel}})

    def _plan_inside_join(self, rel: Rel) -> _Planned:
        self._inside_join += 1
        try:
            return self.plan(rel)
        finally:
            self._inside_join -= 1

    def _decomposable(self, m: Mapping[str, Any]) -> bool:
        measure = m["measure"]
        if measure.get("invocation") == "AGGREGATION_INVOCATION_DISTINCT" or measure.get("sorts"):
            return False
        name = self.function_name(int(measure.get("functionReference", 0)))
        return name in DECOMPOSABLE or name == "avg"

    def _two_phase(self, body, child: _Pipeline, keys, measures, shuffle: bool = False):
        """Partial aggregate on the workers, final aggregate + avg division on the coordinator.

        With ``shuffle`` the partial results are hash-shuffled by the group keys instead and
        the final aggregate runs per partition on the workers (a :class:`_Pipeline`): far
        fewer rows cross the network than when shuffling the aggregate's input.
        """
        target = self.types_of(self.schema_of({"aggregate": {**body, "input": child.rel}}))
        nk = len(keys)
        partial: list[dict[str, Any]] = []
        # per original measure: (final function, partial column(s))
        plan: list[tuple[str, list[int]]] = []
        for m in measures:
            name = self.function_name(int(m["measure"].get("functionReference", 0)))
            if name == "avg":
                cols = []
                for fn in ("sum", "count"):
                    partial.append(self._measure(m, fn))
                    cols.append(nk + len(partial) - 1)
                plan.append(("avg", cols))
            else:
                partial.append(self._measure(m, name))
                plan.append((DECOMPOSABLE[name], [nk + len(partial) - 1]))
        partial_rel = {"aggregate": {**body, "input": child.rel, "measures": partial}}
        steps = (*child.steps, "partial aggregate")
        if shuffle:
            read, inp = self.shuffle(
                replace(child, rel=partial_rel, steps=steps), list(range(nk)), "aggregate"
            )
            local = _Local(read, (inp,), _estimate_groups(child.rows))
        else:
            local = self.gather(replace(child, rel=partial_rel, steps=steps))
            self.notes.append("final aggregate runs on the coordinator")

        finals: list[dict[str, Any]] = []
        final_col: dict[int, int] = {}
        for _fn, cols in plan:
            for c in cols:
                fn = "sum" if _fn in ("sum", "avg") else _fn
                final_col[c] = nk + len(finals)
                finals.append(
                    {
                        "measure": {
                            "functionReference": self.function_anchor(fn),
                            "arguments": [{"value": _field_ref(c)}],
                            "invocation": "AGGREGATION_INVOCATION_ALL",
                        }
                    }
                )
        groupings = [{"groupingExpressions": [_field_ref(i) for i in range(nk)]}] if nk else []
        final_agg = {"aggregate": {"input": local.rel, "groupings": groupings, "measures": finals}}
        final_types = self.types_of(self.schema_of(final_agg))
        exprs = [_field_ref(i) for i in range(nk)]
        for i, (fn, cols) in enumerate(plan):
            want = target[nk + i]
            if fn == "avg":
                s, c = (_field_ref(final_col[x]) for x in cols)
                exprs.append(self._average(s, c, want))
            else:
                col = final_col[cols[0]]
                ref = _field_ref(col)
                exprs.append(ref if _same_type(final_types[col], want) else self._cast(ref, want))
        width = nk + len(finals)
        project = {
            "project": {
                "common": {"emit": {"outputMapping": list(range(width, width + len(exprs)))}},
                "input": final_agg,
                "expressions": exprs,
            }
        }
        if shuffle:
            steps = ("final aggregate (by hash partition)",)
            by = tuple(range(nk))
            return _Pipeline(project, (), local.exchanges, local.rows, steps, by)
        return _Local(project, local.exchanges, local.rows)

    def _call(self, fn: str, *args: dict[str, Any]) -> dict[str, Any]:
        arguments = [{"value": a} for a in args]
        return {
            "scalarFunction": {
                "functionReference": self.function_anchor(fn),
                "arguments": arguments,
            }
        }

    def _average(self, s: dict[str, Any], c: dict[str, Any], want: dict[str, Any]):
        """sum / count with DataFusion's AVG semantics for the result type ``want``.

        Decimal AVG truncates to the result scale: divide exactly in decimal, then drop the
        extra digits with ``q - q % 10^-scale`` (a cast would round).
        """
        if "decimal" not in want:
            div = self._call("divide", self._cast(s, {"fp64": {}}), self._cast(c, {"fp64": {}}))
            return self._cast(div, want)
        scale = int(want["decimal"].get("scale", 0))
        wide = {"decimal": {"scale": scale, "precision": 38}}
        q = self._call("divide", self._cast(s, wide), c)
        unit = base64.b64encode((1).to_bytes(16, "little", signed=True)).decode()
        lit = {"literal": {"decimal": {"value": unit, "precision": 38, "scale": scale}}}
        return self._cast(self._call("subtract", q, self._call("modulus", q, lit)), want)

    def _measure(self, m: Mapping[str, Any], fn: str) -> dict[str, Any]:
        new = copy.deepcopy(dict(m))
        measure = new["measure"]
        measure["functionReference"] = self.function_anchor(fn)
        measure.pop("outputType", None)
        return new

    @staticmethod
    def _cast(expr: dict[str, Any], to: dict[str, Any]) -> dict[str, Any]:
        return {
            "cast": {
                "type": to,
                "input": expr,
                "failureBehavior": "FAILURE_BEHAVIOR_THROW_EXCEPTION",
            }
        }

    def _plan_cross(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        return self._join(rel, body, "JOIN_TYPE_INNER", [])

    def _plan_join(self, rel: Rel, body: dict[str, Any]) -> _Planned:
        return self._join(rel, body, body.get("type", "JOIN_TYPE_UNSPECIFIED"), None)

    def _join(self, rel: Rel, body: dict[str, Any], jtype: str, keys) -> _Planned:
        kind = _kind(rel)
        left, right = self._plan_inside_join(body["left"]), self._plan_inside_join(body["right"])
        label = jtype.removeprefix("JOIN_TYPE_").lower().replace("_", " ")
        if isinstance(left, _Pipeline) and isinstance(right, _Pipeline):
            o = self.options

            def small(a: _Pipeline, b: _Pipeline) -> bool:
                return a.rows <= o.broadcast_rows or a.rows * o.broadcast_ratio <= b.rows

            right_ok = jtype in BROADCAST_RIGHT_OK and small(right, left)
            left_ok = jtype in BROADCAST_LEFT_OK and small(left, right)
            if right_ok and (not left_ok or right.rows <= left.rows):
                return self._broadcast_join(kind, body, left, right, "right", label)
            if left_ok:
                return self._broadcast_join(kind, body, right, left, "left", label)
            if keys is None and o.hash_joins and jtype in HASH_JOIN_OK | ANTI_JOINS:
                pairs = self._equi_keys(body)
                if pairs and (jtype in HASH_JOIN_OK or self._keys_not_null(body, pairs)):
                    return self._hash_join(kind, body, jtype, left, right, pairs, label)
            if jtype in BROADCAST_RIGHT_OK:
                return self._broadcast_join(kind, body, left, right, "right", label)
            if jtype in BROADCAST_LEFT_OK:
                return self._broadcast_join(kind, body, right, left, "left", label)
        why = f"{label} join runs on the coordinator"
        lg, rg = self.gather(left, why), self.gather(right, why)
        new = {kind: {**body, "left": lg.rel, "right": rg.rel}}
        return _Local(new, lg.exchanges + rg.exchanges, max(lg.rows, rg.rows))

    def _hash_join(self, kind, body, jtype, left: _Pipeline, right: _Pipeline, pairs, label):
        """Both sides partitioned by the join keys: shuffle whichever side is not already."""
        lkeys, rkeys = [a for a, _ in pairs], [b for _, b in pairs]
        # a side already hash-partitioned on some of its keys fixes the key order for both
        if left.partitioned_by is not None and set(left.partitioned_by) <= set(lkeys):
            lkeys = list(left.partitioned_by)
            rkeys = [next(b for a, b in pairs if a == k) for k in lkeys]
        elif right.partitioned_by is not None and set(right.partitioned_by) <= set(rkeys):
            rkeys = list(right.partitioned_by)
            lkeys = [next(a for a, b in pairs if b == k) for k in rkeys]
        why = f"{label} join"
        if not _has_null_safe_keys(self, body):
            left, right = self._reduce_larger(jtype, left, lkeys, right, rkeys)
        sides = {}
        for name, side, keys in (("left", left, lkeys), ("right", right, rkeys)):
            if side.partitioned_by == tuple(keys):
                sides[name] = side  # co-partitioned: joins in place
            else:
                read, inp = self.shuffle(side, keys, why)
                sides[name] = _Pipeline(read, (), (inp,), side.rows, (), tuple(keys))
        lp, rp = sides["left"], sides["right"]
        new = {kind: {**body, "left": lp.rel, "right": rp.rel}}
        nleft = len(self.schema_of(body["left"]))
        if jtype in ("JOIN_TYPE_RIGHT_SEMI", "JOIN_TYPE_RIGHT_ANTI"):
            by = tuple(rkeys)
        elif jtype in ("JOIN_TYPE_LEFT_SEMI", "JOIN_TYPE_LEFT_ANTI"):
            by = tuple(lkeys)
        else:
            by = tuple(lkeys) if jtype != "JOIN_TYPE_RIGHT" else tuple(k + nleft for k in rkeys)
        if jtype == "JOIN_TYPE_OUTER":
            by = None  # unmatched rows carry NULL keys on one side
        by = _emit(body, by)
        steps = (*lp.steps, *rp.steps, f"{label} join (by hash partition)")
        return _Pipeline(
            new,
            lp.scans + rp.scans,
            lp.exchanges + rp.exchanges,
            max(left.rows, right.rows),
            steps,
            by,
        )

    def _reduce_larger(
        self, jtype: str, left: _Pipeline, lkeys: list[int], right: _Pipeline, rkeys: list[int]
    ) -> tuple[_Pipeline, _Pipeline]:
        """Semi-join reduction: keep only the rows of the larger side whose keys occur in the
        smaller side, when the join drops the larger side's unmatched rows anyway."""
        ratio = self.options.reduce_ratio
        if ratio <= 0:
            return left, right
        volatile = {"random", "uuid"}  # the keys are computed from a second run of the side
        if any(self._calls(side.rel) & volatile for side in (left, right)):
            return left, right
        # (a side already partitioned on its keys is not shuffled: nothing to save there)
        if (
            jtype in REDUCIBLE_RIGHT
            and right.rows >= ratio * left.rows
            and right.partitioned_by != tuple(rkeys)
        ):
            return left, self._reduced(right, rkeys, left, lkeys)
        if (
            jtype in REDUCIBLE_LEFT
            and left.rows >= ratio * right.rows
            and left.partitioned_by != tuple(lkeys)
        ):
            return self._reduced(left, lkeys, right, rkeys), right
        return left, right

    def _push_semi_join(
        self, big: _Pipeline, body: dict[str, Any], keys: Rel, inputs: tuple[StageInput, ...]
    ) -> None:
        """Also filter a broadcast stage under ``big`` by a semi join's small right side.

        ``big SEMI JOIN keys ON big.a = keys.b``, where ``a`` comes unchanged (through
        projections, filters and inner joins) from column ``c`` of a broadcast stage S that
        nothing else reads: S keeps only rows whose ``c`` is among the keys, so S ships and
        every task hashes far fewer rows (TPC-H q18: 57 orders instead of 1.5 million). The
        semi join itself stays where it is, so the answer cannot change.
        """
        pairs = self._equi_keys(body)
        traced = [(self._trace(big.rel, a), b) for a, b in pairs]
        found = [(src, b) for src, b in traced if src is not None]
        if not found:
            return
        sid = found[0][0][0]
        pushed = [(col, b) for (stage, col), b in found if stage == sid]
        stage = self.stages[sid]
        readers = [
            s for s in self.stages if any(getattr(i, "stage", None) == sid for i in s.inputs)
        ]
        if stage.output.mode != OutputMode.BROADCAST or readers or sid not in self.stage_rels:
            return
        width = len(self.schemas[sid])
        rel = self._semi_join(self.stage_rels[sid], keys, pushed, width)
        names = [f"c{i}" for i in range(width)]
        fragment = Fragment(FragmentFormat.SUBSTRAIT, self.plan_bytes(rel, names))
        new_inputs = tuple(dict.fromkeys((*stage.inputs, *inputs)))
        desc = stage.description.removesuffix(" (broadcast)") + " -> semi join (pushed down)"
        self.stages[sid] = replace(
            stage, fragment=fragment, inputs=new_inputs, description=desc + " (broadcast)"
        )
        self.stage_rels[sid] = rel

    def _trace(self, rel: Rel, field: int) -> tuple[int, int] | None:
        """(stage, column) of the exchange ``field`` of ``rel``'s output passes through
        unchanged, following projections, filters and inner joins; None elsewhere."""
        kind = _kind(rel)
        body = rel[kind]
        mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
        if kind == "read":
            names = body.get("namedTable", {}).get("names") or [""]
            m = re.fullmatch(r"__stage(\d+)", names[-1])
            if mapping or not m or body.get("filter") or body.get("projection"):
                return None
            return int(m.group(1)), field
        if kind == "filter" and not mapping:
            return self._trace(body["input"], field)
        if kind == "project":
            width = len(self.schema_of(body["input"]))
            at = mapping[field] if mapping else field
            if at < width:
                return self._trace(body["input"], at)
            ref = _direct_field(body["expressions"][at - width])
            return None if ref is None else self._trace(body["input"], ref)
        if kind == "join" and body.get("type") == "JOIN_TYPE_INNER":
            at = mapping[field] if mapping else field
            width = len(self.schema_of(body["left"]))
            if at < width:
                return self._trace(body["left"], at)
            return self._trace(body["right"], at - width)
        return None

    def _semi_join(
        self, left: Rel, right: Rel, pairs: list[tuple[int, int]], left_width: int
    ) -> Rel:
        """``left`` LEFT SEMI JOIN ``right`` ON left[a] = right[b] AND ... for (a, b) in pairs."""
        condition: dict[str, Any] | None = None
        for a, b in pairs:
            equal = self._call("equal", _field_ref(a), _field_ref(left_width + b))
            condition = equal if condition is None else self._call("and", condition, equal)
        return {
            "join": {
                "left": left,
                "right": right,
                "expression": condition,
                "type": "JOIN_TYPE_LEFT_SEMI",
            }
        }

    def _calls(self, rel: Rel) -> set[str]:
        """Names of the scalar functions ``rel`` calls."""
        return {
            self.function_name(int(obj["scalarFunction"].get("functionReference", 0)))
            for obj in _walk(rel)
            if isinstance(obj, dict) and "scalarFunction" in obj
        }

    def _reduced(
        self, big: _Pipeline, big_keys: list[int], small: _Pipeline, small_keys: list[int]
    ) -> _Pipeline:
        """``big`` LEFT SEMI JOIN (the distinct join keys of ``small``, on every task)."""
        width = len(self.schema_of(small.rel))
        keys_rel = {
            "aggregate": {
                "input": {
                    "project": {
                        "common": {
                            "emit": {"outputMapping": list(range(width, width + len(small_keys)))}
                        },
                        "input": small.rel,
                        "expressions": [_field_ref(k) for k in small_keys],
                    }
                },
                "groupings": [
                    {"groupingExpressions": [_field_ref(i) for i in range(len(small_keys))]}
                ],
                "measures": [],
            }
        }
        keys = replace(small, rel=keys_rel, steps=(*small.steps, "distinct join keys"))
        read, inputs, _ = self.broadcast(keys)
        pairs = list(zip(big_keys, range(len(big_keys))))
        semi = self._semi_join(big.rel, read, pairs, len(self.schema_of(big.rel)))
        step = "semi join with the other side's keys (reduction)"
        return replace(
            big,
            rel=semi,
            exchanges=(*big.exchanges, *inputs),
            steps=(*big.steps, step),
            rows=max(1, round(big.rows * _selectivity(small))),
        )

    def _broadcast_join(self, kind, body, big: _Pipeline, small: _Pipeline, side: str, label: str):
        read, inputs, width = self.broadcast(small)
        if (
            kind == "join"
            and body.get("type") == "JOIN_TYPE_LEFT_SEMI"
            and side == "right"
            and not _has_null_safe_keys(self, body)
        ):
            self._push_semi_join(big, body, read, inputs)
        other = "left" if side == "right" else "right"
        new = {kind: {**body, side: read, other: big.rel}}
        if any(isinstance(i, ScanInput) for i in inputs):
            step = f"{label} join with {side} side read whole ({' -> '.join(small.steps)})"
        else:
            step = f"{label} join with broadcast {side} side"
        steps = (*big.steps, step)
        by = big.partitioned_by
        jtype = body.get("type", "JOIN_TYPE_INNER")
        if (
            by is not None
            and other == "right"
            and jtype
            not in (
                "JOIN_TYPE_RIGHT_SEMI",
                "JOIN_TYPE_RIGHT_ANTI",
                "JOIN_TYPE_RIGHT_MARK",
            )
        ):
            by = tuple(k + width for k in by)
        if jtype == "JOIN_TYPE_RIGHT_MARK" or (jtype == "JOIN_TYPE_LEFT_MARK" and other == "right"):
            by = None
        by = _emit(body, by)
        rows = big.rows
        if kind == "join" and jtype in (
            "JOIN_TYPE_INNER",
            "JOIN_TYPE_LEFT_SEMI",
            "JOIN_TYPE_RIGHT_SEMI",
        ):
            # a join on a key of the filtered small side keeps that share of the big side
            rows = max(1, round(big.rows * _selectivity(small)))
        return _Pipeline(
            new, big.scans, (*big.exchanges, *inputs), rows, steps, by, big.base_rows or big.rows
        )

    def _keys_not_null(self, body: Mapping[str, Any], pairs: list[tuple[int, int]]) -> bool:
        """No join key can be NULL on either side (so NOT IN's NULL rules cannot apply)."""
        left, right = self.schema_of(body["left"]), self.schema_of(body["right"])
        return all(not left.field(a).nullable and not right.field(b).nullable for a, b in pairs)

    def _equi_keys(self, body: Mapping[str, Any]) -> list[tuple[int, int]]:
        """(left field, right field) pairs of the join's top-level equality conjuncts."""
        nleft = len(self.schema_of(body["left"]))
        pairs: list[tuple[int, int]] = []

        def visit(expr: Mapping[str, Any]) -> None:
            fn = expr.get("scalarFunction")
            if not fn:
                return
            name = self.function_name(int(fn.get("functionReference", 0)))
            args = [a.get("value", {}) for a in fn.get("arguments", [])]
            if name == "and":
                for a in args:
                    visit(a)
            elif name in ("equal", "is_not_distinct_from") and len(args) == 2:
                a, b = (_direct_field(x) for x in args)
                if a is None or b is None:
                    return
                if a < nleft <= b:
                    pairs.append((a, b - nleft))
                elif b < nleft <= a:
                    pairs.append((b, a - nleft))

        if "expression" in body:
            visit(body["expression"])
        return pairs


def _has_dictionary(types: list[pa.DataType]) -> bool:
    return any(
        pa.types.is_dictionary(t) or _has_dictionary([t.field(i).type for i in range(t.num_fields)])
        for t in types
    )


def _with_constant_column(rel: Rel) -> Rel:
    """``rel``'s rows with one column, the constant TRUE, instead of its (no) columns."""
    expr = {"literal": {"boolean": True}}
    return {
        "project": {"common": {"emit": {"outputMapping": [0]}}, "input": rel, "expressions": [expr]}
    }


def _without_columns(rel: Rel) -> Rel:
    """``rel``'s rows without any of its columns."""
    return {"project": {"common": {"emit": {"outputMapping": []}}, "input": rel, "expressions": []}}


def _selectivity(p: _Pipeline) -> float:
    """The fraction of its unfiltered rows ``p`` is estimated to keep."""
    return min(1.0, p.rows / p.base_rows) if p.base_rows else 1.0


def _has_null_safe_keys(builder: _Builder, body: Mapping[str, Any]) -> bool:
    """Whether the join condition uses IS NOT DISTINCT FROM (NULL keys then match)."""
    return any(
        isinstance(obj, dict)
        and "scalarFunction" in obj
        and builder.function_name(int(obj["scalarFunction"].get("functionReference", 0)))
        == "is_not_distinct_from"
        for obj in _walk(body.get("expression", {}))
    )


def _read_replicas(rel: Rel, tables: set[str]) -> Rel:
    """``rel`` with its reads of ``tables`` turned into reads of their replicated scans."""

    def visit(obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 1 and "read" in obj:
                names = obj["read"].get("namedTable", {}).get("names")
                if names and names[-1] in tables:
                    named = {**obj["read"]["namedTable"], "names": [replica_name(names[-1])]}
                    return {"read": {**obj["read"], "namedTable": named}}
            return {k: visit(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [visit(v) for v in obj]
        return obj

    return visit(rel)


def _estimate_filtered(rows: int) -> int:
    """Rows left after a filter, guessed (no statistics): half."""
    return max(1, rows // 2)


def _estimate_groups(rows: int) -> int:
    """Groups of a grouped aggregate over ``rows`` rows, guessed (no statistics): half."""
    return max(1, rows // 2)


def _emit(body: Mapping[str, Any], by: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Partitioning columns after the relation's own output mapping (if it has one)."""
    mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
    if by is None or not mapping:
        return by
    if not all(k in mapping for k in by):
        return None
    return tuple(mapping.index(k) for k in by)


def _literal_int(expr: Mapping[str, Any] | None, legacy: Any) -> int | None:
    if expr is None:
        return None if legacy in (None, -1, "-1") else int(legacy)
    lit = expr.get("literal", {})
    for k in ("i64", "i32", "i16", "i8"):
        if k in lit:
            return int(lit[k])
    return None


def _same_type(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def strip(t: Any) -> Any:
        if isinstance(t, dict):
            return {k: strip(v) for k, v in t.items() if k != "nullability"}
        return t

    return strip(a) == strip(b)


def plan_query(
    sql: str,
    catalog: Catalog,
    options: PlannerOptions | None = None,
    params: Mapping[str, Any] | None = None,
    settings: Settings = (),
) -> DistributedPlan:
    """Plan ``sql`` for the cluster.

    Args:
        sql: one SELECT statement in DataFusion's dialect.
        catalog: the tables the workers can read.
        options: planner knobs; ``options.workers`` tasks per distributed stage.
        params: values for ``$name`` placeholders.
        settings: the client's session settings; planning and every task use them.

    Returns:
        A plan whose root stage runs on the coordinator and yields the result.

    >>> import pyarrow as pa
    >>> catalog = Catalog()
    >>> _ = catalog.add_arrow("t", pa.table({"x": [1, 2, 3]}), partitions=2)
    >>> plan = plan_query("select count(*) from t", catalog, PlannerOptions(workers=2))
    >>> [(stage.id, stage.location.value, stage.parallelism) for stage in plan.stages]
    [(0, 'workers', 2), (1, 'coordinator', 1)]
    """
    plan, schema = _plan_query(sql, catalog, options or PlannerOptions(), params, settings)
    return replace(plan, settings=settings, schema=schema)


def _plan_query(sql, catalog: Catalog, options, params, settings: Settings):
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    for name in catalog.names():
        if name.lower() in words and _has_dictionary(catalog[name].schema.types):
            # workers hold such columns as plain values (Substrait has no dictionary type), so
            # arrow_typeof and result types would differ: the coordinator's copy answers
            raise NotDistributable(f"table {name} has dictionary-encoded columns")
    ctx = catalog.planning_context(settings)
    df = ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
    return _plan_optimized(sql, catalog, options, params, ctx, df), df.schema()


def _plan_optimized(sql, catalog: Catalog, options, params, ctx, df) -> DistributedPlan:
    lp = df.optimized_logical_plan()
    if " null_aware" in lp.display_indent():
        # NOT IN's null-aware anti join loses that flag in Substrait, and a fragment would
        # then answer as NOT EXISTS: keep the whole query on the coordinator, correct
        reason = "NOT IN (null-aware anti join) is not distributed"
        return _gathered_plan(sql, lp, ctx, catalog, options, params, reason, sql_root=True)
    loss = substrait_loss(ctx, lp)
    if loss is not None:
        # a fragment would mean something else than the query: run the SQL text instead
        return _gathered_plan(sql, lp, ctx, catalog, options, params, loss, sql_root=True)
    try:
        return _distribute(ctx, catalog, lp, options)
    except Exception as exc:  # a plan shape we cannot cut: still answer, on the coordinator
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return _gathered_plan(sql, lp, ctx, catalog, options, params, reason)


def _distribute(ctx, catalog: Catalog, lp, options: PlannerOptions) -> DistributedPlan:
    doc = json.loads(ss.Producer.to_substrait_plan(lp, ctx).to_json())
    root = doc["relations"][0]["root"]
    builder = _Builder(ctx, catalog, doc, options)
    top = builder.gather(builder.plan(root["input"]))
    sid = len(builder.stages)
    builder.stages.append(
        Stage(
            id=sid,
            fragment=Fragment(FragmentFormat.SUBSTRAIT, builder.plan_bytes(top.rel, root["names"])),
            inputs=tuple(dict.fromkeys(top.exchanges)),
            output=Output(OutputMode.GATHER),
            location=Location.COORDINATOR,
            parallelism=1,
            description="result",
        )
    )
    notes = tuple(dict.fromkeys(builder.notes))
    return DistributedPlan(tuple(builder.stages), sid, notes)


def _gathered_plan(
    sql, lp, ctx, catalog: Catalog, options, params, reason: str, sql_root: bool = False
) -> DistributedPlan:
    """The safety net: gather every table the query names, run the whole query on the coordinator.

    Gathered tables keep their own names, so the root fragment (Substrait of the optimized
    plan, else — or with ``sql_root`` — the SQL text) resolves them unchanged.
    """
    words = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    tables = [t for t in catalog.names() if t.lower() in words]
    stages = [
        Stage(
            id=i,
            fragment=Fragment(FragmentFormat.SQL, f'SELECT * FROM "{t}"'),
            inputs=(ScanInput(t),),
            output=Output(OutputMode.GATHER),
            location=Location.WORKERS,
            parallelism=options.workers,
            description=f"scan {t} (whole table)",
        )
        for i, t in enumerate(tables)
    ]
    if sql_root and params:
        raise NotDistributable(reason)
    try:
        if sql_root:
            raise ValueError("the SQL text keeps what Substrait loses")
        root = Fragment(FragmentFormat.SUBSTRAIT, ss.Producer.to_substrait_plan(lp, ctx).encode())
    except Exception:
        if params:
            raise
        root = Fragment(FragmentFormat.SQL, sql)
    stages.append(
        Stage(
            id=len(stages),
            fragment=root,
            inputs=tuple(ExchangeInput(i, t) for i, t in enumerate(tables)),
            output=Output(OutputMode.GATHER),
            location=Location.COORDINATOR,
            parallelism=1,
            description="result (the whole query on the coordinator)",
        )
    )
    note = f"the query could not be distributed ({reason}); it runs on the coordinator"
    return DistributedPlan(tuple(stages), len(stages) - 1, (note,))


def whole_query_plan(
    sql: str,
    catalog: Catalog,
    options: PlannerOptions | None,
    params: Mapping[str, Any] | None,
    reason: str,
    settings: Settings = (),
) -> DistributedPlan:
    """The whole query on the coordinator from its SQL text, over gathered copies of the
    tables it names; EXPLAIN shows ``reason``. :class:`NotDistributable` with parameters."""
    options = options or PlannerOptions()
    plan = _gathered_plan(sql, None, None, catalog, options, params, reason, True)
    return replace(plan, settings=settings)
