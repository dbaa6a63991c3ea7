// alertsieve threshold UI: vanilla JS, inline SVG charts, no external resources.
"use strict";

const state = { view: null, selected: null, preview: null, timer: null, seq: 0 };
const pct = (v, d = 1) => (v === null || v === undefined ? "–" : (100 * v).toFixed(d) + "%");
const SVG = "http://www.w3.org/2000/svg";


// ---- services ------------------------------------------------------------------------------------
async function loadServices() {
  state.view = await api("v1/thresholds");
  $("model").textContent = "model version " + state.view.model_version + " · FNR budget " + pct(state.view.budget, 2) +
    " · pooled threshold " + num(state.view.pooled);
  renderServices();
}

function renderServices() {
  const body = $("services").querySelector("tbody");
  const filter = $("filter").value.trim().toLowerCase();
  body.replaceChildren();
  for (const s of state.view.services) {
    if (filter && !s.service.toLowerCase().includes(filter)) continue;
    const tr = document.createElement("tr");
    tr.dataset.service = s.service;
    if (s.service === state.selected) tr.className = "selected";
    cell(tr, s.service);
    cell(tr, s.in_force === null ? "paged" : num(s.in_force), "num in-force");
    cell(tr, s.source || "unknown", "src-" + (s.source || "unknown"));
    cell(tr, num(s.optimised), "num");
    tr.addEventListener("click", () => select(s.service));
    body.appendChild(tr);
  }
}

function current() {
  return state.view.services.find((s) => s.service === state.selected);
}

async function select(service) {
  state.selected = service;
  history.replaceState(null, "", "#" + encodeURIComponent(service));
  renderServices();
  const s = current();
  $("detail").hidden = false;
  $("detail-title").textContent = service;
  $("detail-current").textContent = s.in_force === null ? "unknown to the model: every alert is paged"
    : "in force " + num(s.in_force) + " (" + s.source + ")" + (s.override !== null ? ", optimised " + num(s.optimised) : "");
  $("detail-note").textContent = s.note || "";
  $("revert").disabled = s.override === null;
  setCandidate(s.in_force === null ? 0 : s.in_force);
  await Promise.all([loadTrends(service), loadPreview()]);
}

// ---- candidate preview ---------------------------------------------------------------------------
function setCandidate(value) {
  $("candidate").value = num(value);
  $("candidate-range").value = value;
}

function schedulePreview() {
  clearTimeout(state.timer);
  state.timer = setTimeout(loadPreview, 150);
}

async function loadPreview() {
  const threshold = Number($("candidate").value);
  if (!state.selected || !(threshold >= 0 && threshold <= 1)) return;
  const seq = ++state.seq;
  const q = new URLSearchParams({ service: state.selected, threshold: String(threshold) });
  try {
    const p = await api("v1/thresholds/preview?" + q);
    if (seq !== state.seq) return;  // a newer request is on its way
    state.preview = p;
    renderPreview(p);
  } catch (err) {
    message("preview failed: " + err.message, "error");
  }
}

function expected(e) {
  return e.fnr === null ? "no evidence" : pct(e.fnr, 2) + " (≤ " + pct(e.upper, 2) + ")";
}

function renderPreview(p) {
  $("preview-threshold-now").textContent = p.current === null ? "paged" : num(p.current);
  $("preview-threshold").textContent = num(p.threshold);
  $("preview-service-nr-now").textContent = pct(p.service_now.noise_reduction);
  $("preview-service-nr").textContent = pct(p.service_candidate.noise_reduction);
  $("preview-service-fnr-now").textContent = pct(p.service_now.fnr, 2);
  $("preview-service-fnr").textContent = pct(p.service_candidate.fnr, 2);
  $("preview-expected-now").textContent = expected(p.expected_now);
  $("preview-expected").textContent = expected(p.expected_candidate);
  $("preview-fleet-nr-now").textContent = pct(p.fleet_now.noise_reduction);
  $("preview-fleet-nr").textContent = pct(p.fleet_candidate.noise_reduction);
  $("preview-fleet-fnr-now").textContent = pct(p.fleet_now.fnr, 2);
  $("preview-fleet-fnr").textContent = pct(p.fleet_candidate.fnr, 2);
  const badge = $("budget-badge");
  badge.textContent = p.within_budget ? "fleet FNR within budget" : "fleet FNR over budget";
  badge.className = "badge " + (p.within_budget ? "ok" : "over");
  $("preview-support").textContent = "validation: " + p.service_now.alerts + " alerts of " + p.service +
    ", " + p.service_now.actionable + " actionable; fleet " + p.fleet_now.alerts + " alerts.";
  const xs = p.curve.map((c) => c.threshold);
  lineChart($("chart-curve"), xs.map((x) => x.toFixed(2)), [
    { name: "noise reduction", color: "#1f8a4c", values: p.curve.map((c) => c.noise_reduction) },
    { name: "FNR", color: "#c4332b", values: p.curve.map((c) => c.fnr) },
  ], 1, { markers: [{ at: p.threshold, color: "#2f6fde", label: "candidate" },
    ...(p.current === null ? [] : [{ at: p.current, color: "#667085", label: "now" }])], xNumeric: xs });
}

// ---- trends --------------------------------------------------------------------------------------
async function loadTrends(service) {
  const data = await api("v1/thresholds/trends?" + new URLSearchParams({ service }));
  const rows = data.rows.filter((r) => r.service === service);
  const weeks = rows.map((r) => r.week);
  barChart($("chart-volume"), weeks, rows.map((r) => r.alerts), rows.map((r) => r.suppressed));
  lineChart($("chart-rates"), weeks, [
    { name: "noise reduction", color: "#1f8a4c", values: rows.map((r) => r.noise_reduction) },
    { name: "threshold", color: "#2f6fde", values: rows.map((r) => r.threshold) },
  ], 1, {});
  const fnr = rows.map((r) => r.fnr);
  const top = Math.ceil(Math.max(state.view.budget * 3, ...fnr.filter((v) => v !== null)) * 200 / 4) * 4 / 200;
  lineChart($("chart-fnr"), weeks, [{ name: "FNR", color: "#c4332b", values: fnr }], top,
    { refs: [{ y: state.view.budget, label: "budget " + pct(state.view.budget, 1) }] });
}

// ---- SVG charts ----------------------------------------------------------------------------------
const BOX = { w: 320, h: 170, l: 34, r: 12, t: 22, b: 26 };

function el(name, attrs, parent, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  if (parent) parent.appendChild(node);
  return node;
}

function frame(svg, labels, yMax, yFormat, xOf) {
  svg.replaceChildren();
  const plotH = BOX.h - BOX.t - BOX.b;
  for (let i = 0; i <= 4; i++) {
    const y = BOX.t + plotH - (plotH * i) / 4;
    el("line", { x1: BOX.l, x2: BOX.w - BOX.r, y1: y, y2: y, stroke: "#e3e7ee" }, svg);
    el("text", { x: BOX.l - 4, y: y + 3, "text-anchor": "end" }, svg, yFormat((yMax * i) / 4));
  }
  const step = Math.max(1, Math.ceil((labels.length - 1) / 5));
  labels.forEach((label, i) => {
    if (i % step) return;
    el("text", { x: xOf(i), y: BOX.h - 8, "text-anchor": "middle" }, svg, label);
  });
  if (!labels.length) el("text", { x: BOX.w / 2, y: BOX.h / 2, "text-anchor": "middle" }, svg, "no data yet");
}

function xAt(i, n) {  // the centre of the i-th of n bands
  return BOX.l + ((BOX.w - BOX.l - BOX.r) * (i + 0.5)) / Math.max(n, 1);
}

function yAt(v, yMax) {
  const plotH = BOX.h - BOX.t - BOX.b;
  return BOX.t + plotH - (plotH * Math.min(v, yMax)) / (yMax || 1);
}

function barChart(svg, labels, totals, suppressed) {
  const yMax = Math.max(4, Math.ceil(Math.max(0, ...totals) / 4) * 4);
  frame(svg, labels, yMax, (v) => Math.round(v), (i) => xAt(i, labels.length));
  const plotW = BOX.w - BOX.l - BOX.r;
  const width = Math.min(28, (plotW / Math.max(labels.length, 1)) * 0.6);
  el("rect", { x: BOX.l, y: 7, width: 10, height: 6, fill: "#9aa7bd" }, svg);
  el("text", { x: BOX.l + 14, y: 12 }, svg, "all");
  el("rect", { x: BOX.l + 40, y: 7, width: 10, height: 6, fill: "#1f8a4c" }, svg);
  el("text", { x: BOX.l + 54, y: 12 }, svg, "suppressed");
  labels.forEach((label, i) => {
    const x = xAt(i, labels.length) - width / 2;
    const all = el("rect", { x, y: yAt(totals[i], yMax), width, height: yAt(0, yMax) - yAt(totals[i], yMax), fill: "#9aa7bd" }, svg);
    el("title", {}, all, label + ": " + totals[i] + " alerts, " + suppressed[i] + " suppressed");
    el("rect", { x, y: yAt(suppressed[i], yMax), width, height: yAt(0, yMax) - yAt(suppressed[i], yMax), fill: "#1f8a4c" }, svg);
  });
}

function lineChart(svg, labels, series, yMax, options) {
  const fmt = yMax <= 0.2 ? (v) => (100 * v).toFixed(1) + "%" : (v) => (100 * v).toFixed(0) + "%";
  const xs = options.xNumeric;
  const xOf = (i) => (xs ? BOX.l + (BOX.w - BOX.l - BOX.r) * xs[i] : xAt(i, labels.length));
  frame(svg, labels, yMax, fmt, xOf);
  for (const ref of options.refs || []) {
    el("line", { x1: BOX.l, x2: BOX.w - BOX.r, y1: yAt(ref.y, yMax), y2: yAt(ref.y, yMax), stroke: "#c4332b", "stroke-dasharray": "4 3" }, svg);
    el("text", { x: BOX.w - BOX.r - 2, y: yAt(ref.y, yMax) - 3, "text-anchor": "end" }, svg, ref.label);
  }
  (options.markers || []).forEach((m, k) => {
    const x = BOX.l + (BOX.w - BOX.l - BOX.r) * m.at;
    el("line", { x1: x, x2: x, y1: BOX.t, y2: BOX.h - BOX.b, stroke: m.color, "stroke-width": 1.5 }, svg);
    const right = m.at > 0.75;
    el("text", { x: right ? x - 3 : x + 3, y: BOX.t + 18 + 10 * k, "text-anchor": right ? "end" : "start", fill: m.color }, svg, m.label);
  });
  series.forEach((s, k) => {
    let d = "";
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      d += (d ? " L" : "M") + xOf(i).toFixed(1) + " " + yAt(v, yMax).toFixed(1);
      if (!xs) el("title", {}, el("circle", { cx: xOf(i), cy: yAt(v, yMax), r: 2.5, fill: s.color }, svg), labels[i] + " " + s.name + ": " + pct(v, 2));
    });
    if (d) el("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.6 }, svg);
    el("rect", { x: BOX.l + k * 100, y: 7, width: 10, height: 3, fill: s.color }, svg);
    el("text", { x: BOX.l + 14 + k * 100, y: 12, fill: s.color }, svg, s.name);
  });
}

// ---- saving, reverting, audit --------------------------------------------------------------------
function authHeaders() {
  return { "Content-Type": "application/json", Authorization: "Bearer " + $("token").value };
}

async function save(event) {
  event.preventDefault();
  const threshold = Number($("candidate").value);
  const service = state.selected;
  try {
    const change = await api("v1/thresholds/" + encodeURIComponent(service), {
      method: "PUT", headers: authHeaders(),
      body: JSON.stringify({ threshold, by: $("by").value, reason: $("reason").value, ...scopeFields() }),
    });
    message("saved: " + service + " " + (change.old === null ? "optimised" : num(change.old)) + " → " + num(change.new) +
      "; serving picks it up within seconds", "ok");
    await refresh();
  } catch (err) {
    message("not saved: " + err.message, "error");
  }
}

async function revert() {
  const service = state.selected;
  try {
    await api("v1/thresholds/" + encodeURIComponent(service), {
      method: "DELETE", headers: authHeaders(),
      body: JSON.stringify({ by: $("by").value || "ui", reason: $("reason").value || "reverted to the optimised threshold" }),
    });
    message("reverted: " + service + " is back on its optimised threshold", "ok");
    await refresh();
  } catch (err) {
    message("not reverted: " + err.message, "error");
  }
}

async function loadAudit() {
  const changes = await api("v1/thresholds/audit?limit=50");
  const body = $("audit").querySelector("tbody");
  body.replaceChildren();
  for (const c of changes) {
    const tr = document.createElement("tr");
    cell(tr, c.at.replace("T", " ").slice(0, 19));
    const scoped = Object.keys(c.matchers || {}).length ? " [" + scopeText(c.matchers) + "]" : "";
    const until = c.expires_at ? " until " + c.expires_at.replace("T", " ").slice(0, 19) : "";
    cell(tr, c.service + scoped + until);
    if (c.kind === "page_everything") {
      cell(tr, "page everything", "num");
      cell(tr, c.on ? "on" : "off", "num switch-" + (c.on ? "on" : "off"));
    } else if (c.kind === "live_safety") {
      cell(tr, "live safety", "num");
      cell(tr, c.paused ? "paused" : "resumed", "num switch-" + (c.paused ? "on" : "off"));
    } else {
      cell(tr, c.old === null ? "optimised" : num(c.old), "num");
      cell(tr, c.new === null ? "optimised" : num(c.new), "num");
    }
    cell(tr, c.by);
    cell(tr, c.reason);
    body.appendChild(tr);
  }
}

async function refresh() {
  await Promise.all([loadServices(), loadAudit(), loadOverrides(), loadSwitch(), loadLiveSafety()]);
  if (state.selected) await select(state.selected);
}

async function main() {
  $("filter").addEventListener("input", renderServices);
  $("candidate").addEventListener("input", () => { $("candidate-range").value = $("candidate").value; schedulePreview(); });
  $("candidate-range").addEventListener("input", () => { $("candidate").value = Number($("candidate-range").value).toFixed(3); schedulePreview(); });
  $("save-form").addEventListener("submit", save);
  $("revert").addEventListener("click", revert);
  try {
    await Promise.all([loadServices(), loadAudit(), initOverrides(), loadLiveSafety()]);
    const wanted = decodeURIComponent(location.hash.slice(1));
    const first = state.view.services.find((s) => s.service === wanted) || state.view.services[0];
    if (first) await select(first.service);
    document.body.dataset.ready = "true";
  } catch (err) {
    message("cannot load thresholds: " + err.message, "error");
  }
}

main();
