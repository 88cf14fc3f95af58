/**
 * Graph layout by dagre, at full size: the panel scrolls rather than shrinking labels below
 * their CSS size. Pure (no DOM): it runs in the layout worker (layoutWorker.ts) and, where
 * workers are not available, on the main thread.
 */
import dagre from '@dagrejs/dagre';

export interface ISize {
  id: string;
  width: number;
  height: number;
}

export interface IPlaced extends ISize {
  /** top-left corner */
  x: number;
  y: number;
}

export interface IPoint {
  x: number;
  y: number;
}

export interface IPlacedEdge {
  source: string;
  target: string;
  points: IPoint[];
}

export interface ILayout {
  nodes: Map<string, IPlaced>;
  edges: IPlacedEdge[];
  width: number;
  height: number;
}

/** Sources on the left ('LR', a wide panel) or on top ('TB', a narrow sidebar). */
export type Direction = 'LR' | 'TB';

export interface ILayoutRequest {
  nodes: ISize[];
  edges: { source: string; target: string }[];
  direction: Direction;
}

/**
 * Above this many nodes dagre ranks with "tight-tree" instead of "network-simplex": a few
 * longer edges, but ranking a 300-node graph drops from ~60% of the layout time to ~5%.
 */
export const TIGHT_TREE_ABOVE = 120;

export function layout(request: ILayoutRequest): ILayout {
  const { nodes, edges, direction } = request;
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: direction,
    nodesep: direction === 'LR' ? 10 : 14,
    ranksep: direction === 'LR' ? 32 : 22,
    edgesep: 6,
    marginx: 8,
    marginy: 8,
    ranker: nodes.length > TIGHT_TREE_ABOVE ? 'tight-tree' : 'network-simplex'
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) {
    g.setNode(n.id, { width: n.width, height: n.height });
  }
  for (const e of edges) {
    if (g.hasNode(e.source) && g.hasNode(e.target) && e.source !== e.target) {
      g.setEdge(e.source, e.target);
    }
  }
  dagre.layout(g);
  const placed = new Map<string, IPlaced>();
  for (const n of nodes) {
    const p = g.node(n.id);
    placed.set(n.id, { ...n, x: p.x - n.width / 2, y: p.y - n.height / 2 });
  }
  const out = g.edges().map(e => ({
    source: e.v,
    target: e.w,
    points: (g.edge(e).points ?? []) as IPoint[]
  }));
  const graph = g.graph();
  return { nodes: placed, edges: out, width: graph.width ?? 0, height: graph.height ?? 0 };
}

/** The key of a layout: it depends on the structure, the sizes and the direction only. */
export function layoutKey(request: ILayoutRequest): string {
  return JSON.stringify([
    request.direction,
    request.nodes.map(s => [s.id, s.width, s.height]),
    request.edges.map(e => [e.source, e.target])
  ]);
}

/**
 * A drawing of `request` right away, from an earlier layout of nearly the same graph (a
 * statement changed a few edges, or added a node): known nodes keep their place, edges
 * between unchanged ends keep their route, and a new node goes one rank past its inputs,
 * below what is there. The exact dagre layout follows from the worker and replaces it.
 * Null when too much changed for the old places to mean anything.
 */
export function provisional(request: ILayoutRequest, previous: ILayout): ILayout | null {
  const { nodes, edges, direction } = request;
  const fresh = nodes.filter(n => {
    const old = previous.nodes.get(n.id);
    return !old || old.width !== n.width || old.height !== n.height;
  });
  if (fresh.length > Math.max(2, nodes.length / 10)) {
    return null;
  }
  const wide = direction === 'LR';
  const placed = new Map<string, IPlaced>();
  for (const n of nodes) {
    const old = previous.nodes.get(n.id);
    if (old && !fresh.includes(n)) {
      placed.set(n.id, old);
    }
  }
  const inputs = new Map<string, string[]>();
  for (const e of edges) {
    inputs.set(e.target, [...(inputs.get(e.target) ?? []), e.source]);
  }
  let width = previous.width;
  let height = previous.height;
  for (const n of fresh) {
    const before = (inputs.get(n.id) ?? []).map(id => placed.get(id)).filter(p => !!p) as IPlaced[];
    const along = before.length
      ? Math.max(...before.map(p => (wide ? p.x + p.width : p.y + p.height))) + (wide ? 32 : 22)
      : 8;
    const across = (wide ? height : width) + 8;
    const box = wide
      ? { ...n, x: along, y: across }
      : { ...n, x: across, y: along };
    placed.set(n.id, box);
    width = Math.max(width, box.x + box.width + 8);
    height = Math.max(height, box.y + box.height + 8);
  }
  const routes = new Map(previous.edges.map(e => [`${e.source}\n${e.target}`, e]));
  const moved = new Set(fresh.map(n => n.id));
  const out: IPlacedEdge[] = [];
  const seen = new Set<string>();
  for (const e of edges) {
    const a = placed.get(e.source);
    const b = placed.get(e.target);
    const key = `${e.source}\n${e.target}`;
    if (!a || !b || e.source === e.target || seen.has(key)) {
      continue;
    }
    seen.add(key);
    const known = routes.get(key);
    if (known && !moved.has(e.source) && !moved.has(e.target)) {
      out.push(known);
      continue;
    }
    // a straight join from the side facing downstream to the side facing upstream
    const from = wide ? { x: a.x + a.width, y: a.y + a.height / 2 } : { x: a.x + a.width / 2, y: a.y + a.height };
    const to = wide ? { x: b.x, y: b.y + b.height / 2 } : { x: b.x + b.width / 2, y: b.y };
    out.push({ source: e.source, target: e.target, points: [from, to] });
  }
  return { nodes: placed, edges: out, width, height };
}
