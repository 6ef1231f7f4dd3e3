// The admin console of Message Center Online: one page over the service's own HTTP API (same
// origin, so no CORS) and its WebSocket (presence events), with no build step and no framework.
//
// Rules this file keeps:
// - The bearer token lives in this tab's sessionStorage only, and goes to this service alone (the
//   WebSocket carries it as `?token=`, as browsers cannot set headers on a WebSocket).
// - int64 values (ids, userId, tenantId, total) stay the strings the API writes: nothing here
//   turns one into a JS number (a double loses digits past 2^53). Page counts use BigInt.
// - Whatever the API answers is shown as text (textContent), never parsed as HTML.
// - An error envelope's `msg` is shown as the service wrote it; a 401 asks for a token again.
"use strict";

(() => {
  // Relative to the page, so that it also works behind a path prefix (a named API Gateway stage,
  // a custom domain's base path): the page at `<prefix>/`, the API at `<prefix>/api/…`.
  const API = new URL("api/v1/message/center/online", document.baseURI).pathname;
  const TOKEN_KEY = "mco.token";
  // A tenant no caller belongs to: listing it is allowed to a platform operator alone, so the
  // answer (200, or a 403 naming `tenantId`) tells the page which columns and filters to offer.
  const NO_SUCH_TENANT = "9223372036854775807";
  const SEARCH_DELAY_MS = 300;
  // A live refresh reads the page at most this often: a change shows within this plus one call,
  // and a console under a stream of events costs at most 2 list calls a second.
  const LIVE_REFRESH_DELAY_MS = 500;
  // Well inside API Gateway's 10-minute idle timeout and the service's stale-session window.
  const HEARTBEAT_EVERY_MS = 4 * 60 * 1000;
  const AUDIT_PAGE_SIZE = "25";

  const $ = (selector) => document.querySelector(selector);
  const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "medium" });

  const state = {
    token: null,
    platform: false,
    // The tenant admin's own tenant, once a record has shown it.
    tenantId: null,
    sessions: { orderBy: "onlineDate", orderSort: "DESC", pageTokens: [null], page: 0, next: null, total: null, rows: [], seq: 0, shown: new Set() },
    audit: { pageTokens: [null], page: 0, next: null, seq: 0 },
    detailUserId: null,
    pendingUser: null,
  };

  // ---- The API -------------------------------------------------------------------------------

  /** A call that did not succeed: the envelope's msg (or a plain sentence), status and field. */
  class ApiFailure extends Error {
    constructor(status, envelope) {
      super(envelope && envelope.msg ? envelope.msg : `The service answered HTTP ${status} without an explanation. Try again in a moment.`);
      this.status = status;
      this.field = envelope && envelope.ext ? envelope.ext.field : undefined;
      this.requestId = envelope && envelope.ext ? envelope.ext.requestId : undefined;
    }
  }

  /** Calls `API + path` with the token; resolves to the success envelope, rejects with ApiFailure. */
  async function api(path, params = [], init = {}) {
    const url = new URL(API + path, location.origin);
    for (const [key, value] of params) url.searchParams.append(key, value);
    const headers = { Authorization: `Bearer ${state.token}` };
    if (init.body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, { method: init.method || "GET", headers, body: init.body, cache: "no-store" });
    } catch {
      throw new ApiFailure(0, { msg: "The service could not be reached. Check the network and try again." });
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch {
      // Not JSON: a proxy's page. The status says enough.
    }
    if (response.ok && envelope && envelope.code === "S") return envelope;
    const failure = new ApiFailure(response.status, envelope);
    if (response.status === 401) signOut(failure.message);
    throw failure;
  }

  // ---- Small DOM helpers ---------------------------------------------------------------------

  function element(tag, text, attributes = {}) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    return node;
  }

  /** A `<time>`: the viewer's local time, UTC (as the API wrote it) on hover. */
  function timeNode(utc) {
    if (!utc) return element("span", "—", { class: "none" });
    const iso = utc.replace(" ", "T") + "Z";
    const parsed = new Date(iso);
    const text = Number.isNaN(parsed.getTime()) ? utc : timeFormat.format(parsed);
    return element("time", text, { datetime: iso, title: `${utc} UTC` });
  }

  function cell(column, content, className) {
    const td = element("td", undefined, { "data-col": column });
    if (className) td.className = className;
    if (className && className.includes("agent") && content) td.title = String(content);
    if (content instanceof Node) td.append(content);
    else td.textContent = content === null || content === undefined || content === "" ? "—" : String(content);
    return td;
  }

  function plural(count, one, many) {
    return `${count} ${String(count) === "1" ? one : many}`;
  }

  /** "Page N of M", M from the string `total` without leaving integers. */
  function pageLabel(page, total, size) {
    if (total === null || total === undefined) return "";
    const pages = (BigInt(total) + BigInt(size) - 1n) / BigInt(size);
    return `Page ${page + 1} of ${pages > 0n ? pages : 1n}`;
  }

  /** A `datetime-local` value (the viewer's zone) as RFC 3339 UTC, which the API accepts. */
  function localToUtc(value) {
    if (!value) return null;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) return null;
    return date.toISOString().replace(/\.\d{3}Z$/, "Z");
  }

  /** Runs `fn` once, `ms` after the first of a burst of calls: under a steady stream of events
   *  it still runs every `ms` (a debounce would wait for a quiet moment that may never come). */
  function coalesce(fn, ms) {
    let timer = null;
    return () => {
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        fn();
      }, ms);
    };
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // ---- Messages ------------------------------------------------------------------------------

  function showError(failure) {
    const box = $("#error");
    box.textContent = failure.message;
    if (failure.requestId) box.append(element("span", ` (request id ${failure.requestId})`, { class: "request-id" }));
    box.hidden = false;
  }

  function clearError() {
    const box = $("#error");
    box.textContent = "";
    box.hidden = true;
  }

  function showNotice(text) {
    $("#notice").textContent = text;
  }

  // ---- Signing in and out --------------------------------------------------------------------

  function askForToken(message) {
    $("#signin-message").textContent = message || "";
    $("#token").value = "";
    const dialog = $("#signin");
    if (!dialog.open) dialog.showModal();
    $("#token").focus();
  }

  async function signIn(token) {
    state.token = token;
    try {
      await api("", [["tenantId", NO_SUCH_TENANT], ["pageSize", "1"]]);
      state.platform = true;
    } catch (failure) {
      if (failure.status === 401) return;
      if (failure.status !== 403) {
        state.token = null;
        askForToken(failure.message);
        return;
      }
      // A 403 naming `tenantId`: a tenant admin. Any other 403: no list permission, which the
      // first listing below shows plainly.
      state.platform = false;
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    if ($("#signin").open) $("#signin").close();
    state.tenantId = null;
    applyRole();
    for (const node of document.querySelectorAll("nav.views, #sign-out")) node.hidden = false;
    showView("sessions");
    resetPaging(state.sessions);
    loadSessions();
    live.start();
    $("#search").focus();
  }

  function signOut(message) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    live.stop();
    for (const node of document.querySelectorAll("nav.views, #sign-out, #sessions-view, #audit-view")) node.hidden = true;
    for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    $("#who").textContent = "";
    setLive("off", "Not signed in");
    clearError();
    showNotice("");
    askForToken(message);
  }

  function applyRole() {
    $("#who").textContent = state.platform
      ? "Platform operator · every tenant"
      : state.tenantId
        ? `Tenant admin · tenant ${state.tenantId}`
        : "Tenant admin";
    for (const node of document.querySelectorAll(".platform-only, #tenant-field, #audit-tenant-field")) node.hidden = !state.platform;
    updateTenantButton();
  }

  /** A tenant admin's records all carry its tenant: the first one seen names it. */
  function learnTenant(records) {
    if (state.platform || state.tenantId || records.length === 0) return;
    state.tenantId = records[0].tenantId;
    applyRole();
  }

  // ---- Views ---------------------------------------------------------------------------------

  function showView(view) {
    $("#sessions-view").hidden = view !== "sessions";
    $("#audit-view").hidden = view !== "audit";
    for (const [id, name] of [["#show-sessions", "sessions"], ["#show-audit", "audit"]]) {
      if (name === view) $(id).setAttribute("aria-current", "page");
      else $(id).removeAttribute("aria-current");
    }
    if (view === "audit") {
      resetPaging(state.audit);
      loadAudit();
    }
  }

  function resetPaging(paging) {
    paging.pageTokens = [null];
    paging.page = 0;
    paging.next = null;
  }

  // ---- Sessions ------------------------------------------------------------------------------

  /** The endpoint and query for what the filters, the order and the page say. */
  function sessionsRequest() {
    const s = state.sessions;
    const params = [];
    const text = $("#search").value.trim();
    const path = text ? "/search" : "";
    if (text) params.push([$("#search-field").value, text]);
    if ($("#status").value) params.push(["online", $("#status").value]);
    let filter = 0;
    for (const [input, op] of [["#from", "GREATER_THAN_EQUAL"], ["#to", "LESS_THAN_EQUAL"]]) {
      const value = localToUtc($(input).value);
      if (!value) continue;
      params.push([`filters[${filter}].key`, "onlineDate"], [`filters[${filter}].op`, op], [`filters[${filter}].value`, value]);
      filter += 1;
    }
    const tenant = $("#tenant").value.trim();
    if (state.platform && tenant) params.push(["tenantId", tenant]);
    params.push(["orderBy", s.orderBy], ["orderSort", s.orderSort], ["pageSize", $("#page-size").value], ["infoScope", "DETAIL"]);
    const pageToken = s.pageTokens[s.page];
    if (pageToken) params.push(["pageToken", pageToken]);
    return { path, params };
  }

  /** Reads the current page. A live refresh keeps the rows it has when the read fails. */
  async function loadSessions({ live: isLive = false } = {}) {
    const s = state.sessions;
    const seq = ++s.seq;
    const { path, params } = sessionsRequest();
    try {
      const envelope = await api(path, params);
      if (seq !== s.seq) return;
      // A live refresh leaves an error on screen until the viewer acts again.
      if (!isLive) clearError();
      const previous = s.shown;
      s.rows = envelope.data.list;
      s.total = envelope.data.total;
      s.next = (envelope.ext && envelope.ext.nextPageToken) || null;
      learnTenant(s.rows);
      renderSessions(isLive ? previous : null);
    } catch (failure) {
      if (seq !== s.seq || failure.status === 401) return;
      showError(failure);
      if (!isLive) {
        s.rows = [];
        s.total = null;
        s.next = null;
        renderSessions(null);
      }
    }
  }

  function sessionRow(session, isNew) {
    const tr = element("tr", undefined, { "data-session-id": session.id });
    if (isNew) tr.className = "changed";
    const status = element("span", session.online ? "Online" : "Offline", { class: session.online ? "badge on" : "badge off" });
    if (!session.online && session.offlineReason) status.title = `Reason: ${session.offlineReason}`;
    tr.append(cell("fullName", session.fullName), cell("userId", session.userId, "id"));
    if (state.platform) tr.append(cell("tenantId", session.tenantId, "id"));
    tr.append(
      cell("online", status),
      cell("onlineDate", timeNode(session.onlineDate)),
      cell("offlineDate", timeNode(session.offlineDate)),
      cell("deviceId", session.deviceId, "wide"),
      cell("remoteAddress", session.remoteAddress, "wide"),
      cell("userAgent", session.userAgent, "wide agent"),
    );
    const actions = element("td", undefined, { "data-col": "actions", class: "row-actions" });
    const name = session.fullName || session.userId;
    actions.append(
      element("button", "Details", { type: "button", "data-action": "detail", "data-user-id": session.userId, "aria-label": `Details of ${name}` }),
      element("button", "Force offline", { type: "button", class: "danger", "data-action": "force", "data-user-id": session.userId, "data-name": name, "aria-label": `Force offline: ${name}` }),
    );
    tr.append(actions);
    return tr;
  }

  /** The focused row action, to give focus back after the rows are redrawn. */
  function focusedAction(tbody) {
    const active = document.activeElement;
    if (!active || !tbody.contains(active)) return null;
    const row = active.closest("tr");
    return row ? { sessionId: row.dataset.sessionId, action: active.dataset.action } : null;
  }

  function restoreFocus(tbody, focus) {
    if (!focus) return;
    const row = [...tbody.rows].find((r) => r.dataset.sessionId === focus.sessionId);
    const target = row && row.querySelector(`[data-action="${focus.action}"]`);
    if (target) target.focus();
  }

  /** Draws the rows; with `previous` (a live refresh), rows not shown before are highlighted. */
  function renderSessions(previous) {
    const s = state.sessions;
    const tbody = $("#sessions tbody");
    const focus = focusedAction(tbody);
    const rows = s.rows.map((session) => sessionRow(session, previous !== null && !previous.has(session.id)));
    if (rows.length === 0) {
      const columns = $("#sessions thead tr").querySelectorAll("th:not([hidden])").length;
      rows.push(element("tr", undefined, { class: "empty" }));
      rows[0].append(element("td", s.total === null ? "" : "No sessions match.", { colspan: String(columns) }));
    }
    tbody.replaceChildren(...rows);
    restoreFocus(tbody, focus);
    s.shown = new Set(s.rows.map((session) => session.id));
    $("#total").textContent = s.total === null ? "" : plural(s.total, "session", "sessions");
    $("#page-label").textContent = pageLabel(s.page, s.total, $("#page-size").value);
    $("#prev").disabled = s.page === 0;
    $("#next").disabled = !s.next;
    for (const th of document.querySelectorAll("#sessions th[data-sort]")) {
      if (th.dataset.sort === s.orderBy) th.setAttribute("aria-sort", s.orderSort === "ASC" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  /** A presence event's session, redrawn in place when it is on the page. */
  function updateRow(session) {
    const s = state.sessions;
    const index = s.rows.findIndex((row) => row.id === session.id);
    if (index < 0) return;
    s.rows[index] = session;
    const tbody = $("#sessions tbody");
    const old = [...tbody.rows].find((row) => row.dataset.sessionId === session.id);
    if (!old) return;
    const focus = focusedAction(tbody);
    const fresh = sessionRow(session, true);
    old.replaceWith(fresh);
    restoreFocus(tbody, focus);
  }

  const refreshSessions = coalesce(() => {
    if (state.token && !$("#sessions-view").hidden) loadSessions({ live: true });
  }, LIVE_REFRESH_DELAY_MS);

  function reloadSessionsFromStart() {
    resetPaging(state.sessions);
    loadSessions();
  }

  function sortBy(key) {
    const s = state.sessions;
    if (s.orderBy === key) s.orderSort = s.orderSort === "ASC" ? "DESC" : "ASC";
    else {
      s.orderBy = key;
      s.orderSort = key.endsWith("Date") ? "DESC" : "ASC";
    }
    reloadSessionsFromStart();
  }

  function turnPage(paging, step, load) {
    if (step > 0) {
      if (!paging.next) return;
      paging.pageTokens[paging.page + 1] = paging.next;
      paging.page += 1;
    } else {
      if (paging.page === 0) return;
      paging.page -= 1;
    }
    paging.pageTokens.length = paging.page + 1;
    load();
  }

  // ---- Detail --------------------------------------------------------------------------------

  async function openDetail(userId) {
    let envelope;
    try {
      envelope = await api(`/${encodeURIComponent(userId)}`);
    } catch (failure) {
      if (failure.status !== 401) showError(failure);
      return;
    }
    const user = envelope.data;
    state.detailUserId = user.userId;
    $("#detail-heading").textContent = user.fullName || `User ${user.userId}`;
    $("#detail-user-id").textContent = user.userId;
    $("#detail-tenant-id").textContent = user.tenantId;
    $("#detail-online").textContent = user.online ? "Online" : "Offline";
    $("#detail-online-sessions").textContent = String(user.onlineSessions);
    $("#detail-online-date").replaceChildren(timeNode(user.onlineDate));
    $("#detail-offline-date").replaceChildren(timeNode(user.offlineDate));
    $("#detail-device-id").textContent = user.deviceId || "—";
    $("#detail-remote-address").textContent = user.remoteAddress || "—";
    $("#detail-user-agent").textContent = user.userAgent || "—";
    const rows = user.sessions.map((session) => {
      const tr = element("tr", undefined, { "data-session-id": session.id });
      tr.append(
        cell("online", element("span", session.online ? "Online" : "Offline", { class: session.online ? "badge on" : "badge off" })),
        cell("onlineDate", timeNode(session.onlineDate)),
        cell("offlineDate", timeNode(session.offlineDate)),
        cell("offlineReason", session.offlineReason),
        cell("deviceId", session.deviceId),
        cell("remoteAddress", session.remoteAddress),
        cell("userAgent", session.userAgent, "wide agent"),
        cell("lastSeenDate", timeNode(session.lastSeenDate)),
      );
      return tr;
    });
    $("#detail-sessions tbody").replaceChildren(...rows);
    $("#detail-force").dataset.userId = user.userId;
    $("#detail-force").dataset.name = user.fullName || user.userId;
    const dialog = $("#detail");
    if (!dialog.open) dialog.showModal();
  }

  const refreshDetail = coalesce(() => {
    if ($("#detail").open && state.detailUserId) openDetail(state.detailUserId);
  }, LIVE_REFRESH_DELAY_MS);

  // ---- Forcing offline -----------------------------------------------------------------------

  function confirmUser(userId, name) {
    state.pendingUser = userId;
    $("#confirm-user-text").textContent =
      `Force ${name} (user ${userId}) offline? Every session of theirs ends, every token of theirs is revoked (they must sign in again), and their live connections close.`;
    $("#broadcast").checked = true;
    $("#confirm-user").showModal();
  }

  /** The tenant the tenant button acts on: the filter's (platform) or the admin's own. */
  function tenantTarget() {
    return state.platform ? $("#tenant").value.trim() : state.tenantId;
  }

  function updateTenantButton() {
    $("#force-tenant").hidden = state.platform ? !/^\d+$/.test($("#tenant").value.trim()) : false;
  }

  function confirmTenant() {
    const tenant = tenantTarget();
    $("#confirm-tenant-text").textContent = tenant
      ? `Every user of tenant ${tenant} is forced offline: every session ends, every token is revoked${state.platform ? "" : " (yours included: you will be asked for a new token)"}, every live connection closes.`
      : "Every user of your tenant is forced offline: every session ends, every token is revoked (yours included), every live connection closes. Type your tenant's ID to confirm.";
    $("#confirm-tenant-id").value = "";
    $("#tenant-broadcast").checked = true;
    $("#confirm-tenant-submit").disabled = true;
    $("#confirm-tenant").showModal();
    $("#confirm-tenant-id").focus();
  }

  function typedTenantMatches() {
    const typed = $("#confirm-tenant-id").value.trim();
    const tenant = tenantTarget();
    return tenant ? typed === tenant : /^\d+$/.test(typed);
  }

  async function forceOffline(receiveObjectType, ids, broadcast) {
    const body = JSON.stringify({ receiveObjectType, receiveObjectIds: ids, broadcast });
    let envelope;
    try {
      envelope = await api("/off", [], { method: "POST", body });
    } catch (failure) {
      if (failure.status !== 401) showError(failure);
      return;
    }
    clearError();
    const d = envelope.data;
    let text = `Forced offline: ${plural(d.users, "user", "users")}, ${plural(d.sessions, "session", "sessions")} ended, ${plural(d.tokens, "token", "tokens")} revoked, ${plural(d.connections, "connection", "connections")} closed.`;
    if (d.skippedIds && d.skippedIds.length) text += ` Skipped, not in your tenant: ${d.skippedIds.join(", ")}.`;
    showNotice(text);
    loadSessions({ live: true });
    refreshDetail();
    if (!$("#audit-view").hidden) loadAudit();
  }

  // ---- Audit trail ---------------------------------------------------------------------------

  async function loadAudit() {
    const a = state.audit;
    const seq = ++a.seq;
    const params = [["pageSize", AUDIT_PAGE_SIZE]];
    let filter = 0;
    for (const [key, input] of [["targetType", "#audit-target"], ["operatorUserId", "#audit-operator"]]) {
      const value = $(input).value.trim();
      if (!value) continue;
      params.push([`filters[${filter}].key`, key], [`filters[${filter}].op`, "EQUAL"], [`filters[${filter}].value`, value]);
      filter += 1;
    }
    const tenant = $("#audit-tenant").value.trim();
    if (state.platform && tenant) params.push(["tenantId", tenant]);
    if (a.pageTokens[a.page]) params.push(["pageToken", a.pageTokens[a.page]]);
    let envelope;
    try {
      envelope = await api("/audit", params);
    } catch (failure) {
      if (seq !== a.seq || failure.status === 401) return;
      showError(failure);
      renderAudit([], null);
      return;
    }
    if (seq !== a.seq) return;
    clearError();
    a.next = (envelope.ext && envelope.ext.nextPageToken) || null;
    renderAudit(envelope.data.list, envelope.data.total);
  }

  function renderAudit(records, total) {
    const a = state.audit;
    const rows = records.map((record) => {
      const tr = element("tr", undefined, { "data-audit-id": record.id });
      tr.append(cell("datetime", timeNode(record.datetime)), cell("operatorFullName", record.operatorFullName), cell("operatorUserId", record.operatorUserId, "id"));
      if (state.platform) tr.append(cell("tenantId", record.tenantId, "id"));
      tr.append(
        cell("targetType", record.targetType),
        cell("targetIds", record.targetIds.join(", "), "id"),
        cell("broadcast", record.broadcast ? "Yes" : "No"),
        cell("users", record.users),
        cell("sessions", record.sessions),
        cell("tokens", record.tokens),
        cell("connections", record.connections),
        cell("skippedIds", record.skippedIds.join(", "), "wide id"),
        cell("requestId", record.requestId, "wide id"),
        cell("remoteAddress", record.remoteAddress, "wide"),
      );
      return tr;
    });
    if (rows.length === 0) {
      const columns = $("#audit thead tr").querySelectorAll("th:not([hidden])").length;
      rows.push(element("tr", undefined, { class: "empty" }));
      rows[0].append(element("td", total === null ? "" : "No forced offlines recorded.", { colspan: String(columns) }));
    }
    $("#audit tbody").replaceChildren(...rows);
    $("#audit-total").textContent = total === null ? "" : plural(total, "record", "records");
    $("#audit-page-label").textContent = pageLabel(a.page, total, AUDIT_PAGE_SIZE);
    $("#audit-prev").disabled = a.page === 0;
    $("#audit-next").disabled = !a.next;
  }

  // ---- Live updates: the presence subscription -----------------------------------------------

  function setLive(mode, text) {
    const node = $("#live");
    node.dataset.state = mode;
    node.textContent = text;
  }

  const live = {
    socket: null,
    wanted: false,
    failures: 0,
    heartbeat: null,
    retry: null,

    async start() {
      this.stop();
      this.wanted = true;
      this.connect();
    },

    stop() {
      this.wanted = false;
      clearTimeout(this.retry);
      clearInterval(this.heartbeat);
      if (this.socket) this.socket.close(1000, "signed out");
      this.socket = null;
    },

    async url() {
      let configured = null;
      try {
        const response = await fetch(new URL("console/config.json", document.baseURI), { cache: "no-cache" });
        configured = (await response.json()).websocketUrl;
      } catch {
        // No config: the WebSocket is on this host, as on the local API.
      }
      const url = new URL(configured || `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`);
      url.searchParams.set("token", state.token);
      url.searchParams.set("deviceId", "admin-console");
      return url;
    },

    async connect() {
      setLive("connecting", this.failures ? "Reconnecting…" : "Connecting…");
      const url = await this.url();
      if (!this.wanted) return;
      const socket = new WebSocket(url);
      this.socket = socket;
      socket.addEventListener("open", () => {
        socket.send(JSON.stringify({ action: "subscribe" }));
        this.heartbeat = setInterval(() => socket.send(JSON.stringify({ action: "heartbeat" })), HEARTBEAT_EVERY_MS);
      });
      socket.addEventListener("message", (event) => this.receive(socket, event));
      socket.addEventListener("close", () => {
        clearInterval(this.heartbeat);
        if (socket !== this.socket || !this.wanted) return;
        this.failures += 1;
        const delay = Math.min(30000, 1000 * 2 ** Math.min(this.failures - 1, 5));
        setLive("connecting", "Reconnecting…");
        this.retry = setTimeout(() => this.connect(), delay);
      });
    },

    receive(socket, event) {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      switch (message.type) {
        case "SUBSCRIBED":
          this.failures = 0;
          setLive("on", "Live");
          // Whatever changed while (re)connecting.
          refreshSessions();
          break;
        case "PRESENCE":
          learnTenant([message.session]);
          updateRow(message.session);
          refreshSessions();
          if (state.detailUserId === message.session.userId) refreshDetail();
          break;
        case "ERROR":
          // Refused (no list permission, or the store failed): stay off rather than reconnect
          // in a loop, each connect being a session. A reload tries again.
          this.wanted = false;
          setLive("off", `Live updates off: ${message.msg || "the service refused the subscription."}`);
          socket.close(1000, "refused");
          break;
        case "FORCED_OFFLINE":
        case "SESSION_ENDED":
          // This console's own session was ended, and its token with it.
          this.wanted = false;
          signOut(message.msg || "Your session was ended and your token no longer works. Sign in with a new token.");
          break;
        default:
          break;
      }
    },
  };

  // ---- Wiring --------------------------------------------------------------------------------

  function wire() {
    $("#signin").addEventListener("cancel", (event) => event.preventDefault());
    $("#signin-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("#token").value.trim();
      if (!token) {
        $("#signin-message").textContent = "Paste a bearer token first.";
        return;
      }
      $("#signin-message").textContent = "";
      signIn(token);
    });
    $("#sign-out").addEventListener("click", () => signOut("Signed out."));
    $("#show-sessions").addEventListener("click", () => {
      showView("sessions");
      reloadSessionsFromStart();
    });
    $("#show-audit").addEventListener("click", () => showView("audit"));

    const searchLater = debounce(reloadSessionsFromStart, SEARCH_DELAY_MS);
    $("#search").addEventListener("input", searchLater);
    $("#tenant").addEventListener("input", () => {
      updateTenantButton();
      searchLater();
    });
    for (const id of ["#search-field", "#status", "#from", "#to", "#page-size"]) {
      $(id).addEventListener("change", () => {
        if (id !== "#search-field" || $("#search").value.trim()) reloadSessionsFromStart();
      });
    }
    $("#filters").addEventListener("submit", (event) => {
      event.preventDefault();
      reloadSessionsFromStart();
    });
    $("#filters").addEventListener("reset", () =>
      setTimeout(() => {
        updateTenantButton();
        reloadSessionsFromStart();
      }),
    );
    for (const th of document.querySelectorAll("#sessions th[data-sort]")) {
      th.querySelector("button").addEventListener("click", () => sortBy(th.dataset.sort));
    }
    $("#prev").addEventListener("click", () => turnPage(state.sessions, -1, loadSessions));
    $("#next").addEventListener("click", () => turnPage(state.sessions, 1, loadSessions));
    $("#sessions tbody").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      if (button.dataset.action === "detail") openDetail(button.dataset.userId);
      else confirmUser(button.dataset.userId, button.dataset.name);
    });

    $("#detail-close").addEventListener("click", () => $("#detail").close());
    $("#detail").addEventListener("close", () => {
      state.detailUserId = null;
    });
    $("#detail-force").addEventListener("click", (event) => confirmUser(event.target.dataset.userId, event.target.dataset.name));

    $("#confirm-user-form").addEventListener("submit", (event) => {
      event.preventDefault();
      $("#confirm-user").close();
      forceOffline("USER", [state.pendingUser], $("#broadcast").checked);
    });
    $("#force-tenant").addEventListener("click", confirmTenant);
    $("#confirm-tenant-id").addEventListener("input", () => {
      $("#confirm-tenant-submit").disabled = !typedTenantMatches();
    });
    $("#confirm-tenant-form").addEventListener("submit", (event) => {
      event.preventDefault();
      if (!typedTenantMatches()) return;
      $("#confirm-tenant").close();
      forceOffline("TENANT", [$("#confirm-tenant-id").value.trim()], $("#tenant-broadcast").checked);
    });
    for (const button of document.querySelectorAll("dialog .cancel")) {
      button.addEventListener("click", () => button.closest("dialog").close());
    }

    const auditLater = debounce(() => {
      resetPaging(state.audit);
      loadAudit();
    }, SEARCH_DELAY_MS);
    $("#audit-target").addEventListener("change", auditLater);
    $("#audit-operator").addEventListener("input", auditLater);
    $("#audit-tenant").addEventListener("input", auditLater);
    $("#audit-filters").addEventListener("submit", (event) => event.preventDefault());
    $("#audit-prev").addEventListener("click", () => turnPage(state.audit, -1, loadAudit));
    $("#audit-next").addEventListener("click", () => turnPage(state.audit, 1, loadAudit));
  }

  function start() {
    wire();
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) signIn(token);
    else askForToken("");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
