/* The supervisors' console (SPEC §9). Plain browser JavaScript, no build step: Leaflet draws the
 * map (the outline of Mexico ships with the page; tiles only when the stack configures them),
 * Chart.js the recovery chart; the rest is tables. Every datum comes from the HTTP API with the
 * supervisor's Cognito IdToken, so the console sees exactly what the API lets a supervisor see. */
"use strict";
(function () {
  const TEXT = window.CONSOLE_TEXT;
  const SESSION = "cobranza.console.session";
  const LOCALE = "cobranza.console.locale";
  const state = { config: null, session: null, locale: "es-MX", map: null, layers: {}, chart: null,
    kpis: null, alarmsToken: null, geo: null };
  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------ words, numbers, dates
  function t(key, vars) {
    const words = TEXT[state.locale] || TEXT["es-MX"];
    let text = words[key] !== undefined ? words[key] : (TEXT["es-MX"][key] !== undefined ? TEXT["es-MX"][key] : key);
    Object.entries(vars || {}).forEach(([name, value]) => { text = text.split("{" + name + "}").join(String(value)); });
    return text;
  }
  function money(value, currency) {
    const number = Number(value || 0);
    return new Intl.NumberFormat(state.locale, { style: "currency", currency: currency || "MXN" }).format(number);
  }
  function pct(value) {
    return value === null || value === undefined ? "–" : (Number(value) * 100).toFixed(1) + " %";
  }
  function when(stamp) {
    if (!stamp) return t("never");
    const date = new Date(stamp);
    return isNaN(date) ? String(stamp) : date.toLocaleString(state.locale, { dateStyle: "short", timeStyle: "short" });
  }
  function ago(stamp) {
    if (!stamp) return t("never");
    const minutes = Math.max(0, Math.round((Date.now() - new Date(stamp).getTime()) / 60000));
    if (minutes < 90) return t("ago.min", { n: minutes });
    if (minutes < 48 * 60) return t("ago.h", { n: Math.round(minutes / 60) });
    return t("ago.d", { n: Math.round(minutes / 1440) });
  }
  function localDay(offsetDays) {
    const date = new Date(Date.now() + (offsetDays || 0) * 86400000);
    const pad = (n) => String(n).padStart(2, "0");
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([name, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    });
    (children || []).forEach((child) => { if (child !== null && child !== undefined) node.append(child); });
    return node;
  }
  function setStatus(message) { $("status").textContent = message || ""; }
  function translatePage() {
    document.documentElement.lang = state.locale;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    $("lang").textContent = t("lang.other");
  }

  // ------------------------------------------------------------ sign-in (Cognito, public client)
  function tokenClaims(token) {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(atob(part).split("").map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
    return JSON.parse(json);
  }
  async function signIn(email, password) {
    const response = await fetch(state.config.cognito_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth" },
      body: JSON.stringify({ AuthFlow: "USER_PASSWORD_AUTH", ClientId: state.config.client_id,
        AuthParameters: { USERNAME: email, PASSWORD: password } }),
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(t("signin.failed"));
    if (answer.ChallengeName) throw new Error(t("signin.challenge"));
    const token = answer.AuthenticationResult.IdToken;
    const claims = tokenClaims(token);
    if (!(claims["cognito:groups"] || []).includes("supervisors")) throw new Error(t("signin.notSupervisor"));
    return { token, email: claims.email || email, expires: claims.exp * 1000 };
  }
  function loadSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION) || "null");
      return session && session.expires > Date.now() + 60000 ? session : null;
    } catch (error) { return null; }
  }
  function signOut(message) {
    sessionStorage.removeItem(SESSION);
    state.session = null;
    showSignIn(message);
  }

  // ------------------------------------------------------------ the API
  async function api(method, path) {
    const response = await fetch(state.config.api_base + path, {
      method, headers: { Authorization: "Bearer " + state.session.token, Accept: "application/json" },
    });
    if (response.status === 401) { signOut(t("signin.expired")); throw new Error(t("signin.expired")); }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(response.status === 403 ? t("forbidden") : ((body.error || {}).message || response.statusText));
      error.status = response.status;
      throw error;
    }
    return body;
  }
  async function allPages(path, limit) {
    const items = [];
    let token = null;
    do {
      const joiner = path.includes("?") ? "&" : "?";
      const page = await api("GET", path + joiner + "limit=" + limit + (token ? "&next_token=" + encodeURIComponent(token) : ""));
      items.push(...(page.items || page.points || []));
      token = page.next_token;
    } while (token && items.length < 5000);
    return items;
  }

  // ------------------------------------------------------------ views
  const VIEWS = ["signin", "map", "alarms", "kpis", "accounts", "reports"];
  function show(view) {
    VIEWS.forEach((name) => { $("view-" + name).hidden = name !== view; });
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === view));
  }
  function showSignIn(message) {
    $("nav").hidden = true; $("signout").hidden = true; $("who").textContent = "";
    show("signin");
    const error = $("signin-error");
    error.hidden = !message; error.textContent = message || "";
  }
  async function route() {
    if (!state.session) { showSignIn(); return; }
    $("nav").hidden = false; $("signout").hidden = false; $("who").textContent = state.session.email;
    const [, view, arg] = (location.hash || "#/map").split("/");
    setStatus("");
    try {
      if (view === "alarms") { show("alarms"); await loadAlarms(false); }
      else if (view === "kpis") { show("kpis"); await loadKpis(); }
      else if (view === "accounts") { show("accounts"); await loadAccounts(arg ? decodeURIComponent(arg) : null); }
      else if (view === "reports") { show("reports"); await loadReport(arg || null); }
      else { show("map"); await loadMap(); }
    } catch (error) { setStatus(t("error", { message: error.message })); }
  }

  // ------------------------------------------------------------ map: agents, tracks, the day's visits
  const COLOURS = { agent: "#0b5cab", verified: "#1a7f37", flagged: "#b7791f", rejected: "#c62828", pending: "#6b7280" };
  function visitState(visit) {
    const verification = visit.result && visit.result.verification && visit.result.verification.status;
    if (visit.status === "rejected") return "rejected";
    if (verification) return verification;
    return "pending";
  }
  function visitPoint(visit) {
    if (visit.result && visit.result.lat !== undefined) return [visit.result.lat, visit.result.lon];
    if (visit.checkin && visit.checkin.lat !== undefined) return [visit.checkin.lat, visit.checkin.lon];
    return visit.location ? [visit.location.lat, visit.location.lon] : null;
  }
  async function ensureMap() {
    if (state.map) return;
    state.map = L.map("map", { zoomSnap: 0.25, attributionControl: true, preferCanvas: false }).setView([23.6, -102.5], 5);
    if (state.config.tile_url) {
      L.tileLayer(state.config.tile_url, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(state.map);
    }
    state.geo = state.geo || await fetch("geo/mexico-states.json").then((r) => r.json());
    L.geoJSON(state.geo, { style: { color: "#7b8794", weight: 1, fillColor: "#ffffff", fillOpacity: state.config.tile_url ? 0 : 0.9 },
      interactive: false }).addTo(state.map);
    state.map.attributionControl.addAttribution("amCharts geodata");
    ["tracks", "visits", "agents"].forEach((name) => { state.layers[name] = L.layerGroup().addTo(state.map); });
  }
  async function loadMap() {
    const load = (state.mapLoad = (state.mapLoad || 0) + 1);  // a newer load (another day) wins
    document.body.dataset.mapReady = "false";
    await ensureMap();
    setTimeout(() => state.map.invalidateSize(), 0);
    const day = $("map-day").value || localDay(0);
    $("map-day").value = day;
    setStatus(t("loading"));
    const [positions, visits] = await Promise.all([api("GET", "/v1/agents/positions"),
      allPages("/v1/visits?date=" + day, 100)]);
    const agents = positions.items.filter((agent) => agent.role !== "supervisor" || agent.position);
    const tracks = await Promise.all(agents.map((agent) =>
      allPages("/v1/agents/" + encodeURIComponent(agent.agent_id) + "/track?date=" + day, 5000).catch(() => [])));
    if (load !== state.mapLoad) return;
    Object.values(state.layers).forEach((layer) => layer.clearLayers());
    const bounds = [];
    let points = 0;
    tracks.forEach((track) => {
      if (track.length > 1) {
        L.polyline(track.map((p) => [p.lat, p.lon]), { color: COLOURS.agent, weight: 2, opacity: 0.6,
          className: "track-line" }).addTo(state.layers.tracks);
      }
      points += track.length;
    });
    const body = $("agents-table").querySelector("tbody");
    body.replaceChildren();
    let placed = 0;
    agents.forEach((agent) => {
      const name = agent.name || agent.email || agent.agent_id;
      const p = agent.position;
      const battery = p && p.battery_pct !== null && p.battery_pct !== undefined ? p.battery_pct + " %" : "–";
      const row = el("tr", { class: p ? "clickable" : null }, [el("td", { text: name }), el("td", { text: battery, class: "num" }),
        el("td", { text: ago(agent.last_seen_at), title: when(agent.last_seen_at) })]);
      body.append(row);
      if (!p) return;
      placed += 1;
      const marker = L.circleMarker([p.lat, p.lon], { radius: 9, color: "#fff", weight: 2, fillColor: COLOURS.agent,
        fillOpacity: 1, className: "agent-marker" }).addTo(state.layers.agents);
      marker.bindPopup(() => el("div", {}, [el("strong", { text: name }), el("br"),
        document.createTextNode(t("col.battery") + ": " + battery), el("br"),
        document.createTextNode(t("col.seen") + ": " + when(agent.last_seen_at) + " (" + ago(agent.last_seen_at) + ")")]));
      row.addEventListener("click", () => { state.map.setView([p.lat, p.lon], 14); marker.openPopup(); });
      bounds.push([p.lat, p.lon]);
    });
    let drawn = 0;
    const onTop = { verified: 0, pending: 1, flagged: 2, rejected: 3 };  // what needs a look is drawn last, on top
    visits.sort((a, b) => (onTop[visitState(a)] || 0) - (onTop[visitState(b)] || 0));
    visits.forEach((visit) => {
      const point = visitPoint(visit);
      if (!point) return;
      const kind = visitState(visit);
      drawn += 1;
      const marker = L.circleMarker(point, { radius: 7, color: "#fff", weight: 1.5, fillColor: COLOURS[kind] || COLOURS.pending,
        fillOpacity: 0.95, className: "visit-marker visit-" + kind }).addTo(state.layers.visits);
      marker.on("click", () => openVisit(visit.visit_id));
      bounds.push(point);
    });
    state.layers.agents.eachLayer((marker) => marker.bringToFront());  // the people above the places
    // the same visits as a list: what needs a look first, each opening like its marker (keyboard too)
    const names = Object.fromEntries(positions.items.map((a) => [a.agent_id, a.name || a.email || a.agent_id]));
    const list = $("visits-table").querySelector("tbody");
    list.replaceChildren(...visits.slice().reverse().map((visit) => {
      const kind = visitState(visit);
      return el("tr", {}, [
        el("td", {}, [el("button", { type: "button", class: "link", text: visit.account_id, onclick: () => openVisit(visit.visit_id) })]),
        el("td", { text: names[visit.agent_id] || "–" }),
        el("td", {}, [el("span", { class: "badge " + kind, text: t("legend." + kind) })])]);
    }));
    if (!visits.length) list.append(el("tr", {}, [el("td", { colspan: "3", class: "muted", text: t("map.noVisits") })]));
    if (bounds.length) state.map.fitBounds(bounds, { padding: [30, 30], maxZoom: 14 });
    $("map-summary").textContent = t("map.summary", { agents: placed, visits: drawn, points });
    document.body.dataset.mapReady = "true";
    setStatus("");
  }
  async function openVisit(visitId) {
    const panel = $("visit-panel");
    panel.hidden = false;
    panel.replaceChildren(el("p", { text: t("loading") }));
    const visit = await api("GET", "/v1/visits/" + encodeURIComponent(visitId));
    const kind = visitState(visit);
    const facts = el("dl", { class: "facts" });
    const fact = (label, value) => { if (value !== null && value !== undefined && value !== "") facts.append(el("dt", { text: label }), el("dd", { text: String(value) })); };
    fact(t("visit.account"), visit.account_id);
    fact(t("visit.debtor"), visit.debtor_name);
    fact(t("visit.address"), [visit.address && visit.address.address, visit.address && visit.address.city].filter(Boolean).join(", "));
    fact(t("visit.status"), visit.status);
    const result = visit.result;
    const children = [el("div", { class: "toolbar" }, [el("h2", { text: t("visit.title", { id: visit.visit_id }) }),
      el("span", { class: "badge " + kind, text: t("legend." + kind) }),
      el("button", { type: "button", class: "link", text: t("close"), onclick: () => { panel.hidden = true; } })]), facts];
    if (result) {
      fact(t("visit.outcome"), result.outcome);
      fact(t("visit.verification"), result.verification && result.verification.status);
      fact(t("visit.reasons"), ((result.verification && result.verification.reasons) || []).join(", "));
      fact(t("visit.when"), when(result.captured_at));
      const answers = el("dl", { class: "facts answers" });
      Object.entries(result.answers || {}).forEach(([question, answer]) => {
        answers.append(el("dt", { text: question }), el("dd", { text: Array.isArray(answer) ? answer.join(", ") : String(answer) }));
      });
      children.push(el("h2", { text: t("visit.answers") }), answers);
    } else {
      children.push(el("p", { class: "muted", text: t("visit.noResult") }));
    }
    const photos = Object.values(visit.photo_urls || {});
    if (photos.length) {
      children.push(el("h2", { text: t("visit.photos") }),
        el("div", { class: "photos" }, photos.map((url) => el("a", { href: url, target: "_blank", rel: "noopener" },
          [el("img", { src: url, alt: t("visit.photos"), loading: "lazy" })]))));
    }
    panel.replaceChildren(...children);
  }

  // ------------------------------------------------------------ alarms
  async function loadAlarms(more) {
    const status = $("alarm-status").value;
    const body = $("alarms-table").querySelector("tbody");
    if (!more) { body.replaceChildren(); state.alarmsToken = null; }
    setStatus(t("loading"));
    const query = "/v1/alarms?limit=50" + (status ? "&status=" + status : "") +
      (more && state.alarmsToken ? "&next_token=" + encodeURIComponent(state.alarmsToken) : "");
    const page = await api("GET", query);
    page.items.forEach((alarm) => body.append(alarmRow(alarm)));
    if (!body.children.length) body.append(el("tr", {}, [el("td", { colspan: "5", class: "muted", text: t("alarms.none") })]));
    state.alarmsToken = page.next_token;
    $("alarms-more").hidden = !page.next_token;
    setStatus("");
  }
  function alarmRow(alarm) {
    const statusCell = el("td", {}, [el("span", { class: "badge " + alarm.status, text: t("status." + alarm.status) })]);
    const action = el("td");
    const row = el("tr", { "data-alarm-id": alarm.alarm_id }, [el("td", { text: when(alarm.raised_at) }),
      el("td", {}, [el("strong", { text: alarm.label || alarm.code, title: alarm.code }), alarm.urgent ? el("span", { class: "badge urgent", text: t("urgent") }) : null,
        el("div", { class: "muted", text: alarm.message })]),
      el("td", {}, [alarm.account_id ? el("a", { href: "#/accounts/" + encodeURIComponent(alarm.account_id), text: alarm.account_id })
        : document.createTextNode(alarm.agent_id || alarm.visit_id || alarm.upload_id || alarm.subject)]),
      statusCell, action]);
    if (alarm.status === "open") {
      const button = el("button", { type: "button", class: "ack", text: t("alarms.ack") });
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          const acked = await api("POST", "/v1/alarms/" + encodeURIComponent(alarm.alarm_id) + "/ack");
          statusCell.replaceChildren(el("span", { class: "badge " + acked.status, text: t("status." + acked.status) }));
          button.remove();
          setStatus(t("alarms.acked"));
        } catch (error) { button.disabled = false; setStatus(t("error", { message: error.message })); }
      });
      action.append(button);
    }
    return row;
  }

  // ------------------------------------------------------------ KPIs
  async function loadKpis() {
    if (!$("kpi-to").value) { $("kpi-to").value = localDay(0); $("kpi-from").value = localDay(-29); }
    setStatus(t("loading"));
    const kpis = await api("GET", "/v1/kpis?group_by=day&from=" + $("kpi-from").value + "&to=" + $("kpi-to").value);
    state.kpis = kpis;
    const totals = kpis.totals;
    const tiles = [["amount_recovered", money(totals.amount_recovered, kpis.currency)], ["recovery_rate", pct(totals.recovery_rate)],
      ["payments", totals.payments], ["contact_rate", pct(totals.contact_rate)], ["promises_made", totals.promises_made],
      ["kept_rate", pct(totals.kept_rate)], ["visits_done", totals.visits_done], ["verified_rate", pct(totals.verified_rate)],
      ["cost_total", money(totals.cost_total, kpis.currency)]];
    $("kpi-totals").replaceChildren(...tiles.map(([name, value]) => el("div", { class: "tile", "data-kpi": name },
      [el("div", { class: "label", text: t("kpi." + name) }), el("div", { class: "value", text: String(value === undefined ? "–" : value) })])));
    drawRecovery(kpis);
    drawRolls(kpis.roll_rates);
    const channels = Object.keys(kpis.best_hours.channels || {});
    const select = $("hours-channel");
    const chosen = channels.includes(select.value) ? select.value : channels[0];
    select.replaceChildren(...channels.map((c) => el("option", { value: c, text: c, selected: c === chosen })));
    drawHours(kpis.best_hours, chosen);
    setStatus("");
  }
  function drawRecovery(kpis) {
    const series = kpis.series || [];
    const data = { labels: series.map((s) => s.period), datasets: [
      { label: t("kpis.recovered"), data: series.map((s) => Number(s.amount_recovered || 0)), borderColor: "#0b5cab",
        backgroundColor: "rgba(11,92,171,.15)", fill: true, tension: 0.2, yAxisID: "y" },
      { label: t("kpis.rate"), data: series.map((s) => s.recovery_rate === null ? null : Number(s.recovery_rate) * 100),
        borderColor: "#1a7f37", tension: 0.2, yAxisID: "y1" }] };
    if (state.chart) { state.chart.data = data; state.chart.update(); return; }
    state.chart = new Chart($("recovery-chart"), { type: "line", data, options: { animation: false, responsive: true,
      interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true, ticks: { callback: (v) => money(v, kpis.currency) } },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { callback: (v) => v + " %" } } } } });
  }
  function shade(rate) {
    const value = Math.max(0, Math.min(1, Number(rate || 0)));
    return "background-color: rgba(198, 40, 40, " + (0.08 + value * 0.8).toFixed(2) + ")" + (value > 0.55 ? "; color: #fff" : "");
  }
  function drawRolls(rolls) {
    const head = el("tr", {}, [el("th", { text: "↓ \\ →" }), ...rolls.buckets.map((b) => el("th", { text: b })), el("th", { text: t("kpis.start") })]);
    const rows = rolls.buckets.map((from, i) => el("tr", {}, [el("th", { text: from }),
      ...rolls.buckets.map((to, j) => {
        const rate = rolls.rates[i][j];
        const cell = el("td", { title: rolls.moved[i][j] + " / " + rolls.accounts_at_start[i], text: rate === null ? "–" : pct(rate) });
        if (rate !== null) cell.style.cssText = shade(rate);
        return cell;
      }), el("td", { class: "num", text: String(rolls.accounts_at_start[i]) })]));
    $("roll-matrix").replaceChildren(el("table", { class: "matrix", id: "roll-table" }, [el("thead", {}, [head]), el("tbody", {}, rows)]));
  }
  function drawHours(best, channel) {
    if (!channel) { $("hours-heat").replaceChildren(el("p", { class: "muted", text: t("kpis.noHours") })); return; }
    const matrix = best.channels[channel];
    const head = el("tr", {}, [el("th"), ...best.hours.map((h) => el("th", { text: String(h) }))]);
    const rows = matrix.rate.map((hours, day) => el("tr", {}, [el("th", { text: t("weekday." + day) }),
      ...hours.map((rate, hour) => {
        const cell = el("td", { title: matrix.right_party[day][hour] + " / " + matrix.attempts[day][hour],
          text: matrix.attempts[day][hour] ? Math.round(Number(rate || 0) * 100) : "" });
        if (matrix.attempts[day][hour]) cell.style.cssText = shade(rate).replace("198, 40, 40", "26, 127, 55");
        return cell;
      })]));
    $("hours-heat").replaceChildren(el("table", { class: "matrix", id: "hours-table" }, [el("thead", {}, [head]), el("tbody", {}, rows)]));
  }

  // ------------------------------------------------------------ accounts and their timeline
  async function loadAccounts(accountId) {
    const status = $("account-status").value;
    const page = await api("GET", "/v1/accounts?limit=25" + (status ? "&status=" + status : ""));
    const body = $("accounts-table").querySelector("tbody");
    body.replaceChildren(...page.items.map((account) => el("tr", { class: "clickable",
      onclick: () => { location.hash = "#/accounts/" + encodeURIComponent(account.account_id); } }, [
      el("td", { text: account.account_id }), el("td", { text: account.debtor_name }),
      el("td", { class: "num", text: money(account.balance, account.currency) }),
      el("td", { class: "num", text: String(account.days_past_due) }), el("td", { text: account.status })])));
    if (!page.items.length) body.append(el("tr", {}, [el("td", { colspan: "5", class: "muted", text: t("accounts.none") })]));
    if (accountId) { $("account-id").value = accountId; await openAccount(accountId); }
  }
  async function openAccount(accountId) {
    const panel = $("account-detail");
    panel.hidden = false;
    panel.replaceChildren(el("p", { text: t("loading") }));
    let account;
    try { account = await api("GET", "/v1/accounts/" + encodeURIComponent(accountId)); }
    catch (error) {
      panel.replaceChildren(el("p", { class: "error", text: error.status === 404 ? t("accounts.notFound", { id: accountId }) : error.message }));
      return;
    }
    const timeline = await api("GET", "/v1/accounts/" + encodeURIComponent(accountId) + "/timeline?limit=100");
    const facts = el("dl", { class: "facts" });
    [[t("col.debtor"), account.debtor_name], [t("col.balance"), money(account.balance, account.currency)],
      [t("col.dpd"), account.days_past_due], [t("accounts.bucket"), account.aging_bucket], [t("accounts.stage"), account.stage],
      [t("accounts.segment"), account.segment], [t("col.status"), account.status], [t("accounts.due"), account.due_date]]
      .forEach(([label, value]) => facts.append(el("dt", { text: label }), el("dd", { text: String(value === null || value === undefined ? "–" : value) })));
    const entries = (timeline.items || []).map((entry) => {
      const detail = ["channel", "status", "outcome", "amount", "code", "source"].filter((k) => entry[k] !== undefined && entry[k] !== null)
        .map((k) => k + ": " + (Array.isArray(entry[k]) ? entry[k].join(", ") : entry[k])).join(" · ");
      return el("li", {}, [el("div", { class: "when", text: when(entry.created_at || entry.at) }),
        el("strong", { text: entry.kind }), document.createTextNode(detail ? " — " + detail : "")]);
    });
    panel.replaceChildren(el("h2", { text: account.account_id }), facts, el("h2", { text: t("accounts.timeline") }),
      entries.length ? el("ol", { class: "timeline", id: "timeline" }, entries) : el("p", { class: "muted", text: t("accounts.noEvents") }));
  }

  // ------------------------------------------------------------ the daily report
  async function loadReport(day) {
    const chosen = day || $("report-day").value || localDay(-1);
    $("report-day").value = chosen;
    const links = $("report-links");
    const frame = $("report-frame");
    try {
      const report = await api("GET", "/v1/reports/daily/" + chosen);
      links.replaceChildren(el("a", { href: report.html_url, target: "_blank", rel: "noopener", text: t("reports.html") }),
        ...(report.pdf_url ? [document.createTextNode(" · "),  // no PDF where the stack has no PDF renderer
          el("a", { href: report.pdf_url, target: "_blank", rel: "noopener", text: t("reports.pdf") })] : []));
      frame.src = report.html_url;
      frame.hidden = false;
    } catch (error) {
      frame.hidden = true;
      links.replaceChildren(el("span", { class: "muted", text: error.status === 404 ? t("reports.missing", { day: chosen }) : error.message }));
    }
  }

  // ------------------------------------------------------------ start
  async function start() {
    state.locale = localStorage.getItem(LOCALE) === "en" ? "en" : "es-MX";
    translatePage();
    state.config = await fetch("config.json").then((r) => r.json());
    state.session = loadSession();
    $("signin-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("signin-button").disabled = true;
      try {
        state.session = await signIn($("email").value.trim(), $("password").value);
        sessionStorage.setItem(SESSION, JSON.stringify(state.session));
        $("password").value = "";
        if (!location.hash || location.hash === "#/") location.hash = "#/map";
        await route();
      } catch (error) {
        showSignIn(error instanceof TypeError ? t("signin.unreachable") : error.message);
      } finally { $("signin-button").disabled = false; }
    });
    $("signout").addEventListener("click", () => signOut());
    $("lang").addEventListener("click", () => {
      state.locale = state.locale === "en" ? "es-MX" : "en";
      localStorage.setItem(LOCALE, state.locale);
      translatePage();
      if (state.chart) { state.chart.destroy(); state.chart = null; }
      route();
    });
    $("map-refresh").addEventListener("click", () => loadMap().catch((e) => setStatus(t("error", { message: e.message }))));
    $("map-day").addEventListener("change", () => loadMap().catch((e) => setStatus(t("error", { message: e.message }))));
    $("alarm-status").addEventListener("change", () => loadAlarms(false).catch((e) => setStatus(t("error", { message: e.message }))));
    $("alarms-more").addEventListener("click", () => loadAlarms(true).catch((e) => setStatus(t("error", { message: e.message }))));
    $("kpi-refresh").addEventListener("click", () => loadKpis().catch((e) => setStatus(t("error", { message: e.message }))));
    $("hours-channel").addEventListener("change", () => { if (state.kpis) drawHours(state.kpis.best_hours, $("hours-channel").value); });
    $("account-search").addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = "#/accounts/" + encodeURIComponent($("account-id").value.trim());
    });
    $("account-status").addEventListener("change", () => loadAccounts(null).catch((e) => setStatus(t("error", { message: e.message }))));
    $("report-open").addEventListener("click", () => { location.hash = "#/reports/" + $("report-day").value; });
    window.addEventListener("hashchange", route);
    await route();
  }
  document.addEventListener("DOMContentLoaded", () => { start().catch((error) => setStatus(t("error", { message: error.message }))); });
})();
