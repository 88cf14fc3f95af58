"""The distributed planner: SQL + catalog -> :class:`~sqlweave.cluster.fragments.DistributedPlan`.

DataFusion's optimized plan, read as Substrait data, is cut into stages by named rules,
one module each, over a shared :class:`~.context.PlanContext`:

* :mod:`.planner`: the entry point, the order of work and the :data:`~.planner.RULES` tuple;
* :mod:`.relations`: scans, filters, projections, sorts, limits, UNION ALL;
* :mod:`.aggregates`: two-phase aggregates, or a hash shuffle by the group keys;
* :mod:`.joins` (with :mod:`.joinkeys`): broadcast or hash-partitioned joins;
* :mod:`.reduce`: semi-join reductions before rows move;
* :mod:`.subqueries`: subquery results broadcast or gathered;
* :mod:`.fallback`: what runs on the coordinator, and why;
* :mod:`.estimates`: row estimates from the catalog's row counts;
* :mod:`.substrait`: Substrait relations as plain data.

>>> import pyarrow as pa
>>> from sqlweave.cluster.catalog import Catalog
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("x", pa.int64())]), rows=100)
>>> [s.description for s in plan_query("SELECT sum(x) FROM t", catalog).stages]
['scan t -> partial aggregate', 'result']
"""

from __future__ import annotations

from .context import NotDistributable, PlannerOptions
from .fallback import whole_query_plan
from .planner import plan_query
from .substrait import PlanningError

__all__ = ["NotDistributable", "PlannerOptions", "PlanningError", "plan_query", "whole_query_plan"]
