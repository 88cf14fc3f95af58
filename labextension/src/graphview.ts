/**
 * The lineage drawing of the side panel: datasets are the primary nodes (their columns
 * expand on demand), each cell is one small node with all its statements folded in, and
 * the layout comes from dagre. Labels keep their size (≥ 11 px); the panel scrolls.
 */
import { ICell, IDataset, IGraphMessage } from './contract';
import { ILayout, ISize, layout } from './layout';

export type FocusMode = 'upstream' | 'downstream' | 'impact';
export const FOCUS_MODES: readonly FocusMode[] = ['upstream', 'downstream', 'impact'];

export interface IViewState {
  expanded: Set<string>;
  selected: string | null;
  mode: FocusMode | null;
  search: string;
}

const SVG = 'http://www.w3.org/2000/svg';
export const DATASET_FONT_PX = 12;
export const CELL_FONT_PX = 11;
const ROW = 18;
const HEAD = 26;
const CELL_H = 22;
const MAX_CELL_W = 150;
/** widths are rounded up to this step, so a label growing by a digit keeps its layout */
const WIDTH_STEP = 24;
const LAYOUT_CACHE = 8;
const cache = new Map<string, ILayout>();

function bucket(width: number): number {
  return Math.ceil(width / WIDTH_STEP) * WIDTH_STEP;
}

let measurer: CanvasRenderingContext2D | null = null;
let fontFamily = 'sans-serif';
const widths = new Map<string, number>();

/** Read the theme's font once per drawing (reading styles per label forces style recalcs). */
function startMeasuring(): void {
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

export interface IRendered {
  svg: SVGSVGElement;
  layout: ILayout;
}

/** Draws `graph` with `state`; `onNode` gets clicks (`expand` for a dataset's toggle). */
export function render(
  graph: IGraphMessage,
  state: IViewState,
  onNode: (id: string, action: 'select' | 'expand') => void
): IRendered {
  startMeasuring();
  const datasets = new Map<string, IDataset>(graph.datasets.map(d => [d.id, d]));
  const cells = new Map<string, ICell>(graph.cells.map(c => [c.id, c]));
  const sizes: ISize[] = [];
  for (const d of graph.datasets) {
    const open = state.expanded.has(d.id) && d.columns.length > 0;
    const colW = open ? Math.max(...d.columns.map(c => textWidth(c, CELL_FONT_PX))) : 0;
    sizes.push({
      id: d.id,
      width: bucket(Math.max(80, textWidth(d.name, DATASET_FONT_PX) + 40, colW + 28)),
      height: HEAD + (open ? d.columns.length * ROW + 4 : 0)
    });
  }
  for (const c of graph.cells) {
    sizes.push({
      id: c.id,
      width: bucket(Math.min(MAX_CELL_W, textWidth(c.label, CELL_FONT_PX) + 16)),
      height: CELL_H
    });
  }
  // the layout depends on the structure and the sizes only: re-running a cell (a new
  // execution count, the same datasets) redraws without laying out again
  const key = JSON.stringify([sizes.map(s => [s.id, s.width, s.height]), graph.edges.map(e => [e.source, e.target])]);
  let placed = cache.get(key);
  if (placed) {
    cache.delete(key); // most recently used last
  } else {
    placed = layout(sizes, graph.edges);
  }
  cache.set(key, placed);
  while (cache.size > LAYOUT_CACHE) {
    cache.delete(cache.keys().next().value as string);
  }

  let focus: Set<string> | null = null;
  if (state.selected && state.mode && (datasets.has(state.selected) || cells.has(state.selected))) {
    focus = new Reach(graph).focus(state.selected, state.mode);
  }
  const needle = state.search.trim().toLowerCase();
  const matches = (id: string): boolean => {
    const d = datasets.get(id);
    const c = cells.get(id);
    const text = d ? [d.name, ...d.columns].join(' ') : c ? [c.label, ...c.sql].join(' ') : '';
    return text.toLowerCase().includes(needle);
  };
  const dim = (id: string): boolean =>
    (focus !== null && !focus.has(id)) || (needle !== '' && !matches(id));

  const svg = el('svg', {
    class: 'sqlweave-graph',
    width: Math.ceil(placed.width),
    height: Math.ceil(placed.height),
    viewBox: `0 0 ${Math.ceil(placed.width)} ${Math.ceil(placed.height)}`
  });
  const defs = el('defs', {}, svg);
  const marker = el(
    'marker',
    { id: 'sqlweave-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: 'auto' },
    defs
  );
  el('path', { d: 'M0,0 L10,5 L0,10 z', class: 'sqlweave-arrowhead' }, marker);

  const edgeLayer = el('g', { class: 'sqlweave-edges' }, svg);
  for (const e of placed.edges) {
    if (!e.points.length) {
      continue;
    }
    const d = e.points.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
    const faded = dim(e.source) || dim(e.target);
    el('path', { d, class: `sqlweave-edge${faded ? ' sqlweave-dim' : ''}`, 'marker-end': 'url(#sqlweave-arrow)' }, edgeLayer);
  }

  const nodeLayer = el('g', { class: 'sqlweave-nodes' }, svg);
  for (const [id, box] of placed.nodes) {
    const d = datasets.get(id);
    const c = cells.get(id);
    if (!d && !c) {
      continue;
    }
    const classes = ['sqlweave-node', d ? 'sqlweave-dataset' : 'sqlweave-cell'];
    if (dim(id)) {
      classes.push('sqlweave-dim');
    }
    if (needle && matches(id)) {
      classes.push('sqlweave-match');
    }
    if (id === state.selected) {
      classes.push('sqlweave-selected');
    }
    if (d) {
      classes.push(`sqlweave-kind-${d.kind.replace(/ /g, '-')}`);
    }
    if (d?.dropped) {
      classes.push('sqlweave-dropped');
    }
    if (c?.stale_inputs.length) {
      classes.push('sqlweave-stale-node');
    }
    if (c?.read_only) {
      classes.push('sqlweave-readonly');
    }
    const g = el(
      'g',
      {
        class: classes.join(' '),
        transform: `translate(${box.x.toFixed(1)},${box.y.toFixed(1)})`,
        'data-id': id,
        'data-kind': d ? 'dataset' : 'cell',
        'data-name': d ? d.name : c!.cell_id ?? ''
      },
      nodeLayer
    );
    el('rect', { width: box.width, height: box.height, rx: d ? 4 : 11 }, g);
    const title = el('title', {}, g);
    if (d) {
      title.textContent = `${d.name} (${d.kind})${d.previous_names.length ? ` (was ${d.previous_names.join(', ')})` : ''}${d.dropped ? ' — dropped' : ''}`;
      const label = el('text', { x: 8, y: HEAD / 2, class: 'sqlweave-label', 'font-size': DATASET_FONT_PX }, g);
      label.textContent = d.name;
      if (d.columns.length) {
        const open = state.expanded.has(id);
        const toggle = el('text', { x: box.width - 16, y: HEAD / 2, class: 'sqlweave-toggle', 'font-size': DATASET_FONT_PX }, g);
        toggle.textContent = open ? '▾' : '▸';
        toggle.addEventListener('click', ev => {
          ev.stopPropagation();
          onNode(id, 'expand');
        });
        if (open) {
          d.columns.forEach((col, i) => {
            const row = el('text', { x: 12, y: HEAD + i * ROW + ROW / 2, class: 'sqlweave-column', 'font-size': CELL_FONT_PX }, g);
            row.textContent = col;
          });
        }
      }
    } else if (c) {
      title.textContent = [
        c.label,
        ...(c.stale_inputs.length ? [`stale: ${c.stale_inputs.join(', ')} changed since it ran`] : []),
        '',
        ...c.sql
      ].join('\n');
      const label = el('text', { x: 8, y: CELL_H / 2, class: 'sqlweave-label', 'font-size': CELL_FONT_PX }, g);
      label.textContent = fit(c.label, box.width - 16, CELL_FONT_PX);
    }
    g.addEventListener('click', () => onNode(id, 'select'));
  }
  drawColumnEdges(graph, state, placed, svg);
  return { svg, layout: placed };
}

/** Column-to-column derivations between two expanded datasets. */
function drawColumnEdges(graph: IGraphMessage, state: IViewState, placed: ILayout, svg: SVGSVGElement): void {
  const layer = el('g', { class: 'sqlweave-column-edges' }, svg);
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
    const mid = (a.x + b.x) / 2;
    const path = el('path', { d: `M${a.x},${a.y} C${mid},${a.y} ${mid},${b.y} ${b.x},${b.y}`, class: 'sqlweave-column-edge' }, layer);
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
