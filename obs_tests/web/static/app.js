// obs-tests scenario dashboard. Plain JavaScript, no dependency, nothing fetched from the network but
// this server: the REST API (/api/*) and the live stream (WebSocket at /api/stream, resumed with ?since=).
"use strict";

(() => {
  const COLOURS = {
    fault: "#d62728", pending: "#ff9f1c", firing: "#e4572e", notification: "#6a4c93",
    revert: "#2ca02c", resolved: "#1f77b4", inactive: "#aaaaaa",
  };
  const SVG_NS = "http://www.w3.org/2000/svg";
  const state = {
    token: null, info: null, scenarios: [], selected: null,
    view: null, run: null, appliedSeq: 0,
    lastSeq: null, ws: null, retry: 0, historyTimer: null, drawQueued: false, statusKey: null,
  };

  const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  const secs = (v) => (v === null || v === undefined ? "—" : `${Number(v).toFixed(1)} s`);
  const at = (v) => (v === null || v === undefined ? "—" : `+${Number(v).toFixed(1)}s`);

  // -- token and API -------------------------------------------------------------------------------
  function loadToken() {
    const match = location.hash.match(/token=([^&]+)/);
    if (match) {
      sessionStorage.setItem("obs-dashboard-token", decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
    state.token = sessionStorage.getItem("obs-dashboard-token");
  }

  function withToken(url) {
    if (!state.token) return url;
    return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(state.token)}`;
  }

  function showAuth() {
    $("auth-panel").hidden = false;
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    const text = await response.text();
    if (response.status === 401) showAuth();
    if (options.raw && response.ok) return text;
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: text }; }
    if (!response.ok) {
      const error = new Error((body && body.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // -- server info, links, stack -------------------------------------------------------------------
  async function refreshInfo() {
    const info = await api("/api/info");
    state.info = info;
    const stack = $("stack-state");
    stack.dataset.state = info.stack.state;
    stack.textContent = `stack: ${info.stack.state} · time scale ${info.stack.time_scale}`;
    stack.title = info.stack.message;
    const nav = $("links");
    nav.replaceChildren();
    const names = {
      prometheus_alerts: ["Prometheus alerts", "link-prometheus"],
      prometheus_targets: ["targets", "link-prometheus-targets"],
      alertmanager_api: ["Alertmanager API", "link-alertmanager"],
      grafana: ["Grafana", "link-grafana"],
    };
    for (const [key, [label, testid]] of Object.entries(names)) {
      const url = info.links[key];
      if (url) nav.append(el("a", { href: url, target: "_blank", rel: "noopener noreferrer", "data-testid": testid, text: label }));
    }
    const select = $("opt-load");
    if (!select.options.length) {
      for (const profile of info.load_profiles) select.append(el("option", { value: profile, text: profile }));
    }
    $("opt-time-scale").placeholder = String(info.default_time_scale);
    return info;
  }

  // -- scenarios -----------------------------------------------------------------------------------
  async function loadScenarios() {
    const doc = await api("/api/scenarios");
    state.scenarios = doc.scenarios;
    $("scenario-count").textContent = `(${doc.scenarios.length})`;
    const list = $("scenario-list");
    list.replaceChildren();
    for (const item of doc.scenarios) {
      const meta = item.valid
        ? `${item.type || "chaos"}${item.must_fire.length ? ` · fires ${item.must_fire.join(", ")}` : ""}`
        : "invalid";
      list.append(el("li", {
        "data-testid": "scenario-item", "data-name": item.name, "data-valid": String(item.valid),
        class: `${item.valid ? "" : "invalid"} ${state.selected === item.name ? "selected" : ""}`,
        title: item.description || (item.error && item.error.message) || "",
        onclick: () => selectScenario(item.name),
      }, el("span", { class: "name", "data-testid": "scenario-name", text: item.name }),
      el("span", { class: "meta", text: meta })));
    }
  }

  function renderYaml(text, error) {
    const pre = $("yaml-preview");
    pre.replaceChildren();
    const lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    const badLine = error && error.line ? error.line : null;
    lines.forEach((line, index) => {
      const number = index + 1;
      const bad = number === badLine;
      pre.append(el("span", { class: `line${bad ? " bad" : ""}`, "data-line": number },
        el("span", { class: "no", text: number }), line));
      if (bad) pre.append(el("span", { class: "inline-error", "data-testid": "yaml-error", "data-line": number, text: `▲ ${error.message}` }));
    });
    if (error && !badLine) {
      pre.prepend(el("span", { class: "inline-error", "data-testid": "yaml-error", "data-line": "", text: error.message }));
    }
  }

  async function selectScenario(name) {
    state.selected = name;
    for (const item of document.querySelectorAll('[data-testid="scenario-item"]')) {
      item.classList.toggle("selected", item.dataset.name === name);
    }
    const doc = await api(`/api/scenarios/${encodeURIComponent(name)}`);
    $("intro").hidden = true;
    $("scenario-detail").hidden = false;
    $("scenario-detail").dataset.name = doc.name;
    $("scenario-title").textContent = doc.title;
    $("scenario-file").textContent = doc.file;
    $("scenario-description").textContent = doc.description;
    const banner = $("scenario-error");
    banner.hidden = doc.valid;
    banner.textContent = doc.valid ? "" : doc.error.message;
    renderYaml(doc.yaml, doc.error);
    $("run-button").disabled = !doc.valid;
    $("run-error").hidden = true;
  }

  async function startRun(event) {
    event.preventDefault();
    const body = {
      scenario: state.selected,
      verbose: $("opt-verbose").checked,
      load: $("opt-load").value || "scenario",
    };
    // recording: left out = as the scenario says; "no" = false; a file name (unless "no"); "yes" = true
    const record = $("opt-recording").value;
    const file = $("opt-recording-file").value.trim();
    if (record === "off") body.recording = false;
    else if (file) body.recording = file;
    else if (record === "on") body.recording = true;
    const scale = $("opt-time-scale").value.trim();
    if (scale) body.time_scale = Number(scale);
    const banner = $("run-error");
    banner.hidden = true;
    try {
      const accepted = await api("/api/run", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      await viewRun(accepted.test_id);
    } catch (error) {
      banner.textContent = error.message;
      banner.hidden = false;
    }
    scheduleHistory();
  }

  // -- a run ---------------------------------------------------------------------------------------
  async function viewRun(testId) {
    const doc = await api(`/api/status/${testId}`);
    state.view = testId;
    state.run = doc;
    state.statusKey = null;
    state.appliedSeq = doc.seq;
    $("intro").hidden = true;
    $("run-panel").hidden = false;
    $("run-panel").dataset.testId = testId;
    $("timeline-report").hidden = true;
    $("timeline-report").replaceChildren();
    renderRun();
    if (doc.status !== "running") showReportChart(testId);
  }

  async function showReportChart(testId) {
    // the report's chart draws the expected alerts against their bounds: nothing to draw without one
    if (!state.run || !state.run.report || !state.run.alerts.some((a) => a.expected)) return;
    try {
      const text = await api(`/api/report/${testId}.svg`, { raw: true, headers: { Accept: "image/svg+xml" } });
      if (state.view !== testId) return;
      const box = $("timeline-report");
      const parsed = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
      box.replaceChildren(document.importNode(parsed, true));
      box.hidden = false;
    } catch (_) { /* a run without a report (error) has no chart */ }
  }

  function renderRun() {
    const run = state.run;
    if (!run) return;
    $("run-id").textContent = run.test_id;
    $("run-scenario").textContent = run.scenario;
    const status = $("run-status");
    status.textContent = run.status;
    status.className = `status ${run.status}`;
    status.dataset.status = run.status;
    $("run-phase").textContent = run.status === "running" ? run.phase : "";
    const stop = $("stop-button");
    stop.hidden = run.status !== "running";
    if (run.status !== "running") { stop.disabled = false; stop.textContent = "Stop"; }
    renderDuration();
    const count = $("assertions-count");
    const total = run.assertions_total;
    count.textContent = total || run.status !== "running" ? `${run.assertions_passed}/${total}` : "—";
    count.dataset.passed = run.assertions_passed;
    count.dataset.total = total;
    const chaos = run.chaos;
    const summary = $("chaos-summary");
    summary.textContent = `applied ${chaos.applied} · reverted ${chaos.reverted} · active: ${chaos.active.length ? chaos.active.join(", ") : "none"}`;
    summary.dataset.applied = chaos.applied;
    summary.dataset.reverted = chaos.reverted;
    summary.dataset.active = chaos.active.length;
    $("run-time-scale").textContent = run.time_scale === null ? "—" : String(run.time_scale);
    const message = $("run-message");
    message.hidden = !run.error;
    message.textContent = run.error || "";
    renderReportLinks();
    renderBot();
    renderFaults();
    renderAlerts();
    renderAssertions();
    renderLog();
    drawTimeline();
  }

  function renderDuration() {
    const run = state.run;
    if (!run) return;
    const value = run.status === "running" && run.created_at ? Date.now() / 1000 - run.created_at : run.duration;
    $("run-duration").textContent = secs(Math.max(0, value));
  }

  function renderReportLinks() {
    const box = $("report-links");
    box.replaceChildren();
    const links = state.run.report;
    if (!links) { box.textContent = state.run.status === "running" ? "when the run ends" : "—"; return; }
    const items = [
      ["json", "JSON", "report-json"], ["html", "HTML", "report-html"], ["svg", "chart", "report-svg"],
      ["recording", "promtool recording", "report-recording"], ["events", "event recording", "report-events"],
    ];
    for (const [key, label, testid] of items) {
      if (!links[key]) continue;
      box.append(el("a", { href: withToken(links[key]), target: "_blank", rel: "noopener noreferrer", "data-testid": testid, text: label }), " ");
    }
  }

  // a trading-bot run: the bus events recorded (live while it runs) and what event chaos did
  function renderBot() {
    const bot = state.run.bot;
    const panel = $("bot-panel");
    panel.hidden = !bot;
    if (!bot) return;
    panel.dataset.live = String(bot.live);
    $("bot-live").hidden = !bot.live || state.run.status !== "running";
    const events = bot.events;
    const put = (testid, value, text, bad) => {
      const node = $(testid);
      node.dataset.value = value;
      node.dataset.bad = String(Boolean(bad));
      node.textContent = text === undefined ? String(value) : text;
    };
    put("bot-events-total", events.total);
    put("bot-cycles", events.cycles);
    const lost = Object.entries(events.missing).filter(([, n]) => n > 0);
    put("bot-missing", events.missing_total,
      lost.length ? `${events.missing_total} (${lost.map(([name, n]) => `${name} ${n}`).join(", ")})` : "0", lost.length);
    put("bot-corrupted", events.corrupted, undefined, events.corrupted > 0);
    const chaos = bot.chaos;
    put("bot-chaos-delayed", chaos.events_delayed);
    put("bot-chaos-dropped", chaos.events_dropped);
    put("bot-chaos-injected", chaos.failures_injected);
    put("bot-chaos-modified", chaos.events_modified);
    put("bot-chaos-delay", chaos.total_delay_ms, `${Math.round(chaos.total_delay_ms)} ms`);
    const ex = bot.exchange;
    const price = (v) => (v === null || v === undefined ? "—" : Number(v).toFixed(2));
    $("bot-exchange").textContent = ex
      ? `min ${price(ex.min_price)} · max ${price(ex.max_price)} · return ${ex.total_return_pct === null ? "—" : `${Number(ex.total_return_pct).toFixed(2)} %`}`
      : (bot.live ? "when the run ends" : "—");
    $("bot-recording").textContent = bot.recording || (bot.live ? "when the run ends" : "none");
    const body = $("bot-events-body");
    body.replaceChildren();
    const names = new Set([...Object.keys(events.by_name), ...Object.keys(events.missing)]);
    for (const name of names) {
      const missing = events.missing[name] || 0;
      body.append(el("tr", { "data-testid": "bot-event-row", "data-event": name, "data-count": events.by_name[name] || 0, "data-missing": missing },
        el("td", { text: name }), el("td", { text: events.by_name[name] || 0 }),
        el("td", { class: missing ? "bad" : "", text: missing })));
    }
  }

  function renderFaults() {
    const list = $("faults-list");
    list.replaceChildren();
    const faults = state.run.chaos.faults;
    if (!faults.length) { list.append(el("li", { text: "none applied" })); return; }
    for (const fault of faults) {
      const active = fault.reverted_at === null && fault.applied_at !== null;
      list.append(el("li", {
        "data-testid": "fault-item", "data-fault": fault.name, "data-state": active ? "active" : "reverted",
        class: active ? "active" : "",
        text: `${fault.name}${fault.what ? `: ${fault.what}` : ""} — applied ${at(fault.applied_at)}, ${active ? "ACTIVE" : `reverted ${at(fault.reverted_at)}`}`,
      }));
    }
  }

  function renderAlerts() {
    const body = $("alerts-body");
    body.replaceChildren();
    for (const row of state.run.alerts) {
      const labels = Object.entries(row.labels).filter(([k]) => k !== "severity").map(([k, v]) => `${k}=${v}`).join(", ");
      const limit = (value, source) => `≤ ${secs(value)}${source === "within" ? ", set in the scenario" : ""}`;
      const fired = row.fired_after === undefined ? "—" : `${secs(row.fired_after)} (${limit(row.fire_bound, row.fire_source)})`;
      const resolved = row.resolved_after === undefined ? "—" : `${secs(row.resolved_after)} (${limit(row.resolve_bound, row.resolve_source)})`;
      body.append(el("tr", { "data-testid": "alert-row", "data-alert": row.alert, "data-state": row.state },
        el("td", { text: row.alert }), el("td", { text: labels }),
        el("td", { class: `state-${row.state}`, "data-testid": "alert-state", text: row.state }),
        el("td", { text: at(row.pending_at) }), el("td", { text: at(row.firing_at) }), el("td", { text: at(row.resolved_at) }),
        el("td", { text: fired }), el("td", { text: resolved })));
    }
  }

  function renderAssertions() {
    const body = $("assertions-body");
    body.replaceChildren();
    for (const a of state.run.assertions) {
      body.append(el("tr", { "data-testid": "assertion-row", "data-passed": String(a.passed), class: a.passed ? "ok" : "bad" },
        el("td", { text: a.passed ? "✔" : "✘" }), el("td", { text: a.name }), el("td", { text: a.expected }),
        el("td", { text: a.actual }), el("td", { text: a.message })));
    }
  }

  function logItem(entry) {
    return el("li", { "data-testid": "log-entry", "data-level": entry.level },
      el("span", { class: "t", text: `${Number(entry.t).toFixed(1).padStart(6)}s` }),
      el("span", { class: "lvl", text: entry.level }), entry.message);
  }

  function renderLog() {
    const log = $("live-log");
    log.replaceChildren(...state.run.log.map(logItem));
    log.scrollTop = log.scrollHeight;
  }

  function appendLog(entry) {
    state.run.log.push(entry);
    const log = $("live-log");
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
    log.append(logItem(entry));
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // -- live timeline: one row for the faults, one per alert series; markers at each change ----------
  function drawTimeline() {
    state.drawQueued = false;
    const run = state.run;
    const box = $("timeline");
    const events = run.events;
    const rows = [{ key: "faults", label: "faults" }];
    const rowOf = new Map([["faults", 0]]);
    const alertKey = (e) => `${e.name} ${Object.entries(e.labels || {}).filter(([k]) => !["alertname", "severity"].includes(k)).map(([k, v]) => `${k}=${v}`).join(",")}`;
    for (const e of events) {
      if (e.kind !== "alert") continue;
      const key = alertKey(e);
      if (!rowOf.has(key)) { rowOf.set(key, rows.length); rows.push({ key, label: key.trim() }); }
    }
    const span = Math.max(10, ...events.map((e) => e.t + 2));
    const width = Math.max(700, box.clientWidth - 12);
    const left = 210;
    const rowHeight = 30;
    const height = 34 + rowHeight * rows.length;
    const x = (t) => left + Math.max(0, t) * ((width - left - 16) / span);
    const chart = svg("svg", { width, height, role: "img", "aria-label": `timeline of ${run.scenario}`, "data-testid": "timeline-svg" });
    chart.append(svg("line", { x1: left, y1: 20, x2: width - 16, y2: 20, stroke: "#999" }));
    const step = Math.max(1, Math.round(span / 10));
    for (let t = 0; t <= span; t += step) {
      chart.append(svg("text", { x: x(t), y: 14, "font-size": 10, "text-anchor": "middle" }, `${t}s`));
      chart.append(svg("line", { x1: x(t), y1: 22, x2: x(t), y2: height, stroke: "#eee" }));
    }
    rows.forEach((row, index) => {
      chart.append(svg("text", { x: 4, y: 34 + index * rowHeight + 14, "font-size": 12 }, row.label.length > 30 ? `${row.label.slice(0, 29)}…` : row.label));
    });
    const y = (index) => 34 + index * rowHeight + 10;
    const marker = (t, rowIndex, colour, kind, stateName, title, shape) => {
      const attrs = { fill: colour, "data-testid": "timeline-marker", "data-kind": kind, "data-state": stateName };
      const node = shape === "diamond"
        ? svg("rect", Object.assign({ x: x(t) - 4, y: y(rowIndex) - 4, width: 8, height: 8, transform: `rotate(45 ${x(t)} ${y(rowIndex)})` }, attrs))
        : svg("circle", Object.assign({ cx: x(t), cy: y(rowIndex), r: 5 }, attrs));
      node.append(svg("title", {}, title));
      chart.append(node);
    };
    const faults = new Map();
    for (const e of events) {
      if (e.kind === "fault" && e.state === "applied") faults.set(e.name, { start: e.t, end: null });
      if (e.kind === "revert" && faults.has(e.name) && faults.get(e.name).end === null) faults.get(e.name).end = e.t;
    }
    for (const [name, f] of faults) {
      const end = f.end === null ? span - 2 : f.end;
      const bar = svg("rect", { x: x(f.start), y: y(0) - 6, width: Math.max(2, x(end) - x(f.start)), height: 12, fill: "#f6c6c6", "data-testid": "timeline-fault", "data-fault": name });
      bar.append(svg("title", {}, `${name}: ${f.start.toFixed(1)}s → ${f.end === null ? "active" : `${f.end.toFixed(1)}s`}`));
      chart.append(bar);
    }
    for (const e of events) {
      if (e.kind === "fault" && e.state === "applied") marker(e.t, 0, COLOURS.fault, "fault", e.state, `fault ${e.name} at +${e.t.toFixed(2)}s`);
      else if (e.kind === "revert") marker(e.t, 0, COLOURS.revert, "revert", e.state, `revert ${e.name} at +${e.t.toFixed(2)}s`);
      else if (e.kind === "alert") {
        marker(e.t, rowOf.get(alertKey(e)), COLOURS[e.state] || "#333", "alert", e.state, `${e.name} ${e.state} at +${e.t.toFixed(2)}s`);
      } else if (e.kind === "notification") {
        const index = [...rowOf.entries()].find(([key]) => key.startsWith(`${e.name} `));
        marker(e.t, index ? index[1] : 0, COLOURS.notification, "notification", e.state, `notification ${e.name} ${e.state} at +${e.t.toFixed(2)}s`, "diamond");
      }
    }
    box.replaceChildren(chart);
    const legend = $("timeline-legend");
    if (!legend.childNodes.length) {
      for (const name of ["fault", "pending", "firing", "notification", "revert", "resolved"]) {
        legend.append(el("span", { class: `dot ${name}` }), name);
      }
    }
  }

  function queueDraw() {
    if (state.drawQueued) return;
    state.drawQueued = true;
    requestAnimationFrame(() => { renderAlerts(); renderFaults(); drawTimeline(); });
  }

  // -- history -------------------------------------------------------------------------------------
  async function loadHistory() {
    const doc = await api("/api/runs?limit=50");
    const body = $("history-body");
    body.replaceChildren();
    for (const run of doc.runs) {
      const links = el("td", {});
      if (run.report) {
        links.append(el("a", { href: withToken(run.report.json), target: "_blank", rel: "noopener noreferrer", text: "json" }), " ",
          el("a", { href: withToken(run.report.html), target: "_blank", rel: "noopener noreferrer", "data-testid": "history-report", text: "html" }));
      }
      body.append(el("tr", {
        "data-testid": "history-row", "data-test-id": run.test_id, "data-status": run.status,
        onclick: (event) => { if (event.target.tagName !== "A") viewRun(run.test_id); },
      }, el("td", { text: run.test_id.slice(9, 15).replace(/(..)(..)(..)/, "$1:$2:$3"), title: run.test_id }),
      el("td", { text: run.scenario }), el("td", { class: `state-${run.status}`, text: run.status }),
      el("td", { text: `${run.assertions_passed}/${run.assertions_total}` }), links));
    }
  }

  function scheduleHistory() {
    clearTimeout(state.historyTimer);
    state.historyTimer = setTimeout(() => loadHistory().catch(() => {}), 150);
  }

  // -- the live stream -----------------------------------------------------------------------------
  function setStream(stateName, text) {
    const badge = $("stream-state");
    badge.dataset.state = stateName;
    badge.textContent = text;
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    // batch=1: every message waiting in one frame, a JSON document per line (far fewer frames under load)
    const since = state.lastSeq === null ? "" : `&since=${state.lastSeq}`;
    const ws = new WebSocket(withToken(`${proto}//${location.host}/api/stream?batch=1${since}`));
    state.ws = ws;
    ws.onopen = () => { state.retry = 0; setStream("connected", "stream: live"); };
    ws.onmessage = (event) => event.data.split("\n").forEach((line) => handle(JSON.parse(line)));
    ws.onclose = () => {
      setStream("reconnecting", `stream: reconnecting (last #${state.lastSeq})`);
      const delay = Math.min(5000, 250 * 2 ** state.retry++);
      setTimeout(connect, delay);
    };
  }

  function handle(message) {
    state.lastSeq = message.seq;
    $("stream-state").dataset.seq = message.seq;
    const viewed = state.run && message.test_id === state.view && message.seq > state.appliedSeq;
    switch (message.type) {
      case "hello":
        break;
      case "overflow":
        if (state.view) viewRun(state.view);
        scheduleHistory();
        break;
      case "stack":
        refreshInfo().catch(() => {});
        break;
      case "run":
        scheduleHistory();
        if (viewed) {
          state.run.status = message.data.status;
          state.run.phase = message.data.phase;
          if (message.data.status !== "running") { viewRun(state.view); return; }
          renderRun();
        }
        break;
      case "status":
        if (viewed) {
          // a bot run's live sample comes about once a second: redraw the bot panel only, unless more changed
          const { bot, duration, ...rest } = message.data;
          const key = JSON.stringify(rest);
          if (bot) state.run.bot = bot;
          if (bot && key === state.statusKey) { renderBot(); break; }
          state.statusKey = key;
          Object.assign(state.run, {
            status: message.data.status, phase: message.data.phase,
            assertions_passed: message.data.assertions_passed, assertions_total: message.data.assertions_total,
          });
          state.run.chaos.applied = message.data.chaos.applied;
          state.run.chaos.reverted = message.data.chaos.reverted;
          state.run.chaos.active = message.data.chaos.active;
          renderRun();
        }
        break;
      case "log":
        if (viewed) appendLog(message.data);
        break;
      case "event":
        if (viewed) {
          state.run.events.push(message.data);
          applyEvent(message.data);
          queueDraw();
        }
        break;
      case "assertion":
        if (viewed) { state.run.assertions.push(message.data); renderAssertions(); }
        break;
      default:
        break;
    }
  }

  // keep the alert rows and faults of a live run in step with its events
  function applyEvent(e) {
    const run = state.run;
    if (e.kind === "alert") {
      const labels = Object.fromEntries(Object.entries(e.labels || {}).filter(([k]) => k !== "alertname"));
      const key = JSON.stringify([e.name, Object.entries(labels).sort()]);
      let row = run.alerts.find((r) => JSON.stringify([r.alert, Object.entries(r.labels).sort()]) === key);
      if (!row) {
        row = { alert: e.name, labels, state: "inactive", pending_at: null, firing_at: null, resolved_at: null };
        run.alerts.push(row);
      }
      row.state = e.state;
      const stamp = `${e.state}_at`;
      if (stamp in row && row[stamp] === null) row[stamp] = e.t;
    } else if (e.kind === "fault" && e.state === "applied") {
      run.chaos.faults.push({ name: e.name, what: (e.detail || {}).what || "", applied_at: e.t, reverted_at: null });
    } else if (e.kind === "revert") {
      const fault = run.chaos.faults.find((f) => f.name === e.name && f.reverted_at === null);
      if (fault) fault.reverted_at = e.t;
    }
  }

  async function stopRun() {
    const stop = $("stop-button");
    stop.disabled = true;
    stop.textContent = "Stopping…";
    try {
      const doc = await api(`/api/stop/${state.view}`, { method: "POST" });
      if (doc.test_id === state.view) { state.run = doc; state.appliedSeq = doc.seq; renderRun(); showReportChart(doc.test_id); }
    } catch (error) {
      const message = $("run-message");
      message.textContent = error.message;
      message.hidden = false;
    }
  }

  async function start() {
    loadToken();
    $("run-form").addEventListener("submit", startRun);
    $("stop-button").addEventListener("click", stopRun);
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem("obs-dashboard-token", $("token-input").value);
      location.reload();
    });
    setInterval(renderDuration, 500);
    let info;
    try {
      info = await refreshInfo();
    } catch (error) {
      setStream("error", `stream: ${error.message}`);
      return;
    }
    state.lastSeq = info.stream.seq;
    connect();
    await Promise.all([loadScenarios(), loadHistory()]);
    if (info.active_run) await viewRun(info.active_run);
  }

  document.addEventListener("DOMContentLoaded", () => { start(); });
})();
