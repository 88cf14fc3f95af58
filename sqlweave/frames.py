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
        return pa.Table.from_pandas(value, preserve_index=False)
    if module == "polars":
        if type(value).__name__ == "LazyFrame":
            value = value.collect()
        return value.to_arrow()
    if hasattr(value, "to_arrow") and not hasattr(value, "__arrow_c_stream__"):
        return value.to_arrow()
    return pa.table(value)
