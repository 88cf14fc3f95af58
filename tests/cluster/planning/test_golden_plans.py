"""Golden plans: SQL plus catalog statistics in, EXPLAIN text out (sqlglot's optimizer tests' style).

The catalog (``fixtures/tpch_sf1.sql``, the ``tpch_statistics`` fixture of
``tests/cluster/conftest.py``) is TPC-H at scale factor 1 as statistics only: each table's
schema and row count, no rows (:meth:`Catalog.add_statistics`). Each file in
``fixtures/plans/`` holds cases of this form::

    -- title: what the case shows (unique in its file)
    -- options: broadcast_rows=100000 hash_joins=false     (optional PlannerOptions)
    SELECT ... ;                                           (the query, up to the line ending in ;)
    Distributed plan: ...                                  (the expected explain_text, up to
      ...                                                   the next title or the end)

or ``-- tpch: q18`` in place of the query to plan a TPC-H query of ``bench/queries/tpch``.
Cases plan with two workers unless their options say otherwise.

To re-derive the expected text after an intended planner change, run

    SQLWEAVE_UPDATE_GOLDENS=1 PYTHONPATH=$PWD .venv/bin/python -m pytest -q tests/cluster/planning

which rewrites the fixture files in place; then read the diff: every changed plan is a
behaviour change to explain.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

import pyarrow as pa
import pytest
import tpchdata

from sqlweave.cluster import planning
from sqlweave.cluster.catalog import Catalog
from sqlweave.cluster.explain import explain_text
from sqlweave.cluster.planning import PlannerOptions, plan_query

FIXTURES = Path(__file__).parent / "fixtures"
PLANS = FIXTURES / "plans"
UPDATE = os.environ.get("SQLWEAVE_UPDATE_GOLDENS", "") not in ("", "0")
TWO_WORKERS = PlannerOptions(workers=2)

_TITLE = "-- title:"
_OPTIONS = "-- options:"
_TPCH = "-- tpch:"


@dataclass(frozen=True)
class Case:
    """One golden case: where it is, what it plans, what EXPLAIN must say."""

    file: Path
    title: str
    head: str  # the case's text up to the expected plan (title, options, query)
    sql: str
    options: PlannerOptions
    expected: str

    @property
    def id(self) -> str:
        return f"{self.file.stem}: {self.title}"


def parse_options(text: str) -> PlannerOptions:
    """``name=value`` words as :class:`PlannerOptions` (ints and true/false)."""
    kinds = {f.name: f.type for f in fields(PlannerOptions)}
    values: dict[str, int | bool] = {}
    for word in text.split():
        name, _, value = word.partition("=")
        if name not in kinds:
            raise ValueError(f"unknown planner option {name!r}")
        values[name] = value == "true" if kinds[name] == "bool" else int(value.replace("_", ""))
    return replace(TWO_WORKERS, **values)


def read_cases(path: Path) -> tuple[str, list[Case]]:
    """The prose before the first case, and the cases of one fixture file."""
    text = path.read_text()
    starts = [m.start() for m in re.finditer(rf"^{_TITLE}", text, re.M)]
    if not starts:
        raise ValueError(f"{path}: no cases")
    cases = []
    queries = tpchdata.queries()
    for start, end in zip(starts, [*starts[1:], len(text)]):
        lines = text[start:end].rstrip("\n").split("\n")
        title = lines[0].removeprefix(_TITLE).strip()
        at, options, sql = 1, TWO_WORKERS, ""
        if lines[at].startswith(_OPTIONS):
            options = parse_options(lines[at].removeprefix(_OPTIONS))
            at += 1
        if lines[at].startswith(_TPCH):
            sql = queries[lines[at].removeprefix(_TPCH).strip()]
            at += 1
        else:
            first = at
            while not lines[at].rstrip().endswith(";"):
                at += 1
            at += 1
            sql = "\n".join(lines[first:at]).rstrip().removesuffix(";")
        head = "\n".join(lines[:at])
        expected = "\n".join(lines[at:]).strip("\n")
        cases.append(Case(path, title, head, sql, options, expected))
    titles = [c.title for c in cases]
    if len(set(titles)) != len(titles):
        raise ValueError(f"{path}: two cases have the same title")
    return text[: starts[0]], cases


def write_cases(path: Path, prose: str, cases: list[Case]) -> None:
    blocks = [f"{c.head}\n{c.expected}\n" for c in cases]
    path.write_text(prose + "\n".join(blocks))


def all_cases() -> list[Case]:
    return [c for path in sorted(PLANS.glob("*.sql")) for c in read_cases(path)[1]]


def explain(case: Case, catalog: Catalog) -> str:
    return explain_text(plan_query(case.sql, catalog, case.options))


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.id)
def test_golden_plan(case: Case, tpch_statistics: Catalog) -> None:
    got = explain(case, tpch_statistics)
    if UPDATE:
        prose, cases = read_cases(case.file)
        write_cases(
            case.file,
            prose,
            [replace(c, expected=got) if c.title == case.title else c for c in cases],
        )
        return
    assert got == case.expected, f"{case.id}: plan changed (see the docstring to update)"


def test_the_fixture_reader_sees_options_queries_and_plans(tmp_path: Path) -> None:
    fixture = tmp_path / "demo.sql"
    fixture.write_text(
        "-- prose\n\n-- title: a\n-- options: workers=3 hash_joins=false\nselect 1\n  as x;\n"
        "Distributed plan: 1 stages\nStage 0\n\n-- title: b\n-- tpch: q06\nDistributed plan\n"
    )
    prose, (a, b) = read_cases(fixture)
    assert prose == "-- prose\n\n"
    assert (a.title, a.sql, a.expected) == (
        "a",
        "select 1\n  as x",
        "Distributed plan: 1 stages\nStage 0",
    )
    assert a.options == PlannerOptions(workers=3, hash_joins=False)
    assert (
        b.options == TWO_WORKERS and "l_extendedprice" in b.sql and b.expected == "Distributed plan"
    )
    write_cases(fixture, prose, [replace(a, expected="new"), b])
    assert [c.expected for c in read_cases(fixture)[1]] == ["new", "Distributed plan"]


def test_the_statistics_catalog_has_tpch_at_scale_factor_one(tpch_statistics: Catalog) -> None:
    catalog = tpch_statistics
    assert catalog["lineitem"].rows == 6_001_215 and catalog["region"].rows == 5
    assert pa.types.is_date32(catalog["orders"].schema.field("o_orderdate").type)
    with pytest.raises(ValueError, match="statistics only"):
        catalog.shares("lineitem", 2)


def test_each_fixture_file_is_named_after_a_planning_rule() -> None:
    """``fixtures/plans/<module>.sql`` holds the cases of ``planning/<module>.py`` (and
    ``tpch.sql`` the 22 TPC-H queries), so a rule's goldens are found by its name."""
    modules = {p.stem for p in Path(planning.__file__).parent.glob("*.py")}
    stems = {p.stem for p in PLANS.glob("*.sql")}
    assert stems - {"tpch"} <= modules
    assert {"relations", "aggregates", "joins", "reduce", "subqueries", "fallback"} <= stems
