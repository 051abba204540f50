// The Stargate console: a live view of the fleet over the public /v1 API
// and its event stream. No framework and no build step: pages are plain
// functions that build DOM nodes (never HTML strings from data).
"use strict";

const state = { me: null, stream: null, page: null, params: [] };
const $ = (id) => document.getElementById(id);

// el builds an element: el("td", {class: "num"}, "12 kW", child, ...).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) { continue; }
    if (k.startsWith("on")) { e.addEventListener(k.slice(2), v); } else { e.setAttribute(k, v === true ? "" : String(v)); }
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null) { continue; }
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

// ---- formatting: every number carries its unit

function fmtW(w) {
  const a = Math.abs(w);
  if (a >= 1e9) { return (w / 1e9).toFixed(2) + " GW"; }
  if (a >= 1e6) { return (w / 1e6).toFixed(2) + " MW"; }
  if (a >= 1e3) { return (w / 1e3).toFixed(1) + " kW"; }
  return w.toFixed(0) + " W";
}
const fmtPct = (f) => (f * 100).toFixed(1) + " %";
const fmtInt = (n) => Number(n).toLocaleString("en-US");
const fmtUSD = (v) => "$" + Number(v).toLocaleString("en-US", { maximumFractionDigits: v < 100 ? 2 : 0 });
function fmtKg(kg) { return kg >= 1000 ? (kg / 1000).toFixed(2) + " t" : kg.toFixed(1) + " kg"; }
function fmtTime(t) {
  if (!t) { return "—"; }
  const d = new Date(t);
  return isNaN(d) || d.getFullYear() < 2000 ? "—" : d.toLocaleString("en-GB", { hour12: false });
}
function fmtDur(s) {
  if (!s) { return "—"; }
  if (s < 120) { return s.toFixed(0) + " s"; }
  if (s < 7200) { return (s / 60).toFixed(0) + " min"; }
  return (s / 3600).toFixed(1) + " h";
}
const accels = (j) => (j.placement || []).reduce((n, a) => n + a.accelerators.length, 0);

// ---- the API

class APIError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(path, opts) {
  opts = opts || {};
  const headers = { "Accept": "application/json" };
  if (opts.body !== undefined) { headers["Content-Type"] = "application/json"; }
  const r = await fetch(path, { method: opts.method || "GET", headers, credentials: "same-origin",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  if (r.status === 204) { return null; }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const msg = body && body.error ? body.error : `${r.status} ${r.statusText}`;
    if (r.status === 401 && state.me && path !== "/v1/session") { showSignIn("Your session ended; sign in again."); }
    throw new APIError(r.status, msg);
  }
  return body;
}

const isOperator = () => state.me && (state.me.role === "admin" || state.me.role === "operator");

function announce(msg) { $("announce").textContent = msg; }

function errorBox(err) {
  return el("p", { class: "error", role: "alert" }, err instanceof Error ? err.message : String(err));
}

// ---- sign-in

function showSignIn(message) {
  stopStream();
  state.me = null;
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  const main = $("main");
  main.replaceChildren();
  const msg = el("p", { id: "signin-msg", class: message ? "error" : "hint", role: message ? "alert" : null },
    message || "Sign in with a Stargate API token (admin, operator or user). It is exchanged for a session cookie and not kept in this page.");
  const input = el("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    spellcheck: "false", "aria-describedby": "signin-msg", placeholder: "sgt_…" });
  // method post: even a submit that bypasses this script never puts the
  // token in a URL
  const form = el("form", { id: "signin", class: "signin", method: "post", action: "/v1/session" },
    el("h1", {}, "Sign in"),
    msg,
    el("label", { for: "token" }, "API token"),
    input,
    el("button", { type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("/v1/session", { method: "POST", body: { token: input.value } });
      input.value = "";
      await start();
    } catch (err) {
      input.value = "";
      msg.className = "error";
      msg.setAttribute("role", "alert");
      msg.textContent = "Sign-in refused: " + err.message;
      input.focus();
    }
  });
  main.append(form);
  document.title = "Sign in · Stargate";
  input.focus();
}

async function signOut() {
  try { await api("/v1/session", { method: "DELETE" }); } catch (e) { /* signed out either way */ }
  showSignIn();
}

// ---- the live stream

function startStream() {
  stopStream();
  const es = new EventSource("/v1/stream");
  let n = 0;
  es.addEventListener("tick", (ev) => {
    $("livestate").textContent = "live";
    const tick = JSON.parse(ev.data);
    n++;
    // a hidden tab does not refresh; heavy pages refresh every few ticks
    const p = state.page;
    if (document.hidden || !p || !p.refresh || n % (p.every || 1) !== 0) { return; }
    p.refresh(tick);
  });
  es.addEventListener("journal", (ev) => {
    if (state.page && state.page.journal) { state.page.journal(JSON.parse(ev.data)); }
  });
  es.onerror = () => { $("livestate").textContent = "reconnecting…"; };
  state.stream = es;
}

function stopStream() {
  if (state.stream) { state.stream.close(); state.stream = null; }
}

// ---- pages

// A page is {title, mount(main, params)} and optionally refresh(tick),
// called on every tick of the stream, and journal(event).
const pages = {};

function section(title, ...kids) {
  return el("section", { "aria-label": title }, el("h2", {}, title), ...kids);
}

function table(caption, heads, rows, attrs) {
  return el("table", attrs || {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col", class: h.num ? "num" : null }, h.label || h)))),
    el("tbody", {}, rows));
}

const sortable = sgSortable;

function num(text, v) { return el("td", { class: "num", "data-v": v }, text); }

// Fleet: every site against its substation, what its energy costs and
// emits now, and the last hour of draw.
pages.fleet = {
  title: "Fleet",
  mount(main) {
    this.body = el("div", { id: "fleet" });
    main.append(el("h1", {}, "Fleet"), this.body);
    return this.refresh();
  },
  async refresh() {
    let f;
    try { f = await api("/v1/fleet"); } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    const cards = el("div", { class: "cards" },
      card("Draw (facility)", fmtW(f.facility_w), `IT ${fmtW(f.draw_w)}`),
      card("Accelerators busy", `${fmtInt(f.busy_accelerators)} / ${fmtInt(f.accelerators)}`, fmtPct(f.accelerators ? f.busy_accelerators / f.accelerators : 0)),
      card("Energy cost", fmtUSD(f.cost_usd_per_hour) + " /h", ""),
      card("Emissions", fmtKg(f.emissions_kg_per_hour) + " CO₂ /h", ""),
      card("Jobs", `${fmtInt(f.jobs.running || 0)} running`, `${fmtInt(f.jobs.pending || 0)} pending`),
      card("Nodes", `${fmtInt(f.nodes.ready || 0)} ready`, `${fmtInt(f.nodes.draining || 0)} draining, ${fmtInt(f.nodes.lost || 0)} lost, ${fmtInt(f.nodes.unhealthy || 0)} unhealthy`));
    const rows = f.sites.map((s) => el("tr", { "data-site": s.name },
      el("th", { scope: "row" }, s.name),
      el("td", {}, s.region),
      num(`${fmtW(s.facility_w)} / ${fmtW(s.limit_w)}`, s.facility_w),
      el("td", { "data-v": s.facility_w / s.limit_w }, sgBar(s.facility_w, s.limit_w, s.name), " ", fmtPct(s.facility_w / s.limit_w)),
      num(`${fmtInt(s.busy_accelerators)} / ${fmtInt(s.accelerators)}`, s.busy_accelerators),
      el("td", {}, s.mix.length ? s.mix.map((p) => `${p.source} ${fmtW(p.mw * 1e6)}`).join(", ") : "—"),
      num(`${s.carbon_g_per_kwh.toFixed(0)} g/kWh`, s.carbon_g_per_kwh),
      num(`${fmtUSD(s.price_usd_per_mwh)} /MWh`, s.price_usd_per_mwh),
      num(`${fmtUSD(s.cost_usd_per_hour)} /h`, s.cost_usd_per_hour),
      num(`${fmtKg(s.emissions_kg_per_hour)} /h`, s.emissions_kg_per_hour)));
    const tbl = sortable(table("Sites now: draw at the substation against its rating", ["Site", "Region",
      { label: "Draw / limit", num: true }, "Load", { label: "Accelerators busy", num: true }, "Energy mix this hour",
      { label: "Carbon", num: true }, { label: "Price", num: true }, { label: "Cost", num: true }, { label: "Emissions", num: true }], rows, { id: "sites" }));
    const times = f.history.times.map((t) => new Date(t));
    const charts = el("div", { class: "charts" }, f.sites.map((s) => el("figure", {},
      sgLineChart({ label: `${s.name}: IT draw over the last hour against its IT limit of ${fmtW(s.it_limit_w)}`, unit: "MW",
        times, series: [{ name: `${s.name} IT draw`, values: (f.history.sites[s.name] || []).map((w) => w / 1e6) }],
        limit: s.it_limit_w / 1e6, limitLabel: `IT limit ${fmtW(s.it_limit_w)}` }),
      el("figcaption", {}, `${s.name}: IT draw, last hour (PUE ${s.pue})`))));
    this.body.replaceChildren(el("div", { class: "cards-wrap" }, cards), tbl, section("Draw over the last hour", charts),
      el("p", { class: "hint" }, `As of ${fmtTime(f.at)}. Draw is measured where agents report it, expected from the running jobs elsewhere.`));
  },
};

// gridTarget says what a grid event allows its scope.
function gridTarget(e) {
  if (e.target_mw) { return fmtW(e.target_mw * 1e6) + " at the facility"; }
  const share = fmtPct(e.target_fraction) + " of its draw";
  return e.baseline_mw ? `${share}: ${fmtW(e.target_fraction * e.baseline_mw * 1e6)} of ${fmtW(e.baseline_mw * 1e6)}` : share;
}

function card(title, value, sub) {
  return el("div", { class: "card" }, el("div", { class: "card-title" }, title), el("div", { class: "card-value" }, value),
    el("div", { class: "card-sub" }, sub));
}

// Power: the tree site → hall → row → rack, the hottest breakers first,
// and the caps in force.
pages.power = {
  title: "Power",
  every: 2,
  mount(main) {
    this.body = el("div", { id: "power" });
    this.open = new Set();
    main.append(el("h1", {}, "Power"), this.body);
    return this.refresh();
  },
  async refresh() {
    let p, running;
    try {
      [p, running] = await Promise.all([api("/v1/power?depth=rack"), api("/v1/jobs?state=running&limit=1000")]);
    } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    // grid events in force or announced: operators and admins may read them
    let grid = null;
    if (isOperator()) {
      try { grid = (await api("/v1/grid-events?state=scheduled,active")).events; } catch (err) { grid = null; }
    }
    const all = [];
    const walk = (d) => { all.push(d); (d.children || []).forEach(walk); };
    p.sites.forEach(walk);
    const limitOf = (d) => d.level === "site" ? d.it_limit_w : d.limit_w;
    const hot = all.filter((d) => limitOf(d) > 0).sort((a, b) => b.draw_w / limitOf(b) - a.draw_w / limitOf(a)).slice(0, 15);
    const hotRows = hot.map((d) => el("tr", { "data-domain": d.name },
      el("td", {}, d.level), el("th", { scope: "row" }, d.name),
      num(`${fmtW(d.draw_w)} / ${fmtW(limitOf(d))}`, d.draw_w),
      el("td", { "data-v": d.draw_w / limitOf(d) }, sgBar(d.draw_w, limitOf(d), d.name), " ", fmtPct(d.draw_w / limitOf(d))),
      num(fmtW(d.headroom_w), d.headroom_w)));
    const capped = running.jobs.filter((j) => j.cap_w > 0);
    const capRows = capped.map((j) => el("tr", {},
      el("td", {}, el("a", { href: "#/job/" + encodeURIComponent(j.id) }, j.spec.name || j.id)), el("td", {}, j.tenant),
      num(`${j.cap_w.toFixed(0)} W`, j.cap_w), num(fmtInt(accels(j)), accels(j)),
      el("td", {}, Array.from(new Set((j.placement || []).map((a) => a.node.split("/").slice(0, 4).join("/")))).join(", "))));
    const tree = el("div", { class: "tree" }, p.sites.map((s) => this.domain(s, limitOf)));
    this.body.replaceChildren(
      sortable(table("Hottest breakers: draw against limit (sites against their IT limit)", ["Level", "Breaker",
        { label: "Draw / limit", num: true }, "Load", { label: "Headroom", num: true }], hotRows, { id: "hottest" })),
      section(`Caps in force (${capped.length})`, capped.length ? sortable(table("Running jobs whose accelerators are power-capped", ["Job", "Tenant",
        { label: "Cap per accelerator", num: true }, { label: "Accelerators", num: true }, "Racks"], capRows, { id: "caps" }))
        : el("p", {}, "No job is capped now.")),
      grid === null ? null : section(`Grid events (${grid.length})`, grid.length ? table("Grid events in force or announced", ["Event", "State", "Kind", "Scope", "Target",
        "Start", "End"], grid.map((e) => el("tr", { "data-grid-event": e.id }, el("td", {}, e.id), el("td", { class: "state" }, e.state), el("td", {}, e.kind),
        el("td", {}, `${e.scope_kind} ${e.scope}`), el("td", {}, gridTarget(e)), el("td", {}, fmtTime(e.start)),
        el("td", {}, fmtTime(new Date(new Date(e.start).getTime() + e.duration_s * 1000))))), { id: "grid-events" })
        : el("p", {}, "No grid event in force or announced.")),
      section("Tree", tree));
  },
  domain(d, limitOf) {
    const lim = limitOf(d);
    const label = el("span", { class: "dom" }, el("span", { class: "dom-level" }, d.level), " ", d.name.split("/").pop(), " ",
      sgBar(d.draw_w, lim, d.name), ` ${fmtW(d.draw_w)} / ${fmtW(lim)} (${fmtPct(lim ? d.draw_w / lim : 0)}), ${fmtInt(d.nodes)} nodes`);
    if (!d.children || !d.children.length) { return el("div", { class: "leaf" }, label); }
    const det = el("details", { open: this.open.has(d.name) || d.level === "site" },
      el("summary", {}, label), d.children.map((c) => this.domain(c, limitOf)));
    det.addEventListener("toggle", () => { if (det.open) { this.open.add(d.name); } else { this.open.delete(d.name); } });
    return det;
  },
};

// Jobs: pending with the reason each waits, running with placement,
// finished with how they ended; filters by tenant, state and kind.
pages.jobs = {
  title: "Jobs",
  mount(main) {
    const f = this.filters = { state: "pending,running", tenant: "", kind: "" };
    const stateSel = el("select", { id: "f-state" },
      [["pending,running", "pending and running"], ["pending", "pending"], ["running", "running"],
        ["succeeded,failed,cancelled,timeout", "finished"], ["all", "all"]].map(([v, l]) => el("option", { value: v }, l)));
    const kindSel = el("select", { id: "f-kind" }, [["", "any"], ["training", "training"], ["inference", "inference"], ["batch", "batch"]]
      .map(([v, l]) => el("option", { value: v }, l)));
    const tenantIn = el("input", { id: "f-tenant", type: "text", placeholder: "all", size: 14,
      value: state.me.role === "user" ? state.me.tenant : "", disabled: state.me.role === "user" });
    stateSel.addEventListener("change", () => { f.state = stateSel.value; this.refresh(); });
    kindSel.addEventListener("change", () => { f.kind = kindSel.value; this.refresh(); });
    tenantIn.addEventListener("change", () => { f.tenant = tenantIn.value.trim(); this.refresh(); });
    this.body = el("div", { id: "jobs" });
    main.append(el("h1", {}, "Jobs"),
      el("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
        el("label", { for: "f-state" }, "State"), stateSel,
        el("label", { for: "f-tenant" }, "Tenant"), tenantIn,
        el("label", { for: "f-kind" }, "Kind"), kindSel),
      this.body);
    return this.refresh();
  },
  async refresh() {
    const f = this.filters;
    const all = f.state === "all";
    const q = new URLSearchParams({ limit: "500", order: all || f.state.includes("succeeded") ? "newest" : "oldest" });
    if (!all) { q.set("state", f.state); }
    if (f.tenant && state.me.role !== "user") { q.set("tenant", f.tenant); }
    let list;
    try { list = await api("/v1/jobs?" + q); } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    const jobs = list.jobs.filter((j) => !f.kind || (j.spec.kind || "batch") === f.kind);
    const op = isOperator();
    const rows = jobs.map((j) => el("tr", { "data-job": j.id, "data-state": j.state },
      el("td", {}, el("a", { href: "#/job/" + encodeURIComponent(j.id) }, j.id)),
      el("td", {}, j.spec.name || ""),
      el("td", {}, j.tenant),
      el("td", {}, j.spec.kind || "batch"),
      el("td", { class: "state state-" + j.state }, j.state),
      num(fmtInt(j.spec.accelerators), j.spec.accelerators),
      el("td", {}, detail(j)),
      el("td", {}, fmtTime(j.submitted_at)),
      op ? el("td", {}, j.state === "pending" || j.state === "running"
        ? el("button", { type: "button", class: "danger", onclick: () => cancelJob(j) , "aria-label": `Cancel job ${j.id}` }, "Cancel") : "") : null));
    const heads = ["Job", "Name", "Tenant", "Kind", "State", { label: "Accelerators", num: true }, "Why it waits / where it runs / how it ended", "Submitted"];
    if (op) { heads.push("Actions"); }
    this.body.replaceChildren(
      el("p", { class: "hint" }, `${jobs.length} job${jobs.length === 1 ? "" : "s"}${list.next ? " (the first 500; narrow the filters to see others)" : ""}.`),
      sortable(table("Jobs", heads, rows, { id: "jobs-table" })));
  },
};

function detail(j) {
  switch (j.state) {
    case "pending": return (j.reasons || []).join("; ") || "waiting for the next pass";
    case "running": {
      const nodes = (j.placement || []).map((a) => a.node);
      const cap = j.cap_w ? ` (capped at ${j.cap_w.toFixed(0)} W per accelerator)` : "";
      return (nodes.length > 3 ? `${nodes.slice(0, 3).join(", ")} and ${nodes.length - 3} more` : nodes.join(", ")) + cap;
    }
    default: return (j.reasons || []).join("; ") || j.state;
  }
}

async function cancelJob(j) {
  if (!confirm(`Cancel job ${j.id} (${j.spec.name || "unnamed"})?`)) { return; }
  try { await api("/v1/jobs/" + encodeURIComponent(j.id), { method: "DELETE" }); announce(`Job ${j.id} cancelled.`); } catch (err) { alert(err.message); }
  if (state.page.refresh) { state.page.refresh(); }
}

// A job: spec, events, placement and live logs.
pages.job = {
  title: "Job",
  mount(main, params) {
    this.id = params[0];
    this.logAfter = 0;
    this.head = el("div", {});
    this.logs = el("pre", { id: "logs", class: "logs", tabindex: "0", role: "log", "aria-label": "Output of the job" });
    main.append(el("h1", {}, "Job ", el("code", {}, this.id)), this.head, section("Output (live)", this.logs));
    return this.refresh();
  },
  async refresh() {
    let j, evs, logs;
    const id = encodeURIComponent(this.id);
    try {
      [j, evs, logs] = await Promise.all([api("/v1/jobs/" + id), api(`/v1/jobs/${id}/events`),
        api(`/v1/jobs/${id}/logs?after=${this.logAfter}`)]);
    } catch (err) { this.head.replaceChildren(errorBox(err)); return; }
    const placement = (j.placement || []).map((a) => el("tr", {}, el("td", {}, el("a", { href: "#/node/" + encodeURIComponent(a.node) }, a.node)),
      el("td", {}, a.accelerators.join(", ")), el("td", {}, a.done ? "done" : "running")));
    const evRows = (evs.events || []).map((e) => el("tr", {}, el("td", {}, fmtTime(e.time)), el("td", {}, e.kind), el("td", {}, e.node || ""), el("td", {}, e.message || "")));
    this.head.replaceChildren(
      el("dl", { class: "facts" },
        el("dt", {}, "State"), el("dd", { id: "job-state", class: "state state-" + j.state }, j.state),
        el("dt", {}, "Tenant"), el("dd", {}, j.tenant),
        el("dt", {}, "Kind"), el("dd", {}, j.spec.kind || "batch"),
        el("dt", {}, "Accelerators"), el("dd", {}, fmtInt(j.spec.accelerators)),
        el("dt", {}, j.state === "pending" ? "Why it waits" : "Reasons"), el("dd", {}, (j.reasons || []).join("; ") || "—"),
        el("dt", {}, "Attempts"), el("dd", {}, String(j.attempts)),
        el("dt", {}, "Submitted"), el("dd", {}, fmtTime(j.submitted_at)),
        el("dt", {}, "Started"), el("dd", {}, fmtTime(j.started_at)),
        el("dt", {}, "Ended"), el("dd", {}, fmtTime(j.ended_at)),
        el("dt", {}, "Power cap"), el("dd", {}, j.cap_w ? `${j.cap_w.toFixed(0)} W per accelerator` : "none")),
      isOperator() && (j.state === "pending" || j.state === "running")
        ? el("p", {}, el("button", { type: "button", class: "danger", onclick: () => cancelJob(j) }, "Cancel this job")) : null,
      section("Placement", placement.length ? table("Where the job runs", ["Node", "Accelerators", "State"], placement) : el("p", {}, "Not placed.")),
      section("Events", table("The job's events", ["Time", "Kind", "Node", "Message"], evRows)),
      section("Spec", el("pre", { class: "spec", tabindex: "0", role: "region", "aria-label": "The job's spec" }, JSON.stringify(j.spec, null, 2))));
    for (const c of logs.chunks || []) {
      const bytes = Uint8Array.from(atob(c.data || ""), (ch) => ch.charCodeAt(0));
      this.logs.append(new TextDecoder().decode(bytes));
    }
    this.logAfter = logs.next || this.logAfter;
    if (!this.logs.textContent) { this.logs.textContent = ""; }
  },
};

// Nodes: state, accelerators in use, draw, drain and undrain.
pages.nodes = {
  title: "Nodes",
  every: 3,
  mount(main) {
    this.filter = "";
    const q = el("input", { id: "f-node", type: "search", placeholder: "site/hall/row", size: 30 });
    q.addEventListener("input", () => { this.filter = q.value.trim(); this.refresh(); });
    this.body = el("div", { id: "nodes" });
    main.append(el("h1", {}, "Nodes"), el("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
      el("label", { for: "f-node" }, "Name contains"), q), this.body);
    return this.refresh();
  },
  async refresh() {
    let list;
    try { list = await api("/v1/nodes"); } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    const op = isOperator();
    const nodes = list.nodes.filter((n) => !this.filter || n.name.includes(this.filter));
    const shown = nodes.slice(0, 300);
    const rows = shown.map((n) => el("tr", { "data-node": n.name, "data-state": n.state },
      el("td", {}, el("a", { href: "#/node/" + encodeURIComponent(n.name) }, n.name)),
      el("td", {}, n.model),
      el("td", { class: "state state-" + n.state }, n.state),
      num(`${n.allocated} / ${n.accelerators}`, n.allocated),
      num(n.draw_w >= 0 ? fmtW(n.draw_w) : "—", n.draw_w),
      el("td", {}, fmtTime(n.heartbeat_at)),
      op ? el("td", {}, nodeButton(n)) : null));
    const heads = ["Node", "Model", "State", { label: "Accelerators in use", num: true }, { label: "Draw", num: true }, "Last heartbeat"];
    if (op) { heads.push("Actions"); }
    this.body.replaceChildren(el("p", { class: "hint" }, `${fmtInt(nodes.length)} nodes${nodes.length > shown.length ? `, the first ${shown.length} shown: narrow by name` : ""}.`),
      sortable(table("Registered nodes", heads, rows, { id: "nodes-table" })));
  },
};

function nodeButton(n) {
  const drained = n.drained || n.state === "draining";
  const verb = drained ? "undrain" : "drain";
  return el("button", { type: "button", class: drained ? "" : "danger", "aria-label": `${verb} ${n.name}`,
    onclick: async () => {
      try { await api(`/v1/nodes/${encodeURIComponent(n.name)}/${verb}`, { method: "POST" }); announce(`Node ${n.name}: ${verb}ed.`); } catch (err) { alert(err.message); }
      if (state.page.refresh) { state.page.refresh(); }
    } }, drained ? "Undrain" : "Drain");
}

// A node: per-accelerator telemetry.
pages.node = {
  title: "Node",
  mount(main, params) {
    this.name = params.join("/");
    this.body = el("div", {});
    main.append(el("h1", {}, "Node ", el("code", {}, this.name)), this.body);
    return this.refresh();
  },
  async refresh() {
    let n;
    try { n = await api("/v1/nodes/" + encodeURIComponent(this.name)); } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    const t = n.telemetry || {};
    const rows = (t.accelerators || []).map((a) => el("tr", {},
      num(String(a.index), a.index), num(`${a.power_w.toFixed(0)} W`, a.power_w), num(fmtPct(a.util), a.util),
      num(`${(a.mem_used_mib / 1024).toFixed(1)} / ${((a.mem_total_mib || 0) / 1024).toFixed(0)} GiB`, a.mem_used_mib),
      num(`${a.temp_c.toFixed(0)} °C`, a.temp_c), num(a.cap_w ? `${a.cap_w.toFixed(0)} W` : "—", a.cap_w || 0), el("td", {}, a.fatal || "ok")));
    this.body.replaceChildren(
      el("dl", { class: "facts" },
        el("dt", {}, "State"), el("dd", { class: "state state-" + n.state }, n.state),
        el("dt", {}, "Model"), el("dd", {}, n.model),
        el("dt", {}, "Accelerators in use"), el("dd", {}, `${n.allocated} / ${n.accelerators}`),
        el("dt", {}, "Draw"), el("dd", {}, n.draw_w >= 0 ? fmtW(n.draw_w) : "not reported"),
        el("dt", {}, "Address"), el("dd", {}, n.address || "—"),
        el("dt", {}, "Last heartbeat"), el("dd", {}, fmtTime(n.heartbeat_at)),
        el("dt", {}, "Health"), el("dd", {}, t.unhealthy || "healthy")),
      isOperator() ? el("p", {}, nodeButton(n)) : null,
      section("Accelerators", rows.length ? table(`Telemetry as of ${fmtTime(t.at)}`, [{ label: "Index", num: true }, { label: "Power", num: true },
        { label: "Utilization", num: true }, { label: "Memory", num: true }, { label: "Temperature", num: true }, { label: "Cap", num: true }, "Health"], rows)
        : el("p", {}, "No telemetry from this node to this server yet.")));
  },
};

// Events: the journal, live (operators).
pages.events = {
  title: "Events",
  mount(main) {
    this.tbody = el("tbody", {});
    this.body = el("div", { id: "events" });
    main.append(el("h1", {}, "Events"), this.body);
    return this.load();
  },
  async load() {
    let list;
    try { list = await api("/v1/events?last=200"); } catch (err) {
      this.body.replaceChildren(errorBox(err.status === 403 ? "The journal is open to operators and admins." : err));
      return;
    }
    this.tbody.replaceChildren(...list.events.reverse().map((e) => this.row(e)));
    this.body.replaceChildren(el("table", { id: "events-table" }, el("caption", {}, "The journal, newest first (live)"),
      el("thead", {}, el("tr", {}, ["Seq", "Time", "Kind", "Job", "Node", "Message"].map((h) => el("th", { scope: "col" }, h)))), this.tbody));
  },
  row(e) {
    return el("tr", { "data-seq": e.seq }, num(String(e.seq), e.seq), el("td", {}, fmtTime(e.time)), el("td", {}, e.kind),
      el("td", {}, e.job ? el("a", { href: "#/job/" + encodeURIComponent(e.job) }, e.job) : ""), el("td", {}, e.node || ""), el("td", {}, e.message || ""));
  },
  journal(e) {
    this.tbody.prepend(this.row(e));
    while (this.tbody.rows.length > 500) { this.tbody.deleteRow(-1); }
  },
};

// Tenants: fair-share usage against weight and quota.
pages.tenants = {
  title: "Tenants",
  mount(main) {
    this.body = el("div", { id: "tenants" });
    this.acct = el("div", { id: "tenant-energy" });
    this.acctAt = 0;
    main.append(el("h1", {}, "Tenants"), this.body, section("Energy, cost and emissions of finished jobs, last 24 h", this.acct));
    return this.refresh();
  },
  async accounting() {
    if (Date.now() - this.acctAt < 30000) { return; }
    this.acctAt = Date.now();
    const since = new Date(Date.now() - 86400000).toISOString().replace(/\.\d+Z$/, "Z");
    let a;
    try { a = await api("/v1/accounting?by=tenant&since=" + encodeURIComponent(since)); } catch (err) { this.acct.replaceChildren(errorBox(err)); return; }
    const rows = a.rows.map((r) => el("tr", {}, el("th", { scope: "row" }, r.key), num(fmtInt(r.jobs), r.jobs),
      num(r.accelerator_hours.toFixed(1) + " h", r.accelerator_hours), num(r.facility_kwh.toFixed(1) + " kWh", r.facility_kwh),
      num(fmtUSD(r.cost_usd), r.cost_usd), num(fmtKg(r.emissions_kg), r.emissions_kg), num(r.lost_kwh.toFixed(1) + " kWh", r.lost_kwh)));
    this.acct.replaceChildren(rows.length ? sortable(table("By tenant: metered from the agents' telemetry, priced at each site's hourly mix",
      ["Tenant", { label: "Jobs", num: true }, { label: "Accelerator-hours", num: true }, { label: "Energy (facility)", num: true },
        { label: "Cost", num: true }, { label: "CO₂", num: true }, { label: "Lost to cut attempts", num: true }], rows, { id: "tenant-energy-table" }))
      : el("p", {}, "No job finished in the last 24 h."));
  },
  async refresh() {
    this.accounting();
    let list;
    try { list = await api("/v1/tenants"); } catch (err) { this.body.replaceChildren(errorBox(err)); return; }
    const rows = list.tenants.map((t) => el("tr", { "data-tenant": t.name },
      el("th", { scope: "row" }, t.name),
      num(t.weight.toString() + (t.configured ? "" : " (default)"), t.weight),
      num(t.quota ? fmtInt(t.quota) : "none", t.quota || 0),
      num(fmtInt(t.running_accelerators), t.running_accelerators),
      el("td", { "data-v": t.share }, sgBar(t.share, 1, `${t.name} share`), " ", fmtPct(t.share)),
      num(fmtPct(t.fair_share), t.fair_share),
      num(fmtInt(t.jobs.pending || 0), t.jobs.pending || 0),
      num(fmtInt(t.jobs.running || 0), t.jobs.running || 0)));
    this.body.replaceChildren(sortable(table("Fair share: accelerators held against the share each weight entitles (among tenants with work)",
      ["Tenant", { label: "Weight", num: true }, { label: "Quota (accelerators)", num: true }, { label: "Accelerators held", num: true },
        "Share of held", { label: "Fair share", num: true }, { label: "Pending jobs", num: true }, { label: "Running jobs", num: true }], rows, { id: "tenants-table" })));
  },
};

// ---- routing

async function route() {
  if (!state.me) { return; }
  const parts = (location.hash.replace(/^#\/?/, "") || "fleet").split("/").map(decodeURIComponent);
  const page = pages[parts[0]] || pages.fleet;
  state.page = page;
  const main = $("main");
  main.replaceChildren();
  document.title = `${page.title} · Stargate`;
  document.querySelectorAll("#nav a").forEach((a) => {
    const here = a.getAttribute("href") === "#/" + parts[0] || (a.getAttribute("href") === "#/jobs" && parts[0] === "job") ||
      (a.getAttribute("href") === "#/nodes" && parts[0] === "node");
    if (here) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
  });
  await page.mount(main, parts.slice(1));
  main.focus({ preventScroll: true });
}

async function start() {
  try {
    state.me = await api("/v1/status");
  } catch (err) {
    if (err.status === 401) { showSignIn(); } else { $("main").replaceChildren(errorBox(err)); }
    return;
  }
  $("nav").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = state.me.role + (state.me.tenant ? ` of ${state.me.tenant}` : "");
  startStream();
  await route();
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", () => {
  $("signout").addEventListener("click", signOut);
  const q = new URLSearchParams(location.search);
  if (q.get("signin") === "refused") {
    history.replaceState(null, "", "/" + location.hash);
    showSignIn("That login link was refused: the token is unknown or was revoked.");
    return;
  }
  start();
});
