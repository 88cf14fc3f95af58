"""Row estimates: how many rows a scan, filter, aggregate or join is expected to yield.

The catalog knows each table's row count (from parquet metadata, in-memory partitions or
:meth:`~sqlweave.cluster.catalog.Catalog.add_statistics`); there are no column statistics,
so a filter or a grouped aggregate is guessed to keep half of its input. The join rules
compare these estimates to choose between broadcasting a side and hash-shuffling both.

>>> from sqlweave.cluster.catalog import Catalog
>>> import pyarrow as pa
>>> catalog = Catalog()
>>> _ = catalog.add_statistics("t", pa.schema([("k", pa.int64())]), rows=1_000)
>>> table_rows(catalog, ["t", "t"]), filtered(1_000), groups(1), selectivity(250, 1_000)
(1000, 500, 1, 0.25)
"""

from __future__ import annotations

from collections.abc import Iterable

from ..catalog import Catalog


def table_rows(catalog: Catalog, tables: Iterable[str]) -> int:
    """Rows in all of ``tables`` (each counted once)."""
    return sum(catalog[t].rows for t in dict.fromkeys(tables))


def filtered(rows: int) -> int:
    """Rows left after a filter, guessed (no statistics): half."""
    return max(1, rows // 2)


def groups(rows: int) -> int:
    """Groups of a grouped aggregate over ``rows`` rows, guessed (no statistics): half."""
    return max(1, rows // 2)


def selectivity(rows: int, base_rows: int) -> float:
    """The fraction of its ``base_rows`` unfiltered rows a pipeline of ``rows`` keeps
    (1 when the unfiltered count is unknown, 0)."""
    return min(1.0, rows / base_rows) if base_rows else 1.0


def kept(rows: int, fraction: float) -> int:
    """``rows`` scaled by ``fraction``, at least one: a join on a key of a side that keeps
    ``fraction`` of its rows keeps that share of the other side."""
    return max(1, round(rows * fraction))
