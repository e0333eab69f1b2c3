// Two small SVG charts with log axes, drawn with DOM calls (every label is set as text, never as HTML).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = { ml: "#1f5fa8", xtb: "#d07a00", dft: "#2a8a3e", qm9: "#7b4fa0" };
  const color = (name) => COLORS[name] || "#555";

  function el(tag, attrs, parent, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function logRange(values) {
    const logs = values.filter((v) => v > 0 && isFinite(v)).map(Math.log10);
    if (!logs.length) return [-2, 2];
    let lo = Math.floor(Math.min(...logs)), hi = Math.ceil(Math.max(...logs));
    if (hi - lo < 1) { lo -= 1; hi += 1; }
    return [lo, hi];
  }

  function tickLabel(p) {
    const v = Math.pow(10, p);
    return v >= 1e4 || v < 1e-3 ? "1e" + p : String(Number(v.toPrecision(1)));
  }

  function clear(container, width, height) {
    container.textContent = "";
    return el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img" }, container);
  }

  // Horizontal bars on a log axis: items [{label, value, estimated}] (seconds).
  function timeBars(container, items) {
    const W = 460, rowH = 26, left = 50, right = 80, top = 10;
    const H = top + rowH * Math.max(items.length, 1) + 34;
    const svg = clear(container, W, H);
    if (!items.length) { el("text", { x: 10, y: 24 }, svg, "no times yet"); return svg; }
    const [lo, hi] = logRange(items.map((d) => d.value));
    const x = (v) => left + ((Math.log10(Math.max(v, Math.pow(10, lo))) - lo) / (hi - lo)) * (W - left - right);
    const axisY = top + rowH * items.length + 4;
    for (let p = lo; p <= hi; p++) {
      el("line", { x1: x(10 ** p), x2: x(10 ** p), y1: top, y2: axisY, stroke: "#e3e7eb" }, svg);
      el("text", { x: x(10 ** p), y: axisY + 14, "text-anchor": "middle" }, svg, tickLabel(p));
    }
    el("text", { x: (W + left) / 2, y: axisY + 28, "text-anchor": "middle" }, svg, "seconds");
    items.forEach((d, i) => {
      const y = top + i * rowH;
      el("text", { x: left - 6, y: y + 16, "text-anchor": "end" }, svg, d.label);
      const bar = el("rect", { x: left, y: y + 4, width: Math.max(2, x(d.value) - left), height: rowH - 10,
                               fill: color(d.label), "fill-opacity": d.estimated ? 0.35 : 0.9 }, svg);
      if (d.estimated) bar.setAttribute("stroke-dasharray", "4 2"), bar.setAttribute("stroke", color(d.label));
      el("text", { x: x(d.value) + 4, y: y + 16 }, svg, (d.estimated ? "~" : "") + fmtSeconds(d.value));
    });
    return svg;
  }

  // Log-log scatter: points [{label, x, y, kind: "typical" | "this"}].
  function accuracyTime(container, points, yLabel) {
    const W = 460, H = 300, left = 60, right = 110, top = 12, bottom = 44;
    const svg = clear(container, W, H);
    const usable = points.filter((p) => p.x > 0 && p.y > 0 && isFinite(p.x) && isFinite(p.y));
    if (!usable.length) {
      el("text", { x: 12, y: 26 }, svg, "no errors to plot for this property yet");
      return svg;
    }
    const [xlo, xhi] = logRange(usable.map((p) => p.x));
    const [ylo, yhi] = logRange(usable.map((p) => p.y));
    const X = (v) => left + ((Math.log10(v) - xlo) / (xhi - xlo)) * (W - left - right);
    const Y = (v) => H - bottom - ((Math.log10(v) - ylo) / (yhi - ylo)) * (H - top - bottom);
    for (let p = xlo; p <= xhi; p++) {
      el("line", { x1: X(10 ** p), x2: X(10 ** p), y1: top, y2: H - bottom, stroke: "#e3e7eb" }, svg);
      el("text", { x: X(10 ** p), y: H - bottom + 14, "text-anchor": "middle" }, svg, tickLabel(p));
    }
    for (let p = ylo; p <= yhi; p++) {
      el("line", { x1: left, x2: W - right, y1: Y(10 ** p), y2: Y(10 ** p), stroke: "#e3e7eb" }, svg);
      el("text", { x: left - 6, y: Y(10 ** p) + 4, "text-anchor": "end" }, svg, tickLabel(p));
    }
    el("text", { x: (W + left) / 2, y: H - 8, "text-anchor": "middle" }, svg, "wall time (s)");
    el("text", { x: 14, y: (H - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(H - bottom) / 2})` }, svg, yLabel);
    for (const p of usable) {
      const g = el("g", { class: `point ${p.kind}` }, svg);
      if (p.kind === "typical") el("circle", { cx: X(p.x), cy: Y(p.y), r: 6, fill: color(p.label) }, g);
      else el("rect", { x: X(p.x) - 5, y: Y(p.y) - 5, width: 10, height: 10, fill: "none", stroke: color(p.label), "stroke-width": 2 }, g);
      el("text", { x: X(p.x) + 8, y: Y(p.y) - 6 }, g, p.kind === "typical" ? `${p.label} (typical)` : `${p.label} (this molecule)`);
    }
    return svg;
  }

  function fmtSeconds(s) {
    if (!(s >= 0)) return "-";
    if (s < 0.01) return (s * 1000).toFixed(1) + " ms";
    if (s < 1) return Math.round(s * 1000) + " ms";
    if (s < 10) return s.toFixed(2) + " s";
    if (s < 120) return s.toFixed(1) + " s";
    if (s < 7200) return (s / 60).toPrecision(3) + " min";
    return (s / 3600).toPrecision(3) + " h";
  }

  window.molmtlCharts = { timeBars, accuracyTime, fmtSeconds };
})();
