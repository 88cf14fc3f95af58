/**
 * sqlweave for JupyterLab: one small plugin per concern. The kernel owns the data
 * (lineage, schema, completion live in Python and work in any frontend); these plugins
 * only present it.
 */
import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { highlightPlugin } from './highlight';

const plugins: JupyterFrontEndPlugin<any>[] = [highlightPlugin];

export default plugins;
