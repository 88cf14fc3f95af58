/**
 * The messages of the `sqlweave.lab` comm, mirrored from the one definition in the Python
 * package (sqlweave/lab/schema.json). Both sides are tested against that file: Python in
 * tests/lab/test_protocol.py, this module in test/contract.test.mjs.
 */

export const COMM_TARGET = 'sqlweave.lab';
export const PROTOCOL_VERSION = 1;

export type Scope = 'notebook' | 'folder';
export const SCOPES: readonly Scope[] = ['notebook', 'folder'];

export type EdgeKind = 'reads' | 'writes' | 'drops' | 'renames';
export const EDGE_KINDS: readonly EdgeKind[] = ['reads', 'writes', 'drops', 'renames'];

export type TableSource = 'catalog' | 'file' | 'dataframe';
export const TABLE_SOURCES: readonly TableSource[] = ['catalog', 'file', 'dataframe'];

export type DatasetKind = 'table' | 'notebook variable' | 'dataframe';
export const DATASET_KINDS: readonly DatasetKind[] = ['table', 'notebook variable', 'dataframe'];

export interface IDataset {
  id: string;
  name: string;
  kind: DatasetKind;
  columns: string[];
  dropped: boolean;
  previous_names: string[];
}

export interface ICell {
  id: string;
  notebook: string;
  cell_id: string | null;
  execution_count: number | null;
  label: string;
  sql: string[];
  read_only: boolean;
  stale_inputs: string[];
}

export interface IEdge {
  source: string;
  target: string;
  kind: EdgeKind;
}

export interface IDerivation {
  source: [string, string];
  target: [string, string];
  cell: string;
  transform: string;
}

export interface IGraphMessage {
  type: 'graph';
  version: number;
  scope: Scope;
  notebook: string;
  datasets: IDataset[];
  cells: ICell[];
  edges: IEdge[];
  columns: IDerivation[];
}

export interface IColumn {
  name: string;
  type: string;
}

export interface ITable {
  name: string;
  source: TableSource;
  columns: IColumn[];
}

export interface ISchemaMessage {
  type: 'schema';
  version: number;
  tables: ITable[];
}

export interface IErrorMessage {
  type: 'error';
  version: number;
  message: string;
}

export interface IRequestMessage {
  type: 'request';
  version: number;
  scope: Scope;
}

/** What the kernel sends. */
export type KernelMessage = IGraphMessage | ISchemaMessage | IErrorMessage;

/** Every message `type`, keyed by who sends it. */
export const KERNEL_MESSAGE_TYPES = ['graph', 'schema', 'error'] as const;
export const LAB_MESSAGE_TYPES = ['request'] as const;

/** The required keys of each message (kept equal to the schema's by the tests). */
export const REQUIRED_KEYS: Record<string, readonly string[]> = {
  graph: ['type', 'version', 'scope', 'notebook', 'datasets', 'cells', 'edges', 'columns'],
  dataset: ['id', 'name', 'kind', 'columns', 'dropped', 'previous_names'],
  cell: [
    'id',
    'notebook',
    'cell_id',
    'execution_count',
    'label',
    'sql',
    'read_only',
    'stale_inputs'
  ],
  edge: ['source', 'target', 'kind'],
  derivation: ['source', 'target', 'cell', 'transform'],
  schema: ['type', 'version', 'tables'],
  table: ['name', 'source', 'columns'],
  error: ['type', 'version', 'message'],
  request: ['type', 'version', 'scope']
};

/**
 * A kernel message, or null for anything this version does not understand (a newer
 * kernel's message is ignored rather than half-drawn).
 */
export function parseKernelMessage(data: unknown): KernelMessage | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const msg = data as { [key: string]: unknown };
  if (msg.version !== PROTOCOL_VERSION) {
    return null;
  }
  const type = msg.type as string;
  if (!(KERNEL_MESSAGE_TYPES as readonly string[]).includes(type)) {
    return null;
  }
  for (const key of REQUIRED_KEYS[type]) {
    if (!(key in msg)) {
      return null;
    }
  }
  return msg as unknown as KernelMessage;
}

export function request(scope: Scope): IRequestMessage {
  return { type: 'request', version: PROTOCOL_VERSION, scope };
}
