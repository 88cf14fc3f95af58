"""Joins: broadcast a small side to the split one, or hash-shuffle both sides by the equi keys.

With both inputs on the workers, a side is broadcast (or, over small tables only, read
whole by every task) when it is estimated small (:attr:`PlannerOptions.broadcast_rows`,
:attr:`PlannerOptions.broadcast_ratio`) and the join type lets the other side be split.
Otherwise an equi-join is hash-partitioned on its keys: a side already partitioned on
them joins in place, the larger side may first be reduced (:mod:`.reduce`). What is left
(and any join with a coordinator-side input) runs on the coordinator.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> from sqlweave.cluster.planning import PlannerOptions, plan_query
>>> catalog = Catalog()
>>> schema = pa.schema([("k", pa.int64()), ("v", pa.int64())])
>>> _ = catalog.add_statistics("big", schema, rows=10_000_000)
>>> _ = catalog.add_statistics("mid", schema, rows=5_000_000)
>>> sql = "SELECT big.v, mid.v FROM big JOIN mid ON big.k = mid.k"
>>> plan = plan_query(sql, catalog, PlannerOptions(workers=2, reduce_ratio=0))
>>> [(s.description, s.output.mode.value) for s in plan.stages[:3]]  # doctest: +NORMALIZE_WHITESPACE
[('scan big (hash shuffle for inner join)', 'hash'),
 ('scan mid (hash shuffle for inner join)', 'hash'),
 ('inner join (by hash partition) -> project', 'gather')]
"""

from __future__ import annotations

from typing import Any

from ..fragments import ScanInput
from .context import Local, Pipeline, PlanContext, Planned
from .estimates import kept
from .joinkeys import (
    ANTI_JOINS,
    BROADCAST_LEFT_OK,
    BROADCAST_RIGHT_OK,
    HASH_JOIN_OK,
    JoinType,
    equi_keys,
    has_null_safe_keys,
    keys_not_null,
)
from .reduce import push_semi_join, reduce_larger
from .substrait import Rel, emit, kind_of


def plan_cross(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A cross join: an inner join without keys (broadcast a side, or the coordinator)."""
    return _join(ctx, rel, body, JoinType.INNER, equi=False)


def plan_join(ctx: PlanContext, rel: Rel, body: dict[str, Any]) -> Planned:
    """A join relation (see the module docstring)."""
    return _join(ctx, rel, body, JoinType.of(body), equi=True)


def _join(ctx: PlanContext, rel: Rel, body: dict[str, Any], jtype: JoinType, equi: bool) -> Planned:
    kind = kind_of(rel)
    left, right = ctx.plan_inside_join(body["left"]), ctx.plan_inside_join(body["right"])
    label = jtype.label
    if isinstance(left, Pipeline) and isinstance(right, Pipeline):
        o = ctx.options

        def small(a: Pipeline, b: Pipeline) -> bool:
            return a.rows <= o.broadcast_rows or a.rows * o.broadcast_ratio <= b.rows

        right_ok = jtype in BROADCAST_RIGHT_OK and small(right, left)
        left_ok = jtype in BROADCAST_LEFT_OK and small(left, right)
        if right_ok and (not left_ok or right.rows <= left.rows):
            return _broadcast_join(ctx, kind, body, jtype, left, right, "right")
        if left_ok:
            return _broadcast_join(ctx, kind, body, jtype, right, left, "left")
        if equi and o.hash_joins and jtype in HASH_JOIN_OK | ANTI_JOINS:
            pairs = equi_keys(ctx.substrait, body)
            if pairs and (jtype in HASH_JOIN_OK or keys_not_null(ctx.substrait, body, pairs)):
                return _hash_join(ctx, kind, body, jtype, left, right, pairs)
        if jtype in BROADCAST_RIGHT_OK:
            return _broadcast_join(ctx, kind, body, jtype, left, right, "right")
        if jtype in BROADCAST_LEFT_OK:
            return _broadcast_join(ctx, kind, body, jtype, right, left, "left")
    why = f"{label} join runs on the coordinator"
    lg, rg = ctx.gather(left, why), ctx.gather(right, why)
    new = {kind: {**body, "left": lg.rel, "right": rg.rel}}
    return Local(new, lg.exchanges + rg.exchanges, max(lg.rows, rg.rows))


def _broadcast_join(
    ctx: PlanContext,
    kind: str,
    body: dict[str, Any],
    jtype: JoinType,
    big: Pipeline,
    small: Pipeline,
    side: str,
) -> Pipeline:
    """``big`` stays split; ``small`` (the join's ``side`` input) reaches every task whole."""
    read, inputs, width = ctx.broadcast(small)
    if (
        kind == "join"
        and jtype == JoinType.LEFT_SEMI
        and side == "right"
        and not has_null_safe_keys(ctx.substrait, body)
    ):
        push_semi_join(ctx, big, body, read, inputs)
    other = "left" if side == "right" else "right"
    new = {kind: {**body, side: read, other: big.rel}}
    if any(isinstance(i, ScanInput) for i in inputs):
        step = f"{jtype.label} join with {side} side read whole ({' -> '.join(small.steps)})"
    else:
        step = f"{jtype.label} join with broadcast {side} side"
    steps = (*big.steps, step)
    by = big.partitioned_by
    right_only = (JoinType.RIGHT_SEMI, JoinType.RIGHT_ANTI, JoinType.RIGHT_MARK)
    if by is not None and other == "right" and jtype not in right_only:
        by = tuple(k + width for k in by)
    if jtype == JoinType.RIGHT_MARK or (jtype == JoinType.LEFT_MARK and other == "right"):
        by = None
    by = emit(body, by)
    rows = big.rows
    if kind == "join" and jtype in (JoinType.INNER, JoinType.LEFT_SEMI, JoinType.RIGHT_SEMI):
        # a join on a key of the filtered small side keeps that share of the big side
        rows = kept(big.rows, small.selectivity)
    return Pipeline(
        new, big.scans, (*big.exchanges, *inputs), rows, steps, by, big.base_rows or big.rows
    )


def _hash_join(
    ctx: PlanContext,
    kind: str,
    body: dict[str, Any],
    jtype: JoinType,
    left: Pipeline,
    right: Pipeline,
    pairs: list[tuple[int, int]],
) -> Pipeline:
    """Both sides partitioned by the join keys: shuffle whichever side is not already."""
    lkeys, rkeys = [a for a, _ in pairs], [b for _, b in pairs]
    # a side already hash-partitioned on some of its keys fixes the key order for both
    if left.partitioned_by is not None and set(left.partitioned_by) <= set(lkeys):
        lkeys = list(left.partitioned_by)
        rkeys = [next(b for a, b in pairs if a == k) for k in lkeys]
    elif right.partitioned_by is not None and set(right.partitioned_by) <= set(rkeys):
        rkeys = list(right.partitioned_by)
        lkeys = [next(a for a, b in pairs if b == k) for k in rkeys]
    why = f"{jtype.label} join"
    if not has_null_safe_keys(ctx.substrait, body):
        left, right = reduce_larger(ctx, jtype, left, lkeys, right, rkeys)
    sides = {}
    for name, side, keys in (("left", left, lkeys), ("right", right, rkeys)):
        if side.partitioned_by == tuple(keys):
            sides[name] = side  # co-partitioned: joins in place
        else:
            read, inp = ctx.shuffle(side, keys, why)
            sides[name] = Pipeline(read, (), (inp,), side.rows, (), tuple(keys))
    lp, rp = sides["left"], sides["right"]
    new = {kind: {**body, "left": lp.rel, "right": rp.rel}}
    nleft = len(ctx.substrait.schema_of(body["left"]))
    by: tuple[int, ...] | None
    if jtype in (JoinType.RIGHT_SEMI, JoinType.RIGHT_ANTI):
        by = tuple(rkeys)
    elif jtype in (JoinType.LEFT_SEMI, JoinType.LEFT_ANTI):
        by = tuple(lkeys)
    else:
        by = tuple(lkeys) if jtype != JoinType.RIGHT else tuple(k + nleft for k in rkeys)
    if jtype == JoinType.OUTER:
        by = None  # unmatched rows carry NULL keys on one side
    by = emit(body, by)
    steps = (*lp.steps, *rp.steps, f"{jtype.label} join (by hash partition)")
    return Pipeline(
        new,
        lp.scans + rp.scans,
        lp.exchanges + rp.exchanges,
        max(left.rows, right.rows),
        steps,
        by,
    )
