// Shared by the threshold page (app.js) and the Suppressed page (suppressed.js): element lookup, number and
// message display, JSON requests (relative to API_ROOT, with the typed token; an error status throws), table cells, and the
// live-safety banner (services that stopped suppressing, each with a resume button).
"use strict";

const $ = (id) => document.getElementById(id);
const num = (v) => {  // thresholds: 3 decimals, or 2 significant digits for the tiny ones of confident models
  if (v === null || v === undefined) return "–";
  const x = Number(v);
  return x > 0 && x < 0.01 ? x.toPrecision(2) : x.toFixed(3);
};

function message(text, kind) {
  const el = $("message");
  el.textContent = text;
  el.className = "message " + (kind || "");
}

// The API's root: the folder above the pages' ui/ folder (both pages are in it), under whatever path prefix
// a proxy serves alertsieve; API paths are relative to it ("v1/thresholds"), never absolute.
const API_ROOT = new URL("../", document.baseURI);

async function api(path, options) {
  // reads carry the token too once one is typed: the server may protect them (protect_reads)
  const token = $("token") ? $("token").value : "";
  const opts = Object.assign({}, options || {});
  if (token && !(opts.headers && opts.headers.Authorization)) {
    opts.headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers || {});
  }
  const response = await fetch(new URL(path, API_ROOT), opts);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : body.message || response.statusText;
    throw new Error(response.status + ": " + detail);
  }
  return body;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// ---- live safety: services whose live stream departed from validation page what the model would suppress ----
async function loadLiveSafety() {
  const banner = $("live-safety-banner");
  let view;
  try {
    view = await api("v1/live-safety");
  } catch (err) {  // the pages work without it; the banner says it cannot tell
    banner.hidden = false;
    banner.textContent = "live safety: cannot tell which services stopped suppressing (" + err.message + ")";
    return null;
  }
  const paused = view.enabled ? view.paused : [];
  document.body.classList.toggle("live-safety-paused", paused.length > 0);
  banner.hidden = paused.length === 0;
  banner.replaceChildren();
  if (!paused.length) return view;
  const title = document.createElement("strong");
  title.textContent = "LIVE SAFETY: " + paused.map((p) => p.service || "unknown").join(", ") +
    (paused.length === 1 ? " stops" : " stop") + " suppressing (every alert pages) until it comes back or a person resumes it";
  banner.appendChild(title);
  const list = document.createElement("ul");
  for (const p of paused) {
    const li = document.createElement("li");
    li.dataset.service = p.service;
    const text = document.createElement("span");
    text.textContent = (p.service || "unknown") + ": " + p.detail + " (since " + p.since.replace("T", " ").slice(0, 16) + " UTC)";
    li.appendChild(text);
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = "resume suppression";
    button.addEventListener("click", () => resumeService(p.service, button));
    li.appendChild(button);
    list.appendChild(li);
  }
  banner.appendChild(list);
  return view;
}

async function resumeService(service, button) {
  const by = $("by") ? $("by").value.trim() : "";
  const token = $("token") ? $("token").value : "";
  if (!by || !token) {
    message("type your name and the write token first, then resume " + service, "error");
    return;
  }
  button.disabled = true;
  try {
    await api("v1/live-safety/" + encodeURIComponent(service) + "/resume", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token },
      body: JSON.stringify({ by, reason: "resumed from the " + document.title + " page" }),
    });
    message("suppression resumed for " + service, "ok");
    await loadLiveSafety();
  } catch (err) {
    message("not resumed: " + err.message, "error");
  } finally {
    button.disabled = false;
  }
}
