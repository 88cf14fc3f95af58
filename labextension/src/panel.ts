/**
 * The "Lineage" side panel (right sidebar): the current notebook's lineage, live. It
 * redraws when its kernel pushes a graph (after every cell), follows the current notebook,
 * and offers search, upstream/downstream/impact focus, zoom and a notebook/folder switch.
 * Clicking a node shows the cell that produced it. Other plugins add sections to it.
 *
 * Drawing a new graph never waits for dagre when an earlier layout of nearly the same graph
 * is on screen: known nodes keep their places at once (layout.ts `provisional`) and the
 * exact layout, computed in a worker, replaces it when it is ready.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { SidePanel } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { AccordionPanel, Widget } from '@lumino/widgets';

import { showCell } from './cells';
import { ICell, IGraphMessage } from './contract';
import {
  CELL_FONT_PX,
  CLASS,
  Drawing,
  FOCUS_MODES,
  FocusMode,
  IViewState,
  measure,
  MIN_LABEL_PX,
  producerOf,
  Reach,
  restyle
} from './graphview';
import { Direction, ILayout, IPlaced, layoutKey, provisional } from './layout';
import { LayoutService, SUPERSEDED } from './layoutService';
import { IKernelLinks, KernelLink, LinkState } from './links';

export const PANEL_ID = 'sqlweave-lineage-panel';
/** Performance marks the benchmark reads (bench/lab.py), set once the browser painted. */
export const MARK_RENDER_START = 'sqlweave:render-start';
export const MARK_RENDERED = 'sqlweave:graph-rendered';
export const MARK_SETTLED = 'sqlweave:graph-settled';

/** Zoom-to-fit shrinks no further than this: labels stay at least MIN_LABEL_PX. */
export const MIN_FIT_SCALE = MIN_LABEL_PX / CELL_FONT_PX;
const MAX_FIT_SCALE = 1;
const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.4;
const MAX_ZOOM = 3;
/** Narrower than this, the drawing runs top to bottom (sources on top). */
const TOP_DOWN_BELOW_PX = 420;
/** Left for a vertical scrollbar when a narrow drawing's width is chosen. */
const SCROLLBAR_ROOM_PX = 16;
/** The wrap width moves in steps of this, so resizing by a few pixels keeps the layout. */
const WRAP_STEP_PX = 20;
const NO_TARGET = 'Select a node first: click one in the drawing, or search for it';

const STATUS: Record<LinkState, string> = {
  'no-kernel': 'No kernel.',
  'not-loaded': 'Run %load_ext sqlweave in this notebook to see its lineage.',
  connecting: 'Connecting to the kernel…',
  connected: '',
  unsupported: 'This kernel is not Python: sqlweave lineage is not available.'
};

/** The legend: (key, classes of a node drawn like it, text). */
const LEGEND: [string, string, string][] = [
  ['table', 'sqlweave-dataset sqlweave-kind-table', 'table'],
  ['dataframe', 'sqlweave-dataset sqlweave-kind-dataframe', 'DataFrame / variable'],
  ['cell', 'sqlweave-cell', 'cell'],
  ['read-only', 'sqlweave-cell sqlweave-readonly', 'cell that only reads'],
  ['stale', 'sqlweave-cell sqlweave-stale-node', 'stale cell'],
  ['impact', 'sqlweave-cell sqlweave-impacted', 'affected (Impact)']
];

/** Sets a performance mark once the browser has painted what was just drawn. */
function markAfterPaint(name: string): void {
  requestAnimationFrame(() => window.setTimeout(() => performance.mark(name), 0));
}

/** The side panel; sections are added by the plugins that own them. */
export interface ISqlweaveSidebar {
  addSection(widget: Widget): void;
}

export const ISqlweaveSidebar = new Token<ISqlweaveSidebar>(
  'sqlweave:ISqlweaveSidebar',
  'The sqlweave side panel.'
);

export class LineageView extends Widget {
  constructor(links: IKernelLinks) {
    super();
    this.addClass('sqlweave-lineage');
    this.title.label = 'Lineage';
    const mode = (m: FocusMode) =>
      `<button class="sqlweave-mode" data-mode="${m}">${m[0].toUpperCase() + m.slice(1)}</button>`;
    const legend = LEGEND.map(
      ([key, cls, text]) =>
        `<span class="sqlweave-legend-item" data-legend="${key}"><svg width="14" height="10"><g class="${cls}"><rect x="1" y="1" width="12" height="8" rx="2"/></g></svg>${text}</span>`
    ).join('');
    this.node.innerHTML = `
      <div class="sqlweave-toolbar">
        <input class="sqlweave-search" type="search" placeholder="Search datasets, cells, columns" title="Enter: next match" />
        <span class="sqlweave-zoom">
          <button class="sqlweave-zoom-fit" title="Fit the drawing to the panel">Fit</button>
          <button class="sqlweave-zoom-in" title="Zoom in">+</button>
          <button class="sqlweave-zoom-out" title="Zoom out">−</button>
        </span>
      </div>
      <div class="sqlweave-toolbar">
        <span class="sqlweave-modes">${FOCUS_MODES.map(mode).join('')}</span>
        <label class="sqlweave-scope" title="Every notebook run in this folder"><input type="checkbox" /> Whole folder</label>
      </div>
      <div class="sqlweave-status"></div>
      <div class="sqlweave-details"></div>
      <div class="sqlweave-canvas"></div>
      <div class="sqlweave-legend">${legend}</div>`;
    this._search = this.node.querySelector('.sqlweave-search')!;
    this._scope = this.node.querySelector('.sqlweave-scope input')!;
    this._status = this.node.querySelector('.sqlweave-status')!;
    this._details = this.node.querySelector('.sqlweave-details')!;
    this._canvas = this.node.querySelector('.sqlweave-canvas')!;
    this._search.addEventListener('input', () => {
      this._state.search = this._search.value;
      this._current = 0;
      this._restyle(true);
    });
    this._search.addEventListener('keydown', ev => {
      if (ev.key === 'Enter' && this._matches.length) {
        this._current = (this._current + 1) % this._matches.length;
        this._restyle(true);
      }
    });
    this.node.querySelectorAll<HTMLButtonElement>('.sqlweave-mode').forEach(button =>
      button.addEventListener('click', () => {
        const mode = button.dataset.mode as FocusMode;
        this._state.mode = this._state.mode === mode ? null : mode;
        this._restyle(false);
      })
    );
    this.node.querySelector('.sqlweave-zoom-fit')!.addEventListener('click', () => {
      this._fit = true;
      this._applyScale();
    });
    this.node.querySelector('.sqlweave-zoom-in')!.addEventListener('click', () => this._zoom(ZOOM_STEP));
    this.node.querySelector('.sqlweave-zoom-out')!.addEventListener('click', () => this._zoom(1 / ZOOM_STEP));
    this._canvas.addEventListener('click', ev => this._onClick(ev));
    // the canvas's size and scroll are cached, so drawing never forces a synchronous layout
    this._resizes = new ResizeObserver(entries => {
      const box = entries[entries.length - 1].contentRect;
      const grew = Math.round(box.width) !== Math.round(this._view.width) || Math.round(box.height) !== Math.round(this._view.height);
      this._view.width = box.width;
      this._view.height = box.height;
      if (grew && this._fit) {
        this._applyScale();
      }
      if (grew && this._following) {
        this._reveal(this._following); // the text above the canvas took or gave back a line
      }
      if (this._drawnGraph && (this._direction() !== this._drawnDirection || this._wrapWidth() !== this._drawnWrap)) {
        this.update();
      }
    });
    this._resizes.observe(this._canvas);
    this._canvas.addEventListener(
      'scroll',
      () => {
        const { scrollLeft, scrollTop } = this._canvas;
        if (scrollLeft !== this._view.left || scrollTop !== this._view.top) {
          this._following = null; // the user scrolled: stop following the last cell
        }
        this._view.left = scrollLeft;
        this._view.top = scrollTop;
      },
      { passive: true }
    );
    this._scope.addEventListener('change', () => {
      this._link?.setScope(this._scope.checked ? 'folder' : 'notebook');
    });
    links.changed.connect((_, link) => this._follow(link));
    this._follow(links.current);
  }

  get state(): IViewState {
    return this._state;
  }

  /** The scale the drawing is shown at (1: labels at their CSS size). */
  get scale(): number {
    return this._scale;
  }

  dispose(): void {
    this._resizes.disconnect();
    this._layouts.dispose();
    super.dispose();
  }

  private _follow(link: KernelLink | null): void {
    if (link !== this._link) {
      this._link = link;
      this._state.selected = null;
      this._state.expanded.clear();
      this._fit = true;
    }
    this.update();
  }

  protected onUpdateRequest(): void {
    this._render();
  }

  protected onAfterShow(): void {
    this.update();
  }

  private _render(): void {
    const link = this._link;
    const graph = link?.graph ?? null;
    this._scope.checked = link?.scope === 'folder';
    this._status.textContent = link ? link.error ?? STATUS[link.state] : 'Open a notebook to see its lineage.';
    if (!graph) {
      this._clear();
      this._restyle(false);
      return;
    }
    if (!graph.datasets.length && !graph.cells.length) {
      this._status.textContent ||= 'No lineage yet: run a %%sql cell.';
    }
    if (!this.isVisible) {
      return; // drawn when shown (onAfterShow): a closed panel costs nothing while cells run
    }
    const direction = this._direction();
    const request = measure(graph, this._state, direction);
    request.wrapWidth = this._wrapWidth();
    const key = layoutKey(request);
    if (graph !== this._drawnGraph || key !== this._drawnKey) {
      const exact = this._layouts.cached(key);
      if (exact) {
        this._show(graph, exact, key, direction);
      } else {
        if (this._wanted !== key) {
          this._wanted = key;
          this._layouts.compute(request).then(
            () => {
              if (this._wanted === key && !this.isDisposed) {
                this._render(); // finds it cached now, if it is still what is wanted
              }
            },
            (err: Error) => {
              if (err.message !== SUPERSEDED) {
                this._status.textContent = `Layout failed: ${err.message}`;
              }
            }
          );
        }
        const sameLink = this._drawnLink === link;
        const quick =
          this._placed && sameLink && direction === this._drawnDirection && graph !== this._drawnGraph
            ? provisional(request, this._placed)
            : null;
        if (quick) {
          this._show(graph, quick, null, direction);
        } else if (!sameLink) {
          this._clear();
        } else if (this._canvas.dataset.layout) {
          this._canvas.dataset.layout = 'pending'; // what is on screen is not what was asked
        }
      }
    }
    this._restyle(false);
  }

  /** Draws `graph` at `placed`; `key` is null for a provisional layout. */
  private _show(graph: IGraphMessage, placed: ILayout, key: string | null, direction: Direction): void {
    const fresh = graph !== this._drawnGraph;
    if (fresh) {
      performance.mark(MARK_RENDER_START);
    }
    const newLink = this._drawnLink !== this._link;
    if (newLink || !this._drawing) {
      this._drawing = new Drawing();
      this._canvas.replaceChildren(this._drawing.svg);
      this._canvas.scrollLeft = this._view.left = 0;
      this._canvas.scrollTop = this._view.top = 0;
    }
    this._drawing.update(graph, placed, this._state, direction);
    this._svg = this._drawing.svg;
    this._placed = placed;
    this._drawnGraph = graph;
    this._drawnKey = key;
    this._drawnLink = this._link;
    this._drawnDirection = direction;
    this._drawnWrap = this._wrapWidth();
    this._applyScale();
    this._canvas.dataset.layout = key === null ? 'provisional' : 'exact';
    this._restyle(false);
    if (fresh) {
      this._following = newLink ? null : this._latestCell(graph);
    }
    if (this._following) {
      this._reveal(this._following); // follow the cell that just ran
    }
    if (fresh) {
      markAfterPaint(MARK_RENDERED);
    }
    if (key !== null) {
      markAfterPaint(MARK_SETTLED);
    }
  }

  private _clear(): void {
    this._canvas.replaceChildren();
    this._drawing = null;
    this._svg = null;
    this._placed = null;
    this._drawnGraph = null;
    this._drawnKey = null;
    this._drawnLink = this._link;
  }

  private _direction(): Direction {
    // 0 before the canvas is first measured: a sidebar is narrow
    return this._view.width < TOP_DOWN_BELOW_PX ? 'TB' : 'LR';
  }

  /**
   * How wide a top-to-bottom drawing may be (layout units): what zoom-to-fit can show in the
   * panel's width at its smallest readable scale. Undefined (no wrapping) left to right, and
   * before the canvas is first measured.
   */
  private _wrapWidth(): number | undefined {
    const room = this._view.width - SCROLLBAR_ROOM_PX;
    if (this._direction() !== 'TB' || room <= 0) {
      return undefined;
    }
    return Math.max(WRAP_STEP_PX, Math.floor(room / MIN_FIT_SCALE / WRAP_STEP_PX) * WRAP_STEP_PX);
  }

  /** Search, focus and selection marks; pans to the current search match if `pan`. */
  private _restyle(pan: boolean): void {
    const graph = this._drawnGraph;
    const svg = this._svg;
    this._matches = graph && svg ? restyle(svg, graph, this._state, null) : [];
    if (this._current >= this._matches.length) {
      this._current = 0;
    }
    const match = this._matches[this._current] ?? null;
    const target = this._target();
    if (graph && svg && target && this._state.mode) {
      restyle(svg, graph, this._state, target);
    }
    svg?.querySelectorAll(`.${CLASS.current}`).forEach(n => n.classList.remove(CLASS.current));
    if (match && svg) {
      svg.querySelector(`[data-id="${CSS.escape(match)}"]`)?.classList.add(CLASS.current);
      if (pan) {
        this._panTo(match);
      }
    }
    const name = target && graph ? this._name(graph, target) : null;
    this.node.querySelectorAll<HTMLButtonElement>('.sqlweave-mode').forEach(b => {
      const mode = b.dataset.mode as FocusMode;
      b.classList.toggle('sqlweave-active', mode === this._state.mode);
      b.disabled = target === null;
      b.title = name
        ? `Show what is ${mode === 'impact' ? 'affected by' : mode + ' of'} ${name}`
        : NO_TARGET;
    });
    this._details.textContent = graph ? this._describe(graph, target) : '';
    if (graph && this._state.search.trim()) {
      const n = this._matches.length;
      this._details.textContent = `${n ? `${this._current + 1} of ${n} matches` : 'No match'}. ${this._details.textContent}`;
    }
  }

  /** What the focus buttons act on: the selected node, else the current search match. */
  private _target(): string | null {
    const graph = this._drawnGraph;
    const selected = this._state.selected;
    if (graph && selected && (graph.datasets.some(d => d.id === selected) || graph.cells.some(c => c.id === selected))) {
      return selected;
    }
    return this._matches[this._current] ?? null;
  }

  /** The most recently run cell of the notebook itself and what it wrote. */
  private _latestCell(graph: IGraphMessage): string[] | null {
    let best: ICell | null = null;
    for (const c of graph.cells) {
      if (c.notebook === graph.notebook && c.execution_count !== null && (!best || c.execution_count > best.execution_count!)) {
        best = c;
      }
    }
    if (!best) {
      return null;
    }
    const id = best.id;
    return [id, ...graph.edges.filter(e => e.source === id && e.kind !== 'reads').map(e => e.target)];
  }

  /** Scrolls as little as it takes to bring `ids` into view (as scrollIntoView 'nearest'). */
  private _reveal(ids: string[]): void {
    const boxes = ids.map(id => this._placed?.nodes.get(id)).filter(b => !!b) as IPlaced[];
    if (!boxes.length) {
      return;
    }
    const s = this._scale;
    const left = Math.min(...boxes.map(b => b.x)) * s;
    const right = Math.max(...boxes.map(b => b.x + b.width)) * s;
    const top = Math.min(...boxes.map(b => b.y)) * s;
    const bottom = Math.max(...boxes.map(b => b.y + b.height)) * s;
    const nearest = (start: number, end: number, scroll: number, room: number) =>
      end > scroll + room ? Math.min(start - 8, end - room + 8) : start < scroll ? start - 8 : scroll;
    const v = this._view;
    this._scrollTo(nearest(left, right, v.left, v.width), nearest(top, bottom, v.top, v.height));
  }

  private _panTo(id: string): void {
    this._following = null;
    const box = this._placed?.nodes.get(id);
    if (!box) {
      return;
    }
    const s = this._scale;
    this._scrollTo((box.x + box.width / 2) * s - this._view.width / 2, (box.y + box.height / 2) * s - this._view.height / 2);
  }

  private _applyScale(): void {
    const svg = this._svg;
    const placed = this._placed;
    if (!svg || !placed) {
      return;
    }
    if (this._fit) {
      const room = Math.min(this._view.width / Math.max(1, placed.width), this._view.height / Math.max(1, placed.height));
      this._scale = this._view.width > 0 ? Math.min(MAX_FIT_SCALE, Math.max(MIN_FIT_SCALE, room)) : 1;
    }
    const width = String(Math.ceil(placed.width * this._scale));
    const height = String(Math.ceil(placed.height * this._scale));
    if (svg.getAttribute('width') !== width || svg.getAttribute('height') !== height) {
      svg.setAttribute('width', width);
      svg.setAttribute('height', height);
    }
    this._canvas.dataset.scale = this._scale.toFixed(3);
    this._canvas.dataset.layoutThread = this._layouts.thread;
  }

  private _zoom(factor: number): void {
    const v = this._view;
    const before = this._scale;
    const center = { x: (v.left + v.width / 2) / before, y: (v.top + v.height / 2) / before };
    this._fit = false;
    this._following = null;
    this._scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, before * factor));
    this._applyScale();
    this._scrollTo(center.x * this._scale - v.width / 2, center.y * this._scale - v.height / 2);
  }

  /** Scrolls the canvas (clamped as the browser will), keeping the cached position right. */
  private _scrollTo(left: number, top: number): void {
    const placed = this._placed;
    const s = this._scale;
    const maxLeft = placed ? Math.max(0, Math.ceil(placed.width * s) - this._view.width) : 0;
    const maxTop = placed ? Math.max(0, Math.ceil(placed.height * s) - this._view.height) : 0;
    const v = this._view;
    left = Math.round(Math.min(maxLeft, Math.max(0, left)));
    top = Math.round(Math.min(maxTop, Math.max(0, top)));
    // setting a scroll position lays the page out: only when it changes
    if (left !== v.left) {
      this._canvas.scrollLeft = v.left = left;
    }
    if (top !== v.top) {
      this._canvas.scrollTop = v.top = top;
    }
  }

  private _onClick(ev: MouseEvent): void {
    const graph = this._drawnGraph;
    const target = ev.target as Element;
    const node = target.closest?.(`.${CLASS.node}`) as SVGGElement | null;
    if (!graph || !node) {
      return;
    }
    const id = node.dataset.id!;
    if (target.closest(`.${CLASS.toggle}`)) {
      if (!this._state.expanded.delete(id)) {
        this._state.expanded.add(id);
      }
      this._render();
      return;
    }
    this._state.selected = id;
    this._restyle(false);
    const cell: ICell | null = id.startsWith('dataset:')
      ? producerOf(graph, id)
      : graph.cells.find(c => c.id === id) ?? null;
    const panel = this._link?.panel;
    if (panel && cell && cell.notebook === graph.notebook) {
      showCell(panel, cell.cell_id);
    }
  }

  private _name(graph: IGraphMessage, id: string): string {
    return graph.datasets.find(d => d.id === id)?.name ?? graph.cells.find(c => c.id === id)?.label ?? id;
  }

  private _describe(graph: IGraphMessage, id: string | null): string {
    const isDataset = (n: string) => n.startsWith('dataset:');
    if (!id) {
      const readOnly = graph.cells.filter(c => c.read_only).length;
      return `${plural(graph.datasets.length, 'dataset')}, ${plural(graph.cells.length, 'cell')} (${readOnly} only read)`;
    }
    const reach = new Reach(graph);
    const up = [...reach.walk(id, false)];
    const down = [...reach.walk(id, true)];
    const readers = graph.edges.filter(e => e.source === id && e.kind === 'reads').length;
    let text =
      `${this._name(graph, id)}: ${up.filter(isDataset).length} upstream, ${down.filter(isDataset).length} downstream datasets` +
      (isDataset(id) ? `; read by ${plural(readers, 'cell')}` : '');
    if (this._state.mode === 'impact') {
      // cells that write affected datasets, then those that only read them: both are out of date
      const cells = graph.cells.filter(c => down.includes(c.id));
      const name = (c: ICell) => (c.execution_count === null ? c.label : `[${c.execution_count}]`);
      const rerun = [
        ...cells.filter(c => !c.read_only).map(name),
        ...cells.filter(c => c.read_only).map(c => `${name(c)} (only reads)`)
      ];
      text += `. Re-run: ${rerun.join(', ') || 'nothing'}`;
    }
    return text;
  }

  private _link: KernelLink | null = null;
  private _layouts = new LayoutService();
  private _drawing: Drawing | null = null;
  private _svg: SVGSVGElement | null = null;
  private _placed: ILayout | null = null;
  private _drawnGraph: IGraphMessage | null = null;
  /** the key of the exact layout on screen (null: none, or a provisional one) */
  private _drawnKey: string | null = null;
  private _drawnLink: KernelLink | null = null;
  private _drawnDirection: Direction | null = null;
  private _wanted: string | null = null;
  private _fit = true;
  /** the wrap width of the layout on screen */
  private _drawnWrap: number | undefined = undefined;
  /** the nodes kept in view while nothing else moved the view (the last cell run) */
  private _following: string[] | null = null;
  private _resizes: ResizeObserver;
  /** the canvas's content size and scroll position, kept by observers */
  private _view = { width: 0, height: 0, left: 0, top: 0 };
  private _scale = 1;
  private _matches: string[] = [];
  private _current = 0;
  private _state: IViewState = { expanded: new Set(), selected: null, mode: null, search: '' };
  private _search: HTMLInputElement;
  private _scope: HTMLInputElement;
  private _status: HTMLElement;
  private _details: HTMLElement;
  private _canvas: HTMLElement;
}

export const panelPlugin: JupyterFrontEndPlugin<ISqlweaveSidebar> = {
  id: 'sqlweave:lineage-panel',
  description: 'The Lineage side panel.',
  autoStart: true,
  requires: [IKernelLinks],
  provides: ISqlweaveSidebar,
  activate: (app: JupyterFrontEnd, links: IKernelLinks) => {
    const sidebar = new SidePanel();
    sidebar.id = PANEL_ID;
    sidebar.addClass('sqlweave-sidebar');
    sidebar.title.caption = 'sqlweave: lineage and tables';
    sidebar.title.label = 'Lineage';
    sidebar.addWidget(new LineageView(links));
    app.shell.add(sidebar, 'right', { rank: 650 });
    return {
      addSection: (widget: Widget) => {
        sidebar.addWidget(widget);
        const content = sidebar.content;
        if (content instanceof AccordionPanel) {
          // the drawing gets most of the height; the table list scrolls
          content.setRelativeSizes(content.widgets.map((_, i) => (i === 0 ? 3 : 1)));
        }
      }
    };
  }
};

/** "1 cell", "0 cells", "2 cells". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
