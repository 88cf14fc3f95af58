"""Where the public sqllogictest corpus is, which files of it run, and a command to run them.

The corpus is DataFusion's own ``datafusion/sqllogictest/test_files`` (Apache-2.0), at the
commit that set DataFusion's version to 55.0.0 (apache/datafusion ``55a20ea17``), with the
small data files its statements read. It is not committed here (third-party files stay
out of this repository): point ``SQLWEAVE_SLT_DIR`` at a folder laid out like DataFusion's
repository::

    $SQLWEAVE_SLT_DIR/datafusion/sqllogictest/test_files/*.slt
    $SQLWEAVE_SLT_DIR/datafusion/core/tests/data/...        (CSV/parquet the files read)
    $SQLWEAVE_SLT_DIR/testing/data/csv/aggregate_test_100*.csv   (apache/arrow-testing)

Made from a DataFusion checkout with ``git archive 55a20ea17 datafusion/sqllogictest/test_files
datafusion/core/tests/data LICENSE.txt NOTICE.txt | tar -x -C $DIR`` plus arrow-testing's
``data/csv`` under ``$DIR/testing``. Without it the corpus tests are skipped (and say so).

``python -m tests.differential.corpus [--mode sql|registered] [FILE...]`` prints a table of
verdicts per file; ``--findings out.jsonl`` keeps every bad finding.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

#: the 25 topic files run by default (paths under test_files/)
TOPIC_FILES = (
    "aggregate.slt",
    "window.slt",
    "joins.slt",
    "select.slt",
    "order.slt",
    "group_by.slt",
    "struct.slt",
    "datetime/timestamps.slt",
    "decimal.slt",
    "nullif.slt",
    "case.slt",
    "union.slt",
    "subquery.slt",
    "limit.slt",
    "set_variable.slt",
    "csv_files.slt",
    "math.slt",
    "strings.slt",
    "array_agg.slt",
    "expr.slt",
    "scalar.slt",
    "cte.slt",
    "functions.slt",
    "predicates.slt",
    "coalesce.slt",
)

#: the files ``make test`` runs when the corpus is present (about a minute, both modes);
#: ``SQLWEAVE_DIFF_FULL=1`` runs all of TOPIC_FILES (about 13 minutes)
QUICK_FILES = (
    "window.slt",
    "joins.slt",
    "struct.slt",
    "decimal.slt",
    "subquery.slt",
    "set_variable.slt",
    "limit.slt",
    "case.slt",
    "nullif.slt",
    "union.slt",
    "coalesce.slt",
)
FULL_VAR = "SQLWEAVE_DIFF_FULL"

ENV_VAR = "SQLWEAVE_SLT_DIR"
_REPO = Path(__file__).resolve().parents[2]
_DEFAULTS = (
    _REPO.parent / "shared" / "corpus" / "datafusion-55",
    Path("/work/shared/corpus/datafusion-55"),
)


def files_to_test() -> tuple[str, ...]:
    return TOPIC_FILES if os.environ.get(FULL_VAR) == "1" else QUICK_FILES


def root() -> Path | None:
    """The corpus folder, or None when it is not on this machine."""
    given = os.environ.get(ENV_VAR)
    candidates = [Path(given)] if given else list(_DEFAULTS)
    for c in candidates:
        if (c / "datafusion" / "sqllogictest" / "test_files").is_dir():
            return c
    return None


def base(corpus: Path) -> Path:
    """The folder DataFusion's runner runs in: the corpus's relative paths start there."""
    return corpus / "datafusion" / "sqllogictest"


def main(argv: list[str] | None = None) -> int:
    # run as a module, pytest's pythonpath (bench/, for tpchdata) is not set up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from . import runner

    ap = argparse.ArgumentParser(prog="python -m tests.differential.corpus", description=__doc__)
    ap.add_argument("files", nargs="*", default=list(TOPIC_FILES))
    ap.add_argument("--mode", choices=[m.value for m in runner.Mode], default="sql")
    ap.add_argument("--findings", type=Path, help="write bad findings here (JSON lines)")
    args = ap.parse_args(argv)
    corpus = root()
    if corpus is None:
        print(f"no corpus: set {ENV_VAR} (see this module's docstring)", file=sys.stderr)
        return 2
    from sqlweave.engines.paths_policy import ALLOW_ENV

    # the corpus's statements read its data files and write scratch files (as the pytest
    # fixture allows them); set before the cluster starts, which reads it
    scratch_root = tempfile.gettempdir()
    allowed = (os.environ.get(ALLOW_ENV), str(corpus), scratch_root)
    os.environ[ALLOW_ENV] = os.pathsep.join(p for p in allowed if p)
    mode = runner.Mode(args.mode)
    holder = runner.ClusterHolder()
    totals: dict[str, int] = {}
    out = args.findings.open("w") if args.findings else None
    print(f"{'file':32} {'s':>6} " + " ".join(f"{v.value[:12]:>12}" for v in runner.Verdict))
    try:
        with tempfile.TemporaryDirectory(prefix="sqlweave-slt-") as scratch:
            ctx = runner.FileContext(base(corpus), Path(scratch))
            for name in args.files:
                t0 = time.perf_counter()
                path = base(corpus) / "test_files" / name
                findings = runner.run_slt(path, f"{mode.value}:{name}", holder, mode, ctx)
                counts = runner.summarise(findings)
                for v, n in counts.items():
                    totals[v.value] = totals.get(v.value, 0) + n
                cells = " ".join(f"{counts[v]:>12}" for v in runner.Verdict)
                print(f"{name:32} {time.perf_counter() - t0:6.1f} {cells}", flush=True)
                for f in findings:
                    if out is not None and f.verdict in runner.BAD:
                        out.write(json.dumps({**asdict(f), "verdict": f.verdict.value}) + "\n")
    finally:
        holder.close()
        if out is not None:
            out.close()
    cells = " ".join(f"{totals.get(v.value, 0):>12}" for v in runner.Verdict)
    print(f"{'total':32} {'':6} {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
