/**
 * sqlweave for JupyterLab: one small plugin per concern. The kernel owns the data
 * (lineage, schema, completion live in Python and work in any frontend); these plugins
 * only present it.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { highlightPlugin } from './highlight';
import { linksPlugin } from './links';
import { panelPlugin } from './panel';
import { schemaPlugin } from './schemaBrowser';
import { staleCellsPlugin } from './staleCells';

const plugins: JupyterFrontEndPlugin<any>[] = [
  highlightPlugin,
  linksPlugin,
  panelPlugin,
  schemaPlugin,
  staleCellsPlugin
];

export default plugins;
