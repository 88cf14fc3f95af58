// Pure parts of the Lineage panel, from the compiled modules (lib/): the schema browser's
// separators and the layouts (dagre's, and the provisional one drawn while dagre runs).
// Run: `jlpm test` (tsc, then node's test runner).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { separatorBefore } from '../lib/insertion.js';
import { layout, layoutKey, provisional } from '../lib/layout.js';

test('inserted names are separated, never glued', () => {
  assert.equal(separatorBefore('SELECT * FROM flights'), ', '); // a table, then a column
  assert.equal(separatorBefore('SELECT carrier'), ', ');
  assert.equal(separatorBefore('SELECT'), ' ');
  assert.equal(separatorBefore('select distinct'), ' ');
  assert.equal(separatorBefore('FROM'), ' ');
  assert.equal(separatorBefore('WHERE x ='), ' ');
  assert.equal(separatorBefore('count(*)'), ', ');
  for (const before of ['', 'SELECT ', 'f.', 'count(', 'a,', 'WHERE x > :']) {
    assert.equal(separatorBefore(before), '', JSON.stringify(before));
  }
});

const node = (id, width = 80, height = 26) => ({ id, width, height });
const chain = (n, direction) => ({
  nodes: Array.from({ length: n }, (_, i) => node(`n${i}`)),
  edges: Array.from({ length: n - 1 }, (_, i) => ({ source: `n${i}`, target: `n${i + 1}` })),
  direction
});

test('dagre lays sources first, in the asked direction', () => {
  const wide = layout(chain(3, 'LR'));
  const tall = layout(chain(3, 'TB'));
  const xs = ['n0', 'n1', 'n2'].map(id => wide.nodes.get(id).x);
  const ys = ['n0', 'n1', 'n2'].map(id => tall.nodes.get(id).y);
  assert.ok(xs[0] < xs[1] && xs[1] < xs[2], xs.join());
  assert.ok(ys[0] < ys[1] && ys[1] < ys[2], ys.join());
  assert.ok(wide.width > wide.height && tall.height > tall.width);
  assert.notEqual(layoutKey(chain(3, 'LR')), layoutKey(chain(3, 'TB')));
});

test('a provisional layout keeps known places and puts a new node past its inputs', () => {
  const before = layout(chain(20, 'LR'));
  const grown = chain(21, 'LR');
  const quick = provisional(grown, before);
  assert.ok(quick);
  for (let i = 0; i < 20; i++) {
    assert.deepEqual(quick.nodes.get(`n${i}`), before.nodes.get(`n${i}`));
  }
  const added = quick.nodes.get('n20');
  const input = before.nodes.get('n19');
  assert.ok(added.x > input.x + input.width, 'one rank past its input');
  assert.ok(quick.width >= added.x + added.width && quick.height >= added.y + added.height);
  assert.equal(quick.edges.length, 20);
  // an unchanged edge keeps dagre's route; the new one is a straight join
  assert.deepEqual(quick.edges[0], before.edges.find(e => e.source === 'n0'));
  assert.equal(quick.edges.find(e => e.target === 'n20').points.length, 2);
});

test('a rewired edge is drawn at once between the old places', () => {
  const before = layout(chain(20, 'TB'));
  const rewired = chain(20, 'TB');
  rewired.edges[18] = { source: 'n3', target: 'n19' };
  const quick = provisional(rewired, before);
  assert.deepEqual(quick.nodes, before.nodes);
  const edge = quick.edges.find(e => e.target === 'n19');
  assert.equal(edge.source, 'n3');
  const [from, to] = edge.points;
  const a = before.nodes.get('n3');
  const b = before.nodes.get('n19');
  assert.deepEqual(from, { x: a.x + a.width / 2, y: a.y + a.height });
  assert.deepEqual(to, { x: b.x + b.width / 2, y: b.y });
});

test('no provisional layout when too much is new', () => {
  const before = layout(chain(3, 'LR'));
  assert.equal(provisional(chain(30, 'LR'), before), null);
});
