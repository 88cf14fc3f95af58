"""Which notebooks may start now: the runner's decisions, apart from any I/O.

The runner feeds it outcomes and asks for ready notebooks; tests drive it directly.

>>> d = Dispatch({"a": (), "b": ("a",), "c": ("a",), "d": ("b",)})
>>> d.take_ready()
['a']
>>> d.fail("a")
['b', 'c', 'd']
>>> d.done
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx


class Dispatch:
    """Tracks the notebooks of one run.

    Args:
        upstream: notebook -> the notebooks it waits for, in run order; upstreams that are
            not keys (not part of this run) count as done.
        limit: at most this many running at once (``None``: no limit).
    """

    def __init__(self, upstream: Mapping[str, Iterable[str]], limit: int | None = None) -> None:
        self.order = list(upstream)
        self.limit = limit
        self._graph = nx.DiGraph()
        self._graph.add_nodes_from(self.order)
        for key, ups in upstream.items():
            self._graph.add_edges_from((u, key) for u in ups if u in upstream)
        self._waiting = set(self.order)
        self.running: set[str] = set()
        self.succeeded: set[str] = set()
        self.failures: set[str] = set()
        self.blocked: dict[str, str] = {}  # notebook -> the failed upstream that blocked it

    @property
    def done(self) -> bool:
        return not self._waiting and not self.running

    def take_ready(self) -> list[str]:
        """Notebooks whose upstreams all succeeded, now marked running (up to ``limit``)."""
        ready = []
        for key in self.order:
            if self.limit is not None and len(self.running) >= self.limit:
                break
            if key in self._waiting and all(
                u in self.succeeded for u in self._graph.predecessors(key)
            ):
                self._waiting.discard(key)
                self.running.add(key)
                ready.append(key)
        return ready

    def succeed(self, key: str) -> None:
        self.running.discard(key)
        self.succeeded.add(key)

    def fail(self, key: str) -> list[str]:
        """``key`` failed for good; returns the notebooks it blocks, in run order."""
        self.running.discard(key)
        self.failures.add(key)
        below = nx.descendants(self._graph, key)
        newly = [k for k in self.order if k in below and k in self._waiting]
        for k in newly:
            self._waiting.discard(k)
            self.blocked[k] = key
        return newly
