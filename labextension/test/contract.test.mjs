// The lab message contract from the TypeScript side: the compiled contract module (lib/)
// agrees with the one definition, sqlweave/lab/schema.json, and accepts what it describes.
// Run: `jlpm test` (tsc, then node's test runner).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as contract from '../lib/contract.js';

const schema = JSON.parse(
  readFileSync(new URL('../../sqlweave/lab/schema.json', import.meta.url), 'utf8')
);
const defs = schema.$defs;

test('constants match the schema', () => {
  assert.equal(contract.COMM_TARGET, schema['x-comm-target']);
  assert.equal(contract.PROTOCOL_VERSION, schema['x-protocol-version']);
  assert.deepEqual([...contract.SCOPES], defs.scope.enum);
  assert.deepEqual([...contract.EDGE_KINDS], defs.edge.properties.kind.enum);
  assert.deepEqual([...contract.TABLE_SOURCES], defs.table.properties.source.enum);
  assert.deepEqual([...contract.DATASET_KINDS], defs.dataset.properties.kind.enum);
  const top = schema.oneOf.map(ref => ref.$ref.split('/').pop()).sort();
  assert.deepEqual(
    [...contract.KERNEL_MESSAGE_TYPES, ...contract.LAB_MESSAGE_TYPES].sort(),
    top
  );
});

test('required keys match the schema', () => {
  const withRequired = Object.keys(defs).filter(k => defs[k].required).sort();
  assert.deepEqual(Object.keys(contract.REQUIRED_KEYS).sort(), withRequired);
  for (const name of withRequired) {
    assert.deepEqual([...contract.REQUIRED_KEYS[name]], defs[name].required, name);
  }
});

test('requests are what the schema describes', () => {
  const msg = contract.request('folder');
  assert.deepEqual(Object.keys(msg).sort(), [...defs.request.required].sort());
  assert.equal(msg.type, defs.request.properties.type.const);
  assert.equal(msg.version, defs.request.properties.version.const);
});

test('kernel messages are accepted, others ignored', () => {
  const graph = {
    type: 'graph', version: 1, scope: 'notebook', notebook: 'nb.ipynb',
    datasets: [], cells: [], edges: [], columns: []
  };
  assert.deepEqual(contract.parseKernelMessage(graph), graph);
  assert.ok(contract.parseKernelMessage({ type: 'schema', version: 1, tables: [] }));
  assert.ok(contract.parseKernelMessage({ type: 'error', version: 1, message: 'x' }));
  assert.equal(contract.parseKernelMessage({ ...graph, version: 2 }), null);
  const { cells, ...partial } = graph;
  assert.equal(contract.parseKernelMessage(partial), null);
  assert.equal(contract.parseKernelMessage({ type: 'request', version: 1, scope: 'notebook' }), null);
  assert.equal(contract.parseKernelMessage('graph'), null);
});
