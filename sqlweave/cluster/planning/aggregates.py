"""Aggregates: two phases where the measures decompose, else a hash shuffle by the group keys.

* rows already partitioned by (some of) the group keys aggregate where they are;
* decomposable measures (sum, count, min, max, avg as sum and count) aggregate in two
  phases: a partial aggregate on every worker, the final one on the coordinator (below a
  join or union, the partial results are hash-shuffled by the group keys instead and the
  final aggregate runs per partition, so the join stays on the workers);
* other measures (DISTINCT, ordered, median...) shuffle the input by the group keys;
* grouping sets, and other measures without group keys, run on the coordinator.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("k", pa.int64()), ("v", pa.float64())]), 10**6)
>>> plan = plan_query("SELECT k, avg(v) FROM t GROUP BY k", catalog)
>>> [s.description for s in plan.stages], plan.notes
(['scan t -> partial aggregate', 'result'], ('final aggregate runs on the coordinator',))
>>> plan = plan_query("SELECT k, median(v) FROM t GROUP BY k", catalog)
>>> [(s.description, s.output.mode.value, s.output.keys) for s in plan.stages[:2]]
[('scan t (hash shuffle for aggregate)', 'hash', ('c0',)), ('aggregate (by hash partition)', 'gather', ())]
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from . import estimates
from .context import Local, Pipeline, PlanContext, Planned
from .substrait import (
    INVOCATION_ALL,
    INVOCATION_DISTINCT,
    Expr,
    Rel,
    cast,
    direct_field,
    field_ref,
    same_type,
)

#: aggregate functions whose partial results combine with another function
DECOMPOSABLE = {"sum": "sum", "count": "sum", "min": "min", "max": "max"}


def plan_aggregate(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """Choose where an aggregate runs (see the module docstring)."""
    child = ctx.plan(body["input"])
    if isinstance(child, Local):
        return replace(child, rel={"aggregate": {**body, "input": child.rel}})
    groupings = body.get("groupings", [])
    if len(groupings) > 1:
        local = ctx.gather(child, "grouping sets run on the coordinator")
        return replace(local, rel={"aggregate": {**body, "input": local.rel}})
    keys = body.get("groupingExpressions") or (
        groupings[0].get("groupingExpressions", []) if groupings else []
    )
    measures = body.get("measures", [])
    key_fields = [direct_field(k) for k in keys]
    shuffle_ok = bool(keys) and all(k is not None for k in key_fields)
    by = child.partitioned_by
    if shuffle_ok and by is not None and set(by) <= set(key_fields) and not body.get("common"):
        # rows of one group already share a partition: aggregate where they are
        new = {"aggregate": {**body, "input": child.rel}}
        where = tuple(key_fields.index(c) for c in by)
        steps = (*child.steps, "aggregate (partitions already by group keys)")
        return replace(child, rel=new, steps=steps, partitioned_by=where)
    decomposable = all(_decomposable(ctx, m) for m in measures)
    # below a join or union, a coordinator-side aggregate would drag the join there too:
    # aggregate per hash partition instead, so the result stays on the workers
    if ctx.options.partial_aggregates and decomposable and not (shuffle_ok and ctx.inside_join):
        return _two_phase(ctx, body, child, keys, measures)
    if shuffle_ok and ctx.options.partial_aggregates and decomposable and not body.get("common"):
        return _two_phase(ctx, body, child, keys, measures, shuffle=True)
    if shuffle_ok:
        fields = [k for k in key_fields if k is not None]
        read, inp = ctx.shuffle(child, fields, "aggregate")
        new = {"aggregate": {**body, "input": read}}
        by = None if body.get("common") else tuple(range(len(key_fields)))
        rows = estimates.groups(child.rows)
        return Pipeline(new, (), (inp,), rows, ("aggregate (by hash partition)",), by)
    local = ctx.gather(child, "aggregate without decomposable measures runs on the coordinator")
    return replace(local, rel={"aggregate": {**body, "input": local.rel}})


def _decomposable(ctx: PlanContext, m: Mapping[str, Any]) -> bool:
    measure = m["measure"]
    if measure.get("invocation") == INVOCATION_DISTINCT or measure.get("sorts"):
        return False
    name = ctx.substrait.function_name(int(measure.get("functionReference", 0)))
    return name in DECOMPOSABLE or name == "avg"


def _two_phase(
    ctx: PlanContext,
    body: dict[str, Any],
    child: Pipeline,
    keys: list[Expr],
    measures: list[dict[str, Any]],
    shuffle: bool = False,
) -> Planned:
    """Partial aggregate on the workers, final aggregate + avg division on the coordinator.

    With ``shuffle`` the partial results are hash-shuffled by the group keys instead and
    the final aggregate runs per partition on the workers (a :class:`Pipeline`): far
    fewer rows cross the network than when shuffling the aggregate's input.
    """
    sp = ctx.substrait
    target = sp.types_of(sp.schema_of({"aggregate": {**body, "input": child.rel}}))
    nk = len(keys)
    partial: list[dict[str, Any]] = []
    # per original measure: (final function, partial column(s))
    plan: list[tuple[str, list[int]]] = []
    for m in measures:
        name = sp.function_name(int(m["measure"].get("functionReference", 0)))
        if name == "avg":
            cols = []
            for fn in ("sum", "count"):
                partial.append(_measure(ctx, m, fn))
                cols.append(nk + len(partial) - 1)
            plan.append(("avg", cols))
        else:
            partial.append(_measure(ctx, m, name))
            plan.append((DECOMPOSABLE[name], [nk + len(partial) - 1]))
    partial_rel = {"aggregate": {**body, "input": child.rel, "measures": partial}}
    steps = (*child.steps, "partial aggregate")
    if shuffle:
        read, inp = ctx.shuffle(
            replace(child, rel=partial_rel, steps=steps), list(range(nk)), "aggregate"
        )
        local = Local(read, (inp,), estimates.groups(child.rows))
    else:
        local = ctx.gather(replace(child, rel=partial_rel, steps=steps))
        ctx.notes.append("final aggregate runs on the coordinator")

    finals: list[dict[str, Any]] = []
    final_col: dict[int, int] = {}
    for _fn, cols in plan:
        for c in cols:
            fn = "sum" if _fn in ("sum", "avg") else _fn
            final_col[c] = nk + len(finals)
            finals.append(
                {
                    "measure": {
                        "functionReference": sp.function_anchor(fn),
                        "arguments": [{"value": field_ref(c)}],
                        "invocation": INVOCATION_ALL,
                    }
                }
            )
    groupings = [{"groupingExpressions": [field_ref(i) for i in range(nk)]}] if nk else []
    final_agg = {"aggregate": {"input": local.rel, "groupings": groupings, "measures": finals}}
    final_types = sp.types_of(sp.schema_of(final_agg))
    exprs = [field_ref(i) for i in range(nk)]
    for i, (fn, cols) in enumerate(plan):
        want = target[nk + i]
        if fn == "avg":
            s, c = (field_ref(final_col[x]) for x in cols)
            exprs.append(_average(ctx, s, c, want))
        else:
            col = final_col[cols[0]]
            ref = field_ref(col)
            exprs.append(ref if same_type(final_types[col], want) else cast(ref, want))
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
        return Pipeline(project, (), local.exchanges, local.rows, steps, by)
    return Local(project, local.exchanges, local.rows)


def _average(ctx: PlanContext, s: Expr, c: Expr, want: Expr) -> Expr:
    """sum / count with DataFusion's AVG semantics for the result type ``want``.

    Decimal AVG truncates to the result scale: divide exactly in decimal, then drop the
    extra digits with ``q - q % 10^-scale`` (a cast would round).
    """
    call = ctx.substrait.call
    if "decimal" not in want:
        div = call("divide", cast(s, {"fp64": {}}), cast(c, {"fp64": {}}))
        return cast(div, want)
    scale = int(want["decimal"].get("scale", 0))
    wide = {"decimal": {"scale": scale, "precision": 38}}
    q = call("divide", cast(s, wide), c)
    unit = base64.b64encode((1).to_bytes(16, "little", signed=True)).decode()
    lit = {"literal": {"decimal": {"value": unit, "precision": 38, "scale": scale}}}
    return cast(call("subtract", q, call("modulus", q, lit)), want)


def _measure(ctx: PlanContext, m: Mapping[str, Any], fn: str) -> dict[str, Any]:
    new = copy.deepcopy(dict(m))
    measure = new["measure"]
    measure["functionReference"] = ctx.substrait.function_anchor(fn)
    measure.pop("outputType", None)
    return new
