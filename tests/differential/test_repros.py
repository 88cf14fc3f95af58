"""One minimal query per known root cause: each must still differ, or agree once fixed."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import runner
from .known_failures import CSV_NO_HEADER, REPROS, Repro, Status
from .slt import Record, RecordKind

pytestmark = pytest.mark.process


def run_repro(repro: Repro, holder: runner.ClusterHolder, tmp: Path) -> list[runner.Finding]:
    (tmp / "data").mkdir(exist_ok=True)
    (tmp / "data" / "no_header.csv").write_text(CSV_NO_HEADER)
    records = [Record(RecordKind.STATEMENT, s, i + 1) for i, s in enumerate(repro.setup)]
    records.append(Record(RecordKind.QUERY, repro.sql, len(records) + 1))
    ctx = runner.FileContext(base=tmp, scratch=tmp / "scratch")
    return runner.run_slt(tmp / f"{repro.id}.slt", repro.id, holder, repro.mode, ctx, records)


@pytest.mark.parametrize("repro", REPROS, ids=[r.id for r in REPROS])
def test_repro(repro: Repro, cluster_holder: runner.ClusterHolder, tmp_path: Path) -> None:
    *setup, query = run_repro(repro, cluster_holder, tmp_path)
    answers = f"embedded: {query.embedded}\ncluster:  {query.cluster}\n{query.detail}"
    if repro.status is Status.FIXED:
        assert query.verdict is runner.Verdict.AGREE, f"{repro.cause.name} is back:\n{answers}"
        assert not [s for s in setup if s.verdict in runner.BAD], setup
    else:
        assert query.verdict in runner.BAD, (
            f"repro {repro.id!r} ({repro.cause.name}: {repro.cause.value}) now agrees: mark it "
            f"FIXED in known_failures.py and drop the {repro.cause.name} entries the generated "
            f"and corpus tests name.\n{answers}"
        )


def test_every_cause_has_a_repro() -> None:
    from .causes import Cause

    untested = {
        Cause.HANG,
        Cause.ARROW_TYPES,
        Cause.UNBOUNDED,
        Cause.TIES,
        Cause.OTHER,
        Cause.DUCKDB_SEMANTICS,
    }
    covered = {r.cause for r in REPROS}
    assert set(Cause) - untested <= covered
    assert len({r.id for r in REPROS}) == len(REPROS)
