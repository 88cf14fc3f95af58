/**
 * The schema browser, a section of the side panel: the session's tables (catalog, files,
 * DataFrames) with their columns and types. Clicking a name inserts it at the cursor of
 * the active cell.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ISchemaMessage } from './contract';
import { separatorBefore } from './insertion';
import { IKernelLinks, KernelLink } from './links';
import { ISqlweaveSidebar } from './panel';

export class SchemaView extends Widget {
  constructor(
    links: IKernelLinks,
    private readonly tracker: INotebookTracker
  ) {
    super();
    this.addClass('sqlweave-schema');
    this.title.label = 'Tables';
    links.changed.connect((_, link) => this._show(link));
    this._show(links.current);
  }

  private _show(link: KernelLink | null): void {
    const schema = link?.schema ?? null;
    if (schema === this._shown && this.node.childElementCount) {
      return;
    }
    this._shown = schema;
    // the kernel sends the schema after every cell; most cells leave it as it was, and then
    // the list (and which tables the user opened) stays as it is
    const text = JSON.stringify(schema?.tables ?? null);
    if (text === this._shownText && this.node.childElementCount) {
      return;
    }
    this._shownText = text;
    const open = new Set(
      [...this.node.querySelectorAll<HTMLElement>('.sqlweave-table')]
        .filter(item => item.querySelector('details')?.open)
        .map(item => item.dataset.name)
    );
    this.node.replaceChildren(this._draw(schema));
    this.node.querySelectorAll<HTMLElement>('.sqlweave-table').forEach(item => {
      if (open.has(item.dataset.name)) {
        item.querySelector('details')!.open = true;
      }
    });
  }

  private _draw(schema: ISchemaMessage | null): HTMLElement {
    const list = document.createElement('ul');
    list.className = 'sqlweave-tables';
    if (!schema || !schema.tables.length) {
      const empty = document.createElement('li');
      empty.className = 'sqlweave-empty';
      empty.textContent = schema ? 'No tables yet.' : 'No sqlweave session in this kernel.';
      list.appendChild(empty);
      return list;
    }
    for (const table of schema.tables) {
      const item = document.createElement('li');
      item.className = 'sqlweave-table';
      item.dataset.source = table.source;
      item.dataset.name = table.name;
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.appendChild(this._name(table.name, 'sqlweave-table-name'));
      const badge = document.createElement('span');
      badge.className = 'sqlweave-badge';
      badge.textContent = table.source;
      summary.appendChild(badge);
      details.appendChild(summary);
      const columns = document.createElement('ul');
      for (const column of table.columns) {
        const row = document.createElement('li');
        row.appendChild(this._name(column.name, 'sqlweave-column-name'));
        const type = document.createElement('span');
        type.className = 'sqlweave-type';
        type.textContent = column.type;
        row.appendChild(type);
        columns.appendChild(row);
      }
      details.appendChild(columns);
      item.appendChild(details);
      list.appendChild(item);
    }
    return list;
  }

  private _name(text: string, cls: string): HTMLElement {
    const name = document.createElement('span');
    name.className = `sqlweave-insert ${cls}`;
    name.textContent = text;
    name.title = `Insert ${text} at the cursor`;
    name.addEventListener('click', ev => {
      ev.preventDefault(); // a click on the name inserts; the arrow opens the columns
      this._insert(text);
    });
    return name;
  }

  private _insert(text: string): void {
    const editor = this.tracker.activeCell?.editor;
    if (!editor) {
      return;
    }
    const quoted = /^[A-Za-z_][A-Za-z0-9_]*$/.test(text) ? text : `"${text.replace(/"/g, '""')}"`;
    const cursor = editor.getCursorPosition();
    const before = (editor.getLine(cursor.line) ?? '').slice(0, cursor.column);
    editor.replaceSelection?.(separatorBefore(before) + quoted);
    editor.focus();
  }

  private _shown: ISchemaMessage | null = null;
  private _shownText = '';
}

export const schemaPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sqlweave:schema-browser',
  description: 'Lists the session’s tables and columns; a click inserts a name.',
  autoStart: true,
  requires: [ISqlweaveSidebar, IKernelLinks, INotebookTracker],
  activate: (
    _app: JupyterFrontEnd,
    sidebar: ISqlweaveSidebar,
    links: IKernelLinks,
    tracker: INotebookTracker
  ) => {
    sidebar.addSection(new SchemaView(links, tracker));
  }
};
