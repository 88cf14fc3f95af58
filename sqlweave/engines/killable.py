"""Run a nested-loop join that cannot be cancelled in a child process that can be killed.

DataFusion 55 stops a cancelled query when its tasks next yield to the runtime, and they
yield only when a source or an exchange hands over a batch. A nested-loop (or cross) join
makes many output batches from each input batch, and the aggregate or sort above it reads
them all in one loop: nothing yields until the join has gone through its whole input
(measured: flights x weather, ``count(*) … WHERE dep_delay > temp``, runs 80 s on 2 cores and
went on using both cores after an interrupt ended the cell). A hash join whose keys repeat
heavily does the same (``… JOIN weather w ON f.origin = w.origin``: 2.9 billion rows, 55 s).
No DataFusion setting changes that (batch sizes, partitions, piecewise merge join, join
buffering: all measured; only tiny input batches help, as tokio's budget of 128 batches per
poll then runs out sooner, at a cost to every query); the physical plan cannot be changed
from Python short of serializing it (``to_bytes`` of a plan over flights: 0.5-1.2 s, the
data goes along); and a running native task cannot be stopped from outside.

So a query whose physical plan joins in a nested loop over at least :data:`MIN_PAIRS` row
pairs (known from DataFusion's own statistics) runs in a child process instead, which an
interrupt ends with SIGKILL. The child plans the same SQL text with the same settings over
copies of the in-memory tables it reads, shipped as Arrow IPC files; at that size the copy
costs far less than the join (about 0.1 s per 63 MB table, for a join of many seconds).
Everything else runs in the kernel as before: the check costs ordinary statements one look
at the text of their plan; for a statement with a join it looks at the physical plan, which
is then the plan that runs (planned once, as before); a nested-loop join adds an
``EXPLAIN VERBOSE`` for DataFusion's statistics (2-10 ms).

DataFusion expects as many rows of a hash join that makes 2.9 billion as of one that makes
26,115 (it has no distinct counts for in-memory tables), so hash joins go to the child only
under :attr:`Killable.JOINS`, which a user asks for.

Statements stay in the kernel when the child could not run them the same way: anything but
a query, bound parameters, or a read of a view or a file table (the child has no catalog but
the shipped tables).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ..errors import QueryCancelled
from ..statements import Kind, split, tables_read

if TYPE_CHECKING:  # datafusion is imported when the embedded engine is first made
    from datafusion import DataFrame, ExecutionPlan, SessionContext

#: a join over at least this many row pairs runs in a killable child (for a nested loop
#: about 10 s of work on 2 cores, where the child's start and the shipped tables cost 1-3 s)
MIN_PAIRS = 1_000_000_000


class Killable(str, Enum):
    """Which joins run in a killable child (``%config SqlWeave.killable_joins``)."""

    #: every query runs in the kernel
    OFF = "off"
    #: nested-loop and cross joins (the default): their row pairs are their work
    NESTED_LOOP = "nested-loop"
    #: every join, hash joins too. For those the row pairs are only an upper bound of the
    #: work (a join on a key makes far fewer rows), so big ordinary joins pay for the copy
    #: of their tables (about 0.1 s per 63 MB) and the child's start: opt-in
    JOINS = "joins"


_NESTED_LOOPS = ("NestedLoopJoinExec", "CrossJoinExec")
#: the physical operators each policy sends to the child
JOIN_OPERATORS: dict[Killable, tuple[str, ...]] = {
    Killable.OFF: (),
    Killable.NESTED_LOOP: _NESTED_LOOPS,
    Killable.JOINS: (
        *_NESTED_LOOPS,
        "HashJoinExec",
        "SortMergeJoin",
        "SymmetricHashJoinExec",
        "PiecewiseMergeJoin",
    ),
}
#: the EXPLAIN VERBOSE row that carries DataFusion's statistics
_WITH_STATS = "physical_plan_with_stats"
_ROWS = re.compile(r"statistics=\[Rows=(?:Exact|Inexact)\((\d+)\)")
#: the child's module; it reads requests on stdin and answers on stdout
CHILD_MODULE = "sqlweave.engines.killable_child"
#: the child's first line, once it has imported what it needs
READY = '{"ready": true}'
#: RAM-backed folder for the shipped tables when the machine has one
_SHM = Path("/dev/shm")
#: room left in ``/dev/shm`` for others (and for the result) after the shipped tables
_SHM_SPARE = 64 * 1024 * 1024


def join_pairs(plan_with_stats: str, operators: tuple[str, ...] = _NESTED_LOOPS) -> int:
    """The most row pairs one join of the plan made by one of ``operators`` can go through:
    the product of the rows DataFusion expects of its two inputs (0 when there is no such
    join, or it expects nothing).

    >>> join_pairs('''Aggregate
    ...   NestedLoopJoinExec: join_type=Inner, statistics=[Rows=Absent]
    ...     DataSourceExec: partitions=1, statistics=[Rows=Exact(26115), Bytes=Exact(9)]
    ...     DataSourceExec: partitions=2, statistics=[Rows=Exact(336776), Bytes=Exact(9)]''')
    8794905240
    """
    lines = plan_with_stats.splitlines()
    most = 0
    for i, line in enumerate(lines):
        if not operators or not line.lstrip().startswith(operators):
            continue
        depth = len(line) - len(line.lstrip())
        rows = []
        for child in lines[i + 1 :]:
            child_depth = len(child) - len(child.lstrip())
            if child_depth <= depth:
                break
            if child_depth == depth + 2:
                found = _ROWS.search(child)
                rows.append(int(found.group(1)) if found else 0)
        if len(rows) == 2:
            most = max(most, rows[0] * rows[1])
    return most


@dataclass
class ChildJob:
    """A query for the child: its text, the settings that differ from a fresh context's,
    and the in-memory tables it reads, by the name DataFusion knows them."""

    sql: str
    settings: tuple[tuple[str, str], ...]
    tables: dict[str, pa.Table] = field(default_factory=dict)


def may_join(df: DataFrame) -> bool:
    """Whether ``df``'s plan may hold a join (it joins or has a subquery): one search in
    the text of the plan as written, before any optimizing."""
    logical = df.logical_plan().display_indent()
    return "Join" in logical or "Subquery" in logical


def child_job(
    ctx: SessionContext,
    sql: str,
    plan: ExecutionPlan,
    params: Mapping[str, Any] | None,
    baseline: Mapping[str, str | None],
    policy: Killable = Killable.NESTED_LOOP,
    min_pairs: int = MIN_PAIRS,
) -> ChildJob | None:
    """The job to run in a child if ``plan`` (``sql``'s physical plan on ``ctx``) has a
    join of ``policy`` over at least ``min_pairs`` row pairs and the child can run it the
    same way; ``None`` to run it here. ``baseline`` is
    :func:`~sqlweave.engines.local.settings_of` a fresh context."""
    operators = JOIN_OPERATORS[policy]
    if params or not any(op in plan.display_indent() for op in operators):
        return None
    statements = split(sql)
    if len(statements) != 1 or statements[0].kind is not Kind.QUERY:
        return None
    explained = ctx.sql(f"EXPLAIN VERBOSE {sql}").to_arrow_table().to_pylist()
    with_stats = next((r["plan"] for r in explained if r["plan_type"] == _WITH_STATS), "")
    if join_pairs(with_stats, operators) < min_pairs:
        return None
    tables = {}
    for name in tables_read(statements[0]):
        known = _known_name(ctx, name)
        if known is None:
            continue  # a table function or a CTE: the child has it too
        if not _in_memory(ctx, known):
            return None  # a view or a file table: the child has no catalog
        tables[known] = ctx.table(known).to_arrow_table()
    from .local import changed_settings

    return ChildJob(sql, changed_settings(ctx, baseline), tables)


def _known_name(ctx: SessionContext, name: str) -> str | None:
    """``name`` as ``ctx`` knows it (quoted when not all lower case), if it is a table."""
    from .local import ident

    for candidate in (ident(name), name.lower()):
        if ctx.table_exist(candidate):
            return candidate
    return None


def _in_memory(ctx: SessionContext, name: str) -> bool:
    """Whether ``name`` is a table held in memory (not a view, not files)."""
    top = ctx.table(name).execution_plan().display_indent().lstrip()
    return top.startswith("DataSourceExec") and "partition_sizes=" in top


def scratch_parent(nbytes: int) -> str | None:
    """Where to put ``nbytes`` of tables for the child: RAM-backed ``/dev/shm`` when it has
    room for them twice over (a container's is often only 64 MB), else the temporary folder.

    >>> scratch_parent(10**15) is None
    True
    """
    try:
        if _SHM.is_dir() and shutil.disk_usage(_SHM).free > 2 * nbytes + _SHM_SPARE:
            return str(_SHM)
    except OSError:
        pass  # unreadable: use the temporary folder
    return None


class ChildRunner:
    """One child process, started when first needed, that runs :class:`ChildJob` s; an
    interrupt while waiting kills it (SIGKILL) and raises ``QueryCancelled``."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The running child's process id, if one runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def run(self, job: ChildJob) -> pa.Table:
        """Run ``job`` in the child; its result, or ``ChildError`` with the child's message
        (``ChildUnavailable`` when the query never ran there)."""
        with self._lock:
            size = sum(t.nbytes for t in job.tables.values())
            try:
                folder = Path(tempfile.mkdtemp(prefix="sqlweave-", dir=scratch_parent(size)))
            except OSError as exc:
                raise ChildUnavailable(f"no folder for the child's tables: {exc}") from None
            try:
                return self._run(job, folder)
            except KeyboardInterrupt:
                self.kill()
                raise QueryCancelled() from None
            finally:
                shutil.rmtree(folder, ignore_errors=True)

    def _run(self, job: ChildJob, folder: Path) -> pa.Table:
        tables = []
        for i, (name, table) in enumerate(job.tables.items()):
            path = folder / f"table{i}.arrow"
            try:
                with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                    w.write_table(table)
            except OSError as exc:  # a full disk: the query can still run in the kernel
                raise ChildUnavailable(f"cannot copy {name} for the child: {exc}") from None
            tables.append([name, str(path)])
        result = folder / "result.arrow"
        request = {
            "sql": job.sql,
            "settings": [list(s) for s in job.settings],
            "tables": tables,
            "result": str(result),
        }
        proc = self._child()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.kill()
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise ChildError(f"the process running the query ended unexpectedly ({how})")
        reply = json.loads(line)
        if reply.get("error") is not None:
            if not reply.get("ran"):
                raise ChildUnavailable(reply["error"])
            raise ChildError(reply["error"])
        # read from the mapped file: the data stays valid once the folder is removed
        return pa.ipc.open_file(pa.memory_map(str(result))).read_all()

    def _child(self) -> subprocess.Popen[str]:
        if self._proc is None or self._proc.poll() is not None:
            atexit.register(self.kill)
            package_root = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
            try:
                self._proc = self._start(path)
            except OSError as exc:
                raise ChildUnavailable(f"cannot start the child: {exc}") from None
            assert self._proc.stdout is not None
            if self._proc.stdout.readline().strip() != READY:  # it could not even start
                self.kill()
                raise ChildUnavailable("the child process did not start")
        return self._proc

    @staticmethod
    def _start(path: str) -> subprocess.Popen[str]:
        """The child, importing sqlweave from ``path`` first."""
        return subprocess.Popen(
            [sys.executable, "-m", CHILD_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": path},
            # a kernel interrupt signals the kernel's process group: the child must not
            # die of it on its own, the runner kills it
            start_new_session=True,
        )

    def kill(self) -> None:
        """End the child at once, whatever it is doing."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        atexit.unregister(self.kill)
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class ChildError(Exception):
    """An error the child reported (DataFusion's message), or the child's unexpected end."""


class ChildUnavailable(ChildError):
    """The child could not set the query up (a setting or a table it could not take): the
    query never ran there and may run in the kernel instead."""
