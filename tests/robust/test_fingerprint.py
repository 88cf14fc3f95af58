"""The content fingerprint the cluster client keeps shipped frames by: every change of
content changes it (one cell, written any way pandas allows), and the same content gives
the same fingerprint. Kinds it cannot hash safely get none (shipped every time)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from sqlweave import fingerprint


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, 2.5, np.nan],
            "s": ["x", "y", "z"],  # pandas 3: Arrow-backed "str"
            "o": pd.Series(["x", "y", "z"], dtype=object),
            "c": pd.Categorical(["x", "y", "x"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "t": pd.date_range("2024-01-01", periods=3, tz="America/New_York"),
            "d": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "a": pd.Series([1, 2, 3], dtype=pd.ArrowDtype(pa.int64())),
        }
    )


#: one-cell changes that keep the frame object (and, for most, its buffers)
CHANGES = {
    "loc-int": lambda df: df.loc.__setitem__((0, "i"), 7),
    "array-int": lambda df: df["i"].array.__setitem__(0, 7),
    "array-float": lambda df: df["f"].array.__setitem__(2, 0.0),
    "array-str": lambda df: df["s"].array.__setitem__(1, "w"),
    "array-object": lambda df: df["o"].array.__setitem__(1, "w"),
    "categorical-code": lambda df: df.loc.__setitem__((0, "c"), "y"),
    "categorical-renamed": lambda df: df.__setitem__(
        "c", df["c"].cat.rename_categories(["p", "q"])
    ),
    "nullable-value": lambda df: df.loc.__setitem__((1, "n"), 2),
    "nullable-to-null": lambda df: df.loc.__setitem__((0, "n"), None),
    "boolean": lambda df: df["b"].array.__setitem__(1, True),
    "tz-datetime": lambda df: df.loc.__setitem__((0, "t"), pd.Timestamp("2020-01-01", tz="UTC")),
    "naive-datetime": lambda df: df.loc.__setitem__((2, "d"), pd.Timestamp("2020-01-01")),
    "arrow-dtype": lambda df: df["a"].array.__setitem__(0, 9),
    "renamed-column": lambda df: setattr(df, "columns", ["j", *df.columns[1:]]),
    "retyped-column": lambda df: df.__setitem__("i", df["i"].astype("float64")),
    "row-added": lambda df: df.loc.__setitem__(3, df.loc[0]),
}


def test_same_content_same_fingerprint() -> None:
    assert fingerprint.of(_frame()) == fingerprint.of(_frame())
    assert fingerprint.of(_frame()).startswith("pandas:")


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_every_one_cell_change_changes_it(change) -> None:
    df = _frame()
    before = fingerprint.of(df)
    assert fingerprint.of(df) == before  # stable while nothing changes
    change(df)
    assert fingerprint.of(df) != before


def test_a_write_through_numpy_memory_an_arrow_column_wraps_is_seen() -> None:
    # pa.array(numpy) does not copy: the "immutable" Arrow column changes with the array
    data = np.arange(5, dtype=np.int64)
    df = pd.DataFrame({"a": pd.arrays.ArrowExtensionArray(pa.array(data))})
    before = fingerprint.of(df)
    data[3] = 99
    assert df["a"].iloc[3] == 99
    assert fingerprint.of(df) != before


def test_bytes_moved_between_strings_are_seen() -> None:
    # the same characters, split differently: only the offsets differ
    assert fingerprint.of(pa.table({"s": ["ab", "c"]})) != fingerprint.of(
        pa.table({"s": ["a", "bc"]})
    )


def test_slices_of_one_buffer_differ() -> None:
    t = pa.table({"a": list(range(10))})
    assert fingerprint.of(t.slice(0, 5)) != fingerprint.of(t.slice(5, 5))


def test_dictionary_values_count_not_only_the_codes() -> None:
    codes = pa.array([0, 1, 0], pa.int32())
    one = pa.DictionaryArray.from_arrays(codes, pa.array(["a", "b"]))
    other = pa.DictionaryArray.from_arrays(codes, pa.array(["x", "b"]))
    assert fingerprint.of(pa.table({"d": one})) != fingerprint.of(pa.table({"d": other}))
    # polars categoricals are dictionaries too
    a = pl.DataFrame({"c": ["a", "b", "a"]}, schema={"c": pl.Categorical})
    b = pl.DataFrame({"c": ["x", "b", "x"]}, schema={"c": pl.Categorical})
    assert fingerprint.of(a) != fingerprint.of(b)


def test_what_it_cannot_hash_safely_has_no_fingerprint() -> None:
    nested = pa.array([["a"], ["b"]], pa.list_(pa.dictionary(pa.int8(), pa.string())))
    assert fingerprint.of(pa.table({"l": nested})) is None  # a dictionary inside a list
    mixed = pd.DataFrame({"m": pd.Series([1, "x"], dtype=object)})  # Arrow cannot convert it
    assert fingerprint.of(mixed) is None
    assert fingerprint.of(pl.DataFrame({"a": [1]}).lazy()) is None
