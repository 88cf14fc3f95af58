"""What a join's type and condition allow: :class:`JoinType`, its equi-key pairs, NULL safety.

The join type decides which side may be split while the other is broadcast (the split
side must be the one whose unmatched rows the join keeps), whether both sides may be
hash-partitioned, and which side may be reduced to the rows whose keys the other side has.

>>> JoinType.of({"type": "JOIN_TYPE_LEFT_SEMI"}).label, JoinType.of({}).label
('left semi', 'unspecified')
>>> JoinType.LEFT in BROADCAST_RIGHT_OK, JoinType.LEFT in BROADCAST_LEFT_OK
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import pyarrow as pa

from .substrait import SubstraitPlan, direct_field, walk


class JoinType(str, Enum):
    """Substrait's join types, as its JSON spells them."""

    UNSPECIFIED = "JOIN_TYPE_UNSPECIFIED"
    INNER = "JOIN_TYPE_INNER"
    OUTER = "JOIN_TYPE_OUTER"
    LEFT = "JOIN_TYPE_LEFT"
    RIGHT = "JOIN_TYPE_RIGHT"
    LEFT_SEMI = "JOIN_TYPE_LEFT_SEMI"
    RIGHT_SEMI = "JOIN_TYPE_RIGHT_SEMI"
    LEFT_ANTI = "JOIN_TYPE_LEFT_ANTI"
    RIGHT_ANTI = "JOIN_TYPE_RIGHT_ANTI"
    LEFT_SINGLE = "JOIN_TYPE_LEFT_SINGLE"
    RIGHT_SINGLE = "JOIN_TYPE_RIGHT_SINGLE"
    LEFT_MARK = "JOIN_TYPE_LEFT_MARK"
    RIGHT_MARK = "JOIN_TYPE_RIGHT_MARK"

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> JoinType:
        """The type of a ``join`` relation's body (unspecified when it has none)."""
        return cls(body.get("type", cls.UNSPECIFIED.value))

    @property
    def label(self) -> str:
        """How EXPLAIN names the join: ``"left semi"``."""
        return self.value.removeprefix("JOIN_TYPE_").lower().replace("_", " ")


J = JoinType
#: joins whose left side may be split while the right side is broadcast
BROADCAST_RIGHT_OK = frozenset(
    {J.INNER, J.LEFT, J.LEFT_SEMI, J.LEFT_ANTI, J.LEFT_SINGLE, J.LEFT_MARK}
)
#: joins whose right side may be split while the left side is broadcast
BROADCAST_LEFT_OK = frozenset(
    {J.INNER, J.RIGHT, J.RIGHT_SEMI, J.RIGHT_ANTI, J.RIGHT_SINGLE, J.RIGHT_MARK}
)
# anti joins may be null-aware (NOT IN): a partition without the NULL key would answer wrongly,
# so they are hash-partitioned only when no key can be NULL
ANTI_JOINS = frozenset({J.LEFT_ANTI, J.RIGHT_ANTI})
#: joins that may hash-partition both sides by their equi keys
HASH_JOIN_OK = frozenset({J.INNER, J.LEFT, J.RIGHT, J.OUTER, J.LEFT_SEMI, J.RIGHT_SEMI})
# joins that drop the unmatched rows of their right (left) input: that input may be reduced to
# the rows whose keys occur in the other input before it is shuffled
REDUCIBLE_RIGHT = frozenset({J.INNER, J.LEFT, J.LEFT_SEMI, J.RIGHT_SEMI, J.LEFT_ANTI})
REDUCIBLE_LEFT = frozenset({J.INNER, J.RIGHT, J.LEFT_SEMI, J.RIGHT_SEMI, J.RIGHT_ANTI})


def equi_keys(sp: SubstraitPlan, body: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(left field, right field) pairs of the join's top-level equality conjuncts."""
    nleft = len(sp.schema_of(body["left"]))
    pairs: list[tuple[int, int]] = []

    def visit(expr: Mapping[str, Any]) -> None:
        fn = expr.get("scalarFunction")
        if not fn:
            return
        name = sp.function_name(int(fn.get("functionReference", 0)))
        args = [a.get("value", {}) for a in fn.get("arguments", [])]
        if name == "and":
            for a in args:
                visit(a)
        elif name in ("equal", "is_not_distinct_from") and len(args) == 2:
            a, b = (direct_field(x) for x in args)
            if a is None or b is None:
                return
            if a < nleft <= b:
                pairs.append((a, b - nleft))
            elif b < nleft <= a:
                pairs.append((b, a - nleft))

    if "expression" in body:
        visit(body["expression"])
    return pairs


def keys_not_null(sp: SubstraitPlan, body: Mapping[str, Any], pairs: list[tuple[int, int]]) -> bool:
    """No join key can be NULL on either side (so NOT IN's NULL rules cannot apply)."""
    left: pa.Schema = sp.schema_of(body["left"])
    right: pa.Schema = sp.schema_of(body["right"])
    return all(not left.field(a).nullable and not right.field(b).nullable for a, b in pairs)


def has_null_safe_keys(sp: SubstraitPlan, body: Mapping[str, Any]) -> bool:
    """Whether the join condition uses IS NOT DISTINCT FROM (NULL keys then match)."""
    return any(
        isinstance(obj, dict)
        and "scalarFunction" in obj
        and sp.function_name(int(obj["scalarFunction"].get("functionReference", 0)))
        == "is_not_distinct_from"
        for obj in walk(body.get("expression", {}))
    )
