"""The depth and size guard: deep or huge statements get a clear error on every engine and
no process dies."""

from __future__ import annotations

import pytest

import sqlweave
from sqlweave import guard
from sqlweave.cluster.client import ClusterEngine
from sqlweave.errors import LimitError, ParseError

#: the statement that segfaulted the kernel and the coordinator (18 KB)
PLUS_8000 = "SELECT " + "+".join(["1"] * 8000)


def _depth_error(sql: str) -> LimitError:
    with pytest.raises(LimitError) as info:
        guard.check(sql)
    return info.value


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "+".join(["1"] * guard.MAX_DEPTH),
        # 600 conditions: a 600-deep OR chain over shallow comparisons, not 1,200
        "SELECT * FROM t WHERE " + " OR ".join(f"a = {i}" for i in range(600)),
        "SELECT * FROM t WHERE " + " AND ".join(f"a BETWEEN {i} AND {i + 1}" for i in range(600)),
        "SELECT " + ", ".join(["a * b + c"] * 5000) + " FROM t",
        "SELECT 1 IN (" + ", ".join(["1"] * 20000) + ")",
        " UNION ALL ".join(["SELECT 1"] * 500),
    ],
    ids=["chain-at-limit", "or-600", "between-600", "wide-select", "long-in-list", "union-500"],
)
def test_guard_admits_wide_but_shallow_statements(sql: str) -> None:
    guard.check(sql)


@pytest.mark.parametrize(
    "sql",
    [
        PLUS_8000,
        "SELECT " + "+".join(["1"] * (guard.MAX_DEPTH + 1)),
        "SELECT " + "(" * 2000 + "1" + ")" * 2000,
        " UNION ALL ".join(["SELECT 1"] * 1200),
        "SELECT " + "CASE WHEN x THEN " * 1100 + "1" + " END" * 1100,
        # a product chain under a sum chain: the depths add up along one path
        "SELECT " + "*".join(["a"] * 600) + " + " + " + ".join(["b"] * 600),
    ],
    ids=["plus-8000", "chain-over-limit", "parens", "union-1200", "case", "product-under-sum"],
)
def test_guard_refuses_deep_statements_with_a_position(sql: str) -> None:
    err = _depth_error(sql)
    assert f"{guard.MAX_DEPTH:,}" in str(err)
    assert err.position is not None and err.position.line == 1
    assert 1 < err.position.column <= len(sql)


def test_guard_points_at_the_term_that_crosses_the_limit() -> None:
    err = _depth_error(PLUS_8000)
    # the 1,001st "+" makes the chain before it 1,001 levels deep
    offset = len("SELECT ") + 2 * guard.MAX_DEPTH + 1
    assert PLUS_8000[offset] == "+"
    assert err.position.column == offset + 1


def test_rendered_error_quotes_a_bounded_excerpt() -> None:
    rendered = _depth_error(PLUS_8000).render()
    lines = rendered.splitlines()
    assert lines[0].startswith("LimitError: expression nested deeper than 1,000 levels")
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
        with pytest.raises(ParseError, match="deeper than 1,000"):
            raw.execute(PLUS_8000)
        assert raw.execute("SELECT 40 + 2 AS x").to_pylist() == [{"x": 42}]
    assert len(local_cluster.status().workers) == 2


def test_statements_just_inside_the_limit_run_on_embedded_datafusion() -> None:
    """What the guard admits, the engine thread's stack and DataFusion's own threads hold."""
    n = guard.MAX_DEPTH
    got = sqlweave.Session().sql(
        "SELECT " + "+".join(["x"] * n) + " AS s FROM (VALUES (1), (2)) t(x) ORDER BY s"
    )
    assert got.to_arrow().column("s").to_pylist() == [n, 2 * n]
