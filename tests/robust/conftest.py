"""Sessions on every engine: embedded DataFusion, DuckDB and a real 2-worker cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sqlweave
from sqlweave.cluster.localcluster import LocalCluster

ENGINES = ["local", "duckdb", "cluster"]


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster(workers=2, heartbeat_s=0.2) as c:
        yield c


@pytest.fixture(params=ENGINES)
def session(request: pytest.FixtureRequest) -> Iterator[sqlweave.Session]:
    """A fresh Session per test on each engine (the cluster is shared by the module)."""
    if request.param == "cluster":
        s = sqlweave.Session(request.getfixturevalue("local_cluster"))
    else:
        s = sqlweave.Session(request.param)
    yield s
    if request.param == "cluster":
        for name in s.tables():
            s.deregister(name)
    s.close()
