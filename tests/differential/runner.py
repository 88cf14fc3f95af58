"""Run the same SQL on embedded DataFusion and on the cluster, and judge the answers.

Two modes for a ``.slt`` file:

- ``sql``: every statement (CREATE TABLE, INSERT, SET, ...) runs on both sessions in order;
- ``registered``: statements that make or fill a table run on embedded DataFusion only, and
  the table's rows are then registered on the cluster as an Arrow table, the way a user
  registers data (``session.register(name, table)``), so queries over it are distributed.

Every query is judged (:class:`Verdict`): the cluster must answer what embedded answers.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

import sqlweave

from . import compare, generate
from .slt import Record, RecordKind, SortMode, parse_file

# sqlglot warns about every DataFusion-only statement it cannot parse (SHOW x, SET y)
logging.getLogger("sqlglot").setLevel(logging.ERROR)

#: a cluster query still running after this is reported as hung (the cluster is restarted)
QUERY_TIMEOUT_S = 20.0
#: characters of an error message kept in a finding
ERROR_CHARS = 300


class Mode(str, enum.Enum):
    SQL = "sql"
    REGISTERED = "registered"


class Verdict(str, enum.Enum):
    AGREE = "agree"
    BOTH_ERROR = "both error"
    #: both answered, answers differ
    WRONG = "wrong answer"
    #: embedded answered, the cluster failed (or hung)
    CLUSTER_ONLY_ERROR = "cluster-only error"
    #: the cluster answered what embedded refused (a lost check: overflow, bad cast...)
    EMBEDDED_ONLY_ERROR = "embedded-only error"
    SKIPPED = "skipped"
    #: DuckDB and embedded DataFusion both answered a portable query, differently
    DUCKDB_DIFFERS = "duckdb differs"


#: verdicts the suite must never see outside the known-failure list
BAD = frozenset(
    {Verdict.WRONG, Verdict.CLUSTER_ONLY_ERROR, Verdict.EMBEDDED_ONLY_ERROR, Verdict.DUCKDB_DIFFERS}
)


@dataclass(frozen=True)
class Outcome:
    """What one engine did with one statement: a table, or an error message."""

    table: pa.Table | None = None
    error: str | None = None
    hung: bool = False
    #: where the cluster ran the query's fragments ("coordinator" or worker names)
    ran_on: frozenset[str] = frozenset()

    @property
    def distributed(self) -> bool:
        return any(w != "coordinator" for w in self.ran_on)

    @property
    def ok(self) -> bool:
        return self.error is None

    def brief(self, rows: int = 3) -> str:
        if self.error is not None:
            return f"error: {self.error[:ERROR_CHARS]}"
        assert self.table is not None
        try:
            head = compare.rows_of(self.table.slice(0, rows))
        except Exception as exc:  # a finding must never fail to print
            head = [f"unreadable: {exc!r}"]
        types = ", ".join(compare.type_text(f.type) for f in self.table.schema)
        return f"{self.table.num_rows} rows [{types}] {head!r}"[:ERROR_CHARS]


@dataclass(frozen=True)
class Finding:
    """The verdict on one record: where it is, its SQL and both engines' answers."""

    key: str
    verdict: Verdict
    sql: str
    detail: str = ""
    embedded: str = ""
    cluster: str = ""
    #: the cluster ran part of it on a worker (not all on the coordinator)
    distributed: bool = False


def run(
    session: sqlweave.Session,
    sql: str,
    timeout_s: float | None = None,
    alive: Callable[[], bool] | None = None,
) -> Outcome:
    """Run ``sql`` on ``session``; errors become an :class:`Outcome`, never an exception.

    With ``timeout_s``, the statement runs on a thread; it is reported as hung after that
    long, or as soon as ``alive()`` says the engine's process is gone.
    """
    if timeout_s is None:
        return _run(session, sql)
    box: list[Outcome] = []
    t = threading.Thread(target=lambda: box.append(_run(session, sql)), daemon=True)
    t.start()
    deadline = time.monotonic() + timeout_s
    while not box and time.monotonic() < deadline:
        t.join(0.05)
        if not box and alive is not None and not alive():
            t.join(0.5)  # the answer may be on its way
            if not box:
                return Outcome(error="the coordinator process died", hung=True)
    if not box:
        return Outcome(error=f"no answer within {timeout_s:.0f} s", hung=True)
    return box[0]


def _run(session: sqlweave.Session, sql: str) -> Outcome:
    try:
        table = session.sql(sql).to_arrow()
        runs = getattr(session.engine, "last_runs", ())
        return Outcome(table=table, ran_on=frozenset(r.worker for r in runs))
    except Exception as exc:  # every failure is data here: the verdict compares them
        text = f"{type(exc).__name__}: {exc}"
        return Outcome(error=" ".join(text.split()))


def judge(embedded: Outcome, cluster: Outcome, ordered: bool) -> tuple[Verdict, str]:
    if embedded.ok and cluster.ok:
        assert embedded.table is not None and cluster.table is not None
        why = compare.diff_strict(embedded.table, cluster.table, ordered)
        return (Verdict.AGREE, "") if why is None else (Verdict.WRONG, why)
    if embedded.ok:
        return Verdict.CLUSTER_ONLY_ERROR, cluster.error or ""
    if cluster.ok:
        return Verdict.EMBEDDED_ONLY_ERROR, embedded.error or ""
    return Verdict.BOTH_ERROR, ""


def is_ordered(sql: str) -> bool:
    """Whether the outermost query orders its rows (then row order is compared)."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except Exception:
        # unparsable for sqlglot: a trailing ORDER BY outside parentheses is good enough
        tail = sql.rsplit(")", 1)[-1]
        return re.search(r"\border\s+by\b", tail, re.I) is not None
    return tree is not None and tree.args.get("order") is not None


_NONDETERMINISTIC = re.compile(
    r"\b(random|uuid|now|current_time|current_date|current_timestamp|localtime|"
    r"localtimestamp|today|clock_timestamp)\b\s*(\(|$|\s|,)",
    re.I,
)
_EXPLAIN = re.compile(r"^\s*explain\b", re.I)
# an order-sensitive window function over a window without ORDER BY: any row order is right
_UNORDERED_WINDOW = re.compile(
    r"\b(lag|lead|first_value|last_value|nth_value|row_number)\s*\([^()]*\)\s*"
    r"((ignore|respect)\s+nulls\s*)?over\s*\(\s*(partition\s+by\s+((?!\border\b)[^()])*)?\)",
    re.I,
)


def skip_reason(sql: str) -> str | None:
    """Why a query's answer is not comparable across engines, or None."""
    if _EXPLAIN.match(sql):
        return "EXPLAIN: the cluster's plan text differs by design"
    if _NONDETERMINISTIC.search(sql):
        return "non-deterministic function"
    if _UNORDERED_WINDOW.search(sql):
        return "order-sensitive window function over an unordered window"
    if _limit_without_order(sql):
        return "LIMIT without ORDER BY: any rows are right"
    return None


def _limit_without_order(sql: str) -> bool:
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except Exception:
        return False
    if tree is None or tree.args.get("order") is not None:
        return False
    return tree.args.get("limit") is not None or tree.args.get("offset") is not None


# ---------------------------------------------------------------------------------------
# .slt files


_TABLE_STATEMENT = re.compile(
    r"^\s*(?:create\s+(?:or\s+replace\s+)?(?:unbounded\s+)?(?:external\s+)?table\s+"
    r"(?:if\s+not\s+exists\s+)?|insert\s+(?:into|overwrite)\s+(?:table\s+)?)"
    r"(?:(?P<name>[A-Za-z_][\w.]*)|\"(?P<quoted>[^\"]+)\")",
    re.I,
)


def table_name(m: re.Match[str]) -> str:
    """The catalog name a CREATE/INSERT statement names (unquoted names fold to lower case)."""
    if m.group("quoted"):
        return m.group("quoted")
    return m.group("name").rsplit(".", 1)[-1].lower()


_SET = re.compile(r"^\s*set\s+(?P<key>time\s+zone|timezone|[\w.]+)", re.I)
_LITERAL_PATH = re.compile(r"'(?P<path>(?:\.\./|test_files/scratch/|data/)[^']*)'")


@dataclass
class FileContext:
    """Where a corpus file's relative paths point, per engine."""

    #: DataFusion's runner runs in ``datafusion/sqllogictest``: relative paths start there
    base: Path
    scratch: Path

    def localise(self, sql: str, engine: str) -> str:
        def sub(m: re.Match[str]) -> str:
            p = m.group("path")
            if p.startswith("test_files/scratch/"):
                return "'" + str(self.scratch / engine / p[len("test_files/scratch/") :]) + "'"
            return "'" + str((self.base / p).resolve()) + "'"

        return _LITERAL_PATH.sub(sub, sql)


class ClusterHolder:
    """One LocalCluster shared by many files; restarted when a query hangs or kills it."""

    def __init__(self, workers: int = 2) -> None:
        from sqlweave.cluster import LocalCluster

        self._factory: Callable[[], LocalCluster] = lambda: LocalCluster(workers=workers)
        self.cluster = self._factory()
        self.restarts = 0

    @property
    def address(self) -> str:
        return self.cluster.address

    def alive(self) -> bool:
        return self.cluster.coordinator.poll() is None

    def restart(self) -> None:
        self.cluster.close()
        self.cluster = self._factory()
        self.restarts += 1

    def close(self) -> None:
        self.cluster.close()


class _FileRun:
    """The two sessions of one file, and what to replay on a restarted cluster."""

    def __init__(self, holder: ClusterHolder, mode: Mode, files: FileContext) -> None:
        self.holder, self.mode, self.files = holder, mode, files
        self.embedded = sqlweave.Session()
        self.cluster = sqlweave.Session(engine=holder.address)
        self.baseline = set(self.cluster.tables())
        self.settings: set[str] = set()
        #: cluster statements run so far, and tables registered (in order)
        self.replay: list[tuple[str, pa.Table | None]] = []

    def close(self) -> None:
        self.embedded.close()
        self.cluster.close()

    def run_cluster(self, sql: str) -> Outcome:
        c = run(self.cluster, sql, QUERY_TIMEOUT_S, self.holder.alive)
        if c.ok or (not c.hung and self.holder.alive()):
            return c
        # hung or killed the coordinator: a new cluster, back to where this file was
        self.cluster.close()
        self.holder.restart()
        self.cluster = sqlweave.Session(engine=self.holder.address)
        self.baseline = set(self.cluster.tables())
        for what, table in self.replay:
            if table is None:
                run(self.cluster, what, QUERY_TIMEOUT_S)
            else:
                self.cluster.register(what, table)
        return Outcome(error=f"cluster lost: {c.error}", hung=c.hung)

    def record(self, rec: Record, key: str) -> Finding:
        e_sql = self.files.localise(rec.sql, "embedded")
        c_sql = self.files.localise(rec.sql, "cluster")
        if rec.kind is RecordKind.STATEMENT:
            m = _SET.match(rec.sql)
            if m:
                self.settings.add(m.group("key"))
            table = _TABLE_STATEMENT.match(rec.sql)
            if self.mode is Mode.REGISTERED and table is not None:
                return self._register(rec, key, e_sql, table_name(table))
        reason = skip_reason(rec.sql) if rec.kind is RecordKind.QUERY else None
        e = run(self.embedded, e_sql)
        c = self.run_cluster(c_sql)
        if rec.kind is RecordKind.STATEMENT:
            self.replay.append((c_sql, None))
        if reason is not None:
            return Finding(key, Verdict.SKIPPED, rec.sql, reason)
        if rec.kind is RecordKind.STATEMENT:
            verdict, detail = judge(_status(e), _status(c), ordered=False)
        else:
            ordered = rec.sort is SortMode.NONE and is_ordered(rec.sql)
            verdict, detail = judge(e, c, ordered)
        return Finding(key, verdict, rec.sql, detail, e.brief(), c.brief(), c.distributed)

    def _register(self, rec: Record, key: str, e_sql: str, name: str) -> Finding:
        """Run a table statement on embedded, then register its rows as Arrow on both sessions.

        Both sides then hold the same Arrow table (no declared keys, order or bounds), so a
        difference is the cluster's, not the registration's.
        """
        e = run(self.embedded, e_sql)
        if not e.ok:
            return Finding(key, Verdict.BOTH_ERROR, rec.sql, "embedded refused; not registered")
        quoted = '"' + name.replace('"', '""') + '"'
        snap = run(self.embedded, f"SELECT * FROM {quoted}")
        if not snap.ok or snap.table is None:
            return Finding(key, Verdict.SKIPPED, rec.sql, f"cannot read {name} back: {snap.error}")
        self.embedded.deregister(name)
        self.embedded.register(name, snap.table)
        try:
            if name in self.cluster.tables():
                self.cluster.deregister(name)
            self.cluster.register(name, snap.table)
        except Exception as exc:
            c = Outcome(error=f"register {name}: {type(exc).__name__}: {exc}")
            return Finding(
                key, Verdict.CLUSTER_ONLY_ERROR, rec.sql, c.error or "", e.brief(), c.brief()
            )
        self.replay.append((name, snap.table))
        return Finding(key, Verdict.AGREE, rec.sql)

    def reset(self) -> None:
        """Leave the shared cluster as the next file expects it: no new tables, no settings."""
        try:
            for name in set(self.cluster.tables()) - self.baseline:
                run(self.cluster, f"DROP VIEW IF EXISTS {name}")
                with contextlib.suppress(Exception):
                    self.cluster.deregister(name)
            for k in self.settings:
                run(self.cluster, f"RESET {k}")
            clean = not (set(self.cluster.tables()) - self.baseline)
        except Exception:
            clean = False
        if not clean:  # a catalog we cannot clean would leak into the next file
            self.holder.restart()


def run_slt(
    path: Path,
    key_prefix: str,
    holder: ClusterHolder,
    mode: Mode,
    files: FileContext,
    records: Iterable[Record] | None = None,
) -> list[Finding]:
    """Run one ``.slt`` file on embedded DataFusion and the cluster; one finding per record."""
    recs = list(records) if records is not None else parse_file(path)
    fr = _FileRun(holder, mode, files)
    try:
        return [fr.record(rec, f"{key_prefix}:{rec.line}") for rec in recs]
    finally:
        fr.reset()
        fr.close()


def _status(o: Outcome) -> Outcome:
    """A statement is judged on success alone (its row counts are engine talk)."""
    return o if not o.ok else Outcome(table=pa.table({}))


# ---------------------------------------------------------------------------------------
# generated cases


@dataclass
class Engines:
    """The three sessions a generated batch runs on."""

    embedded: sqlweave.Session
    cluster: sqlweave.Session
    duckdb: sqlweave.Session | None
    holder: ClusterHolder

    def register(self, tables: dict[str, pa.Table]) -> None:
        for s in self.sessions():
            for name, table in tables.items():
                s.register(name, table)

    def cluster_register(self, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.cluster.register(name, table)

    def sessions(self) -> list[sqlweave.Session]:
        return [s for s in (self.embedded, self.cluster, self.duckdb) if s is not None]


def run_generated(case: generate.Case, engines: Engines) -> list[Finding]:
    """One generated case: the cluster against embedded, and DuckDB where the SQL is common."""
    for stmt in case.settings:
        run(engines.embedded, stmt)
        run(engines.cluster, stmt, QUERY_TIMEOUT_S, engines.holder.alive)
    try:
        e = run(engines.embedded, case.sql)
        c = run(engines.cluster, case.sql, QUERY_TIMEOUT_S, engines.holder.alive)
    finally:
        if case.settings:
            for stmt in generate.RESETS:
                run(engines.embedded, stmt)
                run(engines.cluster, stmt, QUERY_TIMEOUT_S, engines.holder.alive)
    verdict, detail = judge(e, c, case.ordered)
    out = [Finding(case.id, verdict, case.sql, detail, e.brief(), c.brief(), c.distributed)]
    if case.duckdb and engines.duckdb is not None:
        d = run(engines.duckdb, case.sql)
        if e.ok and d.ok:
            assert e.table is not None and d.table is not None
            why = compare.diff_loose(e.table, d.table, case.ordered)
            v = Verdict.AGREE if why is None else Verdict.DUCKDB_DIFFERS
            out.append(Finding(f"{case.id}:duckdb", v, case.sql, why or "", e.brief(), d.brief()))
    return out


def summarise(findings: Iterable[Finding]) -> dict[Verdict, int]:
    out = dict.fromkeys(Verdict, 0)
    for f in findings:
        out[f.verdict] += 1
    return out
