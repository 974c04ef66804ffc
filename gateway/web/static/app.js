"use strict";
// The technicians' page: log in, then render status, devices, labels and alerts,
// kept current by the server-sent event stream /api/live.
(function () {
  const state = { session: null, devices: new Map(), status: null, alerts: null,
                  sort: "device_id", asc: true, tab: "overview",
                  lang: localStorage.getItem("lang") || (navigator.language.startsWith("zh") ? "zh" : "en") };
  const $ = (sel) => document.querySelector(sel);
  const t = (key) => (window.I18N[state.lang] || window.I18N.en)[key] || key;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c === null || c === undefined ? "" : c);
    return node;
  }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (state.session && method !== "GET") headers["X-CSRF-Token"] = state.session.csrf;
    const resp = await fetch(path, { method, headers, credentials: "same-origin",
                                     body: body === undefined ? undefined : JSON.stringify(body) });
    if (resp.status === 401 && path !== "/api/login") { showLogin(); throw new Error("login required"); }
    const data = await resp.json().catch(() => ({}));
    if (!resp.ok) { const e = new Error(data.error || resp.statusText); e.status = resp.status; throw e; }
    return data;
  }

  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((n) => { n.textContent = t(n.dataset.i18n); });
    $("#lang").textContent = state.lang === "zh" ? "English" : "中文";
    render();
  }

  function showLogin() {
    state.session = null;
    $("#login").hidden = false; $("#tabs").hidden = true; $("#logout").hidden = true;
    document.querySelectorAll(".tab").forEach((s) => { s.hidden = true; });
  }

  function showApp() {
    $("#login").hidden = true; $("#tabs").hidden = false; $("#logout").hidden = false;
    showTab(state.tab);
  }

  function showTab(name) {
    state.tab = name;
    document.querySelectorAll(".tab").forEach((s) => { s.hidden = s.id !== name; });
    document.querySelectorAll("#tabs button").forEach((b) => {
      b.setAttribute("aria-current", b.dataset.tab === name ? "page" : "false");
    });
    if (name === "alerts") refreshAlerts();
    if (name === "labels") refreshLabels();
    if (name === "energy") refreshEnergy();
  }

  const fmtNum = (v, digits) => (v === null || v === undefined ? "" : Number(v).toFixed(digits));
  const fmtTime = (ts) => (ts ? new Date(ts).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB") : "");
  const yesNo = (v) => (v === null || v === undefined ? "–" : t(v ? "yes" : "no"));

  function renderOverview() {
    const s = state.status; if (!s) return;
    $("#gw-id").textContent = `${s.store_id} / ${s.gateway_id}`;
    const broker = s.broker ? t(s.broker.connected ? "connected" : "disconnected") : t("not_configured");
    const buffer = s.buffer ? `${s.buffer.pending} / ${s.buffer.bytes} B` : t("none");
    // Why the broker is unreachable, when it is (e.g. "cannot connect to host:8883: ... refused").
    const brokerWhy = s.broker && !s.broker.connected ? s.broker.last_error : null;
    const cards = [
      [t("card.devices"), `${s.devices.online} / ${s.devices.total}`],
      [t("card.broker"), broker, brokerWhy],
      [t("card.buffer"), buffer],
      [t("card.alerts"), String((s.alerts && s.alerts.firing) || 0)],
    ];
    $("#cards").replaceChildren(...cards.map(([k, v, why]) => el("div", { class: "card" },
      el("span", {}, k), el("strong", {}, v), why ? el("small", { class: "why" }, why) : null)));
    $("#adapters tbody").replaceChildren(...s.adapters.map((a) => el("tr", {},
      el("td", {}, a.name), el("td", { class: `state-${a.state}` }, a.state), el("td", {}, a.mode || ""),
      el("td", {}, fmtNum(a.adverts_per_s, 1)), el("td", {}, a.last_error || ""))));
    // Several gateways in one store: how many devices each owns.
    $("#gateways-section").hidden = !s.ownership;
    if (s.ownership) {
      const offline = new Set(s.ownership.offline);
      $("#gateways tbody").replaceChildren(...Object.entries(s.ownership.owned).map(([gw, n]) =>
        el("tr", { "data-gateway": gw }, el("td", {}, gw === s.gateway_id ? `${gw} (${t("this_gateway")})` : gw),
          el("td", {}, t(offline.has(gw) ? "offline" : "online")), el("td", {}, String(n)))));
    }
    $("#components tbody").replaceChildren(...s.components.map((c) => el("tr", {},
      el("td", {}, c.name), el("td", { class: `state-${c.state}` }, c.state), el("td", {}, String(c.restarts)),
      el("td", {}, c.last_error || ""))));
  }

  function deviceRows() {
    const q = ($("#filter").value || "").toLowerCase();
    const rows = [...state.devices.values()].filter((d) => !q ||
      [d.device_id, d.kind, d.model, d.name || "", d.tags.join(" ")].join(" ").toLowerCase().includes(q));
    const k = state.sort, dir = state.asc ? 1 : -1;
    rows.sort((a, b) => {
      const x = a[k], y = b[k];
      if (x === y) return 0; if (x === null || x === undefined) return 1; if (y === null || y === undefined) return -1;
      return (x > y ? 1 : -1) * dir;
    });
    return rows;
  }

  function renderDevices() {
    const shared = Boolean(state.status && state.status.ownership);
    document.querySelectorAll(".owner-col").forEach((n) => { n.hidden = !shared; });
    const ownerCells = (d) => (shared ? [
      el("td", { class: "owner" }, d.owner ? `${d.owner}${d.owner_epoch ? ` #${d.owner_epoch}` : ""}` : "–"),
      el("td", { class: "heard-by" }, Object.entries(d.heard_by || {}).map(([gw, rssi]) => `${gw} ${rssi}`).join(", ")),
    ] : []);
    const chartCell = (d) => {
      if (d.kind !== "sensor") return el("td", {});
      const b = el("button", { type: "button", class: "chart-button", "data-chart": d.device_id }, t("chart"));
      b.addEventListener("click", () => showHistory(d.device_id));
      return el("td", {}, b);
    };
    const rows = deviceRows().map((d) => el("tr", { "data-device": d.device_id },
      el("td", {}, d.device_id), el("td", {}, d.kind), el("td", {}, d.model), el("td", {}, d.name || ""),
      el("td", {}, d.tags.join(", ")), el("td", {}, yesNo(d.online)), el("td", {}, fmtTime(d.last_seen)),
      el("td", {}, d.rssi === null ? "" : String(d.rssi)),
      el("td", {}, d.battery_pct === null ? "" : `${fmtNum(d.battery_pct, 0)}%`),
      el("td", { class: "readings" }, Object.entries(d.readings).map(([k, v]) => `${k}=${Number(v).toFixed(2)}`).join(" ")),
      ...ownerCells(d), chartCell(d)));
    // On a phone the rows read as cards: each cell says what it is.
    const heads = [...document.querySelectorAll("#device-table thead th")].filter((h) => !h.hidden)
      .map((h) => h.textContent);
    rows.forEach((r) => [...r.children].forEach((c, i) => c.setAttribute("data-label", heads[i] || "")));
    $("#device-table tbody").replaceChildren(...rows);
  }

  // A device's last 24 hours: per reading the mean as a line, the range as a band,
  // and the alert thresholds that watch it as dashed lines (drawn here, nothing
  // fetched from elsewhere).
  async function showHistory(deviceId) {
    let h;
    try { h = await api("GET", `/api/devices/${deviceId}/history?hours=24`); } catch (e) { return; }
    state.history = h;
    renderHistory();
  }

  function renderHistory() {
    const h = state.history; if (!h) return;
    const d = state.devices.get(h.device_id);
    $("#device-detail").hidden = false;
    $("#device-detail-title").textContent = `${d && d.name ? d.name : h.device_id} · ${t("last_24h")}`;
    const names = Object.keys(h.series);
    if (!names.length) { $("#device-charts").replaceChildren(el("p", {}, t("no_history"))); return; }
    $("#device-charts").replaceChildren(...names.map((name) => historyChart(name, h)));
  }

  function historyChart(name, h) {
    const NS = "http://www.w3.org/2000/svg";
    const node = (tag, attrs) => {
      const n = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
      return n;
    };
    const points = h.series[name];
    const limits = h.thresholds.filter((x) => x.metric === name);
    const end = Date.now(), start = end - h.hours * 3600 * 1000;
    const values = points.flatMap((p) => [p.min, p.max]).concat(limits.map((x) => x.threshold));
    let lo = Math.min(...values), hi = Math.max(...values);
    if (hi - lo < 1e-6) { lo -= 1; hi += 1; }
    const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
    const W = 600, H = 160, L = 44, B = 18;
    const x = (ts) => L + (W - L) * (Date.parse(ts) - start) / (end - start);
    const y = (v) => (H - B) * (1 - (v - lo) / (hi - lo));
    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "history", role: "img", "data-reading": name });
    const summary = points.length
      ? `${name}: ${fmtNum(Math.min(...points.map((p) => p.min)), 1)} – ${fmtNum(Math.max(...points.map((p) => p.max)), 1)}`
      : name;
    svg.setAttribute("aria-label", `${summary}; ` + limits.map((x) => `${t("threshold")} ${x.op} ${x.threshold}`).join(", "));
    svg.append(node("rect", { x: L, y: 0, width: W - L, height: H - B, class: "plot" }));
    // The range of each bucket, then the mean through them.
    const top = points.map((p) => `${x(p.start)},${y(p.max)}`);
    const bottom = points.map((p) => `${x(p.start)},${y(p.min)}`).reverse();
    if (points.length) svg.append(node("polygon", { points: top.concat(bottom).join(" "), class: "range" }));
    svg.append(node("polyline", { points: points.map((p) => `${x(p.start)},${y(p.mean)}`).join(" "), class: "mean" }));
    points.forEach((p) => svg.append(node("circle", { cx: x(p.start), cy: y(p.mean), r: 1.8, class: "point" })));
    limits.forEach((lim) => {
      svg.append(node("line", { x1: L, x2: W, y1: y(lim.threshold), y2: y(lim.threshold),
                                class: `threshold sev-${lim.severity}`, "data-rule": lim.rule }));
      const label = node("text", { x: W - 4, y: y(lim.threshold) - 3, "text-anchor": "end", class: "threshold-label" });
      label.textContent = `${lim.rule} ${lim.op === "above" ? ">" : "<"} ${lim.threshold}`;
      svg.append(label);
    });
    [hi - pad, lo + pad].forEach((v) => {
      const tick = node("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end" });
      tick.textContent = fmtNum(v, 1); svg.append(tick);
    });
    for (let i = 0; i <= 4; i++) {
      const ts = start + (end - start) * i / 4;
      const tick = node("text", { x: L + (W - L) * i / 4, y: H - 4, "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
      tick.textContent = new Date(ts).toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
      svg.append(tick);
    }
    return el("figure", { class: "history-figure" }, el("figcaption", {}, name), svg);
  }

  function contentCell(label, which) {
    const ref = label.label && label.label[which];
    if (!ref) return el("td", {}, "–");
    const img = el("img", { src: `/api/labels/${label.label_id}/${which}.png?h=${ref.content_hash}`,
                            alt: `${t("preview")} ${ref.sku} v${ref.version}`, class: "preview" });
    return el("td", {}, img, el("br", {}), `${ref.sku} v${ref.version}`);
  }

  function renderLabels() {
    const rows = state.labels || [];
    $("#label-table tbody").replaceChildren(...rows.map((l) => {
      const actions = el("td", {});
      if (state.session && state.session.role !== "viewer") {
        const repush = el("button", { type: "button", "data-repush": l.label_id }, t("repush"));
        repush.addEventListener("click", async () => {
          try { await api("POST", `/api/labels/${l.label_id}/repush`, {}); } catch (e) { alert(e.message); }
          refreshLabels();
        });
        const flash = el("button", { type: "button" }, t("flash"));
        flash.addEventListener("click", async () => {
          try { await api("POST", `/api/labels/${l.label_id}/flash`, {}); } catch (e) { alert(e.message); }
        });
        actions.append(repush, " ", flash);
      }
      const info = l.label || {};
      return el("tr", { "data-label": l.label_id }, el("td", {}, l.label_id), el("td", {}, info.sku || ""),
        contentCell(l, "desired"), contentCell(l, "displayed"),
        el("td", { class: "label-status" }, info.status || "unbound"), el("td", {}, info.last_error || ""), actions);
    }));
  }

  // Energy: each zone with what its controller reports and why; technicians override a
  // zone for a bounded time (the plan takes it back when the time is up).
  function zoneActions(z) {
    const cell = el("td", { class: "zone-actions" });
    if (!state.session || state.session.role === "viewer") return cell;
    if (z.override) {
      const release = el("button", { type: "button", "data-release": z.zone }, t("release"));
      release.addEventListener("click", async () => {
        try { await api("POST", `/api/energy/zones/${z.zone}/release`, {}); } catch (e) { alert(e.message); }
        refreshEnergy();
      });
      cell.append(release);
      return cell;
    }
    const form = el("form", { class: "override", "data-override": z.zone });
    const onId = `on-${z.zone}`, valueId = `value-${z.zone}`, minutesId = `minutes-${z.zone}`;
    const on = el("input", { type: "checkbox", id: onId, checked: "" });
    const value = el("input", { type: "number", id: valueId, step: z.kind === "hvac" ? "0.5" : "1",
                                value: String(z.kind === "hvac" ? (z.setpoint ?? 21) : (z.level ?? 100)) });
    const minutes = el("input", { type: "number", id: minutesId, min: "1", max: "240", value: "60" });
    form.append(el("label", { for: onId }, t("on")), on,
      el("label", { for: valueId }, t(z.kind === "hvac" ? "col.temperature" : "col.value")), value,
      el("label", { for: minutesId }, t("minutes")), minutes,
      el("button", { type: "submit" }, t("override")));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { on: on.checked, duration_s: Number(minutes.value) * 60 };
      body[z.kind === "hvac" ? "setpoint" : "level"] = Number(value.value);
      try { await api("POST", `/api/energy/zones/${z.zone}/override`, body); } catch (e) { alert(e.message); }
      refreshEnergy();
    });
    cell.append(form);
    return cell;
  }

  function renderEnergy() {
    const e = state.energy; if (!e) return;
    const mape = e.forecast_mape === null ? "–" : `${fmtNum(e.forecast_mape, 1)} %`;
    $("#energy-summary").textContent = `${t(e.open ? "store_open" : "store_closed")} · ` +
      `${t("forecast_mape")}: ${mape} · ${t("learned_days")}: ${e.learned_days} · ` +
      (e.settings.from === "cloud"
        ? `${t("settings_cloud")} ${e.settings.version} (${fmtTime(e.settings.applied_at)})`
        : t("settings_config"));
    $("#zone-table tbody").replaceChildren(...e.zones.map((z) => {
      const value = z.kind === "hvac" ? (z.setpoint === null ? "" : `${fmtNum(z.setpoint, 1)} °C`)
                                      : (z.level === null ? "" : `${z.level} %`);
      const why = z.override ? `${t("overridden_by")} ${z.override.user} ${t("until")} ${fmtTime(z.override.until)}`
                             : (z.why || "");
      return el("tr", { "data-zone": z.zone }, el("td", {}, z.zone),
        el("td", { class: z.reachable ? "" : "state-down" },
           z.reachable ? (z.on === null ? "–" : t(z.on ? "on" : "off")) : t("unreachable")),
        el("td", { class: "zone-value" }, value),
        el("td", {}, z.temperature === null ? "" : `${fmtNum(z.temperature, 1)} °C`),
        el("td", { class: "zone-why" }, why, z.problem ? el("small", { class: "why" }, ` ${z.problem}`) : null),
        el("td", { class: "zone-kwh" }, kwh(z.today.kwh)),
        el("td", { class: "zone-fixed" }, kwh(z.today.fixed_schedule_kwh)),
        zoneActions(z));
    }));
    // Today's total beside the fixed schedule's estimate (zones with a meter).
    const metered = e.zones.filter((z) => z.today.kwh !== null && z.today.fixed_schedule_kwh !== null);
    const used = metered.reduce((a, z) => a + z.today.kwh, 0);
    const fixed = metered.reduce((a, z) => a + z.today.fixed_schedule_kwh, 0);
    const since = e.zones.map((z) => z.today.since).filter(Boolean).sort()[0];
    $("#energy-total").textContent = metered.length && fixed > 0
      ? `${t("energy_total")} (${t("since")} ${fmtTime(since)}): ${kwh(used)} / ${kwh(fixed)} · ` +
        `${fmtNum(100 * (1 - used / fixed), 0)} % ${t("saved")}`
      : "";
    // Today's footfall: expected as bars, counted so far as a line (drawn here,
    // nothing fetched from elsewhere).
    const peak = Math.max(1, ...e.forecast_today, ...e.footfall_today.filter((v) => v !== null));
    const svg = svgNode("svg", { viewBox: "0 0 96 40", class: "chart", role: "img", "aria-label": t("forecast") });
    e.forecast_today.forEach((v, i) => {
      const h = 38 * v / peak;
      svg.append(svgNode("rect", { x: i, width: 0.8, y: 40 - h, height: h }));
    });
    const counted = e.footfall_today.map((v, i) => (v === null ? null : `${i + 0.4},${40 - 38 * v / peak}`)).filter(Boolean);
    svg.append(svgNode("polyline", { points: counted.join(" "), class: "counted" }));
    $("#forecast-chart").replaceChildren(svg);
    // Each air-conditioned zone's temperature against its setpoint, per quarter hour.
    $("#zone-charts").replaceChildren(...e.zones.filter((z) => z.kind === "hvac").map(zoneChart));
  }

  const kwh = (v) => (v === null || v === undefined ? "–" : `${fmtNum(v, 1)} kWh`);

  function svgNode(tag, attrs) {
    const n = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
    return n;
  }

  function zoneChart(z) {
    const values = z.course.flatMap((c) => (c ? c.filter((v) => v !== null) : []));
    let lo = Math.min(...values, 18), hi = Math.max(...values, 24);
    lo = Math.floor(lo) - 1; hi = Math.ceil(hi) + 1;
    const y = (v) => 60 * (1 - (v - lo) / (hi - lo));
    const line = (k) => z.course.map((c, i) => (c && c[k] !== null ? `${i + 0.5},${y(c[k])}` : null)).filter(Boolean).join(" ");
    const svg = svgNode("svg", { viewBox: "0 0 96 60", class: "chart zone-chart", role: "img", "data-zone": z.zone,
                                 "aria-label": `${z.zone}: ${t("zone_course")}`, preserveAspectRatio: "none" });
    svg.append(svgNode("polyline", { points: line(1), class: "setpoint" }));
    svg.append(svgNode("polyline", { points: line(0), class: "temperature" }));
    return el("figure", { class: "history-figure" }, el("figcaption", {}, `${z.zone} (${lo}–${hi} °C)`), svg);
  }

  async function refreshEnergy() {
    try { state.energy = await api("GET", "/api/energy"); renderEnergy(); } catch (e) { /* none, or login */ }
  }

  async function refreshLabels() {
    try { state.labels = (await api("GET", "/api/labels")).labels; renderLabels(); } catch (e) { /* login */ }
  }

  function alertItem(a, actions) {
    const li = el("li", { class: `alert sev-${a.severity}` }, el("strong", {}, a.rule), " ",
      a.device_id || "gateway", " — ", a.message || "", " ", el("small", {}, fmtTime(a.started_at)));
    if (a.acknowledged_by) li.append(" · ", `${t("acked_by")} ${a.acknowledged_by}`);
    if (a.silenced_until) li.append(" · ", `${t("silenced_until")} ${fmtTime(a.silenced_until)}`);
    if (actions && state.session && state.session.role !== "viewer" && a.id) {
      const ack = el("button", { type: "button" }, t("ack"));
      ack.addEventListener("click", () => act(`/api/alerts/${encodeURIComponent(a.id)}/acknowledge`, {}));
      const silence = el("button", { type: "button" }, t("silence"));
      silence.addEventListener("click", () => act(`/api/alerts/${encodeURIComponent(a.id)}/silence`, { duration_s: 3600 }));
      li.append(" ", ack, " ", silence);
    }
    return li;
  }

  async function act(path, body) { await api("POST", path, body); await refreshAlerts(); }

  function renderAlerts() {
    const a = state.alerts; if (!a) return;
    $("#firing-list").replaceChildren(...(a.firing.length ? a.firing.map((x) => alertItem(x, false)) : [el("li", {}, t("none"))]));
    const group = (title, items, actions) => el("div", {}, el("h3", {}, title),
      el("ul", {}, ...(items.length ? items.map((x) => alertItem(x, actions)) : [el("li", {}, t("none"))])));
    $("#alert-groups").replaceChildren(group(t("firing"), a.firing, true), group(t("pending"), a.pending, false),
      group(t("resolved"), a.resolved, false));
  }

  function render() { renderOverview(); renderDevices(); renderAlerts(); }

  async function refreshAlerts() { try { state.alerts = await api("GET", "/api/alerts"); renderAlerts(); } catch (e) { /* shown by login */ } }

  async function start() {
    try { state.session = await api("GET", "/api/session"); } catch (e) { return; }
    showApp();
    state.status = await api("GET", "/api/status");
    (await api("GET", "/api/devices")).devices.forEach((d) => state.devices.set(d.device_id, d));
    await refreshAlerts();
    // The energy tab, for stores with zones.
    try { state.energy = await api("GET", "/api/energy"); document.querySelector('[data-tab="energy"]').hidden = false; }
    catch (e) { state.energy = null; }
    render();
    const live = new EventSource("/api/live");
    live.addEventListener("update", (ev) => {
      const batch = JSON.parse(ev.data);
      state.status = batch.status;
      batch.devices.forEach((d) => state.devices.set(d.device_id, d));
      render();
    });
    setInterval(refreshAlerts, 10000);
    setInterval(() => { if (state.tab === "labels") refreshLabels(); }, 2000);
    setInterval(() => { if (state.tab === "energy") refreshEnergy(); }, 2000);
    setInterval(() => { if (state.tab === "devices" && state.history) showHistory(state.history.device_id); }, 60000);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#lang").addEventListener("click", () => {
      state.lang = state.lang === "zh" ? "en" : "zh"; localStorage.setItem("lang", state.lang); applyLanguage();
    });
    $("#tabs").addEventListener("click", (ev) => { if (ev.target.dataset.tab) showTab(ev.target.dataset.tab); });
    $("#filter").addEventListener("input", renderDevices);
    $("#device-table thead").addEventListener("click", (ev) => {
      const k = ev.target.dataset.sort; if (!k) return;
      state.asc = state.sort === k ? !state.asc : true; state.sort = k; renderDevices();
    });
    $("#logout").addEventListener("click", async () => { await api("POST", "/api/logout", {}); location.reload(); });
    $("#login-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        state.session = await api("POST", "/api/login", { user: $("#user").value, password: $("#password").value });
        $("#login-error").textContent = ""; await start();
      } catch (e) {
        $("#login-error").textContent = t(e.status === 429 ? "login.limited" : "login.failed");
      }
    });
    applyLanguage();
    start();
  });
})();
