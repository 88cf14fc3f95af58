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
  /**
   * Top to bottom only: the widest the drawing may be (layout units). A rank wider than this
   * wraps into several rows (wrapRanks), so a narrow sidebar shows every node without scrolling
   * sideways. Absent: no limit.
   */
  wrapWidth?: number;
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
  const laid = { nodes: placed, edges: out, width: graph.width ?? 0, height: graph.height ?? 0 };
  return direction === 'TB' && request.wrapWidth ? wrapRanks(laid, request.wrapWidth) : laid;
}

/** The gaps of a wrapped top-to-bottom layout, as dagre's (layout() above) plus a row gap. */
const WRAP_MARGIN = 8;
const WRAP_NODESEP = 14;
const WRAP_ROWSEP = 10;
const WRAP_RANKSEP = 22;

/** One row of a wrapped layout: its top and bottom, and its boxes left to right. */
interface IRow {
  top: number;
  bottom: number;
  boxes: IPlaced[];
}

/**
 * An edge of a wrapped layout, from the bottom middle of `a` (on row `from`) to the top middle
 * of `b` (on row `to`): straight down, stepping sideways in the gap above any row in between
 * where it would cross a box, to the nearest space between that row's boxes. An edge that
 * does not run downwards is a straight line.
 */
function route(a: IPlaced, b: IPlaced, from: number, to: number, rows: IRow[]): IPoint[] {
  const start = { x: a.x + a.width / 2, y: a.y + a.height };
  const end = { x: b.x + b.width / 2, y: b.y };
  if (to <= from) {
    return [start, end];
  }
  const points = [start];
  let x = start.x;
  const gapAbove = (k: number) => (rows[k - 1].bottom + rows[k].top) / 2;
  for (let k = from + 1; k < to; k++) {
    const boxes = rows[k].boxes;
    if (!boxes.some(n => x > n.x - 2 && x < n.x + n.width + 2)) {
      continue;
    }
    const free = [boxes[0].x - WRAP_NODESEP / 2, ...boxes.map(n => n.x + n.width + WRAP_NODESEP / 2)];
    const next = free.reduce((best, f) => (Math.abs(f - x) < Math.abs(best - x) ? f : best));
    const level = gapAbove(k);
    points.push({ x, y: level }, { x: next, y: level });
    x = next;
  }
  if (x !== end.x) {
    const level = gapAbove(to);
    points.push({ x, y: level }, { x: end.x, y: level });
  }
  points.push(end);
  return points;
}

/**
 * A top-to-bottom layout no wider than `maxWidth` (unless one node is wider): each rank
 * (the nodes dagre centred on one line) keeps its left-to-right order and fills rows of at
 * most `maxWidth`, each row centred; later ranks move down. Edges are re-routed (route():
 * down and sideways through the gaps, never across a box). A layout that already
 * fits is returned as it is.
 */
export function wrapRanks(placed: ILayout, maxWidth: number): ILayout {
  if (placed.width <= maxWidth) {
    return placed;
  }
  const ranks = new Map<number, IPlaced[]>();
  for (const n of placed.nodes.values()) {
    const centre = Math.round(n.y + n.height / 2);
    ranks.set(centre, [...(ranks.get(centre) ?? []), n]);
  }
  const widest = Math.max(0, ...[...placed.nodes.values()].map(n => n.width));
  const room = Math.max(maxWidth - 2 * WRAP_MARGIN, widest);
  const rows: IPlaced[][][] = [];
  for (const centre of [...ranks.keys()].sort((a, b) => a - b)) {
    const rank = ranks.get(centre)!.sort((a, b) => a.x - b.x);
    const wrapped: IPlaced[][] = [];
    let row: IPlaced[] = [];
    let used = 0;
    for (const n of rank) {
      const need = row.length ? used + WRAP_NODESEP + n.width : n.width;
      if (row.length && need > room) {
        wrapped.push(row);
        row = [n];
        used = n.width;
      } else {
        row.push(n);
        used = need;
      }
    }
    wrapped.push(row);
    rows.push(wrapped);
  }
  const rowWidth = (row: IPlaced[]) => row.reduce((sum, n) => sum + n.width, 0) + WRAP_NODESEP * (row.length - 1);
  const width = Math.max(...rows.flat().map(rowWidth)) + 2 * WRAP_MARGIN;
  const nodes = new Map<string, IPlaced>();
  const lines: IRow[] = [];
  const rowOf = new Map<string, number>();
  let y = WRAP_MARGIN;
  for (const rank of rows) {
    for (const row of rank) {
      const tall = Math.max(...row.map(n => n.height));
      let x = (width - rowWidth(row)) / 2;
      const boxes: IPlaced[] = [];
      for (const n of row) {
        const box = { ...n, x, y: y + (tall - n.height) / 2 };
        nodes.set(n.id, box);
        boxes.push(box);
        rowOf.set(n.id, lines.length);
        x += n.width + WRAP_NODESEP;
      }
      lines.push({ top: y, bottom: y + tall, boxes });
      y += tall + WRAP_ROWSEP;
    }
    y += WRAP_RANKSEP - WRAP_ROWSEP;
  }
  const height = y - WRAP_RANKSEP + WRAP_MARGIN;
  const edges = placed.edges.map(e => {
    const a = nodes.get(e.source);
    const b = nodes.get(e.target);
    return a && b ? { ...e, points: route(a, b, rowOf.get(e.source)!, rowOf.get(e.target)!, lines) } : e;
  });
  return { nodes, edges, width, height };
}

/** The key of a layout: it depends on the structure, the sizes and the direction only. */
export function layoutKey(request: ILayoutRequest): string {
  return JSON.stringify([
    request.direction,
    request.wrapWidth ?? null,
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
    let box = wide ? { ...n, x: along, y: across } : { ...n, x: across, y: along };
    if (!wide && request.wrapWidth && box.x + box.width + 8 > request.wrapWidth) {
      // no room beside what is there in a narrow panel: below all of it, at the left
      box = { ...n, x: 8, y: Math.max(along, height) };
    }
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
