/**
 * The "Lineage" side panel (right sidebar): the current notebook's lineage, live. It
 * redraws when its kernel pushes a graph (after every cell), follows the current notebook,
 * and offers search, upstream/downstream/impact focus and a notebook/folder switch.
 * Clicking a node shows the cell that produced it. Other plugins add sections to it.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { SidePanel } from '@jupyterlab/ui-components';
import { Token } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { showCell } from './cells';
import { ICell, IGraphMessage } from './contract';
import { FOCUS_MODES, FocusMode, IViewState, producerOf, Reach, render } from './graphview';
import { IKernelLinks, KernelLink, LinkState } from './links';

export const PANEL_ID = 'sqlweave-lineage-panel';
export const MARK_RENDERED = 'sqlweave:graph-rendered';

const STATUS: Record<LinkState, string> = {
  'no-kernel': 'No kernel.',
  'not-loaded': 'Run %load_ext sqlweave in this notebook to see its lineage.',
  connecting: 'Connecting to the kernel…',
  connected: '',
  unsupported: 'This kernel is not Python: sqlweave lineage is not available.'
};

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
    this.node.innerHTML = `
      <div class="sqlweave-toolbar">
        <input class="sqlweave-search" type="search" placeholder="Search datasets, cells, columns" />
        <span class="sqlweave-modes">${FOCUS_MODES.map(
          m => `<button class="sqlweave-mode" data-mode="${m}" title="Show what is ${m === 'impact' ? 'affected by' : m + ' of'} the selected node">${m[0].toUpperCase() + m.slice(1)}</button>`
        ).join('')}</span>
        <label class="sqlweave-scope" title="Every notebook run in this folder"><input type="checkbox" /> Whole folder</label>
      </div>
      <div class="sqlweave-status"></div>
      <div class="sqlweave-details"></div>
      <div class="sqlweave-canvas"></div>`;
    this._search = this.node.querySelector('.sqlweave-search')!;
    this._scope = this.node.querySelector('.sqlweave-scope input')!;
    this._status = this.node.querySelector('.sqlweave-status')!;
    this._details = this.node.querySelector('.sqlweave-details')!;
    this._canvas = this.node.querySelector('.sqlweave-canvas')!;
    this._search.addEventListener('input', () => {
      this._state.search = this._search.value;
      this.update();
    });
    this.node.querySelectorAll<HTMLButtonElement>('.sqlweave-mode').forEach(button =>
      button.addEventListener('click', () => {
        const mode = button.dataset.mode as FocusMode;
        this._state.mode = this._state.mode === mode ? null : mode;
        this.update();
      })
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

  private _follow(link: KernelLink | null): void {
    if (link !== this._link) {
      this._link = link;
      this._state.selected = null;
      this._state.expanded.clear();
    }
    this.update();
  }

  protected onUpdateRequest(): void {
    const link = this._link;
    const graph = link?.graph ?? null;
    this._scope.checked = link?.scope === 'folder';
    this._status.textContent = link ? link.error ?? STATUS[link.state] : 'Open a notebook to see its lineage.';
    this.node.querySelectorAll<HTMLButtonElement>('.sqlweave-mode').forEach(b =>
      b.classList.toggle('sqlweave-active', b.dataset.mode === this._state.mode)
    );
    if (!graph) {
      this._canvas.replaceChildren();
      this._details.textContent = '';
      this._drawn = null;
      return;
    }
    if (!graph.datasets.length && !graph.cells.length) {
      this._status.textContent ||= 'No lineage yet: run a %%sql cell.';
    }
    if (!this.isVisible) {
      return; // drawn when shown (onAfterShow): a closed panel costs nothing while cells run
    }
    const fresh = graph !== this._drawn;
    const scroll = { left: this._canvas.scrollLeft, top: this._canvas.scrollTop };
    performance.mark('sqlweave:render-start');
    const out = render(graph, this._state, (id, action) => this._onNode(graph, id, action));
    this._canvas.replaceChildren(out.svg);
    this._canvas.scrollLeft = scroll.left;
    this._canvas.scrollTop = scroll.top;
    this._drawn = graph;
    this._details.textContent = this._describe(graph);
    if (fresh) {
      performance.mark(MARK_RENDERED);
    }
  }

  protected onAfterShow(): void {
    this.update();
  }

  private _onNode(graph: IGraphMessage, id: string, action: 'select' | 'expand'): void {
    if (action === 'expand') {
      if (!this._state.expanded.delete(id)) {
        this._state.expanded.add(id);
      }
      this.update();
      return;
    }
    this._state.selected = id;
    this.update();
    const cell: ICell | null = id.startsWith('dataset:')
      ? producerOf(graph, id)
      : graph.cells.find(c => c.id === id) ?? null;
    const panel = this._link?.panel;
    if (panel && cell && cell.notebook === graph.notebook) {
      showCell(panel, cell.cell_id);
    }
  }

  private _describe(graph: IGraphMessage): string {
    const id = this._state.selected;
    const reach = new Reach(graph);
    const isDataset = (n: string) => n.startsWith('dataset:');
    const name = (n: string) => graph.datasets.find(d => d.id === n)?.name ?? n;
    const cellLabel = (n: string) => graph.cells.find(c => c.id === n)?.label ?? n;
    if (!id || (!graph.datasets.some(d => d.id === id) && !graph.cells.some(c => c.id === id))) {
      const readOnly = graph.cells.filter(c => c.read_only).length;
      return `${graph.datasets.length} datasets, ${graph.cells.length} cells (${readOnly} only read)`;
    }
    const up = [...reach.walk(id, false)];
    const down = [...reach.walk(id, true)];
    const head = isDataset(id) ? name(id) : cellLabel(id);
    const readers = graph.edges.filter(e => e.source === id && e.kind === 'reads').length;
    let text =
      `${head}: ${up.filter(isDataset).length} upstream, ${down.filter(isDataset).length} downstream datasets` +
      (isDataset(id) ? `; read by ${readers} cell${readers === 1 ? '' : 's'}` : '');
    if (this._state.mode === 'impact') {
      const cells = graph.cells.filter(c => down.includes(c.id) && !c.read_only);
      text += `. Re-run: ${cells.map(c => (c.execution_count === null ? c.label : `[${c.execution_count}]`)).join(', ') || 'nothing'}`;
    }
    return text;
  }

  private _link: KernelLink | null = null;
  private _drawn: IGraphMessage | null = null;
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
    return { addSection: (widget: Widget) => sidebar.addWidget(widget) };
  }
};
