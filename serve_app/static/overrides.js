// alertsieve threshold UI: scoped, expiring overrides and the "page everything" switch (uses app.js's helpers).
"use strict";

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=(.*)$/;

function parseMatchers(text) {  // "team=db, env=prod|staging" -> {team: "db", env: "prod|staging"}
  const matchers = {};
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    const found = MATCHER.exec(part);
    if (!found) throw new Error("matcher " + JSON.stringify(part.trim()) + " is not name=value");
    matchers[found[1]] = found[2].trim();
  }
  return matchers;
}

function scopeFields() {  // what the override form adds to PUT /v1/thresholds/{service}
  const fields = { matchers: parseMatchers($("matchers").value) };
  const minutes = $("for-minutes").value.trim();
  if (minutes) fields.for_minutes = Number(minutes);
  return fields;
}

function scopeText(matchers) {
  const parts = Object.entries(matchers || {}).sort().map(([k, v]) => k + "=" + v);
  return parts.length ? parts.join(", ") : "all alerts";
}

function timeLeft(seconds) {
  if (seconds === null || seconds === undefined) return "until changed";
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return s + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

async function loadOverrides() {
  const overrides = await api("v1/thresholds/overrides");
  const body = $("overrides").querySelector("tbody");
  body.replaceChildren();
  for (const o of overrides) {
    const tr = document.createElement("tr");
    tr.dataset.service = o.service;
    cell(tr, o.service === "*" ? "any service" : o.service);
    cell(tr, num(o.threshold), "num");
    cell(tr, o.scope, "scope");
    cell(tr, timeLeft(o.seconds_left), "time-left");
    cell(tr, o.by);
    cell(tr, o.reason);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "revert-scoped";
    button.textContent = "Revert";
    button.addEventListener("click", () => revertScoped(o));
    cell(tr, "").appendChild(button);
    body.appendChild(tr);
  }
  if (!overrides.length) cell(body.appendChild(document.createElement("tr")), "none", "meta").colSpan = 7;
}

async function revertScoped(o) {
  try {
    await api("v1/thresholds/" + encodeURIComponent(o.service), {
      method: "DELETE", headers: authHeaders(),
      body: JSON.stringify({ matchers: o.matchers, by: $("by").value || "ui", reason: $("reason").value || "reverted" }),
    });
    message("reverted: " + o.service + " (" + o.scope + ")", "ok");
    await refresh();
  } catch (err) {
    message("not reverted: " + err.message + " (the write token goes in the override form)", "error");
  }
}

async function loadSwitch() {
  const state = await api("v1/page-everything");
  const banner = $("page-everything-banner");
  document.body.classList.toggle("paging-everything", state.on);
  banner.hidden = !state.on;
  $("switch-toggle").textContent = state.on ? "Turn off: give alerts back to the model" : "Turn on: page every alert";
  $("switch-toggle").dataset.on = String(state.on);
  if (!state.on) {
    $("switch-state").textContent = "off";
    return;
  }
  const s = state.switch;
  const scope = (s.service === "*" ? "" : s.service + ": ") + scopeText(s.matchers);
  const text = "PAGE EVERYTHING is on for " + scope + " — " + timeLeft(s.seconds_left) + " — by " + s.by + ": " + s.reason;
  banner.textContent = text;
  $("switch-state").textContent = "on (" + timeLeft(s.seconds_left) + ")";
}

async function toggleSwitch(event) {
  event.preventDefault();
  const on = $("switch-toggle").dataset.on !== "true";
  const body = { on, by: $("switch-by").value, reason: $("switch-reason").value };
  const minutes = $("switch-minutes").value.trim();
  if (on && minutes) body.for_minutes = Number(minutes);
  try {
    await api("v1/page-everything", {
      method: "PUT",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + $("switch-token").value },
      body: JSON.stringify(body),
    });
    message("page everything: " + (on ? "on" : "off") + "; serving picks it up within seconds", "ok");
    await Promise.all([loadSwitch(), loadAudit()]);
  } catch (err) {
    message("page everything not changed: " + err.message, "error");
  }
}

function initOverrides() {
  $("switch-form").addEventListener("submit", toggleSwitch);
  setInterval(() => { loadSwitch().catch(() => {}); loadOverrides().catch(() => {}); }, 15000);
  return Promise.all([loadOverrides(), loadSwitch()]);
}
