"""Recognise notebook DataFrames and turn them into Arrow without copying where possible.

pandas and polars are optional: a DataFrame is recognised by the module its type comes from,
so neither library is imported unless the notebook already holds one of its frames.

>>> is_frame(pa.table({"x": [1]})), is_frame([1, 2]), is_frame(pa.Table)
(True, False, False)
>>> to_arrow(pa.record_batch({"x": [1, 2]})).num_rows
2
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: libraries whose DataFrames are tables, recognised without importing them
FRAME_LIBRARIES = ("pandas", "polars")
FRAME_TYPES = ("DataFrame", "LazyFrame")


#: the column of a pandas Series without a name, read as a table
SERIES_COLUMN = "value"


def library_of(value: Any) -> str:
    """The top-level package ``value``'s type comes from (``"pandas"`` for a pandas DataFrame)."""
    return type(value).__module__.split(".")[0]


def is_frame(value: Any) -> bool:
    """True for pandas/polars DataFrames, polars LazyFrames, Arrow tables, batches, readers
    and anything else speaking the Arrow PyCapsule stream protocol."""
    if isinstance(value, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return True
    if isinstance(value, type):
        return False
    if library_of(value) in FRAME_LIBRARIES and type(value).__name__ in FRAME_TYPES:
        return True
    return hasattr(value, "__arrow_c_stream__")


def to_arrow(value: Any) -> pa.Table:
    """An Arrow table for a frame-like ``value``.

    pandas goes through ``pyarrow.Table.from_pandas`` (numeric columns are not
    copied); polars, Arrow and PyCapsule producers are wrapped without copies.
    A ``RecordBatchReader`` is consumed.
    """
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if isinstance(value, pa.RecordBatchReader):
        return value.read_all()
    module = library_of(value)
    if module == "pandas":
        if type(value).__name__ == "Series":  # a one-column table
            value = value.to_frame(name=SERIES_COLUMN if value.name is None else value.name)
        # pandas' schema metadata is for round trips to pandas, which a query result is not
        return pa.Table.from_pandas(value, preserve_index=False).replace_schema_metadata(None)
    if module == "polars":
        if type(value).__name__ == "LazyFrame":
            value = value.collect()
        return value.to_arrow()
    if hasattr(value, "to_arrow") and not hasattr(value, "__arrow_c_stream__"):
        return value.to_arrow()
    return pa.table(value)


def schema_of(value: Any) -> pa.Schema:
    """The Arrow schema ``value`` reads as, without converting its rows where possible.

    >>> schema_of(pa.table({"x": [1]})).names
    ['x']
    """
    if isinstance(value, (pa.Table, pa.RecordBatch, pa.RecordBatchReader)):
        return value.schema
    module = library_of(value)
    if module == "pandas":
        if type(value).__name__ == "Series":
            value = value.to_frame(name=SERIES_COLUMN if value.name is None else value.name)
        return pa.Schema.from_pandas(value, preserve_index=False)
    if module == "polars":
        if type(value).__name__ == "LazyFrame":
            value = value.head(0).collect()
        return value.head(0).to_arrow().schema
    return to_arrow(value).schema


def column_names(value: Any) -> list[str] | None:
    """A DataFrame's column names as every engine reads them, without touching its rows:
    known only when they are unique strings (else None: engines name such columns their
    own way, so ask the engine).

    >>> column_names(pa.table({"x": [1], "y": [2]}))
    ['x', 'y']
    >>> column_names(pa.table([[1], [2]], names=["x", "x"])) is None
    True
    """
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        names = list(value.schema.names)
    elif library_of(value) in FRAME_LIBRARIES and type(value).__name__ == "DataFrame":
        names = list(value.columns)
    else:
        return None
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return None
    return names


def why_not_a_table(name: str, value: Any, exc: BaseException) -> str:
    """A short message saying why variable ``name`` could not be read as a table (``exc`` is
    what the conversion raised) and how to fix it: duplicate or mixed-type pandas columns.

    >>> import pandas as pd
    >>> why_not_a_table("df", pd.DataFrame({"a": [1, "x"]}), ValueError("..."))
    "column 'a' of DataFrame df mixes types (int, str): convert it, e.g. df.astype({'a': str})"
    """
    columns = getattr(value, "columns", None)
    if library_of(value) == "pandas" and columns is not None:
        duplicated = sorted({str(c) for c in columns[columns.duplicated()]})
        if duplicated:
            return (
                f"DataFrame {name} has duplicate column names ({', '.join(duplicated)}): "
                f"rename them, e.g. {name}.columns = [...]"
            )
        for column in columns:
            series = value[column]
            if series.dtype != object:
                continue
            # only on failure: a scan of the object columns is affordable then
            types = sorted({type(v).__name__ for v in series.dropna()})
            if len(types) > 1:
                return (
                    f"column {column!r} of DataFrame {name} mixes types ({', '.join(types)}): "
                    f"convert it, e.g. {name}.astype({{{column!r}: str}})"
                )
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{name} cannot be read as a table: {first}"
