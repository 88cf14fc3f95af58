"""Reductions: fewer rows cross the network when a join will drop them anyway.

* :func:`reduce_larger`: before a hash join shuffles its larger side, that side keeps only
  the rows whose keys occur in the (much) smaller side (a semi join with the smaller
  side's distinct keys, broadcast), when the join drops its unmatched rows
  (:attr:`PlannerOptions.reduce_ratio`);
* :func:`push_semi_join`: a broadcast stage whose column becomes a semi join's key keeps
  only the rows whose key is on the semi join's small side.

Both only filter rows the join would drop: the join itself stays where it is, so the answer
cannot change. Neither runs when a side calls a volatile function (the keys would come
from a second run of that side) or the keys are null-safe (``IS NOT DISTINCT FROM``).

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import PlannerOptions, plan_query
>>> catalog = Catalog()
>>> schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
>>> _ = catalog.add_statistics("big", schema, rows=10_000_000)
>>> _ = catalog.add_statistics("mid", schema, rows=2_000_000)
>>> options = PlannerOptions(workers=2, broadcast_rows=1_000, broadcast_ratio=100)
>>> plan = plan_query("SELECT big.v FROM big JOIN mid ON big.k = mid.k", catalog, options)
>>> for stage in plan.stages[:2]:
...     print(stage.description)
scan mid -> distinct join keys (broadcast)
scan big -> semi join with the other side's keys (reduction) (hash shuffle for inner join)
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from ..fragments import Fragment, FragmentFormat, OutputMode, StageInput
from .context import Pipeline, PlanContext
from .estimates import kept
from .joinkeys import REDUCIBLE_LEFT, REDUCIBLE_RIGHT, JoinType, equi_keys
from .substrait import Expr, Rel, direct_field, field_ref, kind_of

#: functions whose second run gives other rows: a side calling one is never reduced
VOLATILE = frozenset({"random", "uuid"})


def reduce_larger(
    ctx: PlanContext,
    jtype: JoinType,
    left: Pipeline,
    lkeys: list[int],
    right: Pipeline,
    rkeys: list[int],
) -> tuple[Pipeline, Pipeline]:
    """Semi-join reduction: keep only the rows of the larger side whose keys occur in the
    smaller side, when the join drops the larger side's unmatched rows anyway."""
    ratio = ctx.options.reduce_ratio
    if ratio <= 0:
        return left, right
    if any(ctx.substrait.calls(side.rel) & VOLATILE for side in (left, right)):
        return left, right
    # (a side already partitioned on its keys is not shuffled: nothing to save there)
    if (
        jtype in REDUCIBLE_RIGHT
        and right.rows >= ratio * left.rows
        and right.partitioned_by != tuple(rkeys)
    ):
        return left, _reduced(ctx, right, rkeys, left, lkeys)
    if (
        jtype in REDUCIBLE_LEFT
        and left.rows >= ratio * right.rows
        and left.partitioned_by != tuple(lkeys)
    ):
        return _reduced(ctx, left, lkeys, right, rkeys), right
    return left, right


def _reduced(
    ctx: PlanContext, big: Pipeline, big_keys: list[int], small: Pipeline, small_keys: list[int]
) -> Pipeline:
    """``big`` LEFT SEMI JOIN (the distinct join keys of ``small``, on every task)."""
    width = len(ctx.substrait.schema_of(small.rel))
    keys_rel = {
        "aggregate": {
            "input": {
                "project": {
                    "common": {
                        "emit": {"outputMapping": list(range(width, width + len(small_keys)))}
                    },
                    "input": small.rel,
                    "expressions": [field_ref(k) for k in small_keys],
                }
            },
            "groupings": [{"groupingExpressions": [field_ref(i) for i in range(len(small_keys))]}],
            "measures": [],
        }
    }
    keys = replace(small, rel=keys_rel, steps=(*small.steps, "distinct join keys"))
    read, inputs, _ = ctx.broadcast(keys)
    pairs = list(zip(big_keys, range(len(big_keys))))
    semi = semi_join(ctx, big.rel, read, pairs, len(ctx.substrait.schema_of(big.rel)))
    step = "semi join with the other side's keys (reduction)"
    return replace(
        big,
        rel=semi,
        exchanges=(*big.exchanges, *inputs),
        steps=(*big.steps, step),
        rows=kept(big.rows, small.selectivity),
    )


def push_semi_join(
    ctx: PlanContext, big: Pipeline, body: dict[str, Any], keys: Rel, inputs: tuple[StageInput, ...]
) -> None:
    """Also filter a broadcast stage under ``big`` by a semi join's small right side.

    ``big SEMI JOIN keys ON big.a = keys.b``, where ``a`` comes unchanged (through
    projections, filters and inner joins) from column ``c`` of a broadcast stage S that
    nothing else reads: S keeps only rows whose ``c`` is among the keys, so S ships and
    every task hashes far fewer rows (TPC-H q18: 57 orders instead of 1.5 million). The
    semi join itself stays where it is, so the answer cannot change.
    """
    pairs = equi_keys(ctx.substrait, body)
    traced = [(_trace(ctx, big.rel, a), b) for a, b in pairs]
    found = [(src, b) for src, b in traced if src is not None]
    if not found:
        return
    sid = found[0][0][0]
    pushed = [(col, b) for (stage, col), b in found if stage == sid]
    stage = ctx.stages[sid]
    readers = [s for s in ctx.stages if any(getattr(i, "stage", None) == sid for i in s.inputs)]
    if stage.output.mode != OutputMode.BROADCAST or readers or sid not in ctx.stage_rels:
        return
    width = len(ctx.schemas[sid])
    rel = semi_join(ctx, ctx.stage_rels[sid], keys, pushed, width)
    names = [f"c{i}" for i in range(width)]
    fragment = Fragment(FragmentFormat.SUBSTRAIT, ctx.substrait.plan_bytes(rel, names))
    new_inputs = tuple(dict.fromkeys((*stage.inputs, *inputs)))
    desc = stage.description.removesuffix(" (broadcast)") + " -> semi join (pushed down)"
    ctx.stages[sid] = replace(
        stage, fragment=fragment, inputs=new_inputs, description=desc + " (broadcast)"
    )
    ctx.stage_rels[sid] = rel


def _trace(ctx: PlanContext, rel: Rel, field: int) -> tuple[int, int] | None:
    """(stage, column) of the exchange ``field`` of ``rel``'s output passes through
    unchanged, following projections, filters and inner joins; None elsewhere."""
    kind = kind_of(rel)
    body = rel[kind]
    mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
    if kind == "read":
        names = body.get("namedTable", {}).get("names") or [""]
        m = re.fullmatch(r"__stage(\d+)", names[-1])
        if mapping or not m or body.get("filter") or body.get("projection"):
            return None
        return int(m.group(1)), field
    if kind == "filter" and not mapping:
        return _trace(ctx, body["input"], field)
    if kind == "project":
        width = len(ctx.substrait.schema_of(body["input"]))
        at = mapping[field] if mapping else field
        if at < width:
            return _trace(ctx, body["input"], at)
        ref = direct_field(body["expressions"][at - width])
        return None if ref is None else _trace(ctx, body["input"], ref)
    if kind == "join" and JoinType.of(body) == JoinType.INNER:
        at = mapping[field] if mapping else field
        width = len(ctx.substrait.schema_of(body["left"]))
        if at < width:
            return _trace(ctx, body["left"], at)
        return _trace(ctx, body["right"], at - width)
    return None


def semi_join(
    ctx: PlanContext, left: Rel, right: Rel, pairs: list[tuple[int, int]], left_width: int
) -> Rel:
    """``left`` LEFT SEMI JOIN ``right`` ON left[a] = right[b] AND ... for (a, b) in pairs."""
    call = ctx.substrait.call
    condition: Expr | None = None
    for a, b in pairs:
        equal = call("equal", field_ref(a), field_ref(left_width + b))
        condition = equal if condition is None else call("and", condition, equal)
    return {
        "join": {
            "left": left,
            "right": right,
            "expression": condition,
            "type": JoinType.LEFT_SEMI.value,
        }
    }
