// Interactive lineage view for sqlweave (anywidget ESM).
// Model contract (see sqlweave/lineage/widget.py, WIDGET_TRAITS and NODE_KEYS):
//   svg:   the static drawing from sqlweave.lineage.svg (nodes are <g data-node=ID>)
//   graph: {nodes: {ID: {label, kind, dataset, cell, sql}}, edges: [[source, target, kind]]}
//
// The drawing's labels are FONT_PX at scale 1. It opens fitted to the cell's width, but
// never below MIN_LABEL_PX on screen: a wider graph scrolls instead of shrinking.

const FONT_PX = 12;
const MIN_LABEL_PX = 11;
const MIN_SCALE = MIN_LABEL_PX / FONT_PX;
const MAX_SCALE = 2;
const ZOOM_STEP = 1.2;

export function walk(edges, start, forward) {
  const next = new Map();
  for (const [u, v] of edges) {
    const [a, b] = forward ? [u, v] : [v, u];
    if (!next.has(a)) next.set(a, []);
    next.get(a).push(b);
  }
  const seen = new Set([start]);
  const todo = [start];
  while (todo.length) {
    const n = todo.pop();
    for (const m of next.get(n) || []) {
      if (!seen.has(m)) {
        seen.add(m);
        todo.push(m);
      }
    }
  }
  seen.delete(start);
  return seen;
}

// How many drawn datasets and statements a set of node ids holds (columns are not counted:
// they light up with their dataset).
export function tally(ids, nodes, drawn) {
  let datasets = 0;
  let statements = 0;
  for (const id of ids) {
    if (!drawn.has(id)) continue;
    const kind = (nodes[id] || {}).kind;
    if (kind === "dataset") datasets += 1;
    else if (kind === "run") statements += 1;
  }
  return { datasets, statements };
}

export function describe(count) {
  const parts = [];
  if (count.datasets) parts.push(`${count.datasets} dataset${count.datasets === 1 ? "" : "s"}`);
  if (count.statements)
    parts.push(`${count.statements} statement${count.statements === 1 ? "" : "s"}`);
  return parts.length ? parts.join(", ") : "nothing";
}

export function initialScale(available, natural) {
  if (!available || !natural) return 1;
  return Math.max(MIN_SCALE, Math.min(1, available / natural));
}

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function button(text, title) {
  const b = document.createElement("button");
  b.textContent = text;
  b.title = title;
  return b;
}

function render({ model, el }) {
  el.classList.add("swl-widget");
  const bar = document.createElement("div");
  bar.className = "swl-bar";
  const zoomOut = button("\u2212", "zoom out");
  const zoomIn = button("+", "zoom in");
  const fit = button("Fit width", `fit the cell's width (labels stay >= ${MIN_LABEL_PX} px)`);
  const hint = document.createElement("span");
  hint.textContent = "drag or scroll to move, click a node to trace it";
  bar.append(zoomOut, zoomIn, fit, hint);
  const view = document.createElement("div");
  view.className = "swl-view";
  const info = document.createElement("div");
  info.className = "swl-info";
  el.append(bar, view, info);

  let svg = null;
  let natural = { w: 0, h: 0 };
  let scale = 1;
  let fitted = false;

  function setScale(s) {
    scale = Math.max(MIN_SCALE / 2, Math.min(MAX_SCALE, s));
    if (!svg) return;
    svg.setAttribute("width", String(Math.round(natural.w * scale)));
    svg.setAttribute("height", String(Math.round(natural.h * scale)));
    el.dataset.scale = scale.toFixed(3);
  }

  function fitWidth() {
    const available = view.clientWidth;
    if (!available) return false;
    setScale(initialScale(available - 2, natural.w));
    return true;
  }

  function drawnIds() {
    return new Set([...svg.querySelectorAll("[data-node]")].map((g) => g.getAttribute("data-node")));
  }

  function select(id) {
    const graph = model.get("graph");
    const nodes = graph.nodes || {};
    const edges = graph.edges || [];
    const related = new Set([id]);
    const up = walk(edges, id, false);
    const down = walk(edges, id, true);
    for (const n of [...up, ...down]) related.add(n);
    const datasetsShown = new Set();
    for (const n of related) {
      const meta = nodes[n];
      if (meta && meta.dataset) datasetsShown.add(`dataset:${meta.dataset}`);
    }
    svg.querySelectorAll("[data-node]").forEach((g) => {
      const n = g.getAttribute("data-node");
      const on = related.has(n) || datasetsShown.has(n);
      g.style.opacity = on ? "1" : "0.25";
      g.classList.toggle("swl-selected", n === id);
    });
    svg.querySelectorAll(".swl-edge").forEach((p) => {
      const on = related.has(p.getAttribute("data-source")) && related.has(p.getAttribute("data-target"));
      p.style.opacity = on ? "1" : "0.12";
    });
    const drawn = drawnIds();
    const meta = nodes[id] || { label: id, kind: "?" };
    const sql = (meta.sql || []).map((s) => `<pre>${escapeHtml(s)}</pre>`).join("");
    const upCount = describe(tally(up, nodes, drawn));
    const downCount = describe(tally(down, nodes, drawn));
    info.innerHTML =
      `<b>${escapeHtml(meta.label)}</b> <i>${escapeHtml(meta.kind)}</i>` +
      (meta.cell ? ` &middot; ${escapeHtml(meta.cell)}` : "") +
      `<br><span class="swl-counts">upstream: ${upCount} &middot; downstream: ${downCount}</span>` +
      (sql ? `<div class="swl-sql">${meta.kind === "run" ? "SQL" : "produced by"}:${sql}</div>` : "");
  }

  function clear() {
    svg.querySelectorAll("[data-node], .swl-edge").forEach((n) => (n.style.opacity = "1"));
    svg.querySelectorAll(".swl-selected").forEach((n) => n.classList.remove("swl-selected"));
    info.textContent = "";
  }

  function draw() {
    view.innerHTML = model.get("svg");
    svg = view.querySelector("svg");
    if (!svg) return;
    natural = {
      w: Number(svg.getAttribute("width")) || 100,
      h: Number(svg.getAttribute("height")) || 100,
    };
    svg.removeAttribute("style");
    setScale(1);
    fitted = fitWidth();
  }

  // the output area may have no width yet when render runs: fit once it has one
  const resize = new ResizeObserver(() => {
    if (!fitted && svg) fitted = fitWidth();
  });
  resize.observe(view);

  let drag = null;
  let moved = false;
  view.addEventListener("pointerdown", (e) => {
    drag = { x: e.clientX, y: e.clientY, left: view.scrollLeft, top: view.scrollTop };
    moved = false;
  });
  view.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) moved = true;
    view.scrollLeft = drag.left - dx;
    view.scrollTop = drag.top - dy;
  });
  view.addEventListener("pointerup", () => (drag = null));
  view.addEventListener("pointerleave", () => (drag = null));
  view.addEventListener("click", (e) => {
    if (moved || !svg) return;
    const g = e.target.closest("[data-node]");
    if (g) select(g.getAttribute("data-node"));
    else clear();
  });
  zoomIn.addEventListener("click", () => setScale(scale * ZOOM_STEP));
  zoomOut.addEventListener("click", () => setScale(scale / ZOOM_STEP));
  fit.addEventListener("click", () => fitWidth());

  model.on("change:svg", draw);
  draw();
  return () => {
    model.off("change:svg", draw);
    resize.disconnect();
  };
}

export default { render };
