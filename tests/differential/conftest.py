"""Fixtures of the differential suite: one 2-worker cluster shared by its tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .runner import ClusterHolder


@pytest.fixture(scope="session")
def cluster_holder() -> Iterator[ClusterHolder]:
    """A LocalCluster with 2 workers; tests restart it through the holder if they kill it."""
    holder = ClusterHolder(workers=2)
    try:
        yield holder
    finally:
        holder.close()
