"""Fixtures of the differential suite: one 2-worker cluster shared by its tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from sqlweave.engines.paths_policy import ALLOW_ENV

from . import corpus
from .runner import ClusterHolder


@pytest.fixture(scope="session", autouse=True)
def sql_may_use_the_corpus(sql_may_use_test_files: None) -> Iterator[None]:
    """The corpus's statements read its data files (outside the working directory)."""
    root = corpus.root()
    before = os.environ.get(ALLOW_ENV)
    if root is not None:
        os.environ[ALLOW_ENV] = os.pathsep.join(p for p in (before, str(root)) if p)
    yield
    if before is None:
        os.environ.pop(ALLOW_ENV, None)
    else:
        os.environ[ALLOW_ENV] = before


@pytest.fixture(scope="session")
def cluster_holder() -> Iterator[ClusterHolder]:
    """A LocalCluster with 2 workers; tests restart it through the holder if they kill it."""
    holder = ClusterHolder(workers=2)
    try:
        yield holder
    finally:
        holder.close()
