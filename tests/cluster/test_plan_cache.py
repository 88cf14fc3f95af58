"""The coordinator's kept plans: a statement asked again in the same catalog reuses its
plan; anything the plan depends on, changed, plans anew. Pure: no processes."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.fragments import DistributedPlan
from sqlweave.cluster.plan_cache import PlanCache
from sqlweave.cluster.planning import PlannerOptions, plan_query


class _Planner:
    """plan_query, counting the plans it makes."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.cache = PlanCache()
        self.made = 0

    def __call__(
        self,
        sql: str,
        params: dict[str, Any] | None = None,
        settings: tuple[tuple[str, str], ...] = (),
        workers: int = 2,
    ) -> DistributedPlan:
        options = PlannerOptions(workers=workers)

        def make() -> DistributedPlan:
            self.made += 1
            return plan_query(sql, self.catalog, options, params or None, settings)

        return self.cache.plan(sql, params or {}, settings, options, self.catalog, make)


@pytest.fixture
def planner() -> _Planner:
    catalog = Catalog()
    catalog.add_arrow("t", pa.table({"k": [1, 2, 1], "v": [1.0, 2.0, 3.0]}), partitions=2)
    return _Planner(catalog)


def test_a_statement_asked_again_reuses_its_plan(planner: _Planner) -> None:
    first = planner("SELECT k, sum(v) FROM t GROUP BY k")
    assert planner("SELECT k, sum(v) FROM t GROUP BY k") is first
    assert planner.made == 1 and planner.cache.hits == 1


def test_a_frame_registered_again_with_the_same_content_reuses_the_plan(planner) -> None:
    table = pa.table({"x": [1, 2, 3]})
    entry = planner.catalog.add_arrow("frame", table, partitions=2)
    parts = {h: planner.catalog.partitions[h] for h in entry.source.hashes}
    first = planner("SELECT count(*) FROM frame")
    planner.catalog.remove("frame")  # the statement ended
    planner.catalog.add_entry(entry, parts)  # the next one registers the kept copy
    assert planner("SELECT count(*) FROM frame") is first


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.catalog.add_arrow("t", pa.table({"k": [1], "v": [9.0]}), partitions=2),
        lambda p: p.catalog.add_arrow("t", pa.table({"k": [1, 2, 1], "v": [1, 2, 3]}), 2),
        lambda p: p.catalog.add_arrow("other", pa.table({"z": [1]})),
        lambda p: p.catalog.add_arrow(
            "t",
            pa.table({"k": [1, 2, 1], "v": [1.0, 2.0, 3.0]}).replace_schema_metadata({"m": "1"}),
            partitions=2,
        ),
    ],
    ids=["other-rows", "other-types", "another-table", "schema-metadata"],
)
def test_a_changed_catalog_plans_anew(planner: _Planner, change) -> None:
    first = planner("SELECT k, sum(v) FROM t GROUP BY k")
    change(planner)
    assert planner("SELECT k, sum(v) FROM t GROUP BY k") is not first
    assert planner.made == 2


def test_parameters_settings_and_workers_are_part_of_the_key(planner: _Planner) -> None:
    sql = "SELECT count(*) FROM t WHERE v > $x"
    plans = [
        planner(sql, {"x": 1}),
        planner(sql, {"x": 2}),
        planner(sql, {"x": 1.0}),  # equal to 1, another literal type
        planner(sql, {"x": 1}, settings=(("datafusion.sql_parser.dialect", "postgresql"),)),
        planner(sql, {"x": 1}, workers=3),
    ]
    assert planner.made == len(plans)
    assert planner(sql, {"x": 1}) is plans[0]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT now() AS t, count(*) FROM t",
        "SELECT CURRENT_DATE AS d FROM t",
        "SELECT current_time() AS c FROM t",
        "SELECT k FROM t WHERE to_timestamp(k) < current_timestamp",
    ],
)
def test_statements_folding_the_planning_time_are_never_kept(planner, sql: str) -> None:
    assert planner(sql) is not planner(sql)
    assert planner.cache.hits == 0


def test_unhashable_parameters_and_long_statements_are_planned_every_time(planner) -> None:
    cache = PlanCache()
    made = []

    def make() -> DistributedPlan:
        made.append(1)
        return DistributedPlan((), 0)

    for _ in range(2):
        cache.plan("SELECT $x", {"x": [1, 2]}, (), None, planner.catalog, make)
        cache.plan("SELECT 1" + " " * 30_000, {}, (), None, planner.catalog, make)
    assert len(made) == 4 and cache.hits == 0


def test_the_cache_is_bounded(planner: _Planner) -> None:
    planner.cache.max_plans = 3
    for i in range(5):
        planner(f"SELECT count(*) + {i} FROM t")
    assert len(planner.cache._plans) == 3
    planner("SELECT count(*) + 0 FROM t")  # the oldest was let go
    assert planner.made == 6
