"""DataFusion's public sqllogictest corpus, run on embedded DataFusion and on the cluster.

Each topic file runs twice (``corpus.QUICK_FILES`` by default, all 25 of
``corpus.TOPIC_FILES`` with ``SQLWEAVE_DIFF_FULL=1``): ``sql`` mode (every statement on both sessions) and
``registered`` mode (tables reach the cluster as registered Arrow tables). Every record
that differs must be listed in ``known_corpus.py``, and every listed one must still differ.
Skipped (with the reason) when the corpus is not on this machine: see ``corpus.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import corpus, runner, slt
from .known_corpus import CORPUS

ROOT = corpus.root()

pytestmark = [
    pytest.mark.process,
    pytest.mark.skipif(
        ROOT is None,
        reason=f"the sqllogictest corpus is not on this machine: set {corpus.ENV_VAR} "
        "(tests/differential/corpus.py says how to make it)",
    ),
]


@pytest.mark.parametrize("mode", list(runner.Mode), ids=[m.value for m in runner.Mode])
@pytest.mark.parametrize("name", corpus.files_to_test())
def test_corpus_file(
    name: str, mode: runner.Mode, cluster_holder: runner.ClusterHolder, tmp_path: Path
) -> None:
    assert ROOT is not None
    base = corpus.base(ROOT)
    ctx = runner.FileContext(base, tmp_path)
    prefix = f"{mode.value}:{name}"
    findings = runner.run_slt(base / "test_files" / name, prefix, cluster_holder, mode, ctx)
    bad = {f.key: f for f in findings if f.verdict in runner.BAD}
    known = {k for k in CORPUS if k.rsplit(":", 1)[0] == prefix}
    new = [bad[k] for k in sorted(set(bad) - known, key=_line)]
    fixed = sorted(known - set(bad), key=_line)
    report = "\n\n".join(
        f"{f.key} {f.verdict.value}: {f.detail}\n  {f.sql}\n  embedded: {f.embedded}\n"
        f"  cluster:  {f.cluster}"
        for f in new[:20]
    )
    assert not new, f"{len(new)} new differences:\n{report}"
    assert not fixed, f"these records now agree: remove them from known_corpus.py: {fixed}"
    agree = sum(f.verdict is runner.Verdict.AGREE for f in findings)
    assert agree > 0


def _line(key: str) -> int:
    return int(key.rsplit(":", 1)[1])


def test_every_topic_file_parses() -> None:
    assert ROOT is not None
    total = 0
    for name in corpus.TOPIC_FILES:
        total += len(slt.parse_file(corpus.base(ROOT) / "test_files" / name))
    assert total > 4000
