// alertsieve Suppressed page: what was suppressed, and people's answers to it. Vanilla JS, no external resources.
"use strict";

// ?fingerprint=…&startsAt=… (a page's "why" link): that alert's decision, paged or suppressed
const state = { entries: [], seq: 0, fingerprint: "", startsAt: "" };




function feedbackText(f) {
  if (!f) return "–";
  return (f.actionable ? "should have paged" : "correct") + " (" + f.by + ")";
}

async function load() {
  const seq = ++state.seq;
  const hours = Number($("window").value);
  const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const q = new URLSearchParams({ decision: "suppress", since, limit: "1000" });
  const service = $("service").value.trim();
  if (service) q.set("service", service);
  const shown = new URLSearchParams({ service, window: String(hours) });
  if (state.fingerprint) {  // one alert: any decision, since it started
    q.delete("decision");
    q.set("fingerprint", state.fingerprint);
    if (state.startsAt && !Number.isNaN(Date.parse(state.startsAt))) q.set("since", new Date(state.startsAt).toISOString());
    shown.set("fingerprint", state.fingerprint);
    if (state.startsAt) shown.set("startsAt", state.startsAt);
  }
  history.replaceState(null, "", "?" + shown);
  const view = await api("v1/decisions?" + q);
  if (seq !== state.seq) return;  // a newer load is on its way
  state.entries = view.decisions.filter((e) => !state.startsAt || Date.parse(e.startsAt) === Date.parse(state.startsAt));
  render();
}

function render() {
  const body = $("suppressed").querySelector("tbody");
  body.replaceChildren();
  for (const e of state.entries) {
    const tr = document.createElement("tr");
    tr.dataset.fingerprint = e.fingerprint;
    tr.dataset.startsAt = e.startsAt;
    cell(tr, e.decided_at.replace("T", " ").slice(0, 19));
    cell(tr, e.service);
    cell(tr, e.alertname).title = Object.entries(e.labels).map(([k, v]) => k + "=" + v).join("\n");
    cell(tr, e.summary, "summary");
    cell(tr, num(e.score), "num");
    cell(tr, num(e.threshold), "num");
    cell(tr, e.reason, "reason").title = e.neighbours.map((n) => n.alertname + " " + (n.actionable ? "actionable" : "noise") +
      " (similarity " + n.similarity.toFixed(2) + ")").join("\n");
    cell(tr, feedbackText(e.feedback), "feedback");
    const actions = cell(tr, "", "actions");
    for (const [label, actionable, cls] of [["should have paged", true, "should-page"], ["correct", false, "correct"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.className = cls;
      button.addEventListener("click", () => answer(e, actionable, button));
      actions.appendChild(button);
    }
    body.appendChild(tr);
  }
  $("summary").textContent = state.fingerprint
    ? "the decision on alert " + state.fingerprint + ": " + (state.entries.map((e) => e.decision + " (" + e.reason + ")")
      .join("; ") || "not in the decision log")
    : state.entries.length + " suppressed alert" + (state.entries.length === 1 ? "" : "s") + " in the window";
}

async function answer(entry, actionable, button) {
  if (!$("by").value.trim()) {
    message("type your name first", "error");
    return;
  }
  const what = entry.alertname + " (" + entry.service + ")";
  button.disabled = true;
  try {
    const reply = await api("v1/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + $("token").value },
      body: JSON.stringify({ fingerprint: entry.fingerprint, startsAt: entry.startsAt, actionable,
        by: $("by").value.trim(), comment: "from the Suppressed page" }),
    });
    if (!actionable) message("marked correct: " + what, "ok");
    else if (reply.late_page === "sent") message("paged late: " + what + " was sent downstream", "ok");
    else if (reply.late_page === "already_paged") message("feedback stored: " + what + " was already paged", "ok");
    else if (reply.late_page === "failed") {
      message("feedback stored, but the late page failed (press again to retry): " + reply.detail, "error");
    } else message("feedback stored: " + what, "ok");
    await Promise.all([load(), loadLiveSafety()]);  // "should have paged" pauses the service
  } catch (err) {
    message("not stored: " + err.message, "error");
  } finally {
    button.disabled = false;
  }
}

async function main() {
  const params = new URLSearchParams(location.search);
  if (params.get("service")) $("service").value = params.get("service");
  if (params.get("window")) $("window").value = params.get("window");
  state.fingerprint = params.get("fingerprint") || "";
  state.startsAt = params.get("startsAt") || "";
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); load().catch(failed); });
  $("window").addEventListener("change", () => load().catch(failed));
  try {
    await Promise.all([load(), loadLiveSafety()]);
    document.body.dataset.ready = "true";
  } catch (err) {
    failed(err);
  }
}

function failed(err) {
  message("cannot load the suppressed alerts: " + err.message, "error");
}

main();
