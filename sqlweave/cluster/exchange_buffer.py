"""Shuffle data a worker holds for running queries, bounded in bytes.

Producers push each consumer partition to the worker that will read it; that worker
keeps the tables until the query is released. Time alone (the orphan TTL) does not
bound that memory: a wide shuffle can pile up gigabytes before any task reads it. An
:class:`ExchangeBuffer` counts the bytes it holds, and a table that would take it past
its limit is refused: the query's data is dropped at once (it cannot finish here
anyway) and :meth:`ExchangeBuffer.exceeded` names the limit for the query's tasks to
fail with. Other queries, and the worker, carry on.

>>> buf = ExchangeBuffer(limit_bytes=100)
>>> buf.put("q1", 1, 0, 0, pa.table({"x": [1, 2]}))  # 16 bytes
True
>>> buf.put("q2", 1, 0, 0, pa.table({"x": list(range(20))}))  # 160 bytes: refused
False
>>> buf.count(("q1", 1, 0)), buf.held, buf.exceeded("q2") is not None
(1, 16, True)
>>> buf.forget("q2"); buf.exceeded("q2") is None
True
"""

from __future__ import annotations

import os
from collections import OrderedDict

import pyarrow as pa

from .limits import EXCHANGE_BYTES_ENV, REMEMBERED_QUERIES, parse_bytes

#: (query id, stage, consumer partition)
Key = tuple[str, int, int]


def configured_limit() -> int:
    """``$SQLWEAVE_EXCHANGE_BYTES`` (e.g. ``512M``), else 2 GiB."""
    return parse_bytes(os.environ.get(EXCHANGE_BYTES_ENV, "2G"))


class ExchangeBuffer:
    """Received exchange partitions by key and producer, with a byte bound over all queries.

    Not thread-safe: the worker calls it under its own lock.
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self._parts: dict[Key, dict[int, pa.Table]] = {}
        self._bytes: dict[str, int] = {}
        #: queries refused for the limit -> the message their tasks fail with
        self._exceeded: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        """How many (query, stage, partition) keys have data here."""
        return len(self._parts)

    @property
    def held(self) -> int:
        """Bytes of shuffle data held, all queries together."""
        return sum(self._bytes.values())

    def put(
        self, query_id: str, stage: int, partition: int, producer: int, table: pa.Table
    ) -> bool:
        """Keep ``table`` unless it takes the buffer past its limit (then drop the query's
        data, remember why, and return False). Data of a refused query is dropped too."""
        if query_id in self._exceeded:
            return False
        key = (query_id, stage, partition)
        old = self._parts.get(key, {}).get(producer)  # a re-run producer replaces its part
        size = table.nbytes - (old.nbytes if old is not None else 0)
        if self.held + size > self.limit_bytes:
            held = self._bytes.get(query_id, 0)
            self.drop(query_id)
            self._exceeded[query_id] = (
                f"query exceeded the worker's exchange buffer limit of "
                f"{_mib(self.limit_bytes)} ({EXCHANGE_BYTES_ENV}): it held {_mib(held)} of "
                f"shuffle data and {_mib(table.nbytes)} more arrived; raise "
                f"{EXCHANGE_BYTES_ENV} or use more workers"
            )
            while len(self._exceeded) > REMEMBERED_QUERIES:
                self._exceeded.popitem(last=False)
            return False
        self._parts.setdefault(key, {})[producer] = table
        self._bytes[query_id] = self._bytes.get(query_id, 0) + size
        return True

    def count(self, key: Key) -> int:
        """How many producers' parts arrived for ``key``."""
        return len(self._parts.get(key, {}))

    def parts(self, key: Key) -> dict[int, pa.Table]:
        """The parts of ``key`` by producer."""
        return self._parts.get(key, {})

    def exceeded(self, query_id: str) -> str | None:
        """Why ``query_id``'s shuffle data was refused, if it was."""
        return self._exceeded.get(query_id)

    def drop(self, query_id: str) -> None:
        """Free the query's data (a refusal stays: its tasks must still hear why)."""
        for key in [k for k in self._parts if k[0] == query_id]:
            del self._parts[key]
        self._bytes.pop(query_id, None)

    def forget(self, query_id: str) -> None:
        """The query is over: drop its data and its refusal."""
        self.drop(query_id)
        self._exceeded.pop(query_id, None)


def _mib(n: int) -> str:
    """A byte count for people: ``_mib(256 << 10), _mib(3 << 29)`` -> 256 KiB, 1536.0 MiB."""
    return f"{n / 2**10:.0f} KiB" if n < 2**20 else f"{n / 2**20:.1f} MiB"
