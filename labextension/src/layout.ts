/**
 * Graph layout by dagre (left to right: sources on the left), at full size: the panel
 * scrolls rather than shrinking labels below their CSS size.
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

export interface ILayout {
  nodes: Map<string, IPlaced>;
  edges: { source: string; target: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

/**
 * Above this many nodes dagre ranks with "tight-tree" instead of "network-simplex": a few
 * longer edges, but ranking a 300-node graph drops from ~60% of the layout time to ~5%.
 */
export const TIGHT_TREE_ABOVE = 120;

export function layout(nodes: ISize[], edges: { source: string; target: string }[]): ILayout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: 'LR',
    nodesep: 10,
    ranksep: 32,
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
    points: (g.edge(e).points ?? []) as { x: number; y: number }[]
  }));
  const graph = g.graph();
  return { nodes: placed, edges: out, width: graph.width ?? 0, height: graph.height ?? 0 };
}
