/// The dashboard's script (inline in `DashboardPage`, allowed by its hash in the CSP). Plain ES2020, no
/// libraries: reads the key, polls `/ui/api/summary` every 2 s, fills the tables with `textContent` and
/// draws the charts on `<canvas>`; keeps the last 3 minutes of samples for the time series.
enum DashboardScript {
    static let source = #"""

"use strict";
(() => {
  const REFRESH_MS = 2000, KEEP = 90, STORE = "infer.dashboard.key";
  const COLORS = ["#2f6fde", "#d9480f", "#2b8a3e", "#9c36b5", "#c92a2a", "#0b7285", "#e67700", "#5c940d"];
  const $ = (id) => document.getElementById(id);
  const series = [];            // [{t, groups: {name: {rps, p50, p95}}}], oldest first
  let key = null, timer = null;

  // The key: a #key= fragment (never sent to the server) wins, then this tab's sessionStorage.
  const fragment = /^#key=(.+)$/.exec(window.location.hash);
  if (fragment) {
    key = decodeURIComponent(fragment[1]);
    sessionStorage.setItem(STORE, key);
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  } else {
    key = sessionStorage.getItem(STORE);
  }

  function showLogin(message) {
    if (timer !== null) { clearTimeout(timer); timer = null; }
    $("main").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    setStatus("locked", "warn");
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    key = $("key").value;
    $("key").value = "";
    sessionStorage.setItem(STORE, key);
    $("login").hidden = true;
    refresh();
  });

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(STORE);
    key = null;
    showLogin("");
  });

  function setStatus(text, kind) {
    const pill = $("status");
    pill.textContent = text;
    pill.className = "pill " + kind;
  }

  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    timer = null;
    const headers = key ? { Authorization: "Bearer " + key } : {};
    let response;
    try {
      response = await fetch("/ui/api/summary", { headers, cache: "no-store", credentials: "omit" });
    } catch (error) {
      setStatus("offline", "bad");
      schedule();
      return;
    }
    if (response.status === 401 || response.status === 403) {
      showLogin(key ? "That key may not open the dashboard (the master key is needed)." : "");
      return;
    }
    if (!response.ok) {
      setStatus("error " + response.status, "bad");
      schedule();
      return;
    }
    const data = await response.json();
    render(data);
    setStatus("live", "ok");
    schedule();
  }

  // Formatting
  const num = (v, digits) => (typeof v === "number" && isFinite(v)) ? v.toFixed(digits) : "-";
  const ms = (seconds) => (typeof seconds === "number") ? (seconds * 1000).toFixed(0) : "-";
  const pct = (v) => (typeof v === "number") ? (v * 100).toFixed(1) + "%" : "-";
  const usd = (v) => (typeof v === "number") ? v.toFixed(6) : "-";
  const when = (t) => new Date(t * 1000).toLocaleTimeString();

  // A table from column specs [{title, field, num}] and row objects; every cell is text.
  function fillTable(id, columns, rows, rowKey) {
    const table = $(id);
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const c of columns) {
      const th = document.createElement("th");
      th.textContent = c.title;
      if (c.num) th.className = "num";
      head.appendChild(th);
    }
    const body = table.createTBody();
    if (rows.length === 0) {
      const cell = body.insertRow().insertCell();
      cell.colSpan = columns.length;
      cell.className = "empty";
      cell.textContent = "none yet";
      return;
    }
    for (const row of rows) {
      const tr = body.insertRow();
      if (rowKey) tr.dataset.row = String(row[rowKey]);
      for (const c of columns) {
        const td = tr.insertCell();
        td.dataset.field = c.field;
        td.textContent = String(row[c.field]);
        if (c.num) td.className = "num";
        if (c.cls) td.className = c.cls(row);
      }
    }
  }

  function render(data) {
    $("main").hidden = false;
    $("login").hidden = true;
    $("logout").hidden = !key;
    $("updated").textContent = "updated " + when(data.time);
    $("window").textContent = "(last " + num(data.window_seconds, 0) + " s)";

    const point = { t: data.time, groups: {} };
    for (const g of data.groups) {
      point.groups[g.model_group] = { rps: g.requests_per_second, p50: g.latency_p50_seconds, p95: g.latency_p95_seconds };
    }
    series.push(point);
    if (series.length > KEEP) series.shift();
    const names = data.groups.map((g) => g.model_group);

    fillTable("groups", [
      { title: "Group", field: "model_group" }, { title: "Requests", field: "requests", num: true },
      { title: "Req/s", field: "rps", num: true }, { title: "Failures", field: "failures", num: true },
      { title: "p50 ms", field: "p50", num: true }, { title: "p95 ms", field: "p95", num: true },
    ], data.groups.map((g) => ({ model_group: g.model_group, requests: g.requests, rps: num(g.requests_per_second, 3),
      failures: g.failures, p50: ms(g.latency_p50_seconds), p95: ms(g.latency_p95_seconds) })), "model_group");
    lineChart($("rps-chart"), names.map((n) => ({ label: n, values: series.map((p) => p.groups[n] ? p.groups[n].rps : null) })), (v) => num(v, 2));
    lineChart($("latency-chart"), names.flatMap((n) => [
      { label: n + " p50", values: series.map((p) => p.groups[n] && p.groups[n].p50 !== null ? p.groups[n].p50 * 1000 : null) },
      { label: n + " p95", dashed: true, values: series.map((p) => p.groups[n] && p.groups[n].p95 !== null ? p.groups[n].p95 * 1000 : null) },
    ]), (v) => num(v, 0));

    const layers = [["exact", "Exact (requests)"], ["semantic", "Semantic (requests)"], ["prefix", "Prefix KV (tokens)"]];
    const hitRows = layers.map(([field, title]) => {
      const h = data.hit_rates[field];
      if (!h) return { layer: title, field, rate: null, hits: "-", of: "off" };
      return field === "prefix"
        ? { layer: title, field, rate: h.rate, hits: h.hit_tokens, of: h.query_tokens }
        : { layer: title, field, rate: h.rate, hits: h.hits, of: h.lookups };
    });
    fillTable("hits", [{ title: "Layer", field: "layer" }, { title: "Hit rate", field: "shown", num: true },
      { title: "Hits", field: "hits", num: true }, { title: "Of", field: "of", num: true }],
      hitRows.map((r) => Object.assign({ shown: pct(r.rate) }, r)), "field");
    barChart($("hit-chart"), hitRows.map((r) => ({ label: r.layer, value: r.rate })));

    const kv = data.kv;
    const blocks = kv && kv.blocks ? kv.blocks : null;
    const states = blocks ? [["in_use", "in use"], ["cached_idle", "cached"], ["pinned", "pinned"], ["free", "free"]] : [];
    fillTable("kv-blocks", [{ title: "Blocks", field: "state" }, { title: "Count", field: "count", num: true },
      { title: "Share", field: "share", num: true }],
      states.map(([field, title]) => ({ state: title, field, count: blocks[field], share: pct(blocks.total ? blocks[field] / blocks.total : 0) })), "field");
    stackChart($("kv-chart"), states.map(([field, title]) => ({ label: title, value: blocks[field] })), blocks ? blocks.total : 0,
      kv ? "no KV numbers before the engine's first step" : "no local KV pool (gateway-only)");
    fillTable("kv-tiers", [{ title: "Tier", field: "tier" }, { title: "Hit tokens", field: "hit_tokens", num: true },
      { title: "Reads", field: "reads", num: true }, { title: "Hits", field: "hits", num: true },
      { title: "Writes", field: "writes", num: true }, { title: "Errors", field: "errors", num: true }],
      kv ? kv.tiers : [], "tier");

    fillTable("prefixes", [{ title: "Prefix (hash)", field: "hash" }, { title: "Tokens", field: "tokens", num: true },
      { title: "Hits", field: "hits", num: true }], data.top_prefixes, "hash");
    fillTable("deployments", [{ title: "Deployment", field: "model_id" }, { title: "Group", field: "model_group" },
      { title: "API base", field: "api_base" }, { title: "In flight", field: "in_flight", num: true },
      { title: "OK", field: "successes", num: true }, { title: "Failed", field: "failures", num: true },
      { title: "Cooldowns", field: "cooldowns", num: true },
      { title: "Cooling down", field: "cooling", cls: (r) => r.cooling === "no" ? "ok" : "bad" }],
      data.deployments.map((d) => Object.assign({}, d, { api_base: d.api_base || "local",
        cooling: d.cooldown_remaining_seconds === null ? "no" : num(d.cooldown_remaining_seconds, 0) + " s left" })), "model_id");
    fillTable("spend", [{ title: "Key (hashed)", field: "key" }, { title: "Alias", field: "alias" },
      { title: "Requests", field: "requests", num: true }, { title: "Spend", field: "spent", num: true },
      { title: "Saved", field: "saved_usd", num: true }],
      data.spend.map((s) => ({ key: s.api_key.slice(0, 12), alias: s.key_alias || "-", requests: s.requests,
        spent: usd(s.spend), saved_usd: usd(s.saved) })), "key");
    fillTable("alerts", [{ title: "Time", field: "at" }, { title: "Rule", field: "rule" },
      { title: "Status", field: "status", cls: (r) => r.status === "firing" ? "bad" : "ok" },
      { title: "Message", field: "message", cls: () => "msg" }],
      (data.alerts || []).map((a) => ({ at: when(a.time), rule: a.rule + (a.subject ? " (" + a.subject + ")" : ""),
        status: a.status, message: a.message })), "rule");
  }

  // Charts, drawn by hand on a 2D canvas.
  function frame(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = ctx.strokeStyle = getComputedStyle(document.body).color;
    return ctx;
  }

  function lineChart(canvas, lines, label) {
    const ctx = frame(canvas), w = canvas.width, h = canvas.height, left = 48, top = 20, bottom = 18;
    let max = 0;
    for (const l of lines) for (const v of l.values) if (v !== null && v > max) max = v;
    max = max > 0 ? max * 1.15 : 1;
    ctx.globalAlpha = 0.3;
    ctx.beginPath(); ctx.moveTo(left, top); ctx.lineTo(left, h - bottom); ctx.lineTo(w, h - bottom); ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.textAlign = "right";
    ctx.fillText(label(max), left - 4, top + 4);
    ctx.fillText(label(0), left - 4, h - bottom);
    const step = (w - left) / Math.max(1, KEEP - 1);
    let legend = left + 6;
    ctx.textAlign = "left";
    lines.forEach((l, i) => {
      const color = COLORS[Math.floor(i / (lines.some((x) => x.dashed) ? 2 : 1)) % COLORS.length];
      ctx.strokeStyle = ctx.fillStyle = color;
      ctx.setLineDash(l.dashed ? [5, 4] : []);
      ctx.lineWidth = 2;
      ctx.beginPath();
      let drawing = false;
      const offset = KEEP - l.values.length;
      l.values.forEach((v, j) => {
        if (v === null) { drawing = false; return; }
        const x = left + (offset + j) * step, y = h - bottom - (v / max) * (h - top - bottom);
        if (drawing) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        drawing = true;
      });
      ctx.stroke();
      l.values.forEach((v, j) => {
        if (v === null) return;
        ctx.beginPath();
        ctx.arc(left + (offset + j) * step, h - bottom - (v / max) * (h - top - bottom), 2.5, 0, 2 * Math.PI);
        ctx.fill();
      });
      ctx.fillText(l.label, legend, 12);
      legend += ctx.measureText(l.label).width + 16;
    });
    ctx.setLineDash([]);
  }

  function barChart(canvas, bars) {
    const ctx = frame(canvas), w = canvas.width, h = canvas.height, top = 16, bottom = 20;
    const width = w / Math.max(1, bars.length);
    ctx.textAlign = "center";
    bars.forEach((b, i) => {
      const x = i * width + width * 0.2, bw = width * 0.6, v = typeof b.value === "number" ? b.value : 0;
      const bh = v * (h - top - bottom);
      ctx.fillStyle = COLORS[i % COLORS.length];
      ctx.fillRect(x, h - bottom - bh, bw, bh);
      ctx.fillText(pct(b.value), x + bw / 2, h - bottom - bh - 4);
      ctx.fillText(b.label, x + bw / 2, h - 4);
    });
  }

  function stackChart(canvas, parts, total, empty) {
    const ctx = frame(canvas), w = canvas.width;
    if (!total) { ctx.fillText(empty, 4, 30); return; }
    let x = 0;
    parts.forEach((p, i) => {
      const pw = (p.value / total) * w, lx = i * (w / parts.length);
      ctx.fillStyle = COLORS[i % COLORS.length];
      ctx.fillRect(x, 4, pw, 34);
      ctx.fillRect(lx, 48, 10, 10);
      ctx.fillText(p.label + " " + p.value, lx + 14, 58);
      x += pw;
    });
  }

  refresh();
})();

"""#
}
