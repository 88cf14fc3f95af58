// Pure parts of the Lineage panel, from the compiled modules (lib/): the schema browser's
// separators and the layouts (dagre's, and the provisional one drawn while dagre runs).
// Run: `jlpm test` (tsc, then node's test runner).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { separatorBefore } from '../lib/insertion.js';
import { layout, layoutKey, provisional, wrapRanks } from '../lib/layout.js';

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

const overlaps = (a, b) => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/** Each segment of `e` runs straight down or sideways and crosses no box. */
function assertClear(e, boxes) {
  for (let i = 1; i < e.points.length; i++) {
    const p = e.points[i - 1];
    const q = e.points[i];
    assert.ok(p.x === q.x || p.y === q.y, `${e.source}->${e.target}: a slanted segment`);
    const [x0, x1] = [Math.min(p.x, q.x), Math.max(p.x, q.x)];
    const [y0, y1] = [Math.min(p.y, q.y), Math.max(p.y, q.y)];
    for (const n of boxes) {
      const crosses = x0 < n.x + n.width && x1 > n.x && y0 < n.y + n.height && y1 > n.y;
      assert.ok(!crosses, `${e.source}->${e.target} crosses ${n.id}`);
    }
  }
}

// the quickstart's shape: five sources side by side on one rank, read by cells below
const fan = {
  nodes: [
    ...['orders', 'customers', 'targets', 'regions', 'months'].map(id => node(id, 100, 26)),
    node('c1', 60, 22),
    node('c2', 60, 22),
    node('out', 90, 26)
  ],
  edges: [
    ...['orders', 'customers', 'targets'].map(source => ({ source, target: 'c1' })),
    ...['regions', 'months'].map(source => ({ source, target: 'c2' })),
    { source: 'c1', target: 'out' },
    { source: 'c2', target: 'out' }
  ],
  direction: 'TB'
};

test('a rank wider than the panel wraps into rows: inside the width, no overlaps, order kept', () => {
  const wide = layout(fan);
  assert.ok(wide.width > 300, `dagre puts the sources side by side: ${wide.width}`);
  const sources = ['orders', 'customers', 'targets', 'regions', 'months'];
  const before = [...sources].sort((a, b) => wide.nodes.get(a).x - wide.nodes.get(b).x);
  const limit = 240;
  const wrapped = layout({ ...fan, wrapWidth: limit });
  assert.deepEqual(wrapped, wrapRanks(wide, limit));
  assert.ok(wrapped.width <= limit, `width ${wrapped.width}`);
  const boxes = [...wrapped.nodes.values()];
  assert.equal(boxes.length, fan.nodes.length);
  for (const b of boxes) {
    assert.ok(b.x >= 0 && b.x + b.width <= wrapped.width && b.y >= 0 && b.y + b.height <= wrapped.height, b.id);
  }
  for (const a of boxes) {
    for (const b of boxes) {
      assert.ok(a === b || !overlaps(a, b), `${a.id} overlaps ${b.id}`);
    }
  }
  // more than one row now, read in dagre's order: left to right, then the next row
  const rowsOf = new Set(sources.map(id => wrapped.nodes.get(id).y));
  assert.ok(rowsOf.size > 1);
  const reading = [...sources].sort((a, b) => {
    const p = wrapped.nodes.get(a);
    const q = wrapped.nodes.get(b);
    return p.y - q.y || p.x - q.x;
  });
  assert.deepEqual(reading, before);
  // every later rank lies below every source row; edges go from a source's bottom to a target's top
  const lowestSource = Math.max(...sources.map(id => wrapped.nodes.get(id).y + 26));
  for (const id of ['c1', 'c2', 'out']) {
    assert.ok(wrapped.nodes.get(id).y > lowestSource, id);
  }
  assert.ok(wrapped.nodes.get('out').y > wrapped.nodes.get('c1').y);
  assert.equal(wrapped.edges.length, fan.edges.length);
  for (const e of wrapped.edges) {
    const a = wrapped.nodes.get(e.source);
    const b = wrapped.nodes.get(e.target);
    assert.deepEqual(e.points.at(0), { x: a.x + a.width / 2, y: a.y + a.height });
    assert.deepEqual(e.points.at(-1), { x: b.x + b.width / 2, y: b.y });
    assertClear(e, boxes);
  }
  assert.notEqual(layoutKey({ ...fan, wrapWidth: limit }), layoutKey(fan));
});

test('a layout that fits, or one left to right, is not wrapped', () => {
  const tall = layout(chain(4, 'TB'));
  assert.deepEqual(layout({ ...chain(4, 'TB'), wrapWidth: 400 }), tall);
  assert.equal(wrapRanks(tall, 400), tall);
  assert.deepEqual(layout({ ...fan, direction: 'LR', wrapWidth: 100 }), layout({ ...fan, direction: 'LR' }));
  // a single node wider than the limit stays whole, on a row of its own
  const one = wrapRanks(layout({ nodes: [node('a', 300), node('b', 300)], edges: [], direction: 'TB' }), 200);
  assert.ok(one.nodes.get('a').y !== one.nodes.get('b').y && one.width <= 300 + 16);
});

test('the provisional drawing of a narrow panel puts a new node below rather than beside', () => {
  const limit = 240;
  const before = layout({ ...fan, wrapWidth: limit });
  const grown = { ...fan, nodes: [...fan.nodes, node('new', 100, 26)], edges: [...fan.edges, { source: 'out', target: 'new' }], wrapWidth: limit };
  const quick = provisional(grown, before);
  assert.ok(quick);
  assert.ok(quick.width <= limit, `width ${quick.width}`);
  const n = quick.nodes.get('new');
  for (const b of quick.nodes.values()) {
    assert.ok(b === n || !overlaps(b, n), b.id);
  }
  assert.ok(n.y >= before.nodes.get('out').y + 26);
});

test('edges from an upper row of a wrapped rank go around the rows below', () => {
  const sources = Array.from({ length: 9 }, (_, i) => node(`s${i}`, 90, 26));
  const request = {
    nodes: [...sources, node('c', 60, 22), node('t', 80, 26)],
    edges: [...sources.map(s => ({ source: s.id, target: 'c' })), { source: 's0', target: 't' }, { source: 'c', target: 't' }],
    direction: 'TB',
    wrapWidth: 220
  };
  const wrapped = layout(request);
  const boxes = [...wrapped.nodes.values()];
  assert.ok(new Set(sources.map(s => wrapped.nodes.get(s.id).y)).size >= 4);
  assert.ok(wrapped.width <= 220);
  for (const e of wrapped.edges) {
    assertClear(e, boxes);
  }
});
