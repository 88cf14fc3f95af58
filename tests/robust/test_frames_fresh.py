"""A notebook DataFrame changed in place between two statements is seen by the next one
on every engine (the cluster keeps shipped frames by content fingerprint)."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import sqlweave
from sqlweave import fingerprint


def _total(s: sqlweave.Session, ns: dict) -> float:
    return s.sql("SELECT sum(dep_delay) AS d FROM flights", namespace=ns).to_arrow()[0][0].as_py()


def test_in_place_change_is_seen_on_every_engine(session: sqlweave.Session) -> None:
    flights = pd.DataFrame(
        {"carrier": ["UA", "AA", "DL"] * 1000, "dep_delay": [1.0, 2.0, 3.0] * 1000}
    )
    ns = {"flights": flights}
    assert _total(session, ns) == 6000.0
    assert _total(session, ns) == 6000.0  # the cluster now uses its kept copy
    flights.loc[1234, "dep_delay"] = 1002.0  # one cell, in place: same object, same buffers
    assert _total(session, ns) == 7000.0
    flights.loc[7, "carrier"] = "ZZ"  # a string cell
    got = session.sql("SELECT count(*) AS n FROM flights WHERE carrier = 'ZZ'", namespace=ns)
    assert got.to_arrow().to_pylist() == [{"n": 1}]


#: ways to change a DataFrame in place between two statements (same object each time)
IN_PLACE = {
    "loc-number": lambda df: df.loc.__setitem__((2, "a"), 9),
    # writes straight into the column's buffer, past pandas' copy-on-write
    "array-number": lambda df: df["a"].array.__setitem__(2, 9),
    "array-str": lambda df: df["s"].array.__setitem__(2, "w"),
    "array-object": lambda df: df["o"].array.__setitem__(2, "w"),
    "column-replaced": lambda df: df.__setitem__("a", df["a"] + pd.Series([0, 0, 6])),
    "row-added": lambda df: df.loc.__setitem__(3, [0, "w", "w"]),
}


@pytest.mark.parametrize("change", IN_PLACE.values(), ids=IN_PLACE.keys())
def test_every_kind_of_in_place_change_is_seen(session: sqlweave.Session, change) -> None:
    df = pd.DataFrame(
        {"a": [1, 2, 3], "s": ["x", "y", "z"], "o": pd.Series(["x", "y", "z"], dtype=object)}
    )
    ns = {"df": df}

    def answer() -> dict:
        got = session.sql(
            "SELECT sum(a) AS a, count(*) AS n FROM df WHERE s = 'w' OR o = 'w' OR a = 9",
            namespace=ns,
        )
        return got.to_arrow().to_pylist()[0]

    assert answer() == {"a": None, "n": 0}
    assert answer() == {"a": None, "n": 0}  # twice: the cluster now uses its kept copy
    change(df)
    assert answer()["n"] == 1


def test_a_catalog_table_wins_over_a_frame_of_its_name(session: sqlweave.Session) -> None:
    session.sql("CREATE TABLE flights AS SELECT 5.0 AS dep_delay")
    ns = {"flights": pd.DataFrame({"dep_delay": [1.0, 2.0]})}
    for _ in range(2):  # the cluster: shipped, then known
        r = session.sql("SELECT sum(dep_delay) AS d FROM flights", namespace=ns)
        assert r.to_arrow().to_pylist() == [{"d": 5.0}]
        assert r.notices == (
            "note: flights is the catalog table, not the notebook variable of the same name",
        )
    # the statements left the catalog table alone
    assert session.sql("SELECT count(*) AS n FROM flights").to_arrow().to_pylist() == [{"n": 1}]


def test_frames_are_not_left_in_the_catalog(session: sqlweave.Session) -> None:
    ns = {"flights": pd.DataFrame({"dep_delay": [1.0]})}
    _total(session, ns)
    _total(session, ns)
    assert "flights" not in session.tables()


@pytest.mark.parametrize(
    ("make", "change"),
    [
        (
            lambda: pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]}),
            lambda df: df.loc.__setitem__((2, "a"), 9),
        ),
        (
            lambda: pd.DataFrame({"s": pd.Series(["x", "y"], dtype=object)}),
            lambda df: df.loc.__setitem__((0, "s"), "w"),
        ),
        (
            lambda: pd.DataFrame({"c": pd.Categorical(["x", "y", "x"])}),
            lambda df: df.loc.__setitem__((0, "c"), "y"),
        ),
        (
            lambda: pd.DataFrame({"n": pd.array([1, None, 3], dtype="Int64")}),
            lambda df: df.loc.__setitem__((1, "n"), 2),
        ),
    ],
    ids=["numbers-and-str", "object", "categorical", "nullable-int"],
)
def test_fingerprint_sees_one_cell_change(make, change) -> None:
    df = make()
    before = fingerprint.of(df)
    assert fingerprint.of(df) == before  # stable while nothing changes
    change(df)
    assert fingerprint.of(df) != before


def test_fingerprint_of_arrow_and_polars() -> None:
    t = pa.table({"a": [1, 2, 3]})
    assert fingerprint.of(t) == fingerprint.of(pa.table({"a": [1, 2, 3]}))
    assert fingerprint.of(t) != fingerprint.of(pa.table({"a": [1, 2, 4]}))
    assert fingerprint.of(pl.DataFrame({"a": [1]})) != fingerprint.of(pl.DataFrame({"a": [2]}))
    assert fingerprint.of(pl.DataFrame({"a": [1]}).lazy()) is None  # shipped every time


def test_cluster_ships_an_unchanged_frame_once(local_cluster, monkeypatch) -> None:
    shipped: list[int] = []
    real = sqlweave.frames.to_arrow

    def counting(value):
        shipped.append(1)
        return real(value)

    monkeypatch.setattr(sqlweave.frames, "to_arrow", counting)
    s = sqlweave.Session(local_cluster)
    flights = pd.DataFrame({"dep_delay": [1.0, 2.0]})
    ns = {"flights": flights}
    for _ in range(3):
        assert _total(s, ns) == 3.0
    assert len(shipped) == 1
    flights.loc[0, "dep_delay"] = 5.0
    assert _total(s, ns) == 7.0
    assert len(shipped) == 2
    s.close()


def test_cluster_reads_datetime_and_dictionary_frames_right(local_cluster) -> None:
    s = sqlweave.Session(local_cluster)
    try:
        when = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-01-03"]), "v": [1, 2]})
        got = s.sql("SELECT max(t) AS t, sum(v) AS v FROM when_", namespace={"when_": when})
        assert got.to_arrow().to_pylist()[0]["v"] == 3
        # the same codes over other dictionary values: another table, not the kept copy
        codes = pa.array([0, 1, 0], pa.int32())
        for values, want in ((["a", "b"], "a"), (["x", "b"], "b")):
            table = pa.table({"c": pa.DictionaryArray.from_arrays(codes, pa.array(values))})
            got = s.sql("SELECT min(CAST(c AS VARCHAR)) AS c FROM d", namespace={"d": table})
            assert got.to_arrow().to_pylist() == [{"c": want}]
    finally:
        s.close()
