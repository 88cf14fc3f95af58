"""The TPC-H kit of the benchmarks and tests: data, the 22 queries, result comparison.

Not part of the ``sqlweave`` package (a wheel has no ``bench/``): the bench scripts import it
from their own folder, the tests through pytest's ``pythonpath``. Data comes from
``tpchgen-cli`` (installed next to the Python interpreter) as parquet, one directory per
table; the benchmarks cache it in ``bench/.data``, the tests in a temporary directory. The
22 queries live next to this file in ``queries/tpch/qNN.sql`` and run unchanged on
DataFusion and DuckDB. Typical use::

    root = generate(tmp_dir, scale_factor=0.01, parts=2)
    session = sqlweave.Session()
    register_all(session, root)
    session.sql(queries()["q06"]).to_arrow()

>>> assert_same(pa.table({"x": [1, 2]}), pa.table({"x": [2.0, 1.0]}), ordered=False)
>>> assert_same(pa.table({"x": [1, 2]}), pa.table({"x": [2, 1]}), ordered=True)
Traceback (most recent call last):
AssertionError: column 'x' row 0: 1 != 2
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

#: the eight TPC-H tables, smallest first
TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")

_HERE = Path(__file__).resolve().parent
QUERY_DIR = _HERE / "queries" / "tpch"
#: the benchmarks' cache; tests always pass a temporary directory instead
DATA_DIR = _HERE / ".data"
_DONE = ".complete.json"


def tpchgen_cli() -> Path:
    """Path of the ``tpchgen-cli`` executable: next to ``sys.executable``, else on ``PATH``."""
    local = Path(sys.executable).parent / "tpchgen-cli"
    if local.exists():
        return local
    found = shutil.which("tpchgen-cli")
    if found is None:
        raise FileNotFoundError("tpchgen-cli not found: pip install tpchgen-cli")
    return Path(found)


def _sf_label(scale_factor: float) -> str:
    return f"{scale_factor:g}"


def generate(
    dir: str | os.PathLike[str] | None = None, scale_factor: float = 1, parts: int = 1
) -> Path:
    """Generate TPC-H parquet data (cached) and return its root directory.

    The result is ``<dir>/tpch-sf{sf}`` (``-p{parts}`` appended when ``parts > 1``)
    holding ``<table>/<table>.<n>.parquet``. A finished directory is marked with a
    small JSON file, so a second call with the same arguments returns at once.
    Generation goes into a temporary sibling renamed into place, so concurrent
    callers never see half-written data.

    Args:
        dir: parent directory; default ``bench/.data`` in the repository.
        scale_factor: TPC-H scale factor (1 = about 1 GB of raw data).
        parts: number of parquet files per table (small tables may get fewer).
    """
    parent = Path(dir) if dir is not None else DATA_DIR
    name = f"tpch-sf{_sf_label(scale_factor)}" + (f"-p{parts}" if parts > 1 else "")
    root = parent / name
    if (root / _DONE).exists():
        return root
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        subprocess.run(
            [
                str(tpchgen_cli()),
                "parquet",
                "--scale-factor",
                _sf_label(scale_factor),
                "--parts",
                str(parts),
                "--output-dir",
                str(tmp),
                "--quiet",
            ],
            check=True,
            capture_output=True,
        )
        (tmp / _DONE).write_text(json.dumps({"scale_factor": scale_factor, "parts": parts}))
        try:
            tmp.rename(root)
        except OSError:
            # another process finished first, or a stale unmarked dir is in the way
            if not (root / _DONE).exists():
                shutil.rmtree(root, ignore_errors=True)
                tmp.rename(root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return root


def table_paths(root: str | os.PathLike[str]) -> dict[str, Path]:
    """``{table: directory of its parquet files}`` for a :func:`generate` root."""
    root = Path(root)
    missing = [t for t in TABLES if not (root / t).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root} lacks TPC-H tables {missing}")
    return {t: root / t for t in TABLES}


def queries(dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The 22 TPC-H queries as ``{"q01": sql, ...}``, in order, without the trailing ``;``."""
    qdir = Path(dir) if dir is not None else QUERY_DIR
    return {p.stem: p.read_text().strip().rstrip(";").rstrip() for p in sorted(qdir.glob("q*.sql"))}


def register_all(target: Any, root: str | os.PathLike[str]) -> None:
    """Register the eight tables of ``root`` on a session, context or connection.

    ``target`` may be a ``sqlweave.Session`` (anything with ``register(name, path)``),
    a ``datafusion.SessionContext`` or a ``duckdb.DuckDBPyConnection`` (views over
    ``read_parquet``).
    """
    paths = table_paths(root)
    kind = type(target).__module__.split(".")[0]
    for name, path in paths.items():
        if kind == "datafusion":
            target.register_parquet(name, str(path))
        elif kind == "duckdb" or kind == "_duckdb":
            glob = str(path / "*.parquet").replace("'", "''")
            target.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet('{glob}')")
        else:
            target.register(name, str(path))


def is_ordered(sql: str) -> bool:
    """Whether the outermost query of ``sql`` has an ORDER BY (so row order is defined)."""
    import sqlglot

    return sqlglot.parse_one(sql, read="postgres").args.get("order") is not None


# ---------------------------------------------------------------------------
# result comparison


class _Kind(str, Enum):
    INT = "int"
    FLOAT = "float"
    STRING = "string"
    TEMPORAL = "temporal"
    BOOL = "bool"
    OTHER = "other"


def _kind(t: pa.DataType) -> _Kind:
    if pa.types.is_integer(t):
        return _Kind.INT
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return _Kind.FLOAT
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return _Kind.STRING
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return _Kind.TEMPORAL
    if pa.types.is_boolean(t):
        return _Kind.BOOL
    return _Kind.OTHER


# Engines legitimately differ in result *types* for the same values:
# - decimal vs double: DuckDB returns DOUBLE for avg(decimal) and decimal/decimal,
#   DataFusion keeps decimal128 with a widened precision;
# - integer widths: count() is int64 on both, but int32 vs int64 columns occur;
# - string_view (DataFusion, from the parquet files) vs string (DuckDB);
# - date vs timestamp: date_trunc/interval arithmetic return timestamp on DataFusion
#   and date on DuckDB.
# Values are compared after mapping each pair of columns to one common type; a decimal
# side facing a double contributes an absolute tolerance of one unit in its last place,
# because it was cut there while the double side was not (DataFusion's avg(decimal(15,2)) is a
# decimal(19,6) that truncates: 0.04775862... becomes 0.047758).
_COMMON = {
    _Kind.INT: pa.int64(),
    _Kind.FLOAT: pa.float64(),
    _Kind.STRING: pa.string(),
    _Kind.TEMPORAL: pa.timestamp("us"),
    _Kind.BOOL: pa.bool_(),
}


def _common_kind(ta: pa.DataType, tb: pa.DataType, name: str) -> _Kind:
    ka, kb = _kind(ta), _kind(tb)
    if ka == kb:
        return ka
    if {ka, kb} == {_Kind.INT, _Kind.FLOAT}:
        return _Kind.FLOAT
    raise AssertionError(f"column {name!r}: incompatible types {ta} vs {tb}")


def _normalise(col: pa.ChunkedArray, kind: _Kind) -> pa.ChunkedArray:
    if kind == _Kind.OTHER:
        return col
    target = _COMMON[kind]
    if kind == _Kind.TEMPORAL and pa.types.is_timestamp(col.type) and col.type.tz is not None:
        col = col.cast(pa.timestamp(col.type.unit))
    return col.cast(target)


def _pair_tol(ta: pa.DataType, tb: pa.DataType) -> float:
    """Absolute tolerance for a column typed ``ta`` on one side and ``tb`` on the other.

    Non-zero only where one side was cut at a decimal scale and the other was not (a
    double, or a finer decimal scale); exact pairs (int vs decimal, equal scales) get none.
    """
    da, db = pa.types.is_decimal(ta), pa.types.is_decimal(tb)
    if da and db:
        return 0.0 if ta.scale == tb.scale else 10.0 ** -min(ta.scale, tb.scale)
    if da and pa.types.is_floating(tb):
        return 10.0**-ta.scale
    if db and pa.types.is_floating(ta):
        return 10.0**-tb.scale
    return 0.0


def _sorted(t: pa.Table, kinds: list[_Kind]) -> pa.Table:
    # exact-valued columns first, so tiny float differences cannot reorder rows
    order = [i for i, k in enumerate(kinds) if k not in (_Kind.FLOAT, _Kind.OTHER)]
    order += [i for i, k in enumerate(kinds) if k == _Kind.FLOAT]
    if not order:
        return t
    keys = [(t.column_names[i], "ascending") for i in order]
    return t.take(pc.sort_indices(t, sort_keys=keys))


def _values_equal(x: Any, y: Any, rel_tol: float, abs_tol: float) -> bool:
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, float) or isinstance(y, float):
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return math.isclose(x, y, rel_tol=rel_tol, abs_tol=abs_tol)
    return x == y


def assert_same(
    a: pa.Table,
    b: pa.Table,
    ordered: bool,
    rel_tol: float = 1e-6,
    check_names: bool = True,
) -> None:
    """Assert that two query results hold the same values.

    Column types are normalised pairwise (see the comment above ``_COMMON``);
    floats compare with ``rel_tol`` (plus one unit in the last place of a decimal side);
    NULL equals only NULL and NaN equals NaN. When ``ordered`` is false, both
    sides are sorted on all columns first.

    Raises:
        AssertionError: naming the first differing column and row.
    """
    if a.num_columns != b.num_columns:
        raise AssertionError(
            f"column count {a.num_columns} != {b.num_columns}: {a.column_names} vs {b.column_names}"
        )
    if check_names:
        na = [n.lower() for n in a.column_names]
        nb = [n.lower() for n in b.column_names]
        if na != nb:
            raise AssertionError(f"column names differ: {a.column_names} vs {b.column_names}")
    if a.num_rows != b.num_rows:
        raise AssertionError(f"row count {a.num_rows} != {b.num_rows}")

    names = a.column_names
    kinds = [
        _common_kind(a.schema.field(i).type, b.schema.field(i).type, names[i])
        for i in range(a.num_columns)
    ]
    tols = [_pair_tol(a.schema.field(i).type, b.schema.field(i).type) for i in range(a.num_columns)]
    na_t = pa.table(
        [_normalise(a.column(i), k) for i, k in enumerate(kinds)],
        names=[f"c{i}" for i in range(len(kinds))],
    )
    nb_t = pa.table(
        [_normalise(b.column(i), k) for i, k in enumerate(kinds)],
        names=[f"c{i}" for i in range(len(kinds))],
    )
    if not ordered:
        na_t, nb_t = _sorted(na_t, kinds), _sorted(nb_t, kinds)

    for i, name in enumerate(names):
        xs, ys = na_t.column(i).to_pylist(), nb_t.column(i).to_pylist()
        for row, (x, y) in enumerate(zip(xs, ys)):
            if not _values_equal(x, y, rel_tol, tols[i]):
                raise AssertionError(
                    f"column {name!r} row {row}{'' if ordered else ' (after sorting)'}: {x!r} != {y!r}"
                )
