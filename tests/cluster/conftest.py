"""Fixtures for the cluster's pure tests: TPC-H catalogs (statistics only, or generated files)
and a single-process reference."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest
import tpchdata
from datafusion import SessionContext

from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.planning import PlannerOptions

#: TPC-H at scale factor 1 as ``-- rows: N`` + ``CREATE TABLE`` statements
TPCH_SF1_STATISTICS = Path(__file__).parent / "planning" / "fixtures" / "tpch_sf1.sql"


def statistics_catalog(path: Path) -> Catalog:
    """The tables of a ``-- rows: N`` + ``CREATE TABLE`` file, as statistics only (no rows)."""
    ctx = SessionContext()
    catalog = Catalog()
    for rows, ddl in re.findall(
        r"^-- rows: (\d+)\n(CREATE TABLE .*?;)", path.read_text(), re.M | re.S
    ):
        ctx.sql(ddl).collect()
        name = re.match(r"CREATE TABLE (\w+)", ddl).group(1)
        catalog.add_statistics(name, ctx.table(name).schema(), int(rows))
    return catalog


@pytest.fixture(scope="session")
def tpch_statistics() -> Catalog:
    """The eight TPC-H tables at SF 1 as statistics only: for plan shapes, nothing to read."""
    return statistics_catalog(TPCH_SF1_STATISTICS)


@pytest.fixture(scope="session")
def tpch_catalog(tpch_dir: Path) -> Catalog:
    """The eight TPC-H tables (SF 0.01, several files each) in a cluster catalog."""
    catalog = Catalog()
    for name, path in tpchdata.table_paths(tpch_dir).items():
        catalog.add_files(name, path)
    return catalog


@pytest.fixture(scope="session")
def tpch_reference(tpch_dir: Path) -> SessionContext:
    """Single-process DataFusion over the same files: the expected answers."""
    ctx = SessionContext()
    tpchdata.register_all(ctx, tpch_dir)
    return ctx


@pytest.fixture(scope="session")
def tpch_queries() -> dict[str, str]:
    return tpchdata.queries()


@pytest.fixture(scope="session")
def shuffle_options() -> PlannerOptions:
    """At SF 0.01 every table is "small": these options force hash-shuffled joins."""
    return PlannerOptions(
        workers=2, broadcast_rows=2_000, broadcast_ratio=16, replicate_rows=100, reduce_ratio=0
    )


def _assert_result(got: pa.Table, expected: pa.Table) -> None:
    assert got.schema.names == expected.schema.names
    assert [f.type for f in got.schema] == [f.type for f in expected.schema]
    tpchdata.assert_same(got, expected, ordered=False)


@pytest.fixture(scope="session")
def assert_result():
    """Same column names and types, same rows (any order, float tolerance)."""
    return _assert_result
