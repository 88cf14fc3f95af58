/** Finding, showing and marking the notebook cells that lineage points at. */
import { NotebookPanel } from '@jupyterlab/notebook';

export const FLASH_CLASS = 'sqlweave-flash';
export const STALE_CLASS = 'sqlweave-stale';

/** Index of the cell with this model id in the notebook, or -1. */
export function cellIndex(panel: NotebookPanel, cellId: string | null): number {
  if (!cellId) {
    return -1;
  }
  return panel.content.widgets.findIndex(cell => cell.model.id === cellId);
}

/** Make the cell active, scroll it into view and flash it. False if it is not here. */
export function showCell(panel: NotebookPanel, cellId: string | null): boolean {
  const index = cellIndex(panel, cellId);
  if (index < 0) {
    return false;
  }
  const notebook = panel.content;
  notebook.activeCellIndex = index;
  const cell = notebook.widgets[index];
  void notebook.scrollToItem(index, 'center').catch(() => cell.node.scrollIntoView());
  cell.removeClass(FLASH_CLASS);
  // restart the animation even when the same cell is clicked twice
  void cell.node.offsetWidth;
  cell.addClass(FLASH_CLASS);
  window.setTimeout(() => cell.removeClass(FLASH_CLASS), 1600);
  return true;
}
