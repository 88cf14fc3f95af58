"""SQL + catalog -> :class:`DistributedPlan`, by cutting DataFusion's own optimized plan.

DataFusion optimizes the query (projection/filter pushdown, decorrelation, join
planning); the planner serialises that plan to Substrait, reads it as plain data and walks
it bottom-up. The order of work:

1. :func:`.fallback.refuse_dictionary_columns`, then DataFusion plans the query;
2. :data:`.fallback.WHOLE_QUERY_CHECKS`: a plan that would lose meaning in Substrait runs
   whole on the coordinator;
3. the walk: each relation is planned by the rule of :data:`RULES` for its kind (a
   relation with subqueries by :mod:`.subqueries`, anything else by
   :func:`.fallback.plan_local`), its inputs first;
4. the result stage on the coordinator. A plan shape the walk cannot cut at all falls
   back to gathering every table the query names.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> catalog = Catalog()
>>> _ = catalog.add_arrow("t", pa.table({"x": [1, 2, 3]}), partitions=2)
>>> plan = plan_query("select count(*) from t", catalog, PlannerOptions(workers=2))
>>> [(stage.id, stage.location.value, stage.parallelism) for stage in plan.stages]
[(0, 'workers', 2), (1, 'coordinator', 1)]
>>> [rule.name for rule in RULES]
['read', 'filter', 'project', 'fetch', 'sort', 'set', 'aggregate', 'join', 'cross']
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pyarrow as pa
from datafusion import DataFrame, LogicalPlan, SessionContext
from datafusion import substrait as ss

from ..catalog import Catalog
from ..fragments import (
    DistributedPlan,
    Fragment,
    FragmentFormat,
    Location,
    Output,
    OutputMode,
    Settings,
    Stage,
)
from . import aggregates, fallback, joins, relations, subqueries
from .context import PlanContext, Planned, PlannerOptions
from .substrait import Rel, has_key, has_subquery, kind_of, own_parts


@dataclass(frozen=True)
class Rule:
    """How relations of one Substrait kind are planned."""

    name: str  # the relation kind it plans
    plan: Callable[[PlanContext, Rel, dict[str, Any]], Planned]


#: the rules, one per relation kind; a kind without a rule runs on the coordinator
RULES: tuple[Rule, ...] = (
    Rule("read", relations.plan_read),
    Rule("filter", relations.plan_filter),
    Rule("project", relations.plan_project),
    Rule("fetch", relations.plan_fetch),
    Rule("sort", relations.plan_sort),
    Rule("set", relations.plan_set),
    Rule("aggregate", aggregates.plan_aggregate),
    Rule("join", joins.plan_join),
    Rule("cross", joins.plan_cross),
)
_BY_KIND = {rule.name: rule for rule in RULES}


def walk(ctx: PlanContext, rel: Rel) -> Planned:
    """Plan ``rel`` by its kind's rule (subqueries and unknown kinds: see the docstring)."""
    kind = kind_of(rel)
    body = rel[kind]
    rule = _BY_KIND.get(kind)
    if rule is not None and not has_subquery(body):
        return rule.plan(ctx, rel, body)
    if kind in ("filter", "project") and not has_key(own_parts(body), "outerReference"):
        planned = subqueries.with_broadcast_subqueries(ctx, rel, body)
        if planned is not None:
            return planned
    return fallback.plan_local(ctx, rel, body, f"{kind} runs on the coordinator")


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

    Raises:
        NotDistributable: the query must run whole on the coordinator and has parameters.
    """
    plan, schema = _plan_query(sql, catalog, options or PlannerOptions(), params, settings)
    return replace(plan, settings=settings, schema=schema)


def _plan_query(
    sql: str,
    catalog: Catalog,
    options: PlannerOptions,
    params: Mapping[str, Any] | None,
    settings: Settings,
) -> tuple[DistributedPlan, pa.Schema]:
    fallback.refuse_dictionary_columns(sql, catalog)
    ctx = catalog.planning_context(settings)
    df = ctx.sql(sql, param_values=dict(params)) if params else ctx.sql(sql)
    return _plan_optimized(sql, catalog, options, params, ctx, df), df.schema()


def _plan_optimized(
    sql: str,
    catalog: Catalog,
    options: PlannerOptions,
    params: Mapping[str, Any] | None,
    ctx: SessionContext,
    df: DataFrame,
) -> DistributedPlan:
    lp = df.optimized_logical_plan()
    for check in fallback.WHOLE_QUERY_CHECKS:
        reason = check(ctx, lp)
        if reason is not None:
            return fallback.gathered_plan(sql, lp, ctx, catalog, options, params, reason, True)
    try:
        return _distribute(ctx, catalog, lp, options)
    except Exception as exc:  # a plan shape we cannot cut: still answer, on the coordinator
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return fallback.gathered_plan(sql, lp, ctx, catalog, options, params, reason)


def _distribute(
    ctx: SessionContext, catalog: Catalog, lp: LogicalPlan, options: PlannerOptions
) -> DistributedPlan:
    doc = json.loads(ss.Producer.to_substrait_plan(lp, ctx).to_json())
    root = doc["relations"][0]["root"]
    plan = PlanContext(ctx, catalog, doc, options, walk)
    top = plan.gather(plan.plan(root["input"]))
    sid = len(plan.stages)
    plan.stages.append(
        Stage(
            id=sid,
            fragment=Fragment(
                FragmentFormat.SUBSTRAIT, plan.substrait.plan_bytes(top.rel, root["names"])
            ),
            inputs=tuple(dict.fromkeys(top.exchanges)),
            output=Output(OutputMode.GATHER),
            location=Location.COORDINATOR,
            parallelism=1,
            description="result",
        )
    )
    notes = tuple(dict.fromkeys(plan.notes))
    return DistributedPlan(tuple(plan.stages), sid, notes)
