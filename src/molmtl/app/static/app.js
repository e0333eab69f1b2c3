// molmtl serve's page: a molecule in, the methods side by side. Plain DOM calls: every string from the
// server or the user is set as text (textContent), never parsed as HTML; the SVG depiction is an <img>.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const charts = window.molmtlCharts;
  const state = { methods: [], properties: {}, molecule: null, comparison: null, poll: null, polling: {} };
  const DEFAULT_ON = ["ml", "qm9", "xtb"];

  // ------------------------------------------------------------------ the API
  async function api(path, body, method) {
    const opts = { method: method || (body === undefined ? "GET" : "POST"), headers: {} };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    const response = await fetch(path, opts);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      if (data && typeof data === "object") message = data.message || (typeof data.detail === "string" ? data.detail : message);
      const err = new Error(message);
      err.status = response.status;
      throw err;
    }
    return data;
  }

  function showError(message) { const box = $("error"); box.textContent = message; box.hidden = false; }
  function clearError() { const box = $("error"); box.textContent = ""; box.hidden = true; }
  function text(tag, content, cls) { const n = document.createElement(tag); if (content !== undefined) n.textContent = content; if (cls) n.className = cls; return n; }

  // ------------------------------------------------------------------ numbers
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "-";
    if (Math.abs(v) >= 1e5) return v.toFixed(1);
    return String(Number(v.toPrecision(6)));
  }
  function fmtError(e) {
    if (e === undefined || e === null) return "-";
    return e !== 0 && Math.abs(e) < 1e-3 ? e.toExponential(1) : String(Number(e.toPrecision(3)));
  }
  function withSigma(v, s) { return v === null || v === undefined ? "-" : (s === null || s === undefined ? fmt(v) : `${fmt(v)} ± ${Number(s.toPrecision(2))}`); }
  function accuracyClass(err, acc) {
    if (acc === undefined || acc === null || err === undefined || err === null) return "";
    const r = err / acc;
    return r <= 1 ? "acc-within" : r <= 3 ? "acc-within3" : "acc-beyond";
  }

  // ------------------------------------------------------------------ the molecule
  async function loadMolecule(spec, push) {
    clearError();
    let info;
    try { info = await api("/api/molecule", spec); } catch (e) { showError(e.message); return null; }
    state.molecule = info;
    renderMolecule(info);
    renderMethods(info);
    $("results").hidden = true;
    if (push) history.pushState(null, "", `/?m=${encodeURIComponent(info.id)}`);
    updateShare();
    return info;
  }

  function renderMolecule(info) {
    $("molecule").hidden = false;
    $("mol-title").textContent = info.name || info.smiles || info.formula;
    const facts = [`${info.formula}, ${info.n_atoms} atoms`, info.smiles ? `SMILES ${info.smiles}` : "no SMILES (bonds not perceived)",
                   `input: ${info.input}`, `geometry: ${info.geometry_source}`];
    if (info.charge) facts.push(`charge ${info.charge > 0 ? "+" : ""}${info.charge}`);
    if (info.multiplicity !== 1) facts.push(`multiplicity ${info.multiplicity}`);
    if (info.qm9) {
      let q = `QM9 ${info.qm9.index} (found by ${info.qm9.match}`;
      if (info.qm9.split_part) q += `; the network's ${info.qm9.split_part} set`;
      if (info.qm9.rmsd_angstrom !== null && info.qm9.rmsd_angstrom !== undefined) q += `; ${info.qm9.rmsd_angstrom.toFixed(2)} Å from QM9's geometry`;
      facts.push(q + ")");
    } else facts.push("not in QM9");
    $("mol-facts").textContent = facts.join(" · ");
    const list = $("mol-warnings"); list.textContent = "";
    for (const w of info.warnings) list.appendChild(text("li", w));
    const img = $("depiction");
    if (info.svg) { img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(info.svg); img.hidden = false; $("depiction-note").textContent = "2D (RDKit)"; }
    else { img.removeAttribute("src"); img.hidden = true; $("depiction-note").textContent = "no 2D depiction: no SMILES could be perceived"; }
    show3d(info.xyz);
  }

  function show3d(xyz) {
    const box = $("viewer3d");
    box.textContent = "";
    if (!window.$3Dmol || !xyz) { $("viewer-note").textContent = "3D view unavailable"; return; }
    try {
      const viewer = window.$3Dmol.createViewer(box, { backgroundColor: "white" });
      if (!viewer) throw new Error("no WebGL");
      viewer.addModel(xyz, "xyz");
      viewer.setStyle({}, { stick: { radius: 0.14 }, sphere: { scale: 0.25 } });
      viewer.zoomTo();
      viewer.render();
      $("viewer-note").textContent = "3D geometry: drag to rotate, scroll to zoom";
    } catch (e) {
      $("viewer-note").textContent = "3D view unavailable in this browser (it needs WebGL)";
    }
  }

  // ------------------------------------------------------------------ methods
  function renderMethods(info) {
    $("methods").hidden = false;
    const list = $("method-list"); list.textContent = "";
    for (const m of state.methods) {
      const check = info.methods[m.name] || {};
      const row = text("div", undefined, "method"); row.dataset.method = m.name;
      const box = document.createElement("input"); box.type = "checkbox"; box.id = `use-${m.name}`; box.className = "use";
      box.checked = DEFAULT_ON.includes(m.name) && !check.refused;
      box.disabled = Boolean(check.refused);
      const label = text("label", m.name); label.htmlFor = box.id;
      const what = text("div", undefined, "what");
      what.appendChild(text("span", `${m.level_of_theory}; ${m.runs_as === "job" ? "runs as a job" : "answers at once"}. `));
      const est = text("span", "", check.refused ? "refused" : "est"); est.id = `est-${m.name}`;
      est.textContent = check.refused ? `Not for this molecule: ${check.refused}` : estimateText(check.estimate_s);
      what.appendChild(est);
      if (m.typical && m.typical.n) what.appendChild(text("span", ` Typical: ${typicalText(m)}.`));
      row.append(box, label, what);
      const opts = text("div", undefined, "opts");
      for (const o of m.options) {
        if (o.type !== "bool") continue;
        const l = document.createElement("label");
        const c = document.createElement("input"); c.type = "checkbox"; c.className = "opt"; c.dataset.option = o.name; c.checked = Boolean(o.default);
        c.addEventListener("change", () => reestimate(m.name));
        l.append(c, document.createTextNode(" " + o.name.replace(/_/g, " ")));
        l.title = o.help || "";
        opts.appendChild(l);
      }
      if (opts.childNodes.length) row.appendChild(opts);
      list.appendChild(row);
    }
  }

  function estimateText(s) {
    if (s === 0) return "A look-up: no time.";
    return s ? `Estimated ${charts.fmtSeconds(s)} here.` : "No time estimate measured yet.";
  }
  function typicalText(m) {
    const parts = [];
    for (const key of ["U0", "homo", "gap", "mu"]) {
      const v = m.typical.mae[key];
      if (v === undefined || v === null) continue;
      const p = state.properties[key];
      const shown = p && p.is_energy ? `${Number((v * 1000).toPrecision(3))} meV` : `${Number(v.toPrecision(3))} ${p ? p.unit : ""}`;
      parts.push(`${key} ${shown}`);
    }
    return `|error| ${parts.join(", ") || "-"} in ${charts.fmtSeconds(m.typical.median_s)} (median of ${m.typical.n})`;
  }

  function chosenMethods() {
    const out = {};
    for (const row of document.querySelectorAll("#method-list .method")) {
      if (!row.querySelector("input.use").checked) continue;
      const options = {};
      for (const c of row.querySelectorAll("input.opt")) {
        const m = state.methods.find((x) => x.name === row.dataset.method);
        const o = m.options.find((x) => x.name === c.dataset.option);
        if (c.checked !== Boolean(o.default)) options[c.dataset.option] = c.checked;
      }
      out[row.dataset.method] = options;
    }
    return out;
  }

  function setChosen(methods) {
    for (const row of document.querySelectorAll("#method-list .method")) {
      const name = row.dataset.method, box = row.querySelector("input.use");
      if (!box.disabled) box.checked = name in methods;
      const m = state.methods.find((x) => x.name === name);
      for (const c of row.querySelectorAll("input.opt")) {
        const o = m.options.find((x) => x.name === c.dataset.option);
        const given = (methods[name] || {})[c.dataset.option];
        c.checked = given === undefined ? Boolean(o.default) : Boolean(given);
      }
    }
  }

  async function reestimate(name) {
    if (!state.molecule) return;
    const options = chosenMethods()[name] || optionsOf(name);
    try {
      const out = await api("/api/estimate", { molecule: { id: state.molecule.id }, methods: { [name]: options } });
      const check = out[name];
      const est = $(`est-${name}`);
      est.textContent = check.refused ? `Not with these options: ${check.refused}` : estimateText(check.estimate_s);
    } catch (e) { showError(e.message); }
    updateShare();
  }

  function optionsOf(name) {
    const row = document.querySelector(`#method-list .method[data-method="${CSS.escape(name)}"]`);
    const options = {};
    if (row) for (const c of row.querySelectorAll("input.opt")) options[c.dataset.option] = c.checked;
    return options;
  }

  // ------------------------------------------------------------------ URLs
  function shareUrl() {
    if (!state.molecule) return "/";
    const params = new URLSearchParams({ m: state.molecule.id });
    const chosen = chosenMethods();
    params.set("methods", Object.keys(chosen).join(","));
    for (const [name, opts] of Object.entries(chosen)) for (const [k, v] of Object.entries(opts)) params.set(`${name}.${k}`, String(v));
    if (!$("units-mev").checked) params.set("units", "eV");
    return "/?" + params.toString();
  }
  function updateShare() { $("share").href = shareUrl(); }

  function methodsFromParams(params) {
    const names = (params.get("methods") || "").split(",").filter(Boolean);
    const out = {};
    for (const n of names) out[n] = {};
    for (const [k, v] of params.entries()) {
      const dot = k.indexOf(".");
      if (dot > 0 && k.slice(0, dot) in out) out[k.slice(0, dot)][k.slice(dot + 1)] = v === "true";
    }
    return out;
  }

  // ------------------------------------------------------------------ running and results
  async function run(submit) {
    if (!state.molecule) return;
    clearError();
    const methods = chosenMethods();
    if (!Object.keys(methods).length) { showError("choose at least one method"); return; }
    const body = { molecule: { id: state.molecule.id }, methods, units: $("units-mev").checked ? "meV" : "eV", submit };
    let out;
    try { out = await api("/api/compare", body); } catch (e) { showError(e.message); return; }
    state.lastRequest = body;
    state.comparison = out;
    if (submit) history.replaceState(null, "", shareUrl());
    updateShare();
    renderComparison(out);
    watchJobs(out);
  }

  function watchJobs(out) {
    if (state.poll) { clearTimeout(state.poll); state.poll = null; }
    if (!out.pending.length) return;
    state.poll = setTimeout(pollJobs, 800);
  }

  async function pollJobs() {
    state.poll = null;
    const out = state.comparison;
    let changed = false;
    for (const name of out.pending) {
      const job = out.jobs[name];
      try {
        const now = await api(`/api/jobs/${job.id}`);
        out.jobs[name] = now;
        if (now.status !== "queued" && now.status !== "running") changed = true;
      } catch (e) { showError(e.message); }
    }
    renderJobs(out);
    if (changed) {  // a job finished: the table grows its column
      try {
        const fresh = await api("/api/compare", { ...state.lastRequest, submit: false });
        state.comparison = fresh;
        renderComparison(fresh);
        watchJobs(fresh);
      } catch (e) { showError(e.message); }
      return;
    }
    state.poll = setTimeout(pollJobs, 1000);
  }

  function renderJobs(out) {
    const box = $("jobs"); box.textContent = "";
    for (const [name, job] of Object.entries(out.jobs)) {
      const row = text("div", undefined, "job"); row.dataset.method = name; row.dataset.status = job.status; row.id = `job-${name}`;
      row.appendChild(text("span", name, "state"));
      const link = text("a", job.status); link.href = job.links.page; link.className = "status";
      row.appendChild(link);
      if (job.status === "queued" || job.status === "running") {
        const bar = document.createElement("progress");
        if (job.fraction !== null && job.fraction !== undefined) { bar.max = 1; bar.value = job.fraction; }
        row.appendChild(bar);
        let detail = job.status === "queued" ? `waiting${job.queue_position ? ` (${job.queue_position} in the queue)` : ""}` : (job.stage || "starting");
        if (job.fraction !== null && job.fraction !== undefined) detail += ` ${Math.round(job.fraction * 100)} %`;
        if (job.elapsed_s !== null) detail += ` · ${charts.fmtSeconds(job.elapsed_s)}`;
        if (job.estimate_s) detail += ` of ~${charts.fmtSeconds(job.estimate_s)}`;
        row.appendChild(text("span", detail, "stage"));
        const cancel = text("button", "Cancel", "secondary"); cancel.type = "button";
        cancel.addEventListener("click", async () => { try { await api(`/api/jobs/${job.id}`, undefined, "DELETE"); } catch (e) { showError(e.message); } });
        row.appendChild(cancel);
      } else if (job.status === "done") {
        row.appendChild(text("span", job.cached ? "from the stored results" : `in ${charts.fmtSeconds(job.result ? job.result.wall_s : job.elapsed_s)}`, "stage"));
      } else {
        row.appendChild(text("span", job.error || "", "stage"));
        const retry = text("button", "Retry", "secondary"); retry.type = "button";
        retry.addEventListener("click", () => run(true));
        row.appendChild(retry);
      }
      box.appendChild(row);
    }
  }

  function renderComparison(out) {
    $("results").hidden = false;
    renderJobs(out);
    const ref = out.reference;
    $("reference-note").textContent = `Reference: ${ref.note || "none"}. Energies in ${out.energy_unit}.`;
    const methods = Object.keys(out.methods).filter((m) => !(m === "qm9" && ref.source === "qm9"));
    const keys = Object.keys(state.properties).filter((k) => (k in ref.properties) || methods.some((m) => k in out.methods[m].properties));
    for (const m of methods) for (const k of Object.keys(out.methods[m].properties)) if (!keys.includes(k)) keys.push(k);
    const refName = ref.source === "qm9" ? "QM9 label" : ref.source === "dft" ? "DFT (ref.)" : null;
    const thead = $("table").querySelector("thead"), tbody = $("table").querySelector("tbody");
    thead.textContent = ""; tbody.textContent = "";
    const head = document.createElement("tr");
    head.appendChild(text("th", "property", "key")); head.appendChild(text("th", "unit", "key"));
    for (const m of methods) head.appendChild(text("th", m));
    if (refName) { head.appendChild(text("th", refName)); for (const m of methods) head.appendChild(text("th", `|error| ${m}`)); }
    thead.appendChild(head);
    for (const key of keys) {
      const tr = document.createElement("tr"); tr.dataset.key = key;
      tr.appendChild(text("td", key, "key"));
      tr.appendChild(text("td", unitOf(out, key), "unit"));
      for (const m of methods) {
        const r = out.methods[m];
        const td = text("td", withSigma(r.properties[key], (r.uncertainty || {})[key]));
        td.dataset.method = m; tr.appendChild(td);
      }
      if (refName) {
        tr.appendChild(text("td", fmt(ref.properties[key]), "ref"));
        for (const m of methods) {
          const err = (out.methods[m].abs_error || {})[key];
          const td = text("td", fmtError(err), accuracyClass(err, out.chemical_accuracy[key]));
          td.dataset.error = m; tr.appendChild(td);
        }
      }
      tbody.appendChild(tr);
    }
    const time = document.createElement("tr"); time.className = "time";
    time.appendChild(text("td", "wall time", "key")); time.appendChild(text("td", "s", "unit"));
    for (const m of methods) {
      const r = out.methods[m];
      time.appendChild(text("td", charts.fmtSeconds(r.compute_s) + (r.stored ? " (stored)" : "")));
    }
    if (refName) { time.appendChild(text("td", "", "ref")); for (const _ of methods) time.appendChild(text("td", "")); }
    tbody.appendChild(time);
    renderDomainAndWarnings(out, methods);
    renderCharts(out, methods);
  }

  function unitOf(out, key) {
    for (const r of Object.values(out.methods)) if (r.units && key in r.units) return r.units[key];
    if (key in out.reference.units) return out.reference.units[key];
    const p = state.properties[key];
    return p ? (p.is_energy ? out.energy_unit : p.unit) : "";
  }

  function renderDomainAndWarnings(out, methods) {
    const domain = $("domain"); domain.textContent = "";
    for (const m of methods) {
      const d = (out.methods[m].extras || {}).domain;
      if (!d) continue;
      const p = text("p", undefined, `domain domain-${d.verdict}`);
      p.appendChild(text("strong", `${m}: ${d.verdict} the training domain`));
      if (d.reasons && d.reasons.length) p.appendChild(document.createTextNode(": " + d.reasons.join("; ")));
      domain.appendChild(p);
    }
    const failures = $("failures"); failures.textContent = "";
    for (const [m, why] of Object.entries(out.failures)) failures.appendChild(text("li", `${m}: no result: ${why}`));
    const warnings = $("method-warnings"); warnings.textContent = "";
    for (const m of methods) for (const w of out.methods[m].warnings || []) warnings.appendChild(text("li", `${m}: ${w}`));
  }

  function renderCharts(out, methods) {
    const items = methods.map((m) => ({ label: m, value: out.methods[m].compute_s, estimated: false }));
    for (const m of out.pending) if (out.estimates_s[m]) items.push({ label: m, value: out.estimates_s[m], estimated: true });
    if (!("dft" in out.methods) && !out.pending.includes("dft") && out.estimates_s.dft) items.push({ label: "dft", value: out.estimates_s.dft, estimated: true });
    charts.timeBars($("chart-time"), items);
    const select = $("acc-prop");
    const keys = Object.keys(out.chemical_accuracy);
    const previous = select.value;
    select.textContent = "";
    for (const k of keys) { const o = text("option", k); o.value = k; select.appendChild(o); }
    select.value = keys.includes(previous) ? previous : (keys.includes("homo") ? "homo" : keys[0] || "");
    drawAccuracy();
  }

  function drawAccuracy() {
    const out = state.comparison, key = $("acc-prop").value;
    if (!out || !key) return;
    const scale = state.properties[key] && state.properties[key].is_energy ? (out.energy_unit === "meV" ? 1000 : out.energy_unit === "Hartree" ? 1 / 27.211386246 : 1) : 1;
    const points = [];
    for (const m of state.methods) {
      if (m.typical && m.typical.mae && m.typical.mae[key] !== undefined && m.typical.median_s)
        points.push({ label: m.name, x: m.typical.median_s, y: m.typical.mae[key] * scale, kind: "typical" });
    }
    for (const [m, r] of Object.entries(out.methods)) {
      const err = (r.abs_error || {})[key];
      if (err !== undefined && err > 0) points.push({ label: m, x: r.compute_s, y: err, kind: "this" });
    }
    const unit = unitOf(out, key);
    charts.accuracyTime($("chart-acc"), points, `|error| ${key} (${unit})`);
  }

  function download(name, type, content) {
    const url = URL.createObjectURL(new Blob([content], { type }));
    const a = document.createElement("a"); a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  async function downloadCsv() {
    if (!state.lastRequest) return;
    const r = await fetch("/api/compare?format=csv", { method: "POST", headers: { "Content-Type": "application/json" },
                                                       body: JSON.stringify({ ...state.lastRequest, submit: false }) });
    if (!r.ok) { showError(`CSV: ${r.status}`); return; }
    download(`molmtl-${state.molecule.id}.csv`, "text/csv", await r.text());
  }

  // ------------------------------------------------------------------ start
  function readFile(file) {
    const reader = new FileReader();
    reader.onload = () => {
      const name = file.name.replace(/\.[^.]*$/, "");
      const kind = /\.(sdf|mol)$/i.test(file.name) ? "sdf" : "xyz";
      loadMolecule({ [kind]: String(reader.result), name }, true);
    };
    reader.onerror = () => showError(`could not read ${file.name}`);
    reader.readAsText(file);
  }

  async function open() {
    const params = new URLSearchParams(location.search);
    const jobMatch = location.pathname.match(/^\/jobs\/([0-9a-f]{16})$/);
    if (params.get("units") === "eV") $("units-mev").checked = false;
    if (jobMatch) {
      try {
        const job = await api(`/api/jobs/${jobMatch[1]}`);
        if (await loadMolecule({ id: job.molecule_id }, false)) {
          setChosen({ ml: {}, [job.method]: job.options });
          await run(false);
        }
      } catch (e) { showError(e.message); }
      return;
    }
    const spec = params.get("m") ? { id: params.get("m") } : params.get("q") ? { query: params.get("q") } : null;
    if (!spec) return;
    if (spec.query) $("query").value = spec.query;
    if (await loadMolecule(spec, false) && params.get("methods")) {
      setChosen(methodsFromParams(params));
      await run(false);
    }
  }

  async function start() {
    try {
      const info = await api("/api/methods");
      state.methods = info.methods;
      for (const p of info.properties) state.properties[p.key] = p;
    } catch (e) { showError(e.message); return; }
    $("query-form").addEventListener("submit", (ev) => { ev.preventDefault(); const q = $("query").value.trim(); if (q) loadMolecule({ query: q }, true); });
    $("qm9-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const v = $("qm9-pick").value.trim();
      if (v) { const q = /^\d+$/.test(v) ? `qm9:${v}` : v; $("query").value = q; loadMolecule({ query: q }, true); }
    });
    $("random").addEventListener("click", async () => {
      try { const pick = await api("/api/qm9/random"); $("query").value = pick.query; loadMolecule({ query: pick.query }, true); }
      catch (e) { showError(e.message); }
    });
    $("upload").addEventListener("change", (ev) => { const f = ev.target.files[0]; if (f) readFile(f); });
    $("run").addEventListener("click", () => run(true));
    $("units-mev").addEventListener("change", () => { updateShare(); if (state.comparison) run(false); });
    $("method-list").addEventListener("change", updateShare);
    $("acc-prop").addEventListener("change", drawAccuracy);
    $("dl-json").addEventListener("click", () => state.comparison && download(`molmtl-${state.molecule.id}.json`, "application/json", JSON.stringify(state.comparison, null, 2)));
    $("dl-csv").addEventListener("click", downloadCsv);
    window.addEventListener("popstate", () => location.reload());
    document.body.dataset.ready = "true";
    await open();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
