/**
 * Stale cells marked in the notebook itself: a cell that read a dataset which another
 * cell rewrote after it ran gets a mark and a tooltip naming the inputs.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

import { STALE_CLASS } from './cells';
import { IKernelLinks, KernelLink } from './links';

function mark(panel: NotebookPanel, link: KernelLink): void {
  const stale = new Map<string, string[]>();
  const graph = link.graph;
  for (const cell of graph?.cells ?? []) {
    if (cell.cell_id && cell.stale_inputs.length && cell.notebook === graph?.notebook) {
      stale.set(cell.cell_id, cell.stale_inputs);
    }
  }
  for (const cell of panel.content.widgets) {
    const inputs = stale.get(cell.model.id);
    cell.toggleClass(STALE_CLASS, !!inputs);
    if (inputs) {
      cell.node.dataset.sqlweaveStale = `stale: ${inputs.join(', ')} changed since this cell ran`;
    } else {
      delete cell.node.dataset.sqlweaveStale;
    }
  }
}

export const staleCellsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'sqlweave:stale-cells',
  description: 'Marks notebook cells whose inputs changed after they ran.',
  autoStart: true,
  requires: [INotebookTracker, IKernelLinks],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker, links: IKernelLinks) => {
    tracker.widgetAdded.connect((_, panel) => {
      const link = links.linkFor(panel);
      link.changed.connect(() => mark(panel, link));
    });
  }
};
