/**
 * The lineage drawing of the side panel: datasets are the primary nodes (their columns
 * expand on demand), each cell is one small node with all its statements folded in, and
 * the layout comes from dagre (layout.ts, in a worker). A `Drawing` keeps its SVG between
 * graphs and changes only what changed; `restyle` only toggles classes (search, focus,
 * selection), so typing in the search box never rebuilds anything.
 */
import { ICell, IDataset, IGraphMessage } from './contract';
import { Direction, ILayout, ILayoutRequest, IPlaced, ISize } from './layout';

export type FocusMode = 'upstream' | 'downstream' | 'impact';
export const FOCUS_MODES: readonly FocusMode[] = ['upstream', 'downstream', 'impact'];

export interface IViewState {
  expanded: Set<string>;
  selected: string | null;
  mode: FocusMode | null;
  search: string;
}

const SVG = 'http://www.w3.org/2000/svg';
export const DATASET_FONT_PX = 13;
export const CELL_FONT_PX = 12;
/** The smallest label size the panel shrinks a drawing to (zoom-to-fit stops there). */
export const MIN_LABEL_PX = 11;
const ROW = 18;
const HEAD = 26;
const CELL_H = 22;
const MAX_CELL_W = 150;
/** widths are rounded up to this step, so a label growing by a digit keeps its layout */
const WIDTH_STEP = 24;

export const CLASS = {
  node: 'sqlweave-node',
  dim: 'sqlweave-dim',
  match: 'sqlweave-match',
  current: 'sqlweave-current',
  selected: 'sqlweave-selected',
  toggle: 'sqlweave-toggle',
  /** what the Impact focus reaches: its own colour, not the stale cells' */
  impacted: 'sqlweave-impacted'
} as const;

function bucket(width: number): number {
  return Math.ceil(width / WIDTH_STEP) * WIDTH_STEP;
}

let measurer: CanvasRenderingContext2D | null = null;
let fontFamily = 'sans-serif';
const widths = new Map<string, number>();

let fontReadAt = -Infinity;

/**
 * Read the theme's font at most once a second (reading styles per label, or per drawing while
 * cells run, forces style recalculations).
 */
function startMeasuring(): void {
  const now = performance.now();
  if (now - fontReadAt < 1000) {
    return;
  }
  fontReadAt = now;
  const family =
    getComputedStyle(document.body).getPropertyValue('--jp-ui-font-family').trim() ||
    'sans-serif';
  if (family !== fontFamily) {
    fontFamily = family;
    widths.clear();
  }
}

function textWidth(text: string, px: number): number {
  const key = `${px}|${text}`;
  const known = widths.get(key);
  if (known !== undefined) {
    return known;
  }
  if (!measurer) {
    measurer = document.createElement('canvas').getContext('2d');
  }
  let width = text.length * px * 0.6;
  if (measurer) {
    measurer.font = `${px}px ${fontFamily}`;
    width = measurer.measureText(text).width;
  }
  if (widths.size > 20000) {
    widths.clear();
  }
  widths.set(key, width);
  return width;
}

function el<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  parent?: Element
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    node.setAttribute(k, String(v));
  }
  parent?.appendChild(node);
  return node;
}

/** Walks the dataset/cell graph. */
export class Reach {
  constructor(graph: IGraphMessage) {
    for (const e of graph.edges) {
      if (e.kind === 'drops') {
        continue; // a drop ends a dataset's life; no data flows along it
      }
      push(this.next, e.source, e.target);
      push(this.prev, e.target, e.source);
    }
  }

  walk(start: string, forward: boolean): Set<string> {
    const step = forward ? this.next : this.prev;
    const seen = new Set<string>([start]);
    const todo = [start];
    while (todo.length) {
      for (const other of step.get(todo.pop()!) ?? []) {
        if (!seen.has(other)) {
          seen.add(other);
          todo.push(other);
        }
      }
    }
    seen.delete(start);
    return seen;
  }

  /** What a focus mode shows around `start` (itself included). */
  focus(start: string, mode: FocusMode): Set<string> {
    const shown = new Set<string>([start]);
    if (mode !== 'downstream' && mode !== 'impact') {
      this.walk(start, false).forEach(n => shown.add(n));
    }
    if (mode !== 'upstream') {
      this.walk(start, true).forEach(n => shown.add(n));
    }
    return shown;
  }

  private next = new Map<string, string[]>();
  private prev = new Map<string, string[]>();
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) {
    list.push(value);
  } else {
    map.set(key, [value]);
  }
}

/** The cell that last wrote a dataset (the one to show when the dataset is clicked). */
export function producerOf(graph: IGraphMessage, datasetId: string): ICell | null {
  const writers = new Set(
    graph.edges
      .filter(e => e.target === datasetId && (e.kind === 'writes' || e.kind === 'renames'))
      .map(e => e.source)
  );
  const cells = graph.cells.filter(c => writers.has(c.id));
  return cells.length ? cells[cells.length - 1] : null;
}

/** `sales` for `reports/sales.ipynb`. */
export function notebookName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ipynb$/, '');
}

/**
 * A cell's label; in the folder view cells of other notebooks are told apart by their
 * notebook's name (`sales › [3] CREATE TABLE …`).
 */
export function cellLabel(graph: IGraphMessage, cell: ICell, compact = false): string {
  const own = compact && cell.execution_count !== null ? `[${cell.execution_count}]` : cell.label;
  return graph.scope === 'folder' ? `${notebookName(cell.notebook)} › ${own}` : own;
}

/** What to lay out for `graph`: each node's size, and the edges. */
export function measure(graph: IGraphMessage, state: IViewState, direction: Direction): ILayoutRequest {
  startMeasuring();
  const nodes: ISize[] = [];
  for (const d of graph.datasets) {
    const open = state.expanded.has(d.id) && d.columns.length > 0;
    const colW = open ? Math.max(...d.columns.map(c => textWidth(c, CELL_FONT_PX))) : 0;
    nodes.push({
      id: d.id,
      width: bucket(Math.max(72, textWidth(d.name, DATASET_FONT_PX) + 36, colW + 28)),
      height: HEAD + (open ? d.columns.length * ROW + 4 : 0)
    });
  }
  const maxCell = graph.scope === 'folder' ? MAX_CELL_W + 60 : MAX_CELL_W;
  const compact = direction === 'TB';
  for (const c of graph.cells) {
    const text = cellLabel(graph, c, compact);
    nodes.push({
      id: c.id,
      width: compact
        ? Math.ceil(Math.min(maxCell, textWidth(text, CELL_FONT_PX) + 16))
        : bucket(Math.min(maxCell, textWidth(text, CELL_FONT_PX) + 16)),
      height: CELL_H
    });
  }
  const edges = graph.edges.map(e => ({ source: e.source, target: e.target }));
  return { nodes, edges, direction };
}

interface IDrawnNode {
  el: SVGGElement;
  /** everything the node's content depends on: equal means the element can stay */
  sig: string;
  transform: string;
}

/**
 * The drawing of a graph, kept between updates: nodes and edges are keyed by id, and an
 * update only moves, adds or removes what changed (re-running a cell rewrites one label; a
 * new layout moves nodes without rebuilding them). Top to bottom (a narrow panel) a cell
 * shows only its execution count; its tooltip and the search have the rest. Classes for
 * the view state come from `restyle`.
 */
export class Drawing {
  readonly svg: SVGSVGElement;

  constructor() {
    this.svg = el('svg', { class: 'sqlweave-graph', width: 0, height: 0, viewBox: '0 0 0 0' });
    const defs = el('defs', {}, this.svg);
    const marker = el(
      'marker',
      { id: 'sqlweave-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' },
      defs
    );
    el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'sqlweave-arrowhead' }, marker);
    this._edgeLayer = el('g', { class: 'sqlweave-edges' }, this.svg);
    // column edges go under the nodes: a dataset's box hides the part that would cross labels
    this._columnLayer = el('g', { class: 'sqlweave-column-edges' }, this.svg);
    this._nodeLayer = el('g', { class: 'sqlweave-nodes' }, this.svg);
  }

  /** Draws `graph` at the places of `placed`. */
  update(graph: IGraphMessage, placed: ILayout, state: IViewState, direction: Direction): void {
    startMeasuring();
    const width = Math.ceil(placed.width);
    const height = Math.ceil(placed.height);
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this._updateEdges(placed);
    this._columnLayer.replaceChildren();
    drawColumnEdges(graph, state, placed, this._columnLayer);
    const datasets = new Map<string, IDataset>(graph.datasets.map(d => [d.id, d]));
    const cells = new Map<string, ICell>(graph.cells.map(c => [c.id, c]));
    const seen = new Set<string>();
    for (const [id, box] of placed.nodes) {
      const d = datasets.get(id);
      const c = cells.get(id);
      if (!d && !c) {
        continue;
      }
      seen.add(id);
      const open = !!d && state.expanded.has(id);
      const text = c ? cellLabel(graph, c, direction === 'TB') : '';
      const sig = JSON.stringify(
        d ? [d, open, box.width, box.height] : [c, text, graph.scope, box.width, box.height]
      );
      const transform = `translate(${box.x.toFixed(1)},${box.y.toFixed(1)})`;
      let drawn = this._nodes.get(id);
      if (drawn && drawn.sig !== sig) {
        drawn.el.remove();
        drawn = undefined;
      }
      if (!drawn) {
        const made = d ? datasetNode(d, box, open) : cellNode(graph, c!, box, text);
        made.setAttribute('transform', transform);
        this._nodeLayer.appendChild(made);
        this._nodes.set(id, { el: made, sig, transform });
      } else if (drawn.transform !== transform) {
        drawn.el.setAttribute('transform', transform);
        drawn.transform = transform;
      }
    }
    for (const [id, drawn] of this._nodes) {
      if (!seen.has(id)) {
        drawn.el.remove();
        this._nodes.delete(id);
      }
    }
  }

  private _updateEdges(placed: ILayout): void {
    const seen = new Set<string>();
    for (const e of placed.edges) {
      if (e.points.length < 2) {
        continue;
      }
      const key = `${e.source}\n${e.target}`;
      seen.add(key);
      const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
      const path = this._edges.get(key);
      if (!path) {
        this._edges.set(
          key,
          el('path', { d, class: 'sqlweave-edge', 'data-source': e.source, 'data-target': e.target, 'marker-end': 'url(#sqlweave-arrow)' }, this._edgeLayer)
        );
      } else if (path.getAttribute('d') !== d) {
        path.setAttribute('d', d);
      }
    }
    for (const [key, path] of this._edges) {
      if (!seen.has(key)) {
        path.remove();
        this._edges.delete(key);
      }
    }
  }

  private _edgeLayer: SVGGElement;
  private _columnLayer: SVGGElement;
  private _nodeLayer: SVGGElement;
  private _nodes = new Map<string, IDrawnNode>();
  private _edges = new Map<string, SVGPathElement>();
}

function datasetNode(d: IDataset, box: IPlaced, open: boolean): SVGGElement {
  const classes = [CLASS.node, 'sqlweave-dataset', `sqlweave-kind-${d.kind.replace(/ /g, '-')}`];
  if (d.dropped) {
    classes.push('sqlweave-dropped');
  }
  const g = el('g', { class: classes.join(' '), 'data-id': d.id, 'data-kind': 'dataset', 'data-name': d.name });
  el('rect', { width: box.width, height: box.height, rx: 4 }, g);
  el('title', {}, g).textContent =
    `${d.name} (${d.kind})${d.previous_names.length ? ` (was ${d.previous_names.join(', ')})` : ''}${d.dropped ? ' — dropped' : ''}`;
  const label = el('text', { x: 8, y: HEAD / 2, class: 'sqlweave-label', 'font-size': DATASET_FONT_PX }, g);
  label.textContent = fit(d.name, box.width - (d.columns.length ? 28 : 12), DATASET_FONT_PX);
  if (d.columns.length) {
    const toggle = el('text', { x: box.width - 16, y: HEAD / 2, class: CLASS.toggle, 'font-size': DATASET_FONT_PX }, g);
    toggle.textContent = open ? '▾' : '▸';
    el('title', {}, toggle).textContent = open ? 'Hide the columns' : 'Show the columns';
    if (open) {
      d.columns.forEach((col, i) => {
        const row = el('text', { x: 12, y: HEAD + i * ROW + ROW / 2, class: 'sqlweave-column', 'font-size': CELL_FONT_PX }, g);
        row.textContent = col;
      });
    }
  }
  return g;
}

function cellNode(graph: IGraphMessage, c: ICell, box: IPlaced, text: string): SVGGElement {
  const classes = [CLASS.node, 'sqlweave-cell'];
  if (c.stale_inputs.length) {
    classes.push('sqlweave-stale-node');
  }
  if (c.read_only) {
    classes.push('sqlweave-readonly');
  }
  const g = el('g', { class: classes.join(' '), 'data-id': c.id, 'data-kind': 'cell', 'data-name': c.cell_id ?? '', 'data-notebook': c.notebook });
  el('rect', { width: box.width, height: box.height, rx: 11 }, g);
  el('title', {}, g).textContent = [
    cellLabel(graph, c),
    ...(c.stale_inputs.length ? [`stale: ${c.stale_inputs.join(', ')} changed since it ran`] : []),
    '',
    ...c.sql
  ].join('\n');
  const label = el('text', { x: 8, y: CELL_H / 2, class: 'sqlweave-label', 'font-size': CELL_FONT_PX }, g);
  label.textContent = fit(text, box.width - 16, CELL_FONT_PX);
  return g;
}

/**
 * Marks what the view state picks out: dims what is outside the focus or the search, marks
 * search matches and the selection. Returns the ids of the matches in drawing order.
 */
export function restyle(svg: SVGSVGElement, graph: IGraphMessage, state: IViewState, focusOn: string | null): string[] {
  const datasets = new Map<string, IDataset>(graph.datasets.map(d => [d.id, d]));
  const cells = new Map<string, ICell>(graph.cells.map(c => [c.id, c]));
  let focus: Set<string> | null = null;
  if (focusOn && state.mode && (datasets.has(focusOn) || cells.has(focusOn))) {
    focus = new Reach(graph).focus(focusOn, state.mode);
  }
  const impact = focus !== null && state.mode === 'impact';
  const needle = state.search.trim().toLowerCase();
  const matches = (id: string): boolean => {
    const d = datasets.get(id);
    const c = cells.get(id);
    const text = d ? [d.name, ...d.columns].join(' ') : c ? [cellLabel(graph, c), ...c.sql].join(' ') : '';
    return text.toLowerCase().includes(needle);
  };
  const found: string[] = [];
  const dimmed = new Set<string>();
  svg.querySelectorAll<SVGGElement>(`.${CLASS.node}`).forEach(node => {
    const id = node.dataset.id!;
    const hit = needle !== '' && matches(id);
    // a focus mode dims what is outside it; otherwise a search dims what does not match
    const dim = focus !== null ? !focus.has(id) : needle !== '' && !hit;
    if (hit) {
      found.push(id);
    }
    if (dim) {
      dimmed.add(id);
    }
    node.classList.toggle(CLASS.dim, dim);
    node.classList.toggle(CLASS.impacted, impact && id !== focusOn && focus!.has(id));
    node.classList.toggle(CLASS.match, hit);
    node.classList.toggle(CLASS.selected, id === state.selected);
  });
  svg.querySelectorAll<SVGPathElement>('.sqlweave-edge').forEach(path => {
    path.classList.toggle(CLASS.dim, dimmed.has(path.dataset.source!) || dimmed.has(path.dataset.target!));
  });
  // the graph's order (datasets first), not the drawing's: nodes are appended as cells run,
  // so the order in the SVG depends on which graphs arrived while the panel was drawing
  const rank = new Map<string, number>([...graph.datasets, ...graph.cells].map((n, i) => [n.id, i]));
  return found.sort((a, b) => (rank.get(a) ?? 0) - (rank.get(b) ?? 0));
}

/** Column-to-column derivations between two expanded datasets. */
function drawColumnEdges(graph: IGraphMessage, state: IViewState, placed: ILayout, layer: SVGGElement): void {
  const byName = new Map(graph.datasets.map(d => [d.name, d]));
  const anchor = (dataset: string, column: string, right: boolean) => {
    const d = byName.get(dataset);
    if (!d || !state.expanded.has(d.id)) {
      return null;
    }
    const box = placed.nodes.get(d.id);
    const i = d.columns.indexOf(column);
    if (!box || i < 0) {
      return null;
    }
    return { x: box.x + (right ? box.width : 0), y: box.y + HEAD + i * ROW + ROW / 2 };
  };
  for (const dv of graph.columns) {
    const a = anchor(dv.source[0], dv.source[1], true);
    const b = anchor(dv.target[0], dv.target[1], false);
    if (!a || !b) {
      continue;
    }
    const bend = Math.max(40, Math.abs(b.x - a.x) / 2);
    const path = el(
      'path',
      { d: `M${a.x},${a.y} C${a.x + bend},${a.y} ${b.x - bend},${b.y} ${b.x},${b.y}`, class: 'sqlweave-column-edge' },
      layer
    );
    const title = el('title', {}, path);
    title.textContent = `${dv.source.join('.')} → ${dv.target.join('.')} (${dv.transform})`;
  }
}

function fit(text: string, width: number, px: number): string {
  if (textWidth(text, px) <= width) {
    return text;
  }
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (textWidth(text.slice(0, mid) + '…', px) <= width) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return text.slice(0, lo) + '…';
}
