// Shared by the threshold page (app.js) and the Suppressed page (suppressed.js): element lookup, number and
// message display, JSON requests (with the typed token; an error status throws) and table cells.
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

async function api(path, options) {
  // reads carry the token too once one is typed: the server may protect them (protect_reads)
  const token = $("token") ? $("token").value : "";
  const opts = Object.assign({}, options || {});
  if (token && !(opts.headers && opts.headers.Authorization)) {
    opts.headers = Object.assign({ Authorization: "Bearer " + token }, opts.headers || {});
  }
  const response = await fetch(path, opts);
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
