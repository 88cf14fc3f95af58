"""Rewrite ``known_generated.py`` and ``known_corpus.py`` from a fresh run.

``python -m tests.differential.update_known [--no-corpus] [--cases N]`` runs the generated
cases (and the corpus, both modes, when it is on this machine), prints the verdict counts,
and writes every bad finding with the cause :func:`causes.triage` guesses. Review the diff:
a cause of ``OTHER`` means nobody has looked yet.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from . import causes, corpus, runner
from .test_generated import BATCH, DEFAULT_CASES, run_batch

HERE = Path(__file__).resolve().parent


def _write(path: Path, doc: str, name: str, entries: dict[str, causes.Cause]) -> None:
    lines = [f'"""{doc}"""', "", "from __future__ import annotations", ""]
    lines += ["from .causes import Cause as C", "", f"{name}: dict[str, C] = {{"]
    lines += [f'    "{k}": C.{c.name},' for k, c in sorted(entries.items(), key=_order)]
    lines += ["}", ""]
    path.write_text("\n".join(lines))


def _order(item: tuple[str, causes.Cause]) -> tuple:
    parts = item[0].split(":")
    return tuple(int(p) if p.isdigit() else p for p in parts)


def retriage(path: Path) -> int:
    """Rewrite both lists from the findings of an earlier run, with today's triage rules."""
    root = corpus.root()
    generated: dict[str, causes.Cause] = {}
    found: dict[str, causes.Cause] = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        row.pop("cause", None)
        f = runner.Finding(**{**row, "verdict": runner.Verdict(row["verdict"])})
        if f.key.startswith("gen-"):
            generated[f.key] = causes.triage(f)
            continue
        name = f.key.split(":")[1]
        text = (corpus.base(root) / "test_files" / name).read_text() if root else ""
        found[f.key] = causes.triage(f, text)
    _write(HERE / "known_generated.py", _GENERATED_DOC, "GENERATED", generated)
    _write(HERE / "known_corpus.py", _CORPUS_DOC, "CORPUS", found)
    for cause, n in Counter([*generated.values(), *found.values()]).most_common():
        print(f"{cause.name:28} {n:5}")
    return 0


_GENERATED_DOC = (
    "Generated cases that still differ (written by ``python -m tests.differential.update_known``)."
)
_CORPUS_DOC = (
    "Corpus records that still differ (written by ``python -m tests.differential.update_known``)."
    "\n\nKeys are ``<mode>:<file under test_files/>:<line of the record>``.\n"
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.differential.update_known")
    ap.add_argument("--cases", type=int, default=DEFAULT_CASES)
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--findings", type=Path, help="also write every bad finding here (JSON lines)")
    ap.add_argument(
        "--retriage", type=Path, help="no run: triage the findings of an earlier --findings"
    )
    args = ap.parse_args(argv)
    if args.retriage:
        return retriage(args.retriage)
    out = args.findings.open("w") if args.findings else None

    def keep(f: runner.Finding, cause: causes.Cause) -> None:
        if out is not None:
            row = {**asdict(f), "verdict": f.verdict.value, "cause": cause.name}
            out.write(json.dumps(row) + "\n")

    holder = runner.ClusterHolder()
    counts: Counter[str] = Counter()
    try:
        generated: dict[str, causes.Cause] = {}
        for batch in range((args.cases + BATCH - 1) // BATCH):
            for f in run_batch(batch, holder, args.cases):
                counts[f"generated {f.verdict.value}"] += 1
                if f.verdict in runner.BAD:
                    generated[f.key] = causes.triage(f)
                    keep(f, generated[f.key])
        _write(HERE / "known_generated.py", _GENERATED_DOC, "GENERATED", generated)
        root = corpus.root()
        if root is not None and not args.no_corpus:
            found: dict[str, causes.Cause] = {}
            with tempfile.TemporaryDirectory(prefix="sqlweave-slt-") as scratch:
                ctx = runner.FileContext(corpus.base(root), Path(scratch))
                for mode in runner.Mode:
                    for name in corpus.TOPIC_FILES:
                        path = corpus.base(root) / "test_files" / name
                        text = path.read_text()
                        for f in runner.run_slt(path, f"{mode.value}:{name}", holder, mode, ctx):
                            counts[f"corpus {mode.value} {f.verdict.value}"] += 1
                            if f.verdict in runner.BAD:
                                found[f.key] = causes.triage(f, text)
                                keep(f, found[f.key])
            _write(HERE / "known_corpus.py", _CORPUS_DOC, "CORPUS", found)
    finally:
        holder.close()
        if out is not None:
            out.close()
    for k, n in sorted(counts.items()):
        print(f"{k:40} {n:6}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
