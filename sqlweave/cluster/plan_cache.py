"""Distributed plans kept for statements asked again, so a notebook's repeated small query
is not planned anew each time.

Planning a small query (parse, optimize, the Substrait round-trip check, cutting into
stages) took 5-8 ms of a cluster query's ~20 ms. A plan is a pure function of the SQL
text, its parameter values, the client's settings, the planner options (the number of
live workers among them) and the catalog (every table's name, schema and source: a
notebook DataFrame registered again under its name with the same content has the same
entry). All of that is the key; any change of it plans anew.

DataFusion folds a few functions to the time the statement is *planned*: ``now()``,
``current_date``, ``current_time`` and their aliases. A kept plan would answer with an
old time, so statements naming them are never kept.

>>> import pyarrow as pa
>>> cat = Catalog()
>>> _ = cat.add_arrow("t", pa.table({"x": [1, 2, 3]}), partitions=2)
>>> cache = PlanCache()
>>> def plan(sql):
...     return cache.plan(sql, {}, (), None, cat, lambda: DistributedPlan((), 0))
>>> plan("select count(*) from t") is plan("select count(*) from t")
True
>>> plan("select now() from t") is plan("select now() from t")
False
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from .catalog import Catalog
from .fragments import DistributedPlan, Settings

#: plans kept, least recently used first out
MAX_PLANS = 128
#: longer statements are planned every time (a plan may hold their literals)
MAX_SQL_CHARS = 20_000
#: functions DataFusion replaces by the planning time: a kept plan would go stale
_PLANNING_TIME = re.compile(
    r"\b(now|current_timestamp|current_date|current_time|today|localtime|localtimestamp)\b",
    re.IGNORECASE,
)


class PlanCache:
    """Least-recently-used ``key -> DistributedPlan`` (plans are immutable values)."""

    def __init__(self, max_plans: int = MAX_PLANS) -> None:
        self.max_plans = max_plans
        self._plans: OrderedDict[Hashable, DistributedPlan] = OrderedDict()
        #: plans answered from the cache (tests and the bench read it)
        self.hits = 0

    def plan(
        self,
        sql: str,
        params: Mapping[str, Any],
        settings: Settings,
        options: Any,
        catalog: Catalog,
        make: Callable[[], DistributedPlan],
    ) -> DistributedPlan:
        """The kept plan for this statement in this catalog, else ``make()``'s (kept)."""
        key = _key(sql, params, settings, options, catalog)
        if key is None:
            return make()
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
            self.hits += 1
            return found
        plan = make()
        self._plans[key] = plan
        while len(self._plans) > self.max_plans:
            self._plans.popitem(last=False)
        return plan

    def clear(self) -> None:
        self._plans.clear()


def _key(
    sql: str, params: Mapping[str, Any], settings: Settings, options: Any, catalog: Catalog
) -> Hashable | None:
    """What the plan depends on, or None for a statement whose plan must not be kept."""
    if len(sql) > MAX_SQL_CHARS or _PLANNING_TIME.search(sql):
        return None
    try:
        # the value's type too: 1, 1.0 and True plan to different literal types
        bound = tuple(sorted((k, type(v).__name__, v) for k, v in params.items()))
        hash(bound)
    except TypeError:  # an unhashable value (a list): plan it every time
        return None
    # the schema's bytes: pyarrow's schema equality ignores metadata, which plans carry
    tables = tuple(
        (e.name, e.source, e.schema.serialize().to_pybytes())
        for e in map(catalog.__getitem__, catalog.names())
    )
    return (sql, bound, tuple(settings), options, tables)
