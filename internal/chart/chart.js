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
//
// Reports draw over numbers instead of clock times: opts.xs (or a series'
// own xs) gives each value's x, opts.xUnit the unit its ticks carry
// ("h", "d"), opts.logX a log scale whose ticks are round values in that
// unit (0.1 h, 1 h, 10 h), opts.xMin/xMax the range. Further options, all
// optional: yMax (the axis reaches at least this), yFormat (a tick
// formatter), refs ([{y, label}]: dashed lines like limit, in grey),
// legend (names the series under the axis), stack (series are stacked
// areas, as the parts of a whole), unitAbove (the unit gets a row of its
// own above the plot, clear of the top tick), spans ([{x0, x1, label}]:
// shaded windows of x, such as a grid event's, on numeric x only).
function sgLineChart(opts) {
  const W = opts.width || 560, H = opts.height || 180;
  const numeric = !!opts.xs || opts.series.some((s) => !!s.xs);
  const xsOf = (s) => s.xs || opts.xs || [];
  const legend = opts.legend ? sgLegendLayout(opts.series, W) : null;
  const m = { l: 56, r: 12, t: opts.unitAbove ? 26 : 12, b: 30 + (legend ? legend.height : 0) };
  const svg = sgNode("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "chart" });
  svg.appendChild(sgNode("title", {}, opts.label));
  const times = opts.times || [];
  const shown = opts.stack ? sgStack(opts.series.map((s) => s.values)) : opts.series.map((s) => s.values);
  let hi = opts.limit || 0, lo = opts.yMin === undefined ? 0 : opts.yMin;
  for (const vs of shown) { for (const v of vs) { if (v > hi) { hi = v; } } }
  for (const r of opts.refs || []) { if (r.y > hi) { hi = r.y; } }
  if (opts.yMax !== undefined && opts.yMax > hi) { hi = opts.yMax; }
  if (hi <= lo) { hi = lo + 1; }
  hi *= 1.05;
  const t0 = times.length ? times[0].getTime() : 0;
  const t1 = times.length > 1 ? times[times.length - 1].getTime() : t0 + 1;
  let x = (t) => m.l + (W - m.l - m.r) * ((t - t0) / Math.max(1, t1 - t0));
  const y = (v) => H - m.b - (H - m.t - m.b) * ((v - lo) / (hi - lo));
  const fmtY = opts.yFormat || sgFormatTick;
  for (const tv of sgNiceTicks(lo, hi, 4)) {
    svg.appendChild(sgNode("line", { x1: m.l, x2: W - m.r, y1: y(tv), y2: y(tv), class: "grid" }));
    svg.appendChild(sgNode("text", { x: m.l - 6, y: y(tv) + 4, "text-anchor": "end", class: "tick" }, fmtY(tv)));
  }
  svg.appendChild(sgNode("text", { x: 4, y: opts.unitAbove ? 6 : m.t + 2, class: "unit", "dominant-baseline": "hanging" }, opts.unit));
  let points = 0;
  if (numeric) {
    const ax = sgXAxis(opts, opts.series.map(xsOf), m.l, W - m.r);
    x = ax.x;
    for (const tv of ax.ticks) {
      svg.appendChild(sgNode("line", { x1: x(tv), x2: x(tv), y1: m.t, y2: H - m.b, class: "grid" }));
      // a label at the right edge ends there rather than overflow it
      const edge = x(tv) > W - m.r - 30;
      svg.appendChild(sgNode("text", { x: edge ? W - m.r : x(tv), y: H - m.b + 20, "text-anchor": edge ? "end" : "middle", class: "tick" },
        sgFormatTick(tv) + (opts.xUnit ? " " + opts.xUnit : "")));
    }
  } else if (times.length > 1) {
    // x ticks: minutes (or seconds, over a short span) before the last sample
    const secs = (t1 - t0) < 180000;
    const unit = secs ? 1000 : 60000;
    for (const mv of sgNiceTicks(0, (t1 - t0) / unit, 5)) {
      const t = t1 - mv * unit;
      if (t < t0) { continue; }
      svg.appendChild(sgNode("text", { x: x(t), y: H - 10, "text-anchor": "middle", class: "tick" },
        mv === 0 ? "now" : `−${sgFormatTick(mv)} ${secs ? "s" : "min"}`));
    }
  }
  if (numeric) {
    for (const sp of opts.spans || []) {
      const a = Math.max(m.l, x(sp.x0)), b = Math.min(W - m.r, x(sp.x1));
      if (!(b > a)) { continue; }
      const rect = sgNode("rect", { x: a, y: m.t, width: b - a, height: H - m.t - m.b, class: "span" });
      rect.appendChild(sgNode("title", {}, sp.label || ""));
      svg.appendChild(rect);
      svg.appendChild(sgNode("text", { x: a + 3, y: m.t + 11, class: "span-label" }, sp.label || ""));
    }
  }
  for (const r of opts.refs || []) {
    svg.appendChild(sgNode("line", { x1: m.l, x2: W - m.r, y1: y(r.y), y2: y(r.y), class: "ref" }));
    svg.appendChild(sgNode("text", { x: m.l + 4, y: y(r.y) + 13, class: "ref-label" }, r.label || ""));
  }
  if (opts.limit) {
    svg.appendChild(sgNode("line", { x1: m.l, x2: W - m.r, y1: y(opts.limit), y2: y(opts.limit), class: "limit" }));
    svg.appendChild(sgNode("text", { x: W - m.r - 4, y: y(opts.limit) - 4, "text-anchor": "end", class: "limit-label" },
      opts.limitLabel || "limit"));
  }
  opts.series.forEach((s, i) => {
    if (!s.values.length) { return; }
    const at = numeric ? xsOf(s) : times.map((t) => t.getTime());
    const ok = (k) => at[k] !== undefined && (!opts.logX || at[k] > 0);
    const xy = (v, k) => `${x(at[k]).toFixed(1)},${y(v).toFixed(1)}`;
    const top = [];
    shown[i].forEach((v, k) => { if (ok(k)) { top.push(xy(v, k)); } });
    points += top.length;
    let shape;
    if (opts.stack) {
      const base = [];
      (i > 0 ? shown[i - 1] : s.values.map(() => 0)).forEach((v, k) => { if (ok(k)) { base.push(xy(v, k)); } });
      shape = sgNode("polygon", { points: top.concat(base.reverse()).join(" "), class: "area " + (s.cls || "s" + i) });
    } else {
      shape = sgNode("polyline", { points: top.join(" "), class: "series " + (s.cls || "s" + i) });
    }
    shape.appendChild(sgNode("title", {}, s.name));
    svg.appendChild(shape);
  });
  if (legend) {
    legend.items.forEach((it, i) => {
      const s = opts.series[i];
      const ly = H - m.b + 30 + it.row * 16;
      svg.appendChild(sgNode("rect", { x: m.l + it.x, y: ly, width: 10, height: 10, class: "swatch " + (s.cls || "s" + i) }));
      svg.appendChild(sgNode("text", { x: m.l + it.x + 14, y: ly + 9, class: "legend" }, s.name));
    });
  }
  if (numeric ? !points : !times.length) {
    svg.appendChild(sgNode("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "tick" }, numeric ? "no data" : "no samples yet"));
  }
  svg.setAttribute("aria-label", opts.label);
  return svg;
}

// sgStack returns the running sums of rows of values: the tops of stacked
// areas.
function sgStack(rows) {
  const out = [];
  rows.forEach((vs, i) => { out.push(vs.map((v, k) => v + (i > 0 ? out[i - 1][k] || 0 : 0))); });
  return out;
}

// sgXAxis maps numeric x values to pixels between px0 and px1 and picks
// round ticks: 1, 2, 5 × 10^k on a linear scale; powers of ten on a log
// scale (with 2× and 5× between them when it spans two decades or less).
function sgXAxis(opts, xss, px0, px1) {
  let a = Infinity, b = -Infinity;
  for (const xs of xss) {
    for (const v of xs) {
      if (opts.logX && !(v > 0)) { continue; }
      if (v < a) { a = v; }
      if (v > b) { b = v; }
    }
  }
  if (opts.xMin !== undefined) { a = opts.xMin; }
  if (opts.xMax !== undefined) { b = opts.xMax; }
  const n = Math.max(3, Math.floor((px1 - px0) / 90));
  if (opts.logX) {
    if (!(a > 0)) { a = 1; }
    if (!(b >= a)) { b = a; }
    const d0 = Math.floor(Math.log10(a) + 1e-9);
    let d1 = Math.ceil(Math.log10(b) - 1e-9);
    if (d1 <= d0) { d1 = d0 + 1; }
    const ticks = [];
    for (let d = d0; d <= d1; d++) {
      const p = Math.pow(10, d);
      ticks.push(Number(p.toPrecision(1)));
      if (d1 - d0 <= 2 && d < d1) { ticks.push(Number((2 * p).toPrecision(1)), Number((5 * p).toPrecision(1))); }
    }
    return { ticks, x: (v) => px0 + (px1 - px0) * ((Math.log10(v) - d0) / (d1 - d0)) };
  }
  if (!isFinite(a)) { a = 0; b = 1; }
  if (!(b > a)) { b = a + 1; }
  const ticks = sgNiceTicks(a, b, n).filter((v) => v >= a - 1e-9 * (b - a) && v <= b + 1e-9 * (b - a));
  return { ticks, x: (v) => px0 + (px1 - px0) * ((v - a) / (b - a)) };
}

// sgLegendLayout places the series' names in rows under a chart of width W.
function sgLegendLayout(series, W) {
  const items = [];
  let x = 0, row = 0;
  for (const s of series) {
    const w = 22 + 6.5 * String(s.name).length;
    if (x > 0 && 56 + x + w > W - 12) { x = 0; row++; }
    items.push({ x, row });
    x += w;
  }
  return { items, height: series.length ? 16 * (row + 1) + 4 : 0 };
}

// sgBar is a horizontal gauge of value against limit, as a <meter>-like
// SVG with its percentage; the class says how close to the limit it is,
// or with opts.plain it is a part of a whole, with no warning in its
// colour (class bar-part).
function sgBar(value, limit, label, opts) {
  const frac = limit > 0 ? value / limit : 0;
  const W = 120, H = 12;
  const svg = sgNode("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", class: "bar" });
  svg.setAttribute("aria-label", `${label}: ${(frac * 100).toFixed(1)}% of its limit`);
  svg.appendChild(sgNode("rect", { x: 0, y: 0, width: W, height: H, class: "bar-bg" }));
  const cls = opts && opts.plain ? "bar-part" : frac >= 0.95 ? "bar-hot" : frac >= 0.8 ? "bar-warm" : "bar-ok";
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
