"""Does a plan survive Substrait? Checked before any of it is distributed.

The planner ships fragments as Substrait (read as JSON, cut, written back). Substrait and
DataFusion's producer/consumer silently drop things: window frame offset types (a
``RANGE BETWEEN 1 PRECEDING`` frame then covers the whole partition), ``IGNORE NULLS``,
``FILTER (WHERE …)`` and ``DISTINCT`` in window aggregates, struct field names, the time
zone of timestamp literals, NaN/±inf literals (in the JSON form); some plans do not come
back at all (``EXISTS (SELECT 1)``, table functions, list-of-struct literals).

:func:`substrait_loss` sends the optimized plan through the same path the fragments take
(producer, JSON, consumer, optimizer) and compares what can be lost. The plain text of
the two plans differs harmlessly (the consumer renames subquery aliases to ``left`` and
``right``, inlines common subexpressions, moves projections above sorts), so the check
compares *meaning atoms* taken from DataFusion's full (Debug) form of each plan instead
(its Display form hides the types of frame offsets, the actual cause of the RANGE bug):
every typed literal, cast target type and time-zoned timestamp type, every window frame
with its offset types, null treatments, the number of FILTER clauses and DISTINCT flags,
and the output types. A plan that loses any of them is not distributed: the whole query
runs on the coordinator from its SQL text.

>>> from datafusion import SessionContext
>>> ctx = SessionContext()
>>> substrait_loss(ctx, ctx.sql("SELECT 1 AS x").optimized_logical_plan()) is None
True
>>> substrait_loss(ctx, ctx.sql("SELECT struct(1 AS a) AS s").optimized_logical_plan())
'named struct fields are not representable in Substrait'
"""

from __future__ import annotations

import re
from typing import Any

from datafusion import SessionContext
from datafusion import substrait as ss

#: what a lost atom means, by the atom's kind (the EXPLAIN note names it)
_REASONS = {
    "frame": "window frame offsets are not representable in Substrait",
    "nulls": "IGNORE NULLS is not representable in Substrait",
    "filter": "FILTER (WHERE …) in window aggregates is not representable in Substrait",
    "distinct": "DISTINCT in window aggregates is not representable in Substrait",
    "struct": "named struct fields are not representable in Substrait",
    "timestamp": "time zones of timestamp literals are not representable in Substrait",
    "zone": "time zones of timestamp types are not representable in Substrait",
    "cast": "a cast's target type is not representable in Substrait",
    "literal": "a literal does not survive Substrait",
    "schema": "the result types do not survive Substrait",
}
_TIMESTAMP = re.compile(r"^Timestamp\w+\(")


def substrait_loss(ctx: SessionContext, lp: Any) -> str | None:
    """``None`` if ``lp`` (an optimized logical plan) survives a Substrait round trip
    through JSON unchanged in meaning; otherwise why not, in a few words."""
    try:
        plan = ss.Producer.to_substrait_plan(lp, ctx)
        back = ss.Consumer.from_substrait_plan(ctx, ss.Plan.from_json(plan.to_json()))
        again = ctx.create_dataframe_from_logical_plan(back).optimized_logical_plan()
    except Exception as exc:
        return f"Substrait cannot express this plan ({_first_line(exc)})"
    before, after = atoms(repr(lp)), atoms(repr(again))
    for kind, found in before.items():
        # sets: every atom must come back; counts: none may get lost
        lost = not found <= after[kind] if isinstance(found, set) else found > after[kind]
        if lost:
            return _REASONS[kind]
    if _types(ctx, lp) != _types(ctx, again):
        return _REASONS["schema"]
    return None


def atoms(debug: str) -> dict[str, set[str] | int]:
    """The parts of a plan's Debug text that carry meaning Substrait may drop, by kind:
    sets of literals, frames and null treatments; counts of FILTER clauses and DISTINCT.

    >>> a = atoms("Literal(Int64(1), None) WindowFrame { units: Rows } distinct: true")
    >>> a["literal"], a["frame"], a["distinct"]
    ({'Int64(1), None'}, {'WindowFrame { units: Rows }'}, 1)
    """
    out: dict[str, set[str] | int] = {
        "frame": set(_balanced(debug, "WindowFrame {", "{", "}")),
        "nulls": set(re.findall(r"null_treatment: Some\((\w+)\)", debug)),
        "filter": debug.count("filter: Some("),
        "distinct": debug.count("distinct: true"),
        "struct": set(),
        "timestamp": set(),
        "zone": set(re.findall(r'Timestamp\(\w+, Some\("[^"]*"\)\)', debug)),
        "cast": {c[c.rindex("data_type: ") :] for c in _casts(debug)},
        "literal": set(),
    }
    for lit in _balanced(debug, "Literal(", "(", ")"):
        value = lit[len("Literal(") : -1]
        kind = "struct" if value.startswith("Struct(") else "literal"
        out["timestamp" if _TIMESTAMP.match(value) else kind].add(value)  # type: ignore[union-attr]
    return out


def _casts(debug: str) -> list[str]:
    """Every CAST and TRY_CAST of a plan's Debug text (its target type comes last)."""
    found = _balanced(debug, "Cast(Cast {", "{", "}")
    found += _balanced(debug, "TryCast(TryCast {", "{", "}")
    return [c for c in found if "data_type: " in c]


def _balanced(text: str, start: str, open_: str, close: str) -> list[str]:
    """Every substring beginning with ``start`` up to its matching ``close``."""
    found = []
    at = text.find(start)
    while at >= 0:
        depth = 0
        quoted = False
        for i in range(at + len(start) - 1, len(text)):
            ch = text[i]
            if ch == '"' and text[i - 1] != "\\":
                quoted = not quoted
            elif quoted:
                continue
            elif ch == open_:
                depth += 1
            elif ch == close:
                depth -= 1
                if depth == 0:
                    found.append(text[at : i + 1])
                    break
        at = text.find(start, at + 1)
    return found


def _types(ctx: SessionContext, lp: Any) -> list[str]:
    schema = ctx.create_dataframe_from_logical_plan(lp).schema()
    return [str(f.type) for f in schema]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]
