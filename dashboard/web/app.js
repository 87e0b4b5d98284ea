// AIProxy dashboard: a small single-page application over the dashboard's JSON API.
// Everything logged is untrusted text: it is only ever put in the page as text nodes.
"use strict";

const base = location.pathname.replace(/\/+$/, "");
const view = document.getElementById("view");
const tooltip = document.getElementById("tooltip");
const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#2f6fdb", "#2e9d5b", "#d98a1c", "#8e5bd9", "#d2443b", "#1aa3a3", "#7a7f87"];

// ---- small helpers ----

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c) e.append(c);
  return e;
}

async function api(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== undefined && v !== null) q.set(k, v);
  const url = base + "/api/" + path + (q.toString() ? "?" + q : "");
  const resp = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (resp.status === 401) { location.href = base + "/login"; throw new Error("sign in required"); }
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

const fmt = {
  int: (n) => Math.round(n || 0).toLocaleString("en-US"),
  usd: (n) => "$" + (n || 0).toFixed(n >= 100 ? 2 : 6),
  secs: (s) => !s ? "–" : s < 1 ? (s * 1000).toFixed(s < 0.01 ? 2 : 0) + " ms" : s.toFixed(2) + " s",
  bytes: (b) => {
    if (!b) return "0 B";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(1) : b) + " " + u[i];
  },
  duration: (s) => {
    if (!s) return "forever";
    if (s % 86400 === 0) return s / 86400 + " days";
    if (s % 3600 === 0) return s / 3600 + " hours";
    return s + " s";
  },
  compact: (n) => {
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (n / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (n / 1e3).toFixed(1) + "k";
    if (a > 0 && a < 1) return String(Number(n.toPrecision(2)));
    return String(Math.round(n * 100) / 100);
  },
};

function statusClass(code) {
  if (!code || code < 400) return "status-ok";
  return code < 500 ? "status-4xx" : "status-5xx";
}

// toLocalInput and fromLocalInput convert between an ISO time and a datetime-local value,
// both read as UTC: the log stores UTC and the dashboard shows UTC throughout.
function toInput(d) { return d.toISOString().slice(0, 16); }
function fromInput(v) { return v ? new Date(v + ":00Z").toISOString() : ""; }

function showTip(evt, text) {
  tooltip.textContent = text;
  tooltip.hidden = false;
  tooltip.style.left = evt.clientX + 12 + "px";
  tooltip.style.top = evt.clientY + 12 + "px";
}
function hideTip() { tooltip.hidden = true; }

// ---- charts drawn as SVG ----

function niceMax(v) {
  if (v <= 0) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// chart draws a line or (stacked) bar chart. spec: {title, id, times, bucket, kind:"line"|"bars",
// series:[{name, values, color}], format}
function chart(spec) {
  const W = 600, H = 220, L = 52, R = 10, T = 10, B = 26;
  const n = spec.times.length;
  const stacked = spec.kind === "bars";
  let top = 0;
  for (let i = 0; i < n; i++) {
    if (stacked) top = Math.max(top, spec.series.reduce((a, s) => a + (s.values[i] || 0), 0));
    else for (const s of spec.series) top = Math.max(top, s.values[i] || 0);
  }
  top = niceMax(top);
  const x = (i) => L + (n <= 1 ? (W - L - R) / 2 : (i + 0.5) * (W - L - R) / n);
  const y = (v) => T + (H - T - B) * (1 - v / top);
  const g = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": spec.title, id: spec.id });
  for (let k = 0; k <= 4; k++) {
    const v = top * k / 4;
    g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }));
    g.append(svg("text", { x: L - 6, y: y(v) + 3, "text-anchor": "end", text: (spec.format || fmt.compact)(v) }));
  }
  const step = Math.max(1, Math.ceil(n / 8));
  for (let i = 0; i < n; i += step) {
    const t = new Date(spec.times[i]);
    const label = spec.bucket === "day" ? t.toISOString().slice(5, 10) : t.toISOString().slice(5, 13).replace("T", " ") + "h";
    g.append(svg("text", { x: x(i), y: H - 8, "text-anchor": "middle", text: label }));
  }
  const tipOf = (i) => {
    const t = new Date(spec.times[i]).toISOString().slice(0, 16).replace("T", " ") + " UTC";
    return t + "\n" + spec.series.map((s) => s.name + ": " + (spec.format || fmt.compact)(s.values[i] || 0)).join("\n");
  };
  if (stacked) {
    const bw = Math.max(1, (W - L - R) / n * 0.8);
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (const s of spec.series) {
        const v = s.values[i] || 0;
        if (v > 0) {
          const r = svg("rect", { x: x(i) - bw / 2, y: y(acc + v), width: bw, height: Math.max(0.5, y(acc) - y(acc + v)), fill: s.color });
          r.addEventListener("mousemove", (e) => showTip(e, tipOf(i)));
          r.addEventListener("mouseleave", hideTip);
          g.append(r);
        }
        acc += v;
      }
    }
  } else {
    for (const s of spec.series) {
      const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v || 0).toFixed(1)}`).join(" ");
      g.append(svg("polyline", { points: pts, fill: "none", stroke: s.color, "stroke-width": 1.8 }));
      if (n <= 60) s.values.forEach((v, i) => {
        const c = svg("circle", { cx: x(i), cy: y(v || 0), r: 2.5, fill: s.color });
        c.addEventListener("mousemove", (e) => showTip(e, tipOf(i)));
        c.addEventListener("mouseleave", hideTip);
        g.append(c);
      });
    }
  }
  const legend = el("div", { class: "legend" }, spec.series.map((s) => {
    const sw = el("i");
    sw.style.background = s.color;
    return el("span", {}, sw, s.name);
  }));
  return el("div", { class: "card" }, el("h2", { text: spec.title }), g, legend);
}

// ---- overview ----

const PRESETS = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };

function kpi(id, label, value, text) {
  return el("div", { class: "card kpi" }, el("div", { class: "label", text: label }),
    el("div", { class: "value", id: "kpi-" + id, "data-value": String(value), text }));
}

function rangeOf(state) {
  if (state.preset !== "custom") {
    const until = new Date();
    return { since: new Date(until - PRESETS[state.preset] * 1000).toISOString(), until: until.toISOString() };
  }
  return { since: fromInput(state.from), until: fromInput(state.to) };
}

function params() { return new URLSearchParams(location.hash.split("?")[1] || ""); }
function go(page, p) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p || {})) if (v) q.set(k, v);
  location.hash = "#/" + page + (q.toString() ? "?" + q : "");
}

async function overview() {
  const p = params();
  const state = {
    preset: p.get("range") || "24h", from: p.get("from") || "", to: p.get("to") || "",
    by: p.get("by") || "model", model: p.get("model") || "", provider: p.get("provider") || "",
    user: p.get("user") || "", client_key: p.get("client_key") || "",
  };
  const now = new Date();
  const preset = el("select", { id: "range" }, [...Object.keys(PRESETS), "custom"].map((k) =>
    el("option", { value: k, selected: k === state.preset, text: k === "custom" ? "custom (UTC)" : "last " + k })));
  const from = el("input", { type: "datetime-local", id: "from", value: state.from || toInput(new Date(now - 86400000)) });
  const to = el("input", { type: "datetime-local", id: "to", value: state.to || toInput(now) });
  const by = el("select", { id: "by" }, ["model", "provider", "user", "client_key"].map((k) =>
    el("option", { value: k, selected: k === state.by, text: k.replace("_", " ") })));
  const inputs = {};
  for (const k of ["model", "provider", "user", "client_key"]) inputs[k] = el("input", { id: "f-" + k, value: state[k], placeholder: "any", size: 12 });
  const apply = () => go("overview", {
    range: preset.value, from: preset.value === "custom" ? from.value : "", to: preset.value === "custom" ? to.value : "",
    by: by.value, model: inputs.model.value, provider: inputs.provider.value, user: inputs.user.value, client_key: inputs.client_key.value,
  });
  const toolbar = el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); apply(); } },
    el("label", {}, "Range", preset), el("label", {}, "From (UTC)", from), el("label", {}, "To (UTC)", to),
    el("label", {}, "Break down by", by),
    ["model", "provider", "user", "client_key"].map((k) => el("label", {}, k.replace("_", " "), inputs[k])),
    el("button", { type: "submit", class: "primary", id: "apply", text: "Apply" }));
  const body = el("div", { id: "overview-body" }, el("p", { class: "muted", text: "Loading…" }));
  view.replaceChildren(el("h1", { text: "Overview" }), toolbar, body);

  const range = rangeOf(state);
  const o = await api("overview", { ...range, by: state.by, model: state.model, provider: state.provider, user: state.user, client_key: state.client_key });
  const t = o.totals;
  const times = o.series.map((pt) => pt.time);
  const col = (k) => o.series.map((pt) => pt[k]);
  const kpis = el("div", { class: "kpis" },
    kpi("requests", "Requests", t.requests, fmt.int(t.requests)),
    kpi("success", "Success", t.success, fmt.int(t.success)),
    kpi("client_4xx", "4xx", t.client_4xx, fmt.int(t.client_4xx)),
    kpi("server_5xx", "5xx", t.server_5xx, fmt.int(t.server_5xx)),
    kpi("input_tokens", "Input tokens", t.input_tokens, fmt.int(t.input_tokens)),
    kpi("output_tokens", "Output tokens", t.output_tokens, fmt.int(t.output_tokens)),
    kpi("cost_usd", "Cost", t.cost_usd, fmt.usd(t.cost_usd)),
    kpi("avg_latency", "Avg latency", t.avg_latency, fmt.secs(t.avg_latency)),
    kpi("p50_latency", "p50 latency", t.p50_latency || 0, fmt.secs(t.p50_latency)),
    kpi("p95_latency", "p95 latency", t.p95_latency || 0, fmt.secs(t.p95_latency)),
    kpi("p50_ttft", "p50 first token", t.p50_ttft || 0, fmt.secs(t.p50_ttft)),
    kpi("p95_ttft", "p95 first token", t.p95_ttft || 0, fmt.secs(t.p95_ttft)));
  const per = o.bucket === "day" ? "day" : "hour";
  const charts = el("div", { class: "charts" },
    chart({ id: "chart-requests", title: `Requests per ${per}`, times, bucket: o.bucket, kind: "bars", series: [
      { name: "success", values: col("success"), color: "#2e9d5b" },
      { name: "4xx", values: col("client_4xx"), color: "#d98a1c" },
      { name: "5xx", values: col("server_5xx"), color: "#d2443b" }] }),
    chart({ id: "chart-tokens", title: `Tokens per ${per}`, times, bucket: o.bucket, kind: "line", series: [
      { name: "input", values: col("input_tokens"), color: COLORS[0] },
      { name: "output", values: col("output_tokens"), color: COLORS[3] }] }),
    chart({ id: "chart-cost", title: `Cost per ${per} (USD)`, times, bucket: o.bucket, kind: "bars", format: (v) => "$" + fmt.compact(v),
      series: [{ name: "cost", values: col("cost_usd"), color: COLORS[2] }] }),
    chart({ id: "chart-latency", title: "Latency (s)", times, bucket: o.bucket, kind: "line", format: (v) => fmt.compact(v), series: [
      { name: "avg total", values: col("avg_latency"), color: COLORS[0] },
      { name: "avg upstream", values: col("avg_upstream_latency"), color: COLORS[5] },
      { name: "p50", values: col("p50_latency"), color: COLORS[1] },
      { name: "p95", values: col("p95_latency"), color: COLORS[4] }] }),
    chart({ id: "chart-ttft", title: "Time to first token (s)", times, bucket: o.bucket, kind: "line", format: (v) => fmt.compact(v), series: [
      { name: "avg", values: col("avg_ttft"), color: COLORS[0] },
      { name: "p50", values: col("p50_ttft"), color: COLORS[1] },
      { name: "p95", values: col("p95_ttft"), color: COLORS[4] }] }),
    chart({ id: "chart-by", title: `Requests per ${per} by ${o.by.replace("_", " ")}`, times, bucket: o.bucket, kind: "line",
      series: o.by_series.map((s, i) => ({ name: s.key || "(none)", values: s.requests, color: COLORS[i % COLORS.length] })) }));
  const rows = (o.breakdown || []).map((g) => el("tr", { class: "clickable", "data-key": g.key, onclick: () => {
    inputs[o.by].value = g.key; apply();
  } },
    el("td", { text: g.key || "(none)" }), el("td", { class: "num", text: fmt.int(g.requests) }),
    el("td", { class: "num", text: fmt.int(g.client_4xx) }), el("td", { class: "num", text: fmt.int(g.server_5xx) }),
    el("td", { class: "num", text: fmt.int(g.input_tokens) }), el("td", { class: "num", text: fmt.int(g.output_tokens) }),
    el("td", { class: "num", text: fmt.usd(g.cost_usd) }), el("td", { class: "num", text: fmt.secs(g.avg_latency) }),
    el("td", { class: "num", text: fmt.secs(g.avg_ttft) })));
  const table = el("div", { class: "table-wrap" }, el("table", { id: "breakdown" },
    el("thead", {}, el("tr", {}, el("th", { text: o.by.replace("_", " ") }), ["requests", "4xx", "5xx", "input tokens", "output tokens", "cost", "avg latency", "avg first token"].map((h) => el("th", { class: "num", text: h })))),
    el("tbody", {}, rows)));
  body.replaceChildren(
    el("p", { class: "muted", id: "range-label", text: `${o.since.slice(0, 16).replace("T", " ")} to ${o.until.slice(0, 16).replace("T", " ")} UTC, by ${o.bucket}` }),
    kpis, charts, el("h2", { text: "Breakdown by " + o.by.replace("_", " ") }), table);
}

// ---- log browser ----

function logTable(id, rows) {
  const head = ["time (UTC)", "request id", "direction", "status", "provider", "model", "user", "key", "in", "out", "cost", "latency", "content"];
  return el("table", { id },
    el("thead", {}, el("tr", {}, head.map((h, i) => el("th", { class: i >= 8 && i <= 11 ? "num" : "", text: h })))),
    el("tbody", {}, rows.map(logRow)));
}

function logRow(r) {
  return el("tr", { class: "clickable", "data-id": String(r.id), "data-request-id": r.request_id, onclick: () => go("request/" + encodeURIComponent(r.request_id)) },
    el("td", { text: r.created_at.slice(0, 19) }),
    el("td", {}, el("a", { href: "#/request/" + encodeURIComponent(r.request_id), text: r.request_id.slice(0, 12) })),
    el("td", { text: r.direction }),
    el("td", { class: statusClass(r.status_code), text: r.status_code || "" }),
    el("td", { text: r.provider || "" }), el("td", { text: r.model || "" }),
    el("td", { text: r.user || "" }), el("td", { text: r.client_key || "" }),
    el("td", { class: "num", text: fmt.int(r.prompt_tokens) }), el("td", { class: "num", text: fmt.int(r.completion_tokens) }),
    el("td", { class: "num", text: fmt.usd(r.cost_usd) }), el("td", { class: "num", text: fmt.secs(r.request_time) }),
    el("td", { class: "text", text: (r.content || "").replace(/\s+/g, " ").slice(0, 120) }));
}

async function logs() {
  const p = params();
  const fields = {
    since: el("input", { type: "datetime-local", id: "l-since", value: p.get("since") || "" }),
    until: el("input", { type: "datetime-local", id: "l-until", value: p.get("until") || "" }),
    model: el("input", { id: "l-model", value: p.get("model") || "", size: 12 }),
    provider: el("input", { id: "l-provider", value: p.get("provider") || "", size: 10 }),
    user: el("input", { id: "l-user", value: p.get("user") || "", size: 10 }),
    client_key: el("input", { id: "l-client_key", value: p.get("client_key") || "", size: 10 }),
    status: el("select", { id: "l-status" }, ["", "ok", "error", "4xx", "5xx"].map((s) => el("option", { value: s, selected: s === (p.get("status") || ""), text: s || "any" }))),
    direction: el("select", { id: "l-direction" }, [["", "exchanges"], ["all", "all rows"], ["request", "requests"], ["response", "responses"], ["error", "errors"]].map(([v, t]) =>
      el("option", { value: v, selected: v === (p.get("direction") || ""), text: t }))),
    q: el("input", { id: "l-q", type: "search", value: p.get("q") || "", placeholder: "text or request id", size: 18 }),
  };
  const submit = (e) => {
    e.preventDefault();
    const o = {};
    for (const [k, f] of Object.entries(fields)) o[k] = f.value;
    go("logs", o);
  };
  const form = el("form", { class: "toolbar", id: "log-filter", onsubmit: submit },
    Object.entries(fields).map(([k, f]) => el("label", {}, { since: "since (UTC)", until: "until (UTC)", q: "text", client_key: "key" }[k] || k, f)),
    el("button", { type: "submit", class: "primary", id: "l-apply", text: "Filter" }));
  const q = {};
  for (const [k, f] of Object.entries(fields)) q[k] = k === "since" || k === "until" ? fromInput(f.value) : f.value;
  const wrap = el("div", { class: "table-wrap" });
  const more = el("button", { id: "more", text: "Older", hidden: true });
  view.replaceChildren(el("h1", { text: "Logs" }), form, wrap, el("p", {}, more));
  const page = await api("logs", q);
  const table = logTable("logs", page.rows);
  wrap.replaceChildren(table);
  if (!page.rows.length) wrap.append(el("p", { class: "muted", id: "no-rows", text: "No rows match." }));
  let next = page.next_before_id;
  more.hidden = !next;
  more.addEventListener("click", async () => {
    const pg = await api("logs", { ...q, before_id: next });
    table.tBodies[0].append(...pg.rows.map(logRow));
    next = pg.next_before_id;
    more.hidden = !next;
  });
}

// ---- request page ----

function pretty(text) {
  if (!text) return "";
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
}

function timeline(times, ttft) {
  const W = 600, H = 70, L = 10, R = 10;
  const maxT = Math.max(...times, 1);
  const x = (ms) => L + (W - L - R) * ms / maxT;
  const g = svg("svg", { class: "chart timeline", id: "chunk-timeline", viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", "aria-label": "chunk timeline" });
  g.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: 40, y2: 40 }));
  times.forEach((ms, i) => {
    const m = svg("line", { x1: x(ms), x2: x(ms), y1: 22, y2: 40, stroke: COLORS[0], "stroke-width": 1.5, class: "chunk" });
    m.addEventListener("mousemove", (e) => showTip(e, `chunk ${i + 1}: ${ms.toFixed(1)} ms`));
    m.addEventListener("mouseleave", hideTip);
    g.append(m);
  });
  for (let k = 0; k <= 4; k++) g.append(svg("text", { x: x(maxT * k / 4), y: 56, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle", text: (maxT * k / 4).toFixed(0) + " ms" }));
  if (ttft) g.append(svg("text", { x: L, y: 14, text: `first token ${(ttft * 1000).toFixed(1)} ms, ${times.length} chunks` }));
  g.style.height = "80px";
  return g;
}

function headersTable(h) {
  const names = Object.keys(h || {}).sort();
  if (!names.length) return null;
  return el("table", { class: "headers" }, el("tbody", {}, names.map((n) => el("tr", {}, el("td", { text: n }), el("td", { class: "text", text: h[n].join(", ") })))));
}

function rowSection(r) {
  const facts = [
    ["time (UTC)", r.created_at], ["status", r.status_code || ""], ["provider", r.provider], ["endpoint", r.endpoint],
    ["model", r.model], ["stream", r.stream ? "yes" : "no"], ["user", r.user], ["client key", r.client_key],
  ];
  if (r.direction !== "request") facts.push(
    ["input tokens", fmt.int(r.prompt_tokens)], ["output tokens", fmt.int(r.completion_tokens)],
    ["cached tokens", fmt.int(r.cached_tokens)], ["reasoning tokens", fmt.int(r.reasoning_tokens)],
    ["tokens estimated", r.tokens_estimated ? "yes" : "no"], ["cost", fmt.usd(r.cost_usd)],
    ["latency", fmt.secs(r.request_time)], ["upstream latency", fmt.secs(r.request_time_api)],
    ["time to first token", fmt.secs(r.time_to_first_token)], ["upstream request id", r.upstream_request_id]);
  const dl = el("dl", { class: "facts" }, facts.filter(([, v]) => v !== undefined && v !== "").map(([k, v]) => [el("dt", { text: k }), el("dd", { "data-field": k, text: v })]));
  const parts = [el("h2", { text: r.direction }), dl];
  if (r.content) parts.push(el("h3", { text: "Content" }), el("pre", { class: "content", text: r.content }));
  if (r.tool_calls) parts.push(el("h3", { text: "Tool calls" }), el("pre", { class: "tool-calls", text: pretty(r.tool_calls) }));
  if (r.function_call) parts.push(el("h3", { text: "Function call" }), el("pre", { text: pretty(r.function_call) }));
  if (r.chunk_times && r.chunk_times.length) parts.push(el("h3", { text: "Stream chunks" }), timeline(r.chunk_times, r.time_to_first_token));
  if (r.raw_body) parts.push(el("h3", { text: "Body" }), el("pre", { class: "raw-body", text: pretty(r.raw_body) }));
  if (r.upstream_body) parts.push(el("h3", { text: "Body sent upstream" }), el("pre", { text: pretty(r.upstream_body) }));
  const ht = headersTable(r.raw_headers);
  if (ht) parts.push(el("h3", { text: "Headers (credentials masked)" }), ht);
  if (r.extra) parts.push(el("h3", { text: "Custom columns" }), el("pre", { text: JSON.stringify(r.extra, null, 2) }));
  return el("div", { class: "card section", "data-direction": r.direction, id: "row-" + r.id }, parts);
}

async function requestPage(id) {
  view.replaceChildren(el("h1", { text: "Request " + id }), el("p", { class: "muted", text: "Loading…" }));
  const d = await api("logs/" + encodeURIComponent(id));
  const parts = [el("h1", { text: "Request " + d.request_id }), el("p", {}, el("a", { href: "#/logs", text: "← Logs" }))];
  if (d.replay) {
    const pre = el("pre", { class: "cmd", id: "replay", text: d.replay });
    const copy = el("button", { text: "Copy", onclick: () => navigator.clipboard && navigator.clipboard.writeText(d.replay) });
    parts.push(el("div", { class: "card section" }, el("h2", { text: "Replay" }),
      el("p", { class: "muted", text: "Sends the same request with x-aiproxy-replay: the proxy answers it with the logged response, without calling the upstream." }), pre, copy));
  }
  parts.push(el("div", { class: "grid2" }, d.rows.map(rowSection)));
  view.replaceChildren(...parts);
}

// ---- live tail ----

let tailSource = null;

function tail() {
  const status = el("span", { class: "muted", id: "tail-status", text: "connecting…" });
  const count = el("span", { class: "badge", id: "tail-count", text: "0" });
  const pause = el("button", { id: "tail-pause", text: "Pause" });
  const table = logTable("tail", []);
  view.replaceChildren(el("h1", { text: "Live tail" }), el("div", { class: "toolbar" }, pause, status, "rows:", count), el("div", { class: "table-wrap" }, table));
  let paused = false, n = 0;
  pause.addEventListener("click", () => { paused = !paused; pause.textContent = paused ? "Resume" : "Pause"; });
  const src = new EventSource(base + "/api/tail");
  tailSource = src;
  src.onopen = () => { status.textContent = "live"; };
  src.onerror = () => { status.textContent = "reconnecting…"; };
  src.addEventListener("row", (e) => {
    if (paused) return;
    const r = JSON.parse(e.data);
    const body = table.tBodies[0];
    body.insertBefore(logRow(r), body.firstChild);
    while (body.rows.length > 500) body.deleteRow(body.rows.length - 1);
    count.textContent = String(++n);
  });
}

// ---- storage ----

async function storage() {
  view.replaceChildren(el("h1", { text: "Storage" }), el("p", { class: "muted", text: "Loading…" }));
  const s = await api("storage");
  const facts = [
    ["database", s.database || s.dialect, "database"], ["engine", s.dialect === "postgres" ? "PostgreSQL" : "SQLite", "dialect"],
    ["database size", fmt.bytes(s.database_bytes), "database_bytes", s.database_bytes],
  ];
  if (s.dialect === "sqlite") facts.push(["write-ahead log", fmt.bytes(s.wal_bytes), "wal_bytes", s.wal_bytes], ["free pages", fmt.bytes(s.free_bytes), "free_bytes", s.free_bytes]);
  else facts.push(["accesslog table", fmt.bytes(s.table_bytes), "table_bytes", s.table_bytes], ["its indexes", fmt.bytes(s.index_bytes), "index_bytes", s.index_bytes]);
  facts.push(
    ["rows", fmt.int(s.rows), "rows", s.rows], ["request rows", fmt.int(s.requests), "requests", s.requests],
    ["response rows", fmt.int(s.responses), "responses", s.responses], ["error rows", fmt.int(s.errors), "errors", s.errors],
    ["oldest row (UTC)", s.oldest || "–", "oldest"], ["newest row (UTC)", s.newest || "–", "newest"],
    ["retention", fmt.duration(s.retention_seconds), "retention", s.retention_seconds],
    ["body retention", fmt.duration(s.content_retention_seconds), "content_retention", s.content_retention_seconds]);
  view.replaceChildren(el("h1", { text: "Storage" }), el("div", { class: "card" }, el("dl", { class: "facts", id: "storage" },
    facts.map(([k, v, id, raw]) => [el("dt", { text: k }), el("dd", { id: "st-" + id, "data-value": raw === undefined ? v : String(raw), text: v })]))));
}

// ---- router ----

async function route() {
  if (tailSource) { tailSource.close(); tailSource = null; }
  hideTip();
  const path = (location.hash.slice(2) || "overview").split("?")[0];
  const [page, ...rest] = path.split("/");
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === (page === "request" ? "logs" : page));
  document.body.dataset.page = page;
  delete document.body.dataset.ready;
  delete document.body.dataset.route;
  try {
    if (page === "overview") await overview();
    else if (page === "logs") await logs();
    else if (page === "request") await requestPage(decodeURIComponent(rest.join("/")));
    else if (page === "tail") tail();
    else if (page === "storage") await storage();
    else view.replaceChildren(el("p", { text: "No such page." }));
  } catch (e) {
    view.append(el("p", { class: "error", id: "load-error", text: String(e.message || e) }));
  }
  // Tests and scripts wait for these attributes: the page of this address has its data.
  document.body.dataset.route = location.hash;
  document.body.dataset.ready = page;
}

window.addEventListener("hashchange", route);
route();
