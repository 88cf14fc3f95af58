"""Score ``sqlweave.lineage.extract`` against lineage corpora written by other projects.

    python bench/lineage_corpus.py /work/corpus-cache/lineage/*.jsonl
    python bench/lineage_corpus.py CORPUS.jsonl --misses 20      # show the worst cases

A corpus is a JSON-lines file, one case a line (the corpora themselves stay out of git;
``bench/lineage_corpus_import.py`` builds them from public test suites)::

    {"id": "...", "sql": "...", "dialect": "spark" | null, "schema": {"t": ["a"]} | null,
     "reads": ["db.t"] | null, "writes": ["u"] | null, "tables": ["db.t", "u"] | null,
     "columns": [[["db.t", "a"], ["u", "b"]], [["?", "x"], ["<result>", "x"]]] | null}

``reads``/``writes`` are the script's source and target tables as the corpus's project sees
them: tables written by one statement and read by a later one are neither (sqllineage's and
OpenLineage's convention); ``tables`` (sql-metadata's answer) is every table the script
names, read or written, roles not compared. ``columns`` are end-to-end pairs (source column, target column);
a source table ``?`` is a column the corpus leaves unattributed; a target column that is not
an identifier (an unnamed expression) is compared as ``<expr>``. A null field is not scored.

Names are compared case-insensitively, without quotes, and a table matches another whose
name is a dot-suffix of it (``db.schema.t`` ~ ``t``: default catalogs and schemas).

Column pairs from sqlweave's edges: DIRECT ones and the per-column INDIRECT subtypes in
``--indirect`` (default CONDITIONAL, WINDOW: what sqllineage and datahub count as sources
of a value), chained through intermediate tables of the script.

A case with ``"parse_only": true`` has no answer (sqlfluff's dialect fixtures): the report
for such a corpus is per dialect, the share of statements sqlweave could not parse, and of
those the share for which the tolerant reading found no table either ("blind"), plus any
exception extract raised (there should be none).

Prints precision and recall of tables (read and write roles) and of column pairs, per
corpus, micro-averaged over cases, and the share of cases answered exactly ("ok").
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlweave.lineage.extract import extract  # noqa: E402
from sqlweave.lineage.model import StatementKind, StatementLineage, TransformType  # noqa: E402

DEFAULT_INDIRECT = ("CONDITIONAL", "WINDOW")
UNKNOWN = "?"
EXPR = "<expr>"
_IDENTIFIER = re.compile(r"^[\w$#@*]+$")
_UNNAMED = re.compile(r"^_col_\d+$")


@dataclass
class Tally:
    """True positives, false positives and false negatives of one measure."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Tally) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class CaseScore:
    """One case's tallies and what differed."""

    case_id: str
    tables: Tally = field(default_factory=Tally)
    columns: Tally = field(default_factory=Tally)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    error: str | None = None


def table_key(name: str) -> str:
    """Case-folded, unquoted, without a ``<default>.`` placeholder schema."""
    parts = [p.strip('"`[]') for p in name.lower().split(".")]
    return ".".join(p for p in parts if p and p != "<default>")


def _suffix_match(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


def _match(expected: set[str], actual: set[str], same: Any) -> tuple[Tally, set[str], set[str]]:
    """Greedy one-to-one matching of two sets under ``same``."""
    left = set(actual)
    tally = Tally()
    missing = set()
    for item in sorted(expected):
        hit = item if item in left else next((a for a in sorted(left) if same(item, a)), None)
        if hit is None:
            missing.add(item)
            tally.fn += 1
        else:
            left.discard(hit)
            tally.tp += 1
    tally.fp = len(left)
    return tally, missing, left


def _table_same(a: str, b: str) -> bool:
    role_a, _, name_a = a.partition(":")
    role_b, _, name_b = b.partition(":")
    return role_a == role_b and _suffix_match(name_a, name_b)


def column_key(table: str, column: str) -> tuple[str, str]:
    """Normalised (table, column); unnamed expressions become ``<expr>``."""
    column = column.strip('"`[]').lower()
    if not _IDENTIFIER.match(column) or _UNNAMED.match(column):
        column = EXPR
    return table_key(table) if table not in (UNKNOWN, "") else UNKNOWN, column


def _pair_same(a: str, b: str) -> bool:
    (sa, ta) = a.split(" -> ")
    (sb, tb) = b.split(" -> ")
    return _ref_same(sa, sb) and _ref_same(ta, tb)


def _ref_same(a: str, b: str) -> bool:
    table_a, _, col_a = a.rpartition(".")
    table_b, _, col_b = b.rpartition(".")
    if col_a != col_b:
        return False
    return table_a == table_b or (
        UNKNOWN not in (table_a, table_b) and _suffix_match(table_a, table_b)
    )


def actual_tables(statements: list[StatementLineage]) -> tuple[set[str], set[str]]:
    """Script-level (reads, writes) without intermediate tables; a table the script drops
    is no target, one it renames is a target under its new name."""
    reads: set[str] = set()
    writes: set[str] = set()
    intermediate: set[str] = set()
    for s in statements:
        reads |= s.reads
        writes |= s.writes
        intermediate |= s.intermediate
        writes -= s.drops
        for old, new in s.renames:
            if old in writes:
                writes = (writes - {old}) | {new}
    return reads - intermediate, writes - intermediate


def actual_pairs(statements: list[StatementLineage], indirect: Iterable[str]) -> set[str]:
    """End-to-end (source column -> target column) pairs, chained through the script.

    A statement writing a column makes a new version of it, so ``INSERT INTO t SELECT ...
    FROM t`` is an edge from the old ``t`` to the new one, not a loop."""
    wanted = set(indirect)
    version: dict[tuple[str, str], int] = {}
    graph: dict[tuple[str, str, int], set[tuple[str, str, int]]] = {}
    unresolved: set[tuple[str, str, int]] = set()
    targets: set[tuple[str, str, int]] = set()
    for s in statements:
        written: dict[tuple[str, str], int] = {}
        for e in s.column_edges:
            if e.type is TransformType.INDIRECT and e.subtype.value not in wanted:
                continue
            key = (e.source.dataset, e.source.column)
            source = (*key, version.get(key, 0))
            if e.source.unresolved:
                unresolved.add(source)
            out = (e.target.dataset, e.target.column)
            written[out] = version.get(out, 0) + 1
            target = (*out, written[out])
            graph.setdefault(source, set()).add(target)
            targets.add(target)
        version.update(written)
    pairs: set[str] = set()
    for root in (n for n in graph if n not in targets):
        seen: set[tuple[str, str, int]] = set()
        stack = [root]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt in seen:
                    continue
                seen.add(nxt)
                if nxt in graph:
                    stack.append(nxt)
                else:
                    pairs.add(_pair(root[:2], nxt[:2], root in unresolved))
    return pairs


def _pair(source: tuple[str, str], target: tuple[str, str], unresolved: bool) -> str:
    s_table, s_col = column_key(*source)
    t_table, t_col = column_key(*target)
    return f"{UNKNOWN if unresolved else s_table}.{s_col} -> {t_table}.{t_col}"


def expected_pairs(columns: list[list[list[str]]]) -> set[str]:
    out = set()
    for source, target in columns:
        s_table, s_col = column_key(*source)
        t_table, t_col = column_key(*target)
        out.add(f"{s_table}.{s_col} -> {t_table}.{t_col}")
    return out


def score_case(case: dict[str, Any], indirect: Iterable[str]) -> CaseScore:
    score = CaseScore(case["id"])
    try:
        statements = extract(case["sql"], case.get("dialect"), case.get("schema"))
    except Exception as error:  # the harness reports, it does not stop
        statements = []
        score.error = f"{type(error).__name__}: {error}"
    if case.get("reads") is not None or case.get("writes") is not None:
        reads, writes = actual_tables(statements)
        expected = {f"r:{table_key(t)}" for t in case.get("reads") or ()}
        expected |= {f"w:{table_key(t)}" for t in case.get("writes") or ()}
        actual = {f"r:{table_key(t)}" for t in reads} | {f"w:{table_key(t)}" for t in writes}
        score.tables, missing, extra = _match(expected, actual, _table_same)
        score.missing += sorted(missing)
        score.extra += sorted(extra)
    elif case.get("tables") is not None:
        every: set[str] = set()
        for s in statements:
            every |= s.reads | s.writes | s.drops | {n for pair in s.renames for n in pair}
        expected = {f"t:{table_key(t)}" for t in case["tables"]}
        actual = {f"t:{table_key(t)}" for t in every}
        score.tables, missing, extra = _match(expected, actual, _table_same)
        score.missing += sorted(missing)
        score.extra += sorted(extra)
    if case.get("columns") is not None:
        expected = expected_pairs(case["columns"])
        actual = actual_pairs(statements, indirect)
        score.columns, missing, extra = _match(expected, actual, _pair_same)
        score.missing += sorted(missing)
        score.extra += sorted(extra)
    return score


@dataclass
class ParseTally:
    """Parse-ability of one dialect's files."""

    files: int = 0
    statements: int = 0
    unparseable: int = 0
    blind: int = 0
    crashes: int = 0


def parse_report(cases: list[dict[str, Any]]) -> dict[str, ParseTally]:
    """Per dialect: statements, how many did not parse, how many of those named no table."""
    by_dialect: dict[str, ParseTally] = {}
    for case in cases:
        tally = by_dialect.setdefault(case.get("dialect") or "postgres", ParseTally())
        tally.files += 1
        try:
            statements = extract(case["sql"], case.get("dialect"), case.get("schema"))
        except Exception:
            tally.crashes += 1
            continue
        for s in statements:
            tally.statements += 1
            if s.kind is StatementKind.UNPARSEABLE:
                tally.unparseable += 1
                tally.blind += not (s.reads or s.writes)
    return by_dialect


def print_parse_report(name: str, by_dialect: dict[str, ParseTally]) -> None:
    header = f"{name + ' dialect':<22} {'files':>6} {'stmts':>6} {'unparsed':>9} {'blind':>7} {'crash':>6}"
    print(header)
    print("-" * len(header))
    total = ParseTally()
    for dialect, t in sorted(by_dialect.items()):
        for attr in ("files", "statements", "unparseable", "blind", "crashes"):
            setattr(total, attr, getattr(total, attr) + getattr(t, attr))
        print(_parse_row(dialect, t))
    print(_parse_row("all", total))


def _parse_row(label: str, t: ParseTally) -> str:
    share = t.unparseable / max(t.statements, 1)
    blind = t.blind / max(t.statements, 1)
    return f"{label:<22} {t.files:>6} {t.statements:>6} {share:>9.3f} {blind:>7.3f} {t.crashes:>6}"


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="+", type=Path, help="corpus .jsonl files")
    parser.add_argument("--misses", type=int, default=0, help="print this many missed cases")
    parser.add_argument("--grep", default="", help="only cases whose id contains this")
    parser.add_argument(
        "--indirect",
        default=",".join(DEFAULT_INDIRECT),
        help="INDIRECT subtypes counted as column sources (comma-separated)",
    )
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    indirect = [s for s in args.indirect.split(",") if s]

    header = (
        f"{'corpus':<16} {'tbl cases':>9} {'tbl P':>6} {'tbl R':>6} {'tbl ok':>6} "
        f"{'col cases':>9} {'col P':>6} {'col R':>6} {'col ok':>6}"
    )
    print(header)
    print("-" * len(header))
    misses: list[CaseScore] = []
    parse_only: list[tuple[str, dict[str, ParseTally]]] = []
    for path in args.corpora:
        cases = [c for c in load(path) if args.grep in c["id"]]
        if cases and all(c.get("parse_only") for c in cases):
            parse_only.append((path.stem, parse_report(cases)))
            continue
        tables, columns = Tally(), Tally()
        table_cases = column_cases = table_ok = column_ok = 0
        for case in cases:
            score = score_case(case, indirect)
            tables.add(score.tables)
            columns.add(score.columns)
            if any(case.get(k) is not None for k in ("reads", "writes", "tables")):
                table_cases += 1
                table_ok += not (score.tables.fp or score.tables.fn)
            if case.get("columns") is not None:
                column_cases += 1
                column_ok += not (score.columns.fp or score.columns.fn)
            if score.missing or score.extra or score.error:
                misses.append(score)
        print(
            f"{path.stem:<16} {table_cases:>9} {tables.precision:>6.3f} {tables.recall:>6.3f} "
            f"{table_ok / max(table_cases, 1):>6.3f} {column_cases:>9} "
            f"{columns.precision:>6.3f} {columns.recall:>6.3f} {column_ok / max(column_cases, 1):>6.3f}"
        )
    for name, by_dialect in parse_only:
        print()
        print_parse_report(name, by_dialect)
    for score in misses[: args.misses]:
        print(f"\n{score.case_id}" + (f"  ERROR {score.error}" if score.error else ""))
        for item in score.missing:
            print(f"   missing  {item}")
        for item in score.extra:
            print(f"   extra    {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
