"""The depth and size guard: deep or huge statements get a clear error on every engine and
no process dies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sqlweave
from sqlweave import guard, native_runtime
from sqlweave.cluster.client import ClusterEngine
from sqlweave.errors import LimitError, ParseError

#: the statement that segfaulted the kernel and the coordinator (18 KB)
PLUS_8000 = "SELECT " + "+".join(["1"] * 8000)
#: the depth limit in force (the pytest process imported sqlweave before any query ran)
LIMIT = guard.max_depth()


def _depth_error(sql: str) -> LimitError:
    with pytest.raises(LimitError) as info:
        guard.check(sql)
    return info.value


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "+".join(["1"] * LIMIT),
        # 600 conditions: a 600-deep OR chain over shallow comparisons, not 1,200
        "SELECT * FROM t WHERE " + " OR ".join(f"a = {i}" for i in range(600)),
        # a flat chain DataFusion runs (it refused at the earlier limit of 1,000)
        "SELECT * FROM t WHERE " + " OR ".join(f"a < {i}" for i in range(1200)),
        "SELECT * FROM t WHERE " + " AND ".join(f"a BETWEEN {i} AND {i + 1}" for i in range(600)),
        "SELECT " + ", ".join(["a * b + c"] * 5000) + " FROM t",
        "SELECT 1 IN (" + ", ".join(["1"] * 20000) + ")",
        " UNION ALL ".join(["SELECT 1"] * 500),
    ],
    ids=[
        "chain-at-limit",
        "or-600",
        "or-1200",
        "between-600",
        "wide-select",
        "long-in-list",
        "union-500",
    ],
)
def test_guard_admits_wide_but_shallow_statements(sql: str) -> None:
    guard.check(sql)


@pytest.mark.parametrize(
    "sql",
    [
        PLUS_8000,
        "SELECT " + "+".join(["1"] * (LIMIT + 1)),
        "SELECT " + "(" * LIMIT + "1" + ")" * LIMIT,
        # a set operation counts two levels: planning long chains of them takes more stack
        " UNION ALL ".join(["SELECT 1"] * (LIMIT // guard.SET_OPERATION_DEPTH + 1)),
        "SELECT " + "CASE WHEN x THEN " * (LIMIT + 100) + "1" + " END" * (LIMIT + 100),
        # a product chain under a sum chain: the depths add up along one path
        "SELECT " + "*".join(["a"] * (LIMIT // 2 + 100)) + " + " + " + ".join(["b"] * (LIMIT // 2)),
    ],
    ids=[
        "plus-8000",
        "chain-over-limit",
        "parens",
        "union-over-limit",
        "case",
        "product-under-sum",
    ],
)
def test_guard_refuses_deep_statements_with_a_position(sql: str) -> None:
    err = _depth_error(sql)
    assert f"{LIMIT:,}" in str(err)
    assert err.position is not None and err.position.line == 1
    assert 1 < err.position.column <= len(sql)


def test_guard_points_at_the_term_that_crosses_the_limit() -> None:
    err = _depth_error(PLUS_8000)
    # the (LIMIT + 1)th "+" makes the chain before it LIMIT + 1 levels deep
    offset = len("SELECT ") + 2 * LIMIT + 1
    assert PLUS_8000[offset] == "+"
    assert err.position.column == offset + 1


def test_rendered_error_quotes_a_bounded_excerpt() -> None:
    rendered = _depth_error(PLUS_8000).render()
    lines = rendered.splitlines()
    assert lines[0].startswith(f"LimitError: expression nested deeper than {LIMIT:,} levels")
    assert len(rendered) < 600, rendered
    caret = lines[2].index("^")
    assert lines[1][caret] == "+"  # the caret stands under the offending operator


def test_oversized_script_is_refused_before_tokenizing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(guard, "MAX_SCRIPT_CHARS", 1000)
    with pytest.raises(LimitError, match="the limit is"):
        sqlweave.Session().sql("SELECT '" + "x" * 2000 + "'")


def test_deep_statements_fail_clearly_on_every_engine(session: sqlweave.Session) -> None:
    for sql in (PLUS_8000, "SELECT " + "(" * 3000 + "1" + ")" * 3000):
        with pytest.raises(LimitError) as info:
            session.sql(f"SELECT 1;\n{sql}")
        assert info.value.position.line == 2  # located in the script
        assert len(info.value.render()) < 600
    # the process and the engine live on
    assert session.sql("SELECT 1 + 1 AS two").to_arrow().to_pylist() == [{"two": 2}]


def test_coordinator_guards_requests_from_any_client(local_cluster) -> None:
    """A client that is not a Session (no guard of its own) cannot crash the coordinator."""
    with ClusterEngine(local_cluster.address) as raw:
        with pytest.raises(ParseError, match=f"deeper than {LIMIT:,}"):
            raw.execute(PLUS_8000)
        assert raw.execute("SELECT 40 + 2 AS x").to_pylist() == [{"x": 42}]
    assert len(local_cluster.status().workers) == 2


def _in_a_child(code: str) -> str:
    """Run ``code`` in a fresh interpreter (a crash there cannot end pytest); its stdout."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    return done.stdout.strip()


def test_a_chain_at_the_limit_runs_on_embedded_datafusion() -> None:
    """What the guard admits, the engine thread's stack and DataFusion's runtime threads
    hold: an OR chain DataFusion cannot flatten, evaluated per row, as deep as admitted."""
    terms = [f"x < {i}" for i in range(LIMIT - 1)]  # a comparison is 2 deep, each OR adds 1
    sql = "SELECT count(*) AS n FROM (VALUES (1), (5000)) t(x) WHERE " + " OR ".join(terms)
    guard.check(sql)
    with pytest.raises(LimitError):
        guard.check(sql + f" OR x < {LIMIT}")
    got = _in_a_child(
        f"import sqlweave; print(sqlweave.Session().sql({sql!r}).to_arrow().to_pylist())"
    )
    assert got == "[{'n': 1}]"


def test_runtime_threads_get_big_stacks_or_the_small_limit_applies() -> None:
    """sqlweave gives DataFusion's runtime threads big stacks; when DataFusion started its
    runtime before sqlweave was imported, the guard keeps the 2 MiB-safe limit."""
    assert int(os.environ[native_runtime.RUST_MIN_STACK]) >= native_runtime.NATIVE_STACK_BYTES
    assert LIMIT == guard.MAX_DEPTH
    late = _in_a_child(
        "import os; os.environ.pop('RUST_MIN_STACK', None)\n"
        "import datafusion; datafusion.SessionContext().sql('SELECT 1').collect()\n"
        "from sqlweave import guard; print(guard.max_depth())"
    )
    assert late == str(guard.SMALL_STACK_MAX_DEPTH)


#: a child that reports the runtime variables, whether the runtime runs before and after a
#: first query, and how many runtime worker threads it then has
RUNTIME_REPORT = """
import os
from pathlib import Path
import sqlweave
from sqlweave import native_runtime as n
before = n.runtime_started()
sqlweave.Session().sql("SELECT 1")
workers = sum(
    (t / "comm").read_text().startswith("tokio-rt-worker") for t in Path("/proc/self/task").iterdir()
)
print(os.environ[n.RUST_MIN_STACK], os.environ[n.TOKIO_WORKER_THREADS], before, n.runtime_started(), workers)
"""


@pytest.mark.parametrize("chosen", [None, "1"])
def test_importing_sqlweave_sets_both_runtime_defaults_and_keeps_the_users(
    chosen: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One function sets RUST_MIN_STACK and TOKIO_WORKER_THREADS before DataFusion's runtime
    starts; the runtime then has the threads asked for (or the user's own number)."""
    monkeypatch.delenv(native_runtime.RUST_MIN_STACK, raising=False)
    monkeypatch.delenv(native_runtime.TOKIO_WORKER_THREADS, raising=False)
    if chosen:
        monkeypatch.setenv(native_runtime.TOKIO_WORKER_THREADS, chosen)
    stack, threads, before, after, workers = _in_a_child(RUNTIME_REPORT).split()
    assert stack == str(native_runtime.NATIVE_STACK_BYTES)
    assert threads == (chosen or str(native_runtime.runtime_threads()))
    assert (before, after) == ("False", "True")
    if chosen:
        assert int(workers) < native_runtime.runtime_threads()
    else:
        assert int(workers) >= native_runtime.runtime_threads()
