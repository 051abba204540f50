// Charts for the console and the offline reports: plain SVG, no library.
// A chart is an <svg role="img"> with a label that says what it shows,
// axis ticks on round values (1, 2, 5 × 10^k), and units on its axes.
"use strict";

const SG_SVG = "http://www.w3.org/2000/svg";

// sgNiceTicks returns about n round tick values covering [lo, hi].
function sgNiceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; }
  const raw = (hi - lo) / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = mag;
  for (const m of [1, 2, 5, 10]) {
    if (m * mag >= raw) { step = m * mag; break; }
  }
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

function sgNode(tag, attrs, text) {
  const e = document.createElementNS(SG_SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) { e.setAttribute(k, String(v)); }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

// sgFormatTick prints a tick value without float noise.
function sgFormatTick(v) {
  if (v === 0) { return "0"; }
  const a = Math.abs(v);
  if (a >= 100) { return v.toFixed(0); }
  if (a >= 10) { return v.toFixed(1).replace(/\.0$/, ""); }
  return Number(v.toPrecision(3)).toString();
}

// sgLineChart draws series over time. opts: {label, unit, times (Date[]),
// series: [{name, values, cls}], limit (a horizontal line, same unit),
// limitLabel, width, height, yMin}.
function sgLineChart(opts) {
  const W = opts.width || 560, H = opts.height || 180;
  const m = { l: 56, r: 12, t: 12, b: 30 };
  const svg = sgNode("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "chart" });
  svg.appendChild(sgNode("title", {}, opts.label));
  const times = opts.times || [];
  let hi = opts.limit || 0, lo = opts.yMin === undefined ? 0 : opts.yMin;
  for (const s of opts.series) { for (const v of s.values) { if (v > hi) { hi = v; } } }
  if (hi <= lo) { hi = lo + 1; }
  hi *= 1.05;
  const t0 = times.length ? times[0].getTime() : 0;
  const t1 = times.length > 1 ? times[times.length - 1].getTime() : t0 + 1;
  const x = (t) => m.l + (W - m.l - m.r) * ((t - t0) / Math.max(1, t1 - t0));
  const y = (v) => H - m.b - (H - m.t - m.b) * ((v - lo) / (hi - lo));
  for (const tv of sgNiceTicks(lo, hi, 4)) {
    svg.appendChild(sgNode("line", { x1: m.l, x2: W - m.r, y1: y(tv), y2: y(tv), class: "grid" }));
    svg.appendChild(sgNode("text", { x: m.l - 6, y: y(tv) + 4, "text-anchor": "end", class: "tick" }, sgFormatTick(tv)));
  }
  svg.appendChild(sgNode("text", { x: 4, y: m.t + 2, class: "unit", "dominant-baseline": "hanging" }, opts.unit));
  // x ticks: minutes (or seconds, over a short span) before the last sample
  if (times.length > 1) {
    const secs = (t1 - t0) < 180000;
    const unit = secs ? 1000 : 60000;
    for (const mv of sgNiceTicks(0, (t1 - t0) / unit, 5)) {
      const t = t1 - mv * unit;
      if (t < t0) { continue; }
      svg.appendChild(sgNode("text", { x: x(t), y: H - 10, "text-anchor": "middle", class: "tick" },
        mv === 0 ? "now" : `−${sgFormatTick(mv)} ${secs ? "s" : "min"}`));
    }
  }
  if (opts.limit) {
    svg.appendChild(sgNode("line", { x1: m.l, x2: W - m.r, y1: y(opts.limit), y2: y(opts.limit), class: "limit" }));
    svg.appendChild(sgNode("text", { x: W - m.r - 4, y: y(opts.limit) - 4, "text-anchor": "end", class: "limit-label" },
      opts.limitLabel || "limit"));
  }
  opts.series.forEach((s, i) => {
    if (!s.values.length) { return; }
    const pts = s.values.map((v, k) => `${x(times[k].getTime()).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    const line = sgNode("polyline", { points: pts, class: "series " + (s.cls || "s" + i) });
    line.appendChild(sgNode("title", {}, s.name));
    svg.appendChild(line);
  });
  if (!times.length) {
    svg.appendChild(sgNode("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, "no samples yet"));
  }
  svg.setAttribute("aria-label", opts.label);
  return svg;
}

// sgBar is a horizontal gauge of value against limit, as a <meter>-like
// SVG with its percentage; the class says how close to the limit it is.
function sgBar(value, limit, label) {
  const frac = limit > 0 ? value / limit : 0;
  const W = 120, H = 12;
  const svg = sgNode("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "bar" });
  svg.setAttribute("aria-label", `${label}: ${(frac * 100).toFixed(1)}% of its limit`);
  svg.appendChild(sgNode("rect", { x: 0, y: 0, width: W, height: H, class: "bar-bg" }));
  const cls = frac >= 0.95 ? "bar-hot" : frac >= 0.8 ? "bar-warm" : "bar-ok";
  svg.appendChild(sgNode("rect", { x: 0, y: 0, width: Math.max(0, Math.min(1, frac)) * W, height: H, class: cls }));
  return svg;
}

// sgSortable makes a table's columns sortable by clicking (or pressing
// Enter on) a header button; cells with a data-v attribute sort by that
// number, others by their text.
function sgSortable(tbl) {
  const ths = tbl.querySelectorAll("thead th");
  ths.forEach((th, i) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "sort";
    b.textContent = th.textContent;
    th.replaceChildren(b);
    b.addEventListener("click", () => {
      const dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
      ths.forEach((o) => o.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
      const body = tbl.tBodies[0];
      const key = (r) => {
        const c = r.cells[i];
        const v = c && c.dataset.v;
        return v !== undefined ? Number(v) : (c ? c.textContent : "");
      };
      const rows = Array.from(body.rows);
      rows.sort((a, b2) => { const x = key(a), y = key(b2); return (x < y ? -1 : x > y ? 1 : 0) * dir; });
      body.append(...rows);
    });
  });
  return tbl;
}
