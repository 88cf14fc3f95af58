"""Subqueries inside a relation's expressions: planned like queries, their results broadcast or gathered.

An uncorrelated subquery in a filter or projection keeps that relation on the workers:
each subquery's result is broadcast to every task (:func:`with_broadcast_subqueries`). In
a relation that runs on the coordinator anyway, subquery results are gathered
(:func:`gather_subquery_reads`); a correlated subquery runs there over gathered copies of
the tables it reads.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("x", pa.int64())]), rows=10_000_000)
>>> plan = plan_query("SELECT x FROM t WHERE x > (SELECT avg(x) FROM t)", catalog)
>>> [s.description for s in plan.stages]  # doctest: +NORMALIZE_WHITESPACE
['scan t -> partial aggregate (broadcast for a subquery)',
 'scan t -> filter with broadcast subquery', 'result']
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from ..fragments import ExchangeInput, Output, OutputMode
from .context import Local, Pipeline, PlanContext, Planned
from .substrait import REL_KINDS, Rel, has_key, kind_of, own_parts


def with_broadcast_subqueries(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned | None:
    """Keep a filter/projection with uncorrelated subqueries on the workers.

    Each subquery's result is broadcast to every worker: a subquery that is itself a
    pipeline broadcasts its output; one that ends on the coordinator (say, a final
    aggregate) instead broadcasts its gathered inputs and runs on every worker. None when
    the relation holds window functions (they run on the coordinator).
    """
    if has_key(body.get("expressions", []), "windowFunction"):
        return None
    child = ctx.plan(body["input"])
    if isinstance(child, Local):
        own, extra = gather_subquery_reads(ctx, own_parts(body))
        return Local({kind_of(rel): {**body, **own, "input": child.rel}}, child.exchanges + extra)
    exchanges: list[ExchangeInput] = []

    def visit(obj: Any) -> Any:
        if isinstance(obj, dict):
            if len(obj) == 1 and next(iter(obj)) in REL_KINDS:
                read, inputs = _broadcast_result(ctx, obj)
                exchanges.extend(inputs)
                return read
            return {k: visit(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [visit(v) for v in obj]
        return obj

    own = visit(copy.deepcopy(own_parts(body)))
    new = {kind_of(rel): {**body, **own, "input": child.rel}}
    step = f"{kind_of(rel)} with broadcast subquery"
    return replace(
        child,
        rel=new,
        exchanges=(*child.exchanges, *exchanges),
        steps=(*child.steps, step),
        partitioned_by=ctx.through(new, child),
    )


def _broadcast_result(ctx: PlanContext, rel: Rel) -> tuple[Rel, tuple[ExchangeInput, ...]]:
    notes = len(ctx.notes)
    planned = ctx.plan(rel)
    if isinstance(planned, Pipeline):
        read, inputs, _ = ctx.broadcast(planned)
        return read, inputs
    # computed from gathered inputs: broadcast those instead, run the rest everywhere
    del ctx.notes[notes:]
    for inp in planned.exchanges:
        stage = ctx.stages[inp.stage]
        out = Output(OutputMode.BROADCAST, partitions=ctx.options.workers)
        desc = f"{stage.description} (broadcast for a subquery)"
        ctx.stages[inp.stage] = replace(stage, output=out, description=desc)
    return planned.rel, planned.exchanges


def gather_subquery_reads(
    ctx: PlanContext, parts: dict[str, Any]
) -> tuple[dict[str, Any], tuple[ExchangeInput, ...]]:
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
                if not has_key(obj, "outerReference"):
                    local = ctx.gather(ctx.plan(obj), "subquery results are gathered")
                    exchanges.extend(local.exchanges)
                    return local.rel
                if "read" in obj and ctx.base_table(obj["read"]):
                    table = ctx.base_table(obj["read"])
                    p = Pipeline(obj, (table,), steps=(f"scan {table} (for a subquery)",))
                    why = f"correlated subquery over {table} runs on the coordinator"
                    local = ctx.gather(p, why)
                    exchanges.extend(local.exchanges)
                    return local.rel
            return {k: visit(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [visit(v) for v in obj]
        return obj

    if not has_key(parts, "subquery"):
        return parts, ()
    return visit(parts), tuple(exchanges)
