"""Seeded random tables and queries for differential runs, in the style of SQLancer/sqlsmith.

Every case is a pure function of its seed: :func:`tables` makes three small tables with
NULLs, decimals, time-zoned timestamps, structs and strings; :func:`case` writes one query
over them: joins (inner/left/right/full, USING, three-way, semi and anti through EXISTS/IN,
derived tables with LIMIT, filters or CTEs), window functions with ROWS/RANGE frames and
offsets, IGNORE NULLS, aggregates with FILTER and DISTINCT, GROUP BY/HAVING, ROLLUP/CUBE/
GROUPING SETS, DISTINCT ON, scalar subqueries, set operations, ORDER BY/LIMIT/OFFSET,
sometimes after a ``SET`` of the time zone.

Answers must be deterministic, so the generator avoids what an engine may answer in more
than one way: ordered output is ordered by every output column (ties are equal rows),
window orders end with the unique ``id``, and floats are multiples of 1/4 so sums are exact
in any order. A case marked ``duckdb`` uses only SQL that DuckDB and DataFusion mean the
same way (no integer division, no casts of floats to integers, no time zones).

Run ``python -m tests.differential.generate 7`` to print case 7.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa

TABLES = ("t1", "t2", "t3")
#: columns usable as numbers in expressions and aggregates, and their kind
NUMERIC = ("k", "i", "f", "d")
TIME_ZONES = ("+05:30", "America/New_York", "Europe/Berlin", "-03:00", "Asia/Tokyo")
WORDS = ("", "a", "ab", "abc", "B", "b%c", "zz", "Ärger", "x y", "NULL")
STRUCT = pa.struct([pa.field("a", pa.int64()), pa.field("b", pa.string())])


@dataclass(frozen=True)
class Case:
    """One generated query with what is needed to run and judge it."""

    seed: int
    sql: str
    #: row order is part of the answer (the query ends in ORDER BY all columns)
    ordered: bool
    #: the SQL means the same on DuckDB
    duckdb: bool
    #: statements run before the query on every session (and undone after)
    settings: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str:
        return f"gen-{self.seed}"


# ---------------------------------------------------------------------------------------
# tables


def tables(seed: int) -> dict[str, pa.Table]:
    """Three tables for a batch of cases; sizes differ so joins are uneven (t3 may be empty)."""
    rng = random.Random(f"tables-{seed}")
    sizes = {"t1": rng.randint(40, 300), "t2": rng.randint(10, 120), "t3": rng.choice([0, 3, 17])}
    return {name: _table(rng, n, offset=1000 * j) for j, (name, n) in enumerate(sizes.items())}


def _table(rng: random.Random, n: int, offset: int) -> pa.Table:
    def maybe(make: Callable[[], object], p_null: float = 0.15) -> object:
        return None if rng.random() < p_null else make()

    base = dt.datetime(2024, 3, 9, 22, 0, tzinfo=dt.timezone.utc)
    cols = {
        "id": pa.array([offset + r for r in range(n)], pa.int64()),
        "k": pa.array([maybe(lambda: rng.randint(0, 7)) for _ in range(n)], pa.int64()),
        "i": pa.array([maybe(lambda: rng.randint(-20, 20)) for _ in range(n)], pa.int32()),
        "f": pa.array([maybe(lambda: rng.randint(-400, 400) / 4) for _ in range(n)], pa.float64()),
        "d": pa.array(
            [maybe(lambda: Decimal(rng.randint(-99999, 99999)).scaleb(-2)) for _ in range(n)],
            pa.decimal128(10, 2),
        ),
        "s": pa.array([maybe(lambda: rng.choice(WORDS)) for _ in range(n)], pa.string()),
        "ts": pa.array(
            [
                maybe(lambda: base + dt.timedelta(minutes=37 * rng.randint(0, 200)))
                for _ in range(n)
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        "dt": pa.array(
            [
                maybe(lambda: dt.date(2023, 12, 25) + dt.timedelta(days=rng.randint(0, 90)))
                for _ in range(n)
            ],
            pa.date32(),
        ),
        "b": pa.array([maybe(lambda: rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "st": _structs(
            [maybe(lambda: (rng.randint(0, 3), rng.choice(WORDS)), 0.1) for _ in range(n)]
        ),
    }
    return pa.table(cols)


def _structs(values: list) -> pa.StructArray:
    """A struct column whose fields are NULL where the struct is.

    (pyarrow fills them with 0 and "" otherwise, and DataFusion's ``st['a']`` reads the
    field without the struct's validity: a NULL struct would give ``0``, DuckDB ``NULL``.)
    """
    a = pa.array([None if v is None else v[0] for v in values], pa.int64())
    b = pa.array([None if v is None else v[1] for v in values], pa.string())
    mask = pa.array([v is None for v in values], pa.bool_())
    return pa.StructArray.from_arrays([a, b], fields=list(STRUCT), mask=mask)


# ---------------------------------------------------------------------------------------
# queries


class _Gen:
    """Writes one query; ``portable`` turns false as soon as DataFusion-only SQL is used."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"case-{seed}")
        self.portable = True

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def df_only(self) -> None:
        self.portable = False

    # ---- expressions -----------------------------------------------------------------

    def num(self, a: str) -> str:
        """A numeric expression over alias ``a``."""
        c = f"{a}.{self.pick(*NUMERIC)}"
        r = self.rng.randint(0, 7)
        if r == 0:
            return f"({c} + {self.rng.randint(-3, 3)})"
        if r == 1:
            return f"({c} * 2)"
        if r == 2:
            return f"abs({c})"
        if r == 3:
            return f"coalesce({c}, {self.rng.randint(-1, 1)})"
        if r == 4:
            return f"(case when {c} > 0 then {c} else -{c} end)"
        if r == 5:
            return f"nullif({c}, 0)"
        return c

    def scalar(self, a: str) -> str:
        """Any scalar expression over alias ``a`` (for select lists)."""
        r = self.rng.randint(0, 11)
        if r <= 3:
            return self.num(a)
        if r == 4:
            return f"upper({a}.s)"
        if r == 5:
            return f"({a}.s || '-' || cast({a}.k as varchar))"
        if r == 6:
            return f"length({a}.s)"
        if r == 7:
            return f"{a}.st['a']"
        if r == 8:
            self.df_only()  # DataFusion rounds a decimal through a double
            return f"round({a}.d * 1.5, 1)"
        if r == 9:
            return f"({a}.dt + interval '3 days')"
        if r == 10:
            return self.time_expr(a)
        return f"({a}.b and {a}.k > 2)"

    def time_expr(self, a: str) -> str:
        r = self.rng.randint(0, 3)
        if r == 0:
            return f"{a}.ts"
        self.df_only()  # time zones: DuckDB renders TIMESTAMPTZ in its own session zone
        if r == 1:
            return f"date_trunc('day', {a}.ts)"
        if r == 2:
            return f"extract(hour from {a}.ts)"
        return f"({a}.ts AT TIME ZONE '{self.pick(*TIME_ZONES)}')"

    def pred(self, a: str, depth: int = 0) -> str:
        r = self.rng.randint(0, 10 if depth < 2 else 7)
        if r == 0:
            return f"{a}.k = {self.rng.randint(0, 7)}"
        if r == 1:
            return f"{a}.i {self.pick('<', '<=', '>', '>=', '<>')} {self.rng.randint(-10, 10)}"
        if r == 2:
            return f"{a}.{self.pick(*NUMERIC)} is {self.pick('', 'not ')}null"
        if r == 3:
            return f"{a}.f between {self.rng.randint(-50, 0)} and {self.rng.randint(0, 50)}"
        if r == 4:
            return f"{a}.s like '{self.pick('a%', '%b%', '_', '%')}'"
        if r == 5:
            return f"{a}.k in ({self.rng.randint(0, 7)}, {self.rng.randint(0, 7)}, null)"
        if r == 6:
            return f"{a}.d > {self.rng.randint(-500, 500)}.5"
        if r == 7:
            return f"{a}.st['a'] = {self.rng.randint(0, 3)}"
        if r == 8:
            return f"not ({self.pred(a, depth + 1)})"
        joiner = self.pick("and", "or")
        return f"({self.pred(a, depth + 1)} {joiner} {self.pred(a, depth + 1)})"

    # ---- query shapes ----------------------------------------------------------------

    def source(self, t: str) -> str:
        """A table, or a derived table over it (a LIMIT or a filter inside a subquery)."""
        r = self.rng.randint(0, 9)
        if r == 0:
            return f"(select * from {t} order by id limit {self.rng.randint(0, 30)})"
        if r == 1:
            return f"(select * from {t} x where {self.pred('x')})"
        if r == 2:
            return f"(with w as (select * from {t}) select * from w)"
        return t

    def from_clause(self) -> tuple[str, list[str]]:
        """A FROM clause and the aliases it exposes."""
        t1, t2 = self.rng.sample(TABLES, 2)
        r = self.rng.randint(0, 9)
        if r <= 3:
            return f"{self.source(t1)} a", ["a"]
        kind = self.pick("join", "left join", "right join", "full join", "join")
        on = "on a.k = b.k"
        if self.chance(0.3):
            on += f" and {self.pred('b')}"
        if self.chance(0.15):
            on = "on a.k is not distinct from b.k"
        elif kind == "join" and self.chance(0.2):
            on = "using (k)"
        frm = f"{self.source(t1)} a {kind} {self.source(t2)} b {on}"
        if r == 9:
            # a third table, or the first one again (self-join: equal column names)
            t3 = self.pick(*TABLES)
            frm += f" {self.pick('join', 'left join')} {self.source(t3)} c on c.k = b.k"
            return frm, ["a", "b", "c"]
        return frm, ["a", "b"]

    def where(self, aliases: list[str]) -> str:
        parts = []
        if self.chance(0.6):
            parts.append(self.pred(self.pick(*aliases)))
        if self.chance(0.25):
            parts.append(self.semi(aliases[0]))
        return (" where " + " and ".join(parts)) if parts else ""

    def semi(self, a: str) -> str:
        """A semi or anti join written as a subquery."""
        t = self.pick(*TABLES)
        r = self.rng.randint(0, 4)
        if r == 4:
            return f"{a}.i > (select avg(x.i) from {t} x where x.k = {a}.k)"
        if r == 0:
            return f"exists (select 1 from {t} x where x.k = {a}.k and {self.pred('x')})"
        if r == 1:
            return f"not exists (select 1 from {t} x where x.k = {a}.k)"
        if r == 2:
            return f"{a}.k in (select x.k from {t} x where {self.pred('x')})"
        return f"{a}.i not in (select x.i from {t} x where {self.pred('x')})"

    def plain(self) -> tuple[str, int]:
        frm, aliases = self.from_clause()
        cols = [self.scalar(self.pick(*aliases)) for _ in range(self.rng.randint(1, 4))]
        if self.chance(0.2):
            t = self.pick(*TABLES)
            cols.append(f"(select count(*) from {t} x where x.k = {aliases[0]}.k)")
        distinct = "distinct " if self.chance(0.15) else ""
        return f"select {distinct}{self._named(cols)} from {frm}{self.where(aliases)}", len(cols)

    def aggregate(self) -> tuple[str, int]:
        frm, aliases = self.from_clause()
        keys = [f"{self.pick(*aliases)}.{self.pick('k', 's', 'b', 'dt')}"]
        if self.chance(0.3):
            keys.append(f"{self.pick(*aliases)}.{self.pick('k', 'b')}")
        keys = list(dict.fromkeys(keys))
        aggs = [self.agg(self.pick(*aliases)) for _ in range(self.rng.randint(1, 4))]
        having = ""
        if self.chance(0.3):
            having = f" having count(*) > {self.rng.randint(0, 3)}"
        group = ", ".join(keys)
        if len(keys) == 2 and self.chance(0.5):
            k1, k2 = keys
            group = self.pick(
                f"rollup ({k1}, {k2})",
                f"cube ({k1}, {k2})",
                f"grouping sets (({k1}, {k2}), ({k1}), ())",
            )
        if self.chance(0.2):
            aggs.append(f"sum(count(*)) over (order by {keys[0]} asc nulls first)")
        sql = f"select {self._named(keys + aggs)} from {frm}{self.where(aliases)} group by {group}{having}"
        return sql, len(keys) + len(aggs)

    def agg(self, a: str) -> str:
        col = f"{a}.{self.pick(*NUMERIC)}"
        r = self.rng.randint(0, 10)
        if r == 0:
            out = "count(*)"
        elif r == 1:
            out = f"count(distinct {a}.{self.pick('k', 's', 'i')})"
        elif r == 2:
            out = f"sum(distinct {col})"
        elif r == 3:
            out = f"min({a}.{self.pick('s', 'dt', 'ts', 'd')})"
        elif r == 4:
            out = f"max({col})"
        elif r == 5:
            out = f"avg({a}.{self.pick('f', 'd')})"
        elif r == 6:
            out = f"count({a}.{self.pick('s', 'st', 'f')})"
        elif r == 7:
            out = self.pick(
                f"bool_and({a}.b)",
                f"string_agg({a}.s, ',' order by {a}.s asc nulls first, {a}.id)",
                f"stddev({a}.f)",
            )
        elif r == 9 and self.chance(0.3):
            self.df_only()  # DataFusion's median of integers is an integer
            out = f"median({a}.i)"
        elif r == 8:
            self.df_only()  # DuckDB's array_agg returns a different list type
            out = f"array_agg({a}.i order by {a}.i asc nulls first, {a}.id)"
        else:
            out = f"sum({col})"
        if self.chance(0.3) and not out.startswith("array_agg"):
            out += f" filter (where {self.pred(a)})"
        return out

    def distinct_on(self) -> tuple[str, int]:
        t = self.pick(*TABLES)
        key = self.pick("k", "s", "b")
        cols = [f"a.{key}", "a.id", self.scalar("a")]
        order = f"order by a.{key} {self.direction()}, a.id {self.pick('asc', 'desc')}"
        sql = f"select distinct on (a.{key}) {self._named(cols)} from {self.source(t)} a{self.where(['a'])} {order}"
        return sql, len(cols)

    def window(self) -> tuple[str, int]:
        t = self.pick(*TABLES)
        part = f"partition by a.{self.pick('k', 'b', 's')} " if self.chance(0.7) else ""
        cols = ["a.id", self.scalar("a")]
        for _ in range(self.rng.randint(1, 3)):
            cols.append(self.window_call(part))
        sql = f"select {self._named(cols)} from {t} a{self.where(['a'])}"
        return sql, len(cols)

    def window_call(self, part: str) -> str:
        r = self.rng.randint(0, 9)
        # explicit NULLS FIRST/LAST: the engines' defaults differ for DESC
        rows_order = f"order by a.{self.pick('i', 'k', 'f')} {self.direction()}, a.id"
        if r == 0:
            fn = self.pick("row_number()", "ntile(3)", f"nth_value(a.i, {self.rng.randint(1, 3)})")
            frame = f" {self.rows_frame()}" if fn.startswith("nth") else ""
            return f"{fn} over ({part}{rows_order}{frame})"
        if r == 1:
            fn = self.pick("rank", "dense_rank", "percent_rank", "cume_dist")
            return f"{fn}() over ({part}order by a.{self.pick('i', 'k')} {self.direction()})"
        if r == 2:
            fn = self.pick("lag", "lead")
            offset = self.rng.randint(1, 3)
            call = f"{fn}(a.{self.pick('i', 's', 'd')}, {offset})"
            if self.chance(0.3):
                self.df_only()
                call += " ignore nulls"
            return f"{call} over ({part}{rows_order})"
        if r == 3:
            fn = self.pick("first_value", "last_value")
            call = f"{fn}(a.{self.pick('i', 's')})"
            if self.chance(0.3):
                self.df_only()
                call += " ignore nulls"
            frame = self.rows_frame()
            return f"{call} over ({part}{rows_order} {frame})"
        if r in (4, 5):
            fn = self.agg_fn()
            return f"{fn} over ({part}{rows_order} {self.rows_frame()})"
        if r in (6, 7):
            # RANGE with offsets: one numeric order key; only peer-insensitive aggregates
            fn = self.agg_fn()
            key = self.pick("i", "k", "d")
            lo = self.pick(
                "unbounded preceding", f"{self.rng.randint(1, 5)} preceding", "current row"
            )
            hi = self.pick(
                "current row", f"{self.rng.randint(1, 5)} following", "unbounded following"
            )
            if lo == "current row" and "preceding" in hi:
                hi = "current row"
            order = f"order by a.{key} {self.direction()}"
            return f"{fn} over ({part}{order} range between {lo} and {hi})"
        if r == 8:
            self.df_only()  # FILTER and DISTINCT in a window aggregate
            pred = self.pred("a")
            fn = self.pick(f"count(*) filter (where {pred})", "count(distinct a.k)")
            return f"{fn} over ({part.strip() or 'partition by a.b'})"
        return f"{self.agg_fn()} over ({part.strip()})"

    def direction(self) -> str:
        return f"{self.pick('asc', 'desc')} nulls {self.pick('first', 'last')}"

    def agg_fn(self) -> str:
        return self.pick(
            "sum(a.i)", "count(*)", "count(a.s)", "min(a.d)", "max(a.f)", "avg(a.i)", "sum(a.f)"
        )

    def rows_frame(self) -> str:
        lo = self.pick("unbounded preceding", f"{self.rng.randint(1, 3)} preceding", "current row")
        hi = self.pick("current row", f"{self.rng.randint(0, 3)} following", "unbounded following")
        if lo == "current row" and hi == "current row":
            hi = "unbounded following"
        return f"rows between {lo} and {hi}"

    @staticmethod
    def _named(exprs: list[str]) -> str:
        return ", ".join(f"{e} as c{j}" for j, e in enumerate(exprs))


def case(seed: int) -> Case:
    """The query for ``seed``, over :func:`tables` of the same batch."""
    g = _Gen(seed)
    shape = g.rng.randint(0, 10)
    if shape <= 2:
        body, n = g.plain()
    elif shape <= 5:
        body, n = g.aggregate()
    elif shape <= 8:
        body, n = g.window()
    elif shape == 9:
        body, n = _set_op(g)
    else:
        body, n = g.distinct_on()
    ordered = g.chance(0.6)
    sql = body
    if ordered:
        keys = ", ".join(
            f"{j + 1} {g.pick('asc', 'desc')} nulls {g.pick('first', 'last')}" for j in range(n)
        )
        sql = f"select * from ({body}) q order by {keys}"
        if g.chance(0.5):
            sql += f" limit {g.rng.randint(0, 20)}"
            if g.chance(0.3):
                sql += f" offset {g.rng.randint(1, 5)}"
    settings: tuple[str, ...] = ()
    if g.chance(0.15):
        g.df_only()
        settings = (f"SET TIME ZONE = '{g.pick(*TIME_ZONES)}'",)
    return Case(seed=seed, sql=sql, ordered=ordered, duckdb=g.portable, settings=settings)


def _set_op(g: _Gen) -> tuple[str, int]:
    op = g.pick("union all", "union", "intersect", "except")
    n = g.rng.randint(1, 2)
    sides = []
    for _ in range(2):
        t = g.pick(*TABLES)
        cols = [f"cast(a.{g.pick('k', 'i', 's', 'dt')} as varchar) as c{j}" for j in range(n)]
        where = f" where {g.pred('a')}" if g.chance(0.5) else ""
        sides.append(f"select {', '.join(cols)} from {t} a{where}")
    return f"select * from (({sides[0]}) {op} ({sides[1]})) u", n


#: settings a case may change, and how to undo them
RESETS = ("RESET datafusion.execution.time_zone",)


def main(argv: list[str]) -> int:
    for arg in argv or ["0"]:
        c = case(int(arg))
        print(f"-- {c.id} ordered={c.ordered} duckdb={c.duckdb}")
        for s in c.settings:
            print(s + ";")
        print(c.sql + ";")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
