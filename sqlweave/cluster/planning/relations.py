"""Scans, filters, projections, sorts, limits and UNION ALL: which stay in a worker pipeline.

* a scan of a catalog table starts a pipeline split between the tasks;
* filters and projections join their input's pipeline (projections with window functions
  run on the coordinator);
* ORDER BY + LIMIT becomes a top-k per worker and the same sort + limit on the
  coordinator; a LIMIT alone takes the first rows per worker; a sort alone runs on the
  coordinator;
* UNION ALL of pipelines is one pipeline; other set operations run on the coordinator.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import plan_query
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("x", pa.int64())]), rows=1_000_000)
>>> plan = plan_query("SELECT x FROM t ORDER BY x DESC LIMIT 3", catalog)
>>> [s.description for s in plan.stages], plan.notes
(['scan t -> top 3', 'result'], ('final merge of the top 3 rows runs on the coordinator',))
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from . import estimates
from .context import Local, Pipeline, PlanContext, Planned
from .fallback import plan_local
from .substrait import (
    SET_OP_UNION_ALL,
    PlanningError,
    Rel,
    has_key,
    has_subquery,
    kind_of,
    literal_int,
)


def plan_read(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A catalog table's scan, split between the tasks (a virtual table runs locally)."""
    table = ctx.base_table(body)
    if table is None:
        names = body.get("namedTable", {}).get("names")
        if names:
            raise PlanningError(f"table {names[-1]!r} is not in the cluster catalog")
        return Local(rel)
    rows = ctx.catalog[table].rows
    step = f"scan {table}"
    if "filter" in body or "bestEffortFilter" in body:
        step += " (filter pushed)"
        rows = estimates.filtered(rows)
    return Pipeline(rel, (table,), rows=rows, steps=(step,), base_rows=ctx.catalog[table].rows)


def plan_filter(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A filter stays with its input."""
    return _unary(ctx, rel, body, "filter")


def plan_project(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A projection stays with its input, unless it computes window functions."""
    if has_key(body.get("expressions", []), "windowFunction"):
        return plan_local(ctx, rel, body, "window functions run on the coordinator")
    return _unary(ctx, rel, body, "project")


def _unary(ctx: PlanContext, rel: Rel, body: dict[str, Any], step: str) -> Planned:
    child = ctx.plan(body["input"])
    new = {kind_of(rel): {**body, "input": child.rel}}
    if isinstance(child, Pipeline):
        steps = child.steps if child.steps and child.steps[-1] == step else (*child.steps, step)
        by = ctx.through(new, child)
        rows = estimates.filtered(child.rows) if step == "filter" else child.rows
        return replace(child, rel=new, steps=steps, partitioned_by=by, rows=rows)
    return replace(child, rel=new)


def plan_fetch(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """LIMIT/OFFSET (over a sort: a top-k per worker, merged on the coordinator)."""
    count = literal_int(body.get("countExpr"), body.get("count"))
    offset = literal_int(body.get("offsetExpr"), body.get("offset")) or 0
    inner = body["input"]
    is_sort = kind_of(inner) == "sort" and not has_subquery(inner["sort"])
    child = ctx.plan(inner["sort"]["input"] if is_sort else inner)
    if isinstance(child, Local) or count is None:
        if is_sort:
            child = ctx.gather(child, "sort runs on the coordinator")
            inner = {"sort": {**inner["sort"], "input": child.rel}}
            child = replace(child, rel=inner)
        local = ctx.gather(child, "limit runs on the coordinator")
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
    local = ctx.gather(replace(child, rel={"fetch": top}, steps=(*child.steps, step)))
    final_input = local.rel
    if is_sort:
        final_input = {"sort": {**inner["sort"], "input": local.rel}}
    ctx.notes.append(f"final merge of the top {count + offset} rows runs on the coordinator")
    return replace(local, rel={"fetch": {**body, "input": final_input}})


def plan_sort(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A sort without a limit runs on the coordinator over the gathered rows."""
    child = ctx.gather(ctx.plan(body["input"]), "sort runs on the coordinator")
    return replace(child, rel={"sort": {**body, "input": child.rel}})


def plan_set(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """UNION ALL of pipelines is one pipeline; other set operations run on the coordinator."""
    if body.get("op") != SET_OP_UNION_ALL:
        return plan_local(ctx, rel, body, f"{body.get('op')} runs on the coordinator")
    children = [ctx.plan_inside_join(r) for r in body["inputs"]]
    if all(isinstance(c, Pipeline) for c in children):
        scans = tuple(t for c in children for t in c.scans)
        exchanges = tuple(e for c in children for e in c.exchanges)
        steps = ("union all of (" + "; ".join(" -> ".join(c.steps) for c in children) + ")",)
        new = {"set": {**body, "inputs": [c.rel for c in children]}}
        return Pipeline(new, scans, exchanges, sum(c.rows for c in children), steps)
    gathered = [ctx.gather(c, "union all with a coordinator-side input") for c in children]
    new = {"set": {**body, "inputs": [g.rel for g in gathered]}}
    exchanges = tuple(e for g in gathered for e in g.exchanges)
    return Local(new, exchanges, sum(g.rows for g in gathered))
