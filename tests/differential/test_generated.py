"""Seeded random queries on registered Arrow tables: cluster vs embedded (and DuckDB).

``SQLWEAVE_DIFF_CASES`` sets how many cases run (default :data:`DEFAULT_CASES`); the
known-failure list covers the default range, so a larger run reports every difference
beyond it as new.
"""

from __future__ import annotations

import os

import pytest

import sqlweave

from . import generate, runner
from .known_generated import GENERATED

pytestmark = pytest.mark.process

DEFAULT_CASES = 400
#: cases per batch: one set of tables is registered per batch
BATCH = 50
CASES = int(os.environ.get("SQLWEAVE_DIFF_CASES", DEFAULT_CASES))


def run_batch(batch: int, holder: runner.ClusterHolder, cases: int = CASES) -> list[runner.Finding]:
    """Every finding of the cases of ``batch`` (tables seeded by the batch number)."""
    engines = runner.Engines(
        sqlweave.Session(),
        sqlweave.Session(engine=holder.address),
        sqlweave.Session(engine="duckdb"),
        holder,
    )
    tables = generate.tables(batch)
    findings: list[runner.Finding] = []
    try:
        engines.register(tables)
        for seed in range(batch * BATCH, min(cases, (batch + 1) * BATCH)):
            out = runner.run_generated(generate.case(seed), engines)
            findings += out
            hung = any("no answer within" in f.cluster for f in out)
            if hung or not holder.alive():  # a case hung or killed the cluster: a new one
                holder.restart()
                engines.cluster = sqlweave.Session(engine=holder.address)
                engines.cluster_register(tables)
    finally:
        for name in tables:
            try:
                engines.cluster.deregister(name)
            except Exception:  # a dead cluster has nothing to clean
                pass
        for s in engines.sessions():
            s.close()
    return findings


def _batch_of(key: str) -> int:
    return int(key.split(":")[0].removeprefix("gen-")) // BATCH


@pytest.mark.parametrize("batch", range((CASES + BATCH - 1) // BATCH))
def test_generated_batch(batch: int, cluster_holder: runner.ClusterHolder) -> None:
    findings = run_batch(batch, cluster_holder)
    bad = {f.key: f for f in findings if f.verdict in runner.BAD}
    known = {k for k in GENERATED if _batch_of(k) == batch}
    new = [bad[k] for k in sorted(set(bad) - known)]
    fixed = sorted(known - set(bad))
    report = "\n\n".join(
        f"{f.key} {f.verdict.value}: {f.detail}\n  {f.sql}\n  embedded: {f.embedded}\n"
        f"  other:    {f.cluster}"
        for f in new
    )
    assert not new, f"{len(new)} new differences (generate.case(seed) rebuilds each):\n{report}"
    assert not fixed, f"these now agree: remove them from known_generated.py: {fixed}"
    # the suite must compare answers (not errors) of queries the cluster really distributed
    cluster = [f for f in findings if not f.key.endswith(":duckdb")]
    assert sum(f.verdict is runner.Verdict.AGREE for f in cluster) >= len(cluster) // 2
    assert sum(f.distributed for f in cluster) >= len(cluster) // 2


def test_generation_is_deterministic() -> None:
    assert [generate.case(s) for s in range(20)] == [generate.case(s) for s in range(20)]
    a, b = generate.tables(3), generate.tables(3)
    assert all(a[n].equals(b[n]) for n in a)


def test_generator_covers_the_shapes() -> None:
    sqls = " ".join(generate.case(s).sql for s in range(CASES)).lower()
    for needle in (
        " join ",
        "left join",
        "full join",
        "exists (",
        "not in (",
        "range between",
        "rows between",
        "filter (where",
        "distinct",
        "group by",
        "having",
        "limit",
        "union",
        "ignore nulls",
        "at time zone",
        "st['a']",
    ):
        assert needle in sqls, needle
    assert any(generate.case(s).settings for s in range(CASES))
    assert sum(generate.case(s).duckdb for s in range(CASES)) > CASES // 3
