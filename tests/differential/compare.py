"""Compare two engines' answers to the same query.

The cluster must give exactly what embedded DataFusion gives: same column names, same
Arrow types (nullability aside), same rows, in the same order when the query orders them.
Floats compare with a relative tolerance because a distributed sum adds in another order.
Against DuckDB (:func:`diff_loose`) types are normalised first: the engines legitimately
type some results differently (see :func:`tpchdata.assert_same`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from decimal import Decimal
from typing import Any

import pyarrow as pa
import tpchdata

REL_TOL = 1e-6
ABS_TOL = 1e-9


def type_text(t: pa.DataType) -> str:
    """A type's text without nullability (``list<item: int64 not null>`` == ``list<item: int64>``)."""
    return str(t).replace(" not null", "")


def diff_strict(want: pa.Table, got: pa.Table, ordered: bool) -> str | None:
    """Why ``got`` is not ``want`` (names, types, rows, order), or None when it is."""
    if want.column_names != got.column_names:
        return f"column names {want.column_names} != {got.column_names}"
    wt = [type_text(f.type) for f in want.schema]
    gt = [type_text(f.type) for f in got.schema]
    if wt != gt:
        bad = [f"{n}: {a} != {b}" for n, a, b in zip(want.column_names, wt, gt) if a != b]
        return "types " + "; ".join(bad)
    return diff_rows(rows_of(want), rows_of(got), ordered)


def diff_loose(want: pa.Table, got: pa.Table, ordered: bool) -> str | None:
    """Like :func:`diff_strict` across engines: compatible types, values within tolerance."""
    try:
        tpchdata.assert_same(want, got, ordered=ordered, rel_tol=REL_TOL, check_names=False)
    except AssertionError as exc:
        return str(exc)
    return None


def rows_of(t: pa.Table) -> list[tuple[Any, ...]]:
    cols = [values_of(t.column(i)) for i in range(t.num_columns)]
    return list(zip(*cols)) if cols else [() for _ in range(t.num_rows)]


def values_of(col: pa.ChunkedArray) -> list[Any]:
    """Python values of a column; time-zoned timestamps become UTC instants.

    (The column types were compared already; Python needs tz data for zone names.)
    """
    plain = _without_tz(col.type)
    try:
        if plain != col.type:
            col = col.cast(plain)
        return col.to_pylist()
    except Exception:
        # pyarrow cannot hold some values in Python (interval_day_time, dates past 9999): the
        # column's IPC bytes stand for every row, so columns compare whole
        return [_opaque(col)] * len(col)


def _opaque(col: pa.ChunkedArray) -> str:
    sink = pa.BufferOutputStream()
    table = pa.table({"c": col})
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    digest = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:16]
    return f"<{col.type} column {digest}>"


_LISTS = (
    (pa.types.is_list, pa.list_),
    (pa.types.is_large_list, pa.large_list),
    (pa.types.is_list_view, pa.list_view),
    (pa.types.is_large_list_view, pa.large_list_view),
)


def _without_tz(t: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(t):
        return pa.timestamp(t.unit)
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_without_tz(f.type)) for f in t])
    for is_kind, make in _LISTS:
        if is_kind(t):
            return make(t.value_field.with_type(_without_tz(t.value_type)))
    if pa.types.is_fixed_size_list(t):
        return pa.list_(t.value_field.with_type(_without_tz(t.value_type)), t.list_size)
    if pa.types.is_map(t):
        return pa.map_(
            t.key_field.with_type(_without_tz(t.key_type)),
            t.item_field.with_type(_without_tz(t.item_type)),
        )
    return t


def diff_rows(want: list[tuple], got: list[tuple], ordered: bool) -> str | None:
    if len(want) != len(got):
        return f"{len(want)} rows != {len(got)} rows; first rows {want[:3]!r} vs {got[:3]!r}"
    if not ordered:
        want, got = sorted(want, key=sort_key), sorted(got, key=sort_key)
    for i, (w, g) in enumerate(zip(want, got)):
        if not same_value(w, g):
            where = f"row {i}" if ordered else f"row {i} (after sorting)"
            if ordered and _same_multiset(want, got):
                return f"order differs at {where}: {w!r} != {g!r}"
            return f"{where}: {w!r} != {g!r}"
    return None


def _same_multiset(want: list[tuple], got: list[tuple]) -> bool:
    return diff_rows(want, got, ordered=False) is None


def same_value(a: Any, b: Any) -> bool:
    """Equality with NULL == NULL, NaN == NaN and a relative tolerance for floats."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    return a == b


def sort_key(v: Any) -> tuple:
    """A total order over Python values of any Arrow type (NULL first; floats rounded)."""
    if v is None:
        return (0,)
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, (int, Decimal)):
        return (2, float(v), str(v))
    if isinstance(v, float):
        if math.isnan(v):
            return (3, 0.0)
        return (2, float(f"{v:.6g}"), "")
    if isinstance(v, str):
        return (4, v)
    if isinstance(v, bytes):
        return (5, v)
    if isinstance(v, dt.datetime):
        return (6, v.isoformat())
    if isinstance(v, (dt.date, dt.time, dt.timedelta)):
        return (6, str(v))
    if isinstance(v, (tuple, list)):
        return (7, tuple(sort_key(x) for x in v))
    if isinstance(v, dict):
        return (8, tuple((str(k), sort_key(x)) for k, x in v.items()))
    return (9, repr(v))
