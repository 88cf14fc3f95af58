"""Substrait plans as plain data: reading, building and writing back the relations the rules cut.

The planner reads DataFusion's optimized plan in Substrait's JSON form and walks it as
dicts (a relation is ``{kind: body}``). Field references are positional, so a subtree can
be replaced by a read of an exchange table with the same columns and its parents stay
valid. :class:`SubstraitPlan` holds what is shared by every fragment of one query (the
function extensions) and the planning context that resolves schemas.

>>> rel = {"filter": {"input": {"read": {}}, "condition": field_ref(1)}}
>>> kind_of(rel), direct_field(rel["filter"]["condition"])
('filter', 1)
>>> sorted(own_parts(rel["filter"]))
['condition']
>>> emit({"common": {"emit": {"outputMapping": [3, 0]}}}, (0,))
(1,)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from datafusion import SessionContext
from datafusion import substrait as ss

from ..catalog import register_table
from ..fragments import replica_name

#: a Substrait relation as JSON data: ``{kind: body}``
Rel = dict[str, Any]
#: a Substrait expression (or type) as JSON data
Expr = dict[str, Any]

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
#: the set operation that keeps every row of every input (others deduplicate or subtract)
SET_OP_UNION_ALL = "SET_OP_UNION_ALL"
#: how an aggregate measure is invoked: over all rows, or over distinct values
INVOCATION_ALL = "AGGREGATION_INVOCATION_ALL"
INVOCATION_DISTINCT = "AGGREGATION_INVOCATION_DISTINCT"
#: the keys under which a relation holds its single inputs (``set`` has a list, ``inputs``)
CHILD_KEYS = ("input", "left", "right")


class PlanningError(Exception):
    """The query cannot be planned for the cluster (e.g. an unknown table)."""


def kind_of(rel: Rel) -> str:
    """The relation's kind (``"read"``, ``"join"``...)."""
    (kind,) = rel.keys()
    return kind


def field_ref(i: int) -> Expr:
    """A reference to column ``i`` of the input."""
    return {"selection": {"directReference": {"structField": {"field": i}}, "rootReference": {}}}


def direct_field(expr: Mapping[str, Any]) -> int | None:
    """The column ``expr`` references directly, or None if it is anything else."""
    sel = expr.get("selection")
    if not sel or "rootReference" not in sel:
        return None
    ref = sel.get("directReference", {}).get("structField")
    if ref is None or "child" in ref:
        return None
    return int(ref.get("field", 0))


def walk(obj: Any) -> Iterator[Any]:
    """Every dict, list and value inside ``obj``, ``obj`` first."""
    yield obj
    if isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)


def own_parts(body: Mapping[str, Any]) -> dict[str, Any]:
    """A relation's own expressions (everything but its inputs)."""
    return {k: v for k, v in body.items() if k not in (*CHILD_KEYS, "inputs")}


def has_key(obj: Any, key: str) -> bool:
    """Whether any dict inside ``obj`` has ``key``."""
    return any(isinstance(o, dict) and key in o for o in walk(obj))


def has_subquery(body: Mapping[str, Any]) -> bool:
    """Whether the relation's own expressions hold a subquery."""
    return has_key(own_parts(body), "subquery")


def cast(expr: Expr, to: Expr) -> Expr:
    """``CAST(expr AS to)``, failing on values that do not fit."""
    return {
        "cast": {"type": to, "input": expr, "failureBehavior": "FAILURE_BEHAVIOR_THROW_EXCEPTION"}
    }


def with_constant_column(rel: Rel) -> Rel:
    """``rel``'s rows with one column, the constant TRUE, instead of its (no) columns."""
    expr = {"literal": {"boolean": True}}
    return {
        "project": {"common": {"emit": {"outputMapping": [0]}}, "input": rel, "expressions": [expr]}
    }


def without_columns(rel: Rel) -> Rel:
    """``rel``'s rows without any of its columns."""
    return {"project": {"common": {"emit": {"outputMapping": []}}, "input": rel, "expressions": []}}


def read_replicas(rel: Rel, tables: set[str]) -> Rel:
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


def emit(body: Mapping[str, Any], by: tuple[int, ...] | None) -> tuple[int, ...] | None:
    """Partitioning columns after the relation's own output mapping (if it has one)."""
    mapping = body.get("common", {}).get("emit", {}).get("outputMapping")
    if by is None or not mapping:
        return by
    if not all(k in mapping for k in by):
        return None
    return tuple(mapping.index(k) for k in by)


def literal_int(expr: Mapping[str, Any] | None, legacy: Any) -> int | None:
    """The integer of a literal expression (or of the legacy plain field), None if unset.

    >>> literal_int({"literal": {"i64": "7"}}, None), literal_int(None, "-1")
    (7, None)
    """
    if expr is None:
        return None if legacy in (None, -1, "-1") else int(legacy)
    lit = expr.get("literal", {})
    for k in ("i64", "i32", "i16", "i8"):
        if k in lit:
            return int(lit[k])
    return None


def same_type(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two Substrait types are equal, nullability aside."""

    def strip(t: Any) -> Any:
        if isinstance(t, dict):
            return {k: strip(v) for k, v in t.items() if k != "nullability"}
        return t

    return strip(a) == strip(b)


class SubstraitPlan:
    """One query's Substrait header (function extensions) and the context resolving its tables.

    Every fragment of the query shares the header, so a function anchor added for one
    fragment (say ``sum`` for a final aggregate) means the same in all of them.
    """

    def __init__(self, ctx: SessionContext, plan_json: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.header = {k: v for k, v in plan_json.items() if k != "relations"}
        self.header.setdefault("extensions", [])
        self._tmp = 0

    def function_name(self, anchor: int) -> str:
        """The name of the function extension ``anchor`` (without its signature)."""
        for ext in self.header["extensions"]:
            fn = ext.get("extensionFunction")
            if fn and int(fn.get("functionAnchor", 0)) == anchor:
                return fn["name"].split(":")[0]
        return ""

    def function_anchor(self, name: str) -> int:
        """The anchor of function ``name``, declared in the header if it is not yet."""
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

    def call(self, fn: str, *args: Expr) -> Expr:
        """The scalar function ``fn`` applied to ``args``."""
        arguments = [{"value": a} for a in args]
        return {
            "scalarFunction": {
                "functionReference": self.function_anchor(fn),
                "arguments": arguments,
            }
        }

    def calls(self, rel: Rel) -> set[str]:
        """Names of the scalar functions ``rel`` calls."""
        return {
            self.function_name(int(obj["scalarFunction"].get("functionReference", 0)))
            for obj in walk(rel)
            if isinstance(obj, dict) and "scalarFunction" in obj
        }

    def plan_bytes(self, rel: Rel, names: list[str]) -> bytes:
        """``rel`` as a complete Substrait plan whose output columns are ``names``."""
        doc = {**self.header, "relations": [{"root": {"input": rel, "names": names}}]}
        return ss.Plan.from_json(json.dumps(doc)).encode()

    def schema_of(self, rel: Rel) -> pa.Schema:
        """The Arrow schema of ``rel``'s output."""
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
            return self.read_rel(name)["read"]["baseSchema"]["struct"]["types"]
        finally:
            self.ctx.deregister_table(name)

    def read_rel(self, table: str) -> Rel:
        """A read of all columns of ``table`` (registered in the context)."""
        lp = self.ctx.table(table).logical_plan()
        doc = json.loads(ss.Producer.to_substrait_plan(lp, self.ctx).to_json())
        for obj in walk(doc["relations"][0]):
            if isinstance(obj, dict) and "read" in obj and len(obj) == 1:
                read = copy.deepcopy(obj)
                read["read"].pop("projection", None)
                return read
        raise PlanningError(f"no read relation for {table}")
