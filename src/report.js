// Draws a gantry run report from the JSON in #data. No libraries, no network.
(function () {
  "use strict";
  const body = document.body;
  window.addEventListener("error", (e) => { body.dataset.status = "error"; body.dataset.error = String(e.message); });
  const data = JSON.parse(document.getElementById("data").textContent);
  const runs = data.runs;
  const colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const app = document.getElementById("app");
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) { if (k === "text") e.textContent = v; else e.setAttribute(k, v); }
    for (const k of kids) if (k) e.appendChild(k);
    return e;
  };
  const fmt = (v) => {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(3);
    return Number(v.toPrecision(4)).toString();
  };
  const state = { smooth: 0.6, log: "auto" };
  let plotsDrawn = 0;

  // ---- header ----
  const one = runs.length === 1;
  if (one) {
    const r = runs[0];
    app.appendChild(el("h1", { text: "Run " + r.name }));
    app.appendChild(el("div", { class: "meta", text: `preset ${r.preset || "–"} · method ${r.method || "–"} · ${r.steps || "?"} steps · ${r.path}` }));
  } else {
    app.appendChild(el("h1", { text: `${runs.length} runs compared` }));
    const legend = el("div", { class: "legend" });
    runs.forEach((r, i) => legend.appendChild(el("span", {}, el("i", { style: `background:${colours[i % colours.length]}` }), document.createTextNode(`${r.name} (${r.preset})`))));
    app.appendChild(legend);
  }
  app.appendChild(el("div", { class: "note", text: `gantry ${data.version} · written ${new Date().toISOString().slice(0, 19).replace("T", " ")} (page time)` }));

  // ---- controls ----
  const controls = el("div", { class: "controls" });
  const smooth = el("input", { type: "range", min: "0", max: "0.99", step: "0.01", value: String(state.smooth), id: "smooth" });
  const smoothLabel = el("span", { text: `smoothing ${state.smooth}` });
  const logSel = el("select", { id: "log" }, el("option", { value: "auto", text: "log scale: auto" }), el("option", { value: "on", text: "log scale: on" }), el("option", { value: "off", text: "log scale: off" }));
  controls.appendChild(el("label", {}, smoothLabel, smooth));
  controls.appendChild(logSel);
  app.appendChild(controls);

  // ---- plots ----
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort((a, b) => {
    const rank = (k) => (k.startsWith("eval/") ? 2 : k.startsWith("time/") ? 3 : 1);
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  app.appendChild(el("h2", { text: "Curves" }));
  if (keys.length === 0) app.appendChild(el("p", { class: "note", text: "No metrics logged yet." }));
  const plots = el("div", { class: "plots" });
  app.appendChild(plots);
  const canvases = keys.map((k) => {
    const c = el("canvas", { width: "760", height: "440", "data-key": k });
    plots.appendChild(el("div", { class: "plot" }, el("h3", { text: k }), c));
    return [k, c];
  });

  function ema(points, a) {
    let m = null;
    return points.map(([s, v]) => { m = m === null ? v : a * m + (1 - a) * v; return [s, m]; });
  }

  function draw(key, canvas) {
    const ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height, L = 132, R = 14, T = 12, B = 44;
    ctx.clearRect(0, 0, W, H);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, H);
    const series = runs.map((r) => (r.metrics[key] || []).filter(([, v]) => Number.isFinite(v)));
    const all = series.flat();
    if (all.length === 0) return false;
    const positive = all.every(([, v]) => v > 0);
    const lo = Math.min(...all.map((p) => p[1])), hi = Math.max(...all.map((p) => p[1]));
    const log = positive && (state.log === "on" || (state.log === "auto" && hi / lo > 100));
    const y = (v) => (log ? Math.log10(v) : v);
    let y0 = y(lo), y1 = y(hi);
    if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
    const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad;
    const s0 = Math.min(...all.map((p) => p[0])), s1 = Math.max(s0 + 1, ...all.map((p) => p[0]));
    const px = (s) => L + ((s - s0) / (s1 - s0)) * (W - L - R);
    const py = (v) => T + (1 - (y(v) - y0) / (y1 - y0)) * (H - T - B);
    // axes and ticks
    ctx.strokeStyle = "#ccd"; ctx.fillStyle = "#445"; ctx.font = "20px system-ui, sans-serif"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
    // labels as precise as the spacing of the ticks needs, so neighbours never read alike
    const digits = Math.max(0, Math.min(10, 1 - Math.floor(Math.log10((y1 - y0) / 4))));
    const label = (t) => {
      if (log) return fmt(Math.pow(10, t));
      return Math.abs(t) >= 1e5 ? t.toExponential(3) : t.toFixed(digits);
    };
    for (let i = 0; i <= 4; i++) {
      const t = y0 + ((y1 - y0) * i) / 4, yy = T + (1 - i / 4) * (H - T - B);
      ctx.strokeStyle = "#eef"; ctx.beginPath(); ctx.moveTo(L, yy); ctx.lineTo(W - R, yy); ctx.stroke();
      ctx.textAlign = "right"; ctx.fillText(label(t), L - 6, yy + 6);
    }
    // whole-step ticks at a round spacing
    ctx.textAlign = "center";
    const raw = Math.max(1, (s1 - s0) / 4), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const tick = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw);
    for (let s = Math.ceil(s0 / tick) * tick; s <= s1; s += tick) {
      // a label at the right edge ends there instead of being cut
      ctx.textAlign = px(s) > W - R - 40 ? "right" : "center";
      ctx.fillText(String(s), Math.min(px(s), W - 2), H - B + 26);
    }
    if (log) { ctx.textAlign = "left"; ctx.fillText("log", L + 6, T + 18); }
    // rollbacks
    runs.forEach((r) => r.events.forEach((e) => {
      if (e.diverged_at === undefined) return;
      ctx.strokeStyle = "#e88"; ctx.setLineDash([6, 6]); ctx.beginPath(); ctx.moveTo(px(e.step), T); ctx.lineTo(px(e.step), H - B); ctx.stroke(); ctx.setLineDash([]);
    }));
    series.forEach((pts, i) => {
      if (pts.length === 0) return;
      const colour = colours[i % colours.length];
      const line = (p, width, alpha) => {
        ctx.globalAlpha = alpha; ctx.strokeStyle = colour; ctx.lineWidth = width; ctx.beginPath();
        p.forEach(([s, v], j) => { const v2 = log ? Math.max(v, lo) : v; (j ? ctx.lineTo : ctx.moveTo).call(ctx, px(s), py(v2)); });
        if (p.length === 1) { ctx.arc(px(p[0][0]), py(p[0][1]), 3, 0, 7); }
        ctx.stroke(); ctx.globalAlpha = 1;
      };
      if (state.smooth > 0 && pts.length > 2) { line(pts, 1.5, 0.25); line(ema(pts, state.smooth), 2.5, 1); } else line(pts, 2.5, 1);
    });
    return true;
  }

  function drawAll() {
    plotsDrawn = 0;
    for (const [k, c] of canvases) if (draw(k, c)) plotsDrawn++;
    body.dataset.plots = String(plotsDrawn);
  }
  smooth.addEventListener("input", () => { state.smooth = Number(smooth.value); smoothLabel.textContent = `smoothing ${state.smooth}`; drawAll(); });
  logSel.addEventListener("change", () => { state.log = logSel.value; drawAll(); });

  // ---- final figures ----
  const last = (r, k) => { const p = r.metrics[k]; return p && p.length ? p[p.length - 1][1] : null; };
  if (!one && keys.length) {
    app.appendChild(el("h2", { text: "Final figures (last logged value)" }));
    const t = el("table");
    t.appendChild(el("tr", {}, el("th", { text: "key" }), ...runs.map((r) => el("th", { text: r.name }))));
    for (const k of keys) t.appendChild(el("tr", {}, el("td", { text: k }), ...runs.map((r) => el("td", { text: fmt(last(r, k)) }))));
    app.appendChild(t);
  }

  // ---- samples ----
  let images = 0, imagesWanted = 0;
  const imageDone = () => { images++; body.dataset.images = String(images); };
  runs.forEach((r) => {
    app.appendChild(el("h2", { text: (one ? "" : r.name + ": ") + (r.translation ? "Inputs and their translations" : "Samples") + " through training" }));
    if (r.translation) app.appendChild(el("p", { class: "note", text: "Each grid shows test inputs beside their translations (and cycles, where the method has them), from fixed inputs at every sample step." }));
    if (!r.grids.length) { app.appendChild(el("p", { class: "note", text: "No sample grids yet." })); return; }
    const img = el("img", { alt: `samples of ${r.name}` });
    const label = el("span", {});
    const slider = el("input", { type: "range", min: "0", max: String(r.grids.length - 1), step: "1", value: String(r.grids.length - 1) });
    const show = () => { const g = r.grids[Number(slider.value)]; img.src = g.src; label.textContent = ` step ${g.step}`; };
    imagesWanted++;
    img.addEventListener("load", function once() { img.removeEventListener("load", once); imageDone(); });
    show();
    slider.addEventListener("input", show);
    app.appendChild(el("div", { class: "grid" }, el("div", {}, slider, label), img));
  });

  // ---- evaluations ----
  const flat = (obj, prefix, out) => {
    for (const [k, v] of Object.entries(obj)) {
      if (typeof v === "number") out.push([prefix + k, v]);
      else if (v && typeof v === "object" && !Array.isArray(v)) flat(v, prefix + k + ".", out);
    }
    return out;
  };
  const withEval = runs.filter((r) => r.evals.length);
  if (withEval.length) {
    app.appendChild(el("h2", { text: "Latest gantry eval" }));
    const rows = withEval.map((r) => { const e = r.evals[r.evals.length - 1]; return [r, e.step, new Map(flat(e.result, "", []))]; });
    const names = [...new Set(rows.flatMap(([, , m]) => [...m.keys()]))].sort();
    const t = el("table");
    t.appendChild(el("tr", {}, el("th", { text: "figure" }), ...rows.map(([r, s]) => el("th", { text: `${r.name} @ ${s}` }))));
    for (const n of names) t.appendChild(el("tr", {}, el("td", { text: n }), ...rows.map(([, , m]) => el("td", { text: fmt(m.get(n)) }))));
    app.appendChild(t);
  }

  // ---- configuration ----
  runs.forEach((r) => {
    app.appendChild(el("h2", { text: (one ? "" : r.name + ": ") + "Resolved configuration" }));
    app.appendChild(el("pre", { text: r.config }));
  });

  drawAll();
  // a drawn plot has coloured pixels: the test's proof that canvases really rendered
  const first = canvases.find(([k]) => runs.some((r) => (r.metrics[k] || []).length));
  if (first) {
    const px = first[1].getContext("2d").getImageData(0, 0, first[1].width, first[1].height).data;
    let coloured = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - px[i + 2]) > 60) coloured++;
    body.dataset.colouredPixels = String(coloured);
  }
  body.dataset.imagesWanted = String(imagesWanted);
  if (body.dataset.status !== "error") body.dataset.status = "ok";
})();
