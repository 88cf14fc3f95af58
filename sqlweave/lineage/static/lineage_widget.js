// Interactive lineage view for sqlweave (anywidget ESM).
// Model contract (see sqlweave/lineage/widget.py, WIDGET_TRAITS and NODE_KEYS):
//   svg:   the static drawing from sqlweave.lineage.svg (nodes are <g data-node=ID>)
//   graph: {nodes: {ID: {label, kind, dataset, cell, sql}}, edges: [[source, target, kind]]}

function walk(edges, start, forward) {
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

function escapeHtml(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div.innerHTML;
}

function render({ model, el }) {
  el.classList.add("swl-widget");
  const bar = document.createElement("div");
  bar.className = "swl-bar";
  const reset = document.createElement("button");
  reset.textContent = "Reset view";
  const hint = document.createElement("span");
  hint.textContent = "drag to pan, wheel to zoom, click a node";
  bar.append(reset, hint);
  const view = document.createElement("div");
  view.className = "swl-view";
  const info = document.createElement("div");
  info.className = "swl-info";
  el.append(bar, view, info);

  let svg = null;
  let box = null;
  let home = null;

  function setBox(b) {
    box = b;
    svg.setAttribute("viewBox", `${b.x} ${b.y} ${b.w} ${b.h}`);
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
    const meta = nodes[id] || { label: id, kind: "?" };
    const count = (set) => [...set].filter((n) => nodes[n] && nodes[n].kind !== "run").length;
    const sql = (meta.sql || []).map((s) => `<pre>${escapeHtml(s)}</pre>`).join("");
    info.innerHTML =
      `<b>${escapeHtml(meta.label)}</b> <i>${escapeHtml(meta.kind)}</i>` +
      (meta.cell ? ` &middot; ${escapeHtml(meta.cell)}` : "") +
      `<br>${count(up)} upstream, ${count(down)} downstream` +
      (sql ? `<div class="swl-sql">produced by:${sql}</div>` : "");
  }

  function clear() {
    svg.querySelectorAll("[data-node], .swl-edge").forEach((n) => (n.style.opacity = "1"));
    info.textContent = "";
  }

  function draw() {
    view.innerHTML = model.get("svg");
    svg = view.querySelector("svg");
    if (!svg) return;
    svg.removeAttribute("style");
    svg.setAttribute("width", "100%");
    svg.setAttribute("height", "100%");
    const [x, y, w, h] = (svg.getAttribute("viewBox") || "0 0 100 100").split(/\s+/).map(Number);
    home = { x, y, w, h };
    setBox(home);
    let drag = null;
    let moved = false;
    svg.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, box: { ...box } };
      moved = false;
    });
    svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const scale = box.w / (svg.clientWidth || box.w);
      const dx = (e.clientX - drag.x) * scale;
      const dy = (e.clientY - drag.y) * scale;
      if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
      setBox({ ...drag.box, x: drag.box.x - dx, y: drag.box.y - dy });
    });
    svg.addEventListener("pointerup", () => (drag = null));
    svg.addEventListener("pointerleave", () => (drag = null));
    svg.addEventListener("wheel", (e) => {
      e.preventDefault();
      const f = e.deltaY > 0 ? 1.15 : 1 / 1.15;
      const r = svg.getBoundingClientRect();
      const fx = r.width ? (e.clientX - r.left) / r.width : 0.5;
      const fy = r.height ? (e.clientY - r.top) / r.height : 0.5;
      const px = box.x + fx * box.w;
      const py = box.y + fy * box.h;
      setBox({ x: px - (px - box.x) * f, y: py - (py - box.y) * f, w: box.w * f, h: box.h * f });
    }, { passive: false });
    svg.addEventListener("click", (e) => {
      if (moved) return;
      const g = e.target.closest("[data-node]");
      if (g) select(g.getAttribute("data-node"));
      else clear();
    });
  }

  reset.addEventListener("click", () => {
    if (svg && home) setBox(home);
    if (svg) clear();
  });
  model.on("change:svg", draw);
  draw();
  return () => model.off("change:svg", draw);
}

export default { render };
