// The page's whole logic: no framework, no external assets. It calls the
// same JSON API as any client (/api/model, /api/predict).
"use strict";

const $ = (sel) => document.querySelector(sel);
const pct = (x) => (100 * x).toFixed(1) + "%";
const num = (x) => (x == null ? "–" : x.toFixed(3));

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function setState(state, message, isError) {
  document.body.dataset.state = state;
  const s = $("#status");
  s.textContent = message;
  s.classList.toggle("error", !!isError);
}

async function loadCard() {
  let card;
  try {
    const r = await fetch("api/model");
    card = await r.json();
  } catch (e) {
    $("#card-notes").append(el("li", {}, "model card unavailable: " + e));
    return;
  }
  const dl = $("#card");
  const row = (k, v) => { if (v !== undefined && v !== "" && v !== null) dl.append(el("dt", {}, k), el("dd", {}, String(v))); };
  row("model id", card.id);
  row("config", card.config);
  row("trained", card.trained ? card.trained.replace("T", " ").replace("Z", " UTC") : "");
  row("run", card.run);
  row("alias", card.alias);
  row("genres", (card.genres || []).join(", "));
  row("output", card.loss === "softmax_ce" ? "softmax (one distribution over the genres)" : "sigmoid (one probability per genre)");
  row("decision", "probability ≥ " + card.threshold.toFixed(2));
  row("input", card.input);
  row("best epoch", card.best_epoch);
  const d = card.data || {};
  const rows = [["train", d.train_rows], ["validation", d.validation_rows], ["test", d.test_rows]]
    .filter(([, n]) => n).map(([k, n]) => n.toLocaleString("en") + " " + k);
  row("data", rows.join(" · "));
  row("baseline", d.baseline);
  row("TensorFlow", card.tf_version ? card.tf_version + (card.device ? " on " + card.device : "") : "");
  const body = $("#metrics tbody");
  for (const m of card.metrics || []) {
    const better = m.baseline != null && m.value > m.baseline;
    body.append(el("tr", { "data-key": m.key },
      el("td", {}, m.label),
      el("td", { class: "num" + (better ? " better" : "") }, num(m.value)),
      el("td", { class: "num" }, m.ci_low != null ? "[" + num(m.ci_low) + ", " + num(m.ci_high) + "]" : "–"),
      el("td", { class: "num" }, num(m.baseline))));
  }
  if (!(card.metrics || []).length) $("#metrics").hidden = true;
  for (const n of card.notes || []) $("#card-notes").append(el("li", {}, n));
}

function render(p) {
  const list = $("#genres");
  list.replaceChildren();
  for (const g of p.genres) {
    list.append(el("li", { class: g.predicted ? "predicted" : "", "data-genre": g.genre, "data-probability": g.probability.toFixed(4) },
      el("span", { class: "name", title: g.genre }, g.genre),
      el("span", { class: "track" },
        el("span", { class: "bar", style: "display:block;width:" + pct(g.probability) }),
        el("span", { class: "thr", style: "left:" + pct(p.threshold), title: "threshold " + p.threshold.toFixed(2) })),
      el("span", { class: "value" }, pct(g.probability))));
  }
  $("#thr").textContent = p.threshold.toFixed(2);
  $("#legend").hidden = false;
  const said = p.predicted.length ? p.predicted.join(", ") : "no genre over the threshold; most likely " + p.top;
  setState("done", "Predicted: " + said + ".");
  const i = p.image;
  $("#image-info").textContent = i.format.toUpperCase() + " " + i.width + "×" + i.height + ", " +
    (i.bytes / 1024).toFixed(0) + " KiB · " + p.ms.toFixed(0) + " ms · model " + p.model.id;
}

async function predict(request, previewSrc) {
  if (previewSrc) {
    const img = $("#preview");
    // Not an image (or not reachable from the browser): show the hint again.
    img.onerror = () => { img.hidden = true; $("#drop-hint").hidden = false; };
    img.src = previewSrc;
    img.hidden = false;
    $("#drop-hint").hidden = true;
  }
  $("#image-info").textContent = "";
  setState("busy", "Reading the poster…");
  try {
    const r = await request;
    const body = await r.json().catch(() => ({ error: "HTTP " + r.status }));
    if (!r.ok) {
      $("#genres").replaceChildren();
      $("#legend").hidden = true;
      setState("error", body.error || "HTTP " + r.status, true);
      return;
    }
    render(body);
  } catch (e) {
    setState("error", "Request failed: " + e, true);
  }
}

function predictFile(file) {
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  predict(fetch("api/predict", { method: "POST", body: form }), URL.createObjectURL(file));
}

function predictURL(u) {
  u = u.trim();
  if (!u) return;
  predict(fetch("api/predict?url=" + encodeURIComponent(u)), u);
}

document.addEventListener("DOMContentLoaded", () => {
  loadCard();
  const drop = $("#drop");
  $("#file").addEventListener("change", (e) => predictFile(e.target.files[0]));
  drop.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); $("#file").click(); } });
  for (const ev of ["dragenter", "dragover"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); });
  for (const ev of ["dragleave", "drop"]) drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); });
  drop.addEventListener("drop", (e) => predictFile(e.dataTransfer.files[0]));
  $("#url-form").addEventListener("submit", (e) => { e.preventDefault(); predictURL($("#url").value); });
  // /?url=… predicts that URL on load (a link to a prediction).
  const u = new URLSearchParams(location.search).get("url");
  if (u) { $("#url").value = u; predictURL(u); }
});
