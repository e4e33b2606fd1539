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

// last sends the current poster again with another ?explain= (a click on a
// genre); null before the first poster.
let last = null;

// showHeatmap shows h's overlay in place of the poster, stretched back to
// the poster's proportions (the overlay is the model's input size).
function showHeatmap(h, image) {
  const img = $("#heatmap"), cap = $("#heatmap-caption");
  if (!h) { img.hidden = true; cap.hidden = true; return; }
  if (image && image.width && image.height) img.style.aspectRatio = image.width + " / " + image.height;
  img.src = h.png;
  img.alt = "Grad-CAM heatmap for " + h.genre;
  img.dataset.genre = h.genre;
  img.hidden = false;
  $("#preview").hidden = true;
  $("#heatmap-text").textContent = "Heatmap: where the poster speaks for " + h.genre + " (Grad-CAM; red = most). Click a genre to see its map.";
  $("#heatmap-toggle").textContent = "Show the poster";
  cap.hidden = false;
  for (const li of document.querySelectorAll("#genres li")) li.classList.toggle("explained", li.dataset.genre === h.genre);
}

function showPosterNote(p) {
  const n = $("#poster-note");
  n.hidden = !p.poster_note;
  n.textContent = p.poster_note || "";
  n.classList.toggle("info", p.looks_like_poster !== false);
  n.dataset.score = p.poster_score == null ? "" : p.poster_score.toFixed(3);
}

function render(p) {
  const list = $("#genres");
  list.replaceChildren();
  showPosterNote(p);
  for (const g of p.genres) {
    list.append(el("li", { class: g.predicted ? "predicted" : "", "data-genre": g.genre, "data-probability": g.probability.toFixed(4),
      role: "button", tabindex: "0", title: "show the heatmap for " + g.genre },
      el("span", { class: "name", title: g.genre }, g.genre),
      el("span", { class: "track" },
        el("span", { class: "bar", style: "display:block;width:" + pct(g.probability) }),
        el("span", { class: "thr", style: "left:" + pct(p.threshold), title: "threshold " + p.threshold.toFixed(2) })),
      el("span", { class: "value" }, pct(g.probability))));
  }
  showHeatmap(p.heatmap, p.image);
  $("#thr").textContent = p.threshold.toFixed(2);
  $("#legend").hidden = false;
  const said = p.predicted.length ? p.predicted.join(", ") : "no genre over the threshold; most likely " + p.top;
  const score = p.poster_score == null ? "" : " Poster score " + p.poster_score.toFixed(2) + ".";
  setState("done", "Predicted: " + said + "." + score);
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
    showHeatmap(null);
  }
  $("#image-info").textContent = "";
  setState("busy", "Reading the poster…");
  try {
    const r = await request;
    const body = await r.json().catch(() => ({ error: "HTTP " + r.status }));
    if (!r.ok) {
      $("#genres").replaceChildren();
      $("#legend").hidden = true;
      $("#poster-note").hidden = true;
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
  last = (explain) => {
    const form = new FormData();
    form.append("image", file);
    return fetch("api/predict?explain=" + encodeURIComponent(explain), { method: "POST", body: form });
  };
  predict(last("top"), URL.createObjectURL(file));
}

function predictURL(u) {
  u = u.trim();
  if (!u) return;
  last = (explain) => fetch("api/predict?url=" + encodeURIComponent(u) + "&explain=" + encodeURIComponent(explain));
  predict(last("top"), u);
}

// explainGenre asks for another genre's heatmap for the current poster.
function explainGenre(genre) {
  if (!last || !genre) return;
  setState("busy", "Computing the heatmap for " + genre + "…");
  predict(last(genre));
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
  const genreOf = (e) => { const li = e.target.closest("#genres li"); return li && li.dataset.genre; };
  $("#genres").addEventListener("click", (e) => explainGenre(genreOf(e)));
  $("#genres").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); explainGenre(genreOf(e)); } });
  $("#heatmap-toggle").addEventListener("click", () => {
    const hm = $("#heatmap"), pv = $("#preview");
    const showPoster = !hm.hidden;
    hm.hidden = showPoster;
    pv.hidden = !showPoster;
    $("#heatmap-toggle").textContent = showPoster ? "Show the heatmap" : "Show the poster";
  });
  // /?url=… predicts that URL on load (a link to a prediction).
  const u = new URLSearchParams(location.search).get("url");
  if (u) { $("#url").value = u; predictURL(u); }
});
