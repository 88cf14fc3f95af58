"""A layered (Sugiyama-style) layout for small DAGs, left to right, in pure Python.

The passes, in order (:data:`PASSES`):

1. break cycles by reversing DFS back edges;
2. longest-path layering (every edge goes at least one layer right);
3. split long edges with dummy nodes, so edges bend around nodes;
4. barycentric crossing reduction, sweeping right then left, keeping the best order;
5. coordinates: layers side by side, nodes pulled toward their neighbours' centres
   while keeping their order and a minimum gap.

    >>> lay = layered_layout({"a": (40, 20), "b": (40, 20)}, [("a", "b")])
    >>> lay.boxes["a"].x < lay.boxes["b"].x
    True
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A node's rectangle: top-left corner and size."""

    x: float
    y: float
    width: float
    height: float

    @property
    def center(self) -> Point:
        return (self.x + self.width / 2, self.y + self.height / 2)


@dataclass(frozen=True)
class Route:
    """An edge as a polyline from the source's right side to the target's left side."""

    source: str
    target: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class Layout:
    boxes: Mapping[str, Box]
    routes: tuple[Route, ...]
    width: float
    height: float


@dataclass(frozen=True)
class Spacing:
    layer_gap: float = 48.0
    node_gap: float = 14.0
    margin: float = 12.0
    sweeps: int = 6


@dataclass
class _State:
    """Working data shared by the passes."""

    sizes: dict[str, tuple[float, float]]
    edges: list[tuple[str, str]]
    spacing: Spacing
    layer: dict[str, int]
    order: list[list[str]]
    chains: dict[tuple[str, str], list[str]]


def _acyclic(state: _State) -> None:
    """Reverse back edges found by an iterative DFS (visiting nodes in input order)."""
    succ: dict[str, list[str]] = defaultdict(list)
    for u, v in state.edges:
        succ[u].append(v)
    color: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    for root in state.sizes:
        if root in color:
            continue
        stack = [(root, iter(succ[root]))]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
            elif color.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in color:
                color[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    state.edges = [(v, u) if (u, v) in back else (u, v) for u, v in state.edges if u != v]


def _layers(state: _State) -> None:
    """Longest path from the sources: layer(v) = 1 + max layer of its predecessors."""
    pred: dict[str, list[str]] = defaultdict(list)
    for u, v in state.edges:
        pred[v].append(u)
    layer: dict[str, int] = {}

    def depth(n: str) -> int:
        stack = [n]
        while stack:
            top = stack[-1]
            todo = [p for p in pred[top] if p not in layer]
            if todo:
                stack.extend(todo)
                continue
            layer[top] = 1 + max((layer[p] for p in pred[top]), default=-1)
            stack.pop()
        return layer[n]

    for n in state.sizes:
        depth(n)
    succ: dict[str, list[str]] = defaultdict(list)
    for u, v in state.edges:
        succ[u].append(v)
    for n in state.sizes:  # sources sit just left of their first consumer, not at the far left
        if not pred[n] and succ[n]:
            layer[n] = min(layer[v] for v in succ[n]) - 1
    state.layer = layer


def _dummies(state: _State) -> None:
    """Replace each edge spanning k > 1 layers by a chain through k - 1 zero-size dummies."""
    edges: list[tuple[str, str]] = []
    for u, v in state.edges:
        span = state.layer[v] - state.layer[u]
        chain = [u]
        for i in range(1, span):
            d = f"\0{u}\0{v}\0{i}"
            state.sizes[d] = (0.0, 0.0)
            state.layer[d] = state.layer[u] + i
            chain.append(d)
        chain.append(v)
        state.chains[(u, v)] = chain
        edges.extend(itertools.pairwise(chain))
    state.edges = edges
    width = 1 + max(state.layer.values(), default=-1)
    state.order = [[] for _ in range(width)]
    for n in state.sizes:  # input order is the initial order
        state.order[state.layer[n]].append(n)


def _crossings(order: list[list[str]], succ: Mapping[str, list[str]]) -> int:
    total = 0
    for left, right in itertools.pairwise(order):
        pos = {n: i for i, n in enumerate(right)}
        ends = [(i, pos[v]) for i, u in enumerate(left) for v in succ[u] if v in pos]
        total += sum(
            1
            for a in range(len(ends))
            for b in range(a + 1, len(ends))
            if (ends[a][0] - ends[b][0]) * (ends[a][1] - ends[b][1]) < 0
        )
    return total


def _reduce_crossings(state: _State) -> None:
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for u, v in state.edges:
        succ[u].append(v)
        pred[v].append(u)
    best = [list(layer) for layer in state.order]
    best_count = _crossings(best, succ)
    order = [list(layer) for layer in best]
    for sweep in range(state.spacing.sweeps):
        forward = sweep % 2 == 0
        indices = range(1, len(order)) if forward else range(len(order) - 2, -1, -1)
        for i in indices:
            ref = order[i - 1] if forward else order[i + 1]
            pos = {n: k for k, n in enumerate(ref)}
            nbrs = pred if forward else succ

            def bary(n: str, k: int, pos: dict[str, int] = pos, nbrs: dict = nbrs) -> float:
                ps = [pos[m] for m in nbrs[n] if m in pos]
                return sum(ps) / len(ps) if ps else float(k)

            order[i] = [n for _, n in sorted(((bary(n, k), k), n) for k, n in enumerate(order[i]))]
        count = _crossings(order, succ)
        if count < best_count:
            best, best_count = [list(layer) for layer in order], count
    state.order = best


def _place(state: _State) -> Layout:
    sp = state.spacing
    neighbours: dict[str, list[str]] = defaultdict(list)
    for u, v in state.edges:
        neighbours[u].append(v)
        neighbours[v].append(u)
    xs: list[float] = []
    x = sp.margin
    for layer in state.order:
        xs.append(x)
        x += max((state.sizes[n][0] for n in layer), default=0) + sp.layer_gap
    ys: dict[str, float] = {}  # centre y
    for layer in state.order:  # first: stacked
        y = sp.margin
        for n in layer:
            h = state.sizes[n][1]
            ys[n] = y + h / 2
            y += h + sp.node_gap
    for _ in range(4):  # then: pulled toward neighbours, order kept, gaps kept
        for layer in state.order:
            want = [
                sum(ys[m] for m in neighbours[n]) / len(neighbours[n]) if neighbours[n] else ys[n]
                for n in layer
            ]
            _pack(layer, want, state.sizes, sp.node_gap, ys)
    top = min((ys[n] - state.sizes[n][1] / 2 for n in ys), default=sp.margin)
    shift = sp.margin - top
    boxes = {}
    for i, layer in enumerate(state.order):
        width = max((state.sizes[n][0] for n in layer), default=0)
        for n in layer:
            w, h = state.sizes[n]
            boxes[n] = Box(xs[i] + (width - w) / 2, ys[n] + shift - h / 2, w, h)
    routes = []
    for (u, v), chain in state.chains.items():
        bu, bv = boxes[u], boxes[v]
        pts = [(bu.x + bu.width, bu.center[1])]
        pts += [boxes[d].center for d in chain[1:-1]]
        pts.append((bv.x, bv.center[1]))
        routes.append(Route(u, v, tuple(pts)))
    real = {n: b for n, b in boxes.items() if not n.startswith("\0")}
    width = max((b.x + b.width for b in real.values()), default=0) + sp.margin
    height = max((b.y + b.height for b in boxes.values()), default=0) + sp.margin
    return Layout(real, tuple(routes), width, height)


def _pack(
    layer: list[str],
    want: list[float],
    sizes: Mapping[str, tuple[float, float]],
    gap: float,
    ys: dict[str, float],
) -> None:
    """Place centres as close to ``want`` as the order and the gaps allow (two passes)."""
    n = len(layer)
    pos = list(want)
    for i in range(1, n):  # push down what overlaps its upper neighbour
        low = pos[i - 1] + (sizes[layer[i - 1]][1] + sizes[layer[i]][1]) / 2 + gap
        pos[i] = max(pos[i], low)
    excess = [pos[i] - want[i] for i in range(n)]
    lift = sum(excess) / n if n else 0.0  # then share the displacement evenly
    pos = [p - lift for p in pos]
    for i in range(1, n):
        low = pos[i - 1] + (sizes[layer[i - 1]][1] + sizes[layer[i]][1]) / 2 + gap
        pos[i] = max(pos[i], low)
    for name, p in zip(layer, pos):
        ys[name] = p


PASSES = (_acyclic, _layers, _dummies, _reduce_crossings)


def layered_layout(
    sizes: Mapping[str, tuple[float, float]],
    edges: Iterable[tuple[str, str]],
    spacing: Spacing | None = None,
) -> Layout:
    """Lay out nodes (``id -> (width, height)``) and edges left to right.

    Edges whose ends are unknown are ignored; cycles are drawn with a back edge.
    """
    sizes = dict(sizes)
    kept = [(u, v) for u, v in dict.fromkeys(edges) if u in sizes and v in sizes]
    state = _State(sizes, kept, spacing or Spacing(), {}, [], {})
    original = list(kept)
    for step in PASSES:
        step(state)
    layout = _place(state)
    # routes were built on the acyclic edges: give reversed ones their real direction
    routes = {(r.source, r.target): r for r in layout.routes}
    fixed = []
    for u, v in dict.fromkeys(original):
        if u == v:
            continue
        if (u, v) in routes:
            fixed.append(routes[(u, v)])
        elif (v, u) in routes:
            r = routes[(v, u)]
            fixed.append(Route(u, v, tuple(reversed(r.points))))
    return Layout(layout.boxes, tuple(fixed), layout.width, layout.height)
