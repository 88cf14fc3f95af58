"""Why (part of) a plan runs on the coordinator, and the plans that say so.

A rewrite that could change a result is not made: when in doubt the work runs on the
coordinator and :attr:`DistributedPlan.notes` says why. Two levels:

* one relation: :func:`plan_local` gathers its inputs (and any table its subqueries read)
  and runs it on the coordinator, noting the reason;
* the whole query: the checks in :data:`WHOLE_QUERY_CHECKS` run before any cutting (a
  NOT IN anti join that Substrait would turn into NOT EXISTS, anything else Substrait
  loses); a query they flag, or one the rules cannot cut, becomes :func:`gathered_plan`:
  every table it names gathered, the query itself on the coordinator.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("x", pa.int64())]), rows=100)
>>> plan = whole_query_plan("SELECT x FROM t", catalog, None, None, "a test")
>>> [(s.description, s.fragment.format.value) for s in plan.stages]
[('scan t (whole table)', 'sql'), ('result (the whole query on the coordinator)', 'sql')]
>>> plan.notes
('the query could not be distributed (a test); it runs on the coordinator',)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pyarrow as pa
from datafusion import LogicalPlan, SessionContext
from datafusion import substrait as ss

from ..catalog import Catalog
from ..fragments import (
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
)
from ..roundtrip import substrait_loss
from .context import Local, NotDistributable, PlanContext, PlannerOptions
from .subqueries import gather_subquery_reads
from .substrait import CHILD_KEYS, Rel, kind_of, own_parts


def plan_local(ctx: PlanContext, rel: Rel, body: dict[str, Any], why: str) -> Local:
    """Run ``rel`` on the coordinator: gather its inputs, and any table its subqueries read."""
    new = dict(body)
    exchanges: tuple[ExchangeInput, ...] = ()
    rows = 0
    for key in CHILD_KEYS:
        if key in body:
            child = ctx.gather(ctx.plan(body[key]), why)
            new[key] = child.rel
            exchanges += child.exchanges
            rows = max(rows, child.rows)
    if "inputs" in body:
        new["inputs"] = []
        for sub in body["inputs"]:
            child = ctx.gather(ctx.plan(sub), why)
            new["inputs"].append(child.rel)
            exchanges += child.exchanges
            rows = max(rows, child.rows)
    own, extra = gather_subquery_reads(ctx, own_parts(body))
    new.update(own)
    return Local({kind_of(rel): new}, exchanges + extra, rows)


def _words(sql: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}


def _has_dictionary(types: list[pa.DataType]) -> bool:
    return any(
        pa.types.is_dictionary(t) or _has_dictionary([t.field(i).type for i in range(t.num_fields)])
        for t in types
    )


def refuse_dictionary_columns(sql: str, catalog: Catalog) -> None:
    """Raise :class:`NotDistributable` if ``sql`` names a table with dictionary columns.

    Workers hold such columns as plain values (Substrait has no dictionary type), so
    ``arrow_typeof`` and result types would differ: the coordinator's copy answers.
    """
    words = _words(sql)
    for name in catalog.names():
        if name.lower() in words and _has_dictionary(catalog[name].schema.types):
            raise NotDistributable(f"table {name} has dictionary-encoded columns")


def null_aware_anti_join(ctx: SessionContext, lp: LogicalPlan) -> str | None:
    """NOT IN's null-aware anti join loses that flag in Substrait, and a fragment would then
    answer as NOT EXISTS: the reason to keep the whole query on the coordinator, or None."""
    if " null_aware" in lp.display_indent():
        return "NOT IN (null-aware anti join) is not distributed"
    return None


#: checks of the optimized plan, in order; the first reason found keeps the whole query on
#: the coordinator, run from its SQL text (a fragment would mean something else)
WHOLE_QUERY_CHECKS: tuple[Callable[[SessionContext, LogicalPlan], str | None], ...] = (
    null_aware_anti_join,
    substrait_loss,
)


def gathered_plan(
    sql: str,
    lp: LogicalPlan | None,
    ctx: SessionContext | None,
    catalog: Catalog,
    options: PlannerOptions,
    params: Mapping[str, Any] | None,
    reason: str,
    sql_root: bool = False,
) -> DistributedPlan:
    """The safety net: gather every table the query names, run the whole query on the coordinator.

    Gathered tables keep their own names, so the root fragment (Substrait of the optimized
    plan, else — or with ``sql_root`` — the SQL text) resolves them unchanged.
    """
    words = _words(sql)
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
    plan = gathered_plan(sql, None, None, catalog, options, params, reason, True)
    return replace(plan, settings=settings)
