// Trial dashboard: the trial, its whitelist and its messages, from the dashboard API named in /config.json.
//
// The key. It arrives in the URL fragment (`/dashboard/#<key>`), which browsers never send to a server.
// The page reads it once, keeps it in memory and sends it only in the `Authorization` header of its own API
// calls (credentials omitted, no referrer). The fragment is deliberately left in place: the link is the
// trial's own dashboard URL, so a reload or a bookmark keeps working, and nothing the page does copies it
// anywhere else (no storage, no query string, no logs). Editing the fragment reloads the page for that key.
//
// Everything from the API (names, recipients, message text, reasons) is rendered with textContent only:
// the page runs under a strict CSP (no inline script or style).
"use strict";

(function () {
  const REQUEST_TIMEOUT_MS = 15000;
  const POLL_MIN_MS = 3000;
  const POLL_MAX_MS = 30000;
  const PAGE_SIZE = 50;
  // Trial keys are GUIDs; anything else cannot be a key, and might not even be a valid header value.
  const KEY_SHAPE = /^[A-Za-z0-9-]{8,100}$/;
  // What a message the sandbox provider took became: on the local stack, a message on the simulated phone
  // (/_local/phone), which reports it delivered and, once shown there, read; deployed, a simulated delivery only.
  const SANDBOX_LOCAL_NOTE = "sandbox: sent to the simulated phone at /_local/phone, not to a real one";
  const SANDBOX_NOTE = "sandbox: a simulated delivery, not sent to a real phone";

  const $ = function (id) {
    return document.getElementById(id);
  };

  const state = {
    apiUrl: null,
    key: null,
    keyShown: false,
    trial: null,
    whitelist: null,
    // Messages by id, and the cursor of the next older page (null: no older page).
    messages: new Map(),
    olderCursor: null,
    olderLoaded: false,
    seen: { trial: "", whitelist: "", messages: "" },
    delay: POLL_MIN_MS,
    timer: null,
    inFlight: false,
    failed: false,
    ready: false,
    dead: false,
    expiresAtMs: null,
    tick: null,
  };

  // --- Small DOM helpers (text only, never markup) ---

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, className, onClick) {
    const node = el("button", "button button-small " + (className || "button-secondary"), label);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function str(value) {
    return typeof value === "string" ? value : value === null || value === undefined ? "" : String(value);
  }

  function parseDate(iso) {
    const date = new Date(iso);
    return iso && !Number.isNaN(date.getTime()) ? date : null;
  }

  function formatLocal(iso, withSeconds) {
    const date = parseDate(iso);
    if (!date) return str(iso);
    const options = { dateStyle: "medium", timeStyle: withSeconds ? "medium" : "short" };
    return date.toLocaleString(undefined, options);
  }

  function formatUtc(iso) {
    const date = parseDate(iso);
    if (!date) return str(iso);
    return date.toLocaleString(undefined, {
      dateStyle: "medium",
      timeStyle: "short",
      timeZone: "UTC",
    }) + " UTC";
  }

  function timeElement(iso, withSeconds) {
    const node = el("time", null, formatLocal(iso, withSeconds));
    if (parseDate(iso)) {
      node.dateTime = iso;
      node.title = formatUtc(iso);
    }
    return node;
  }

  function maskedKey(key) {
    return key.replace(/[A-Za-z0-9]/g, "•");
  }

  // The key stays hidden in the lists too (a whitelisting message is the key itself); popups show all.
  function withoutKey(text) {
    if (!state.key || !text) return text;
    return text.replace(new RegExp(state.key, "gi"), "[your trial key]");
  }

  // --- Problem pages ---

  function showProblem(title, text, hint, linkLabel) {
    state.dead = true;
    stopPolling();
    stopCountdown();
    $("loading").hidden = true;
    $("dashboard").hidden = true;
    $("problem-title").textContent = title;
    $("problem-text").textContent = text;
    $("problem-hint").textContent = hint || "";
    $("problem-hint").hidden = !hint;
    $("problem-link").textContent = linkLabel || "Sign up for a new trial";
    $("problem").hidden = false;
    $("footer-note").hidden = true;
    document.title = title + " – Trial dashboard";
    $("problem-title").focus();
  }

  function showMissingKey() {
    showProblem(
      "Open the link from your e-mail",
      "This dashboard belongs to one trial, and its address carries that trial's key. Open the dashboard " +
        "link from the e-mail with your trial key to see your trial.",
      "Lost the e-mail? Check your spam or junk folder, or sign up again for a new key.",
      "Sign up for a trial",
    );
  }

  function showInvalidKey() {
    showProblem(
      "This key is not valid or the trial has ended",
      "We could not find an active trial for the key in this link. Check that you opened the complete " +
        "link from your e-mail. If the trial was revoked or has been deleted after it ended, sign up again " +
        "for a new 24-hour key.",
      "",
      "Sign up for a new trial",
    );
  }

  function showBroken() {
    showProblem(
      "The dashboard could not be shown",
      "Something went wrong while showing your trial. Please reload the page in a moment.",
      "",
      "Go to the sign-up page",
    );
  }

  // --- API ---

  let configPromise = null;

  function loadConfig() {
    if (!configPromise) {
      configPromise = fetch("/config.json", { cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new ApiError("unavailable", response.status);
          return response.json();
        })
        .then(function (config) {
          if (!config || typeof config.apiUrl !== "string") throw new ApiError("unavailable", 0);
          return config.apiUrl.replace(/\/+$/, "");
        })
        .catch(function (error) {
          // Forget the failure so the next round tries again; a network error is just "unavailable".
          configPromise = null;
          throw error instanceof ApiError ? error : new ApiError("network", 0);
        });
    }
    return configPromise;
  }

  function ApiError(kind, status) {
    this.kind = kind;
    this.status = status;
  }

  async function api(path) {
    if (!state.apiUrl) state.apiUrl = await loadConfig();
    const controller = new AbortController();
    const timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(state.apiUrl + path, {
        headers: { Authorization: "Bearer " + state.key, Accept: "application/json" },
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
        signal: controller.signal,
      });
    } catch (_error) {
      throw new ApiError("network", 0);
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 401 || response.status === 404) throw new ApiError("invalid", response.status);
    if (!response.ok) throw new ApiError("unavailable", response.status);
    try {
      return await response.json();
    } catch (_error) {
      throw new ApiError("unavailable", response.status);
    }
  }

  // --- Header: trial, countdown, key, quotas ---

  function renderTrial(data) {
    const trial = data.trial || {};
    const expired = trial.status === "expired";
    $("trial-title").textContent = str(trial.name) || "Your trial";
    $("trial-company").textContent = str(trial.company);
    $("trial-company").hidden = !trial.company;

    const badge = $("trial-state");
    badge.textContent = expired ? "Expired" : "Active";
    badge.className = "state-badge " + (expired ? "is-expired" : "is-active");
    $("ended").hidden = !expired;
    document.body.classList.toggle("is-expired", expired);
    $("expiry-label").textContent = expired ? "Ended" : "Expires";

    const endedAt = $("ended-at");
    endedAt.textContent = formatUtc(trial.expiresAt);
    if (parseDate(trial.expiresAt)) endedAt.dateTime = trial.expiresAt;

    const local = $("expiry-local");
    const utc = $("expiry-utc");
    local.textContent = formatLocal(trial.expiresAt, false) + " (your time)";
    utc.textContent = formatUtc(trial.expiresAt);
    if (parseDate(trial.expiresAt)) {
      local.dateTime = trial.expiresAt;
      utc.dateTime = trial.expiresAt;
    }
    const seconds = Number(trial.secondsLeft);
    // Counted from the API's seconds, not the viewer's clock, which may be off.
    state.expiresAtMs = expired ? null : Date.now() + (Number.isFinite(seconds) ? seconds : 0) * 1000;
    updateCountdown();
    if (expired) stopCountdown();
    else startCountdown();

    $("gateway-url").textContent = str(data.gatewayUrl);
    renderQuotas(data.quotas || [], expired);
    renderKey();
    renderContactPoints(data.contactPoints || []);
    renderJoinCode(data.joinCode);
    $("whitelist-note").textContent =
      "Up to " + str(data.whitelistMax || 10) + " recipients, for as long as the trial runs.";
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  function updateCountdown() {
    const out = $("countdown");
    if (state.expiresAtMs === null) {
      out.textContent = "The trial has ended.";
      return;
    }
    const left = Math.max(0, Math.round((state.expiresAtMs - Date.now()) / 1000));
    if (left === 0) {
      out.textContent = "Ending now…";
      stopCountdown();
      // The API decides; ask it at once.
      refreshSoon(0);
      return;
    }
    const h = Math.floor(left / 3600);
    const m = Math.floor((left % 3600) / 60);
    const s = left % 60;
    out.textContent = "in " + h + " h " + pad(m) + " min " + pad(s) + " s";
  }

  function startCountdown() {
    if (state.tick === null) state.tick = setInterval(updateCountdown, 1000);
  }

  function stopCountdown() {
    if (state.tick !== null) clearInterval(state.tick);
    state.tick = null;
  }

  function renderKey() {
    const value = $("key-value");
    value.textContent = state.keyShown ? state.key : maskedKey(state.key);
    value.classList.toggle("is-masked", !state.keyShown);
    const toggle = $("key-toggle");
    toggle.textContent = state.keyShown ? "Hide" : "Show";
    toggle.setAttribute("aria-pressed", state.keyShown ? "true" : "false");
    toggle.setAttribute("aria-label", state.keyShown ? "Hide the trial key" : "Show the trial key");
  }

  function renderQuotas(quotas, expired) {
    const list = $("quotas");
    list.replaceChildren();
    quotas.forEach(function (q, index) {
      const quota = Math.max(0, Number(q.quota) || 0);
      const remaining = Math.max(0, Math.min(quota, Number(q.remaining) || 0));
      const item = el("li", "quota");
      const id = "quota-" + index;
      const label = el("span", "quota-label");
      label.id = id;
      label.append(el("span", "quota-channel", str(q.channel)));
      label.append(el("span", "quota-count", remaining + " of " + quota + " left"));
      const meter = document.createElement("meter");
      meter.min = 0;
      meter.max = quota || 1;
      meter.value = remaining;
      meter.low = Math.ceil((quota || 1) * 0.2);
      meter.high = Math.ceil((quota || 1) * 0.5);
      meter.optimum = quota || 1;
      meter.setAttribute("aria-labelledby", id);
      meter.textContent = remaining + " of " + quota;
      if (expired) item.classList.add("is-ended");
      item.append(label, meter);
      list.append(item);
    });
  }

  function renderContactPoints(points) {
    // On the local stack (and only there) the API names the simulated phone beside each real contact point.
    const simulated = points.some(function (p) {
      return Boolean(localPhoneLink(p.localPhoneLink));
    });
    document.querySelectorAll(".local-phone-note").forEach(function (note) {
      note.hidden = !simulated;
    });
    [$("contact-points"), $("contact-points-more")].forEach(function (list) {
      list.replaceChildren();
      points.forEach(function (p) {
        const item = el("li", "contact-point");
        item.append(el("span", "contact-channel", str(p.channel)));
        const line = el("span", "contact-line", str(p.instruction));
        if (p.address) {
          line.append(" ");
          line.append(el("strong", "contact-address", str(p.address)));
        }
        item.append(line);
        const phone = localPhoneLink(p.localPhoneLink);
        if (phone) {
          const a = el("a", "contact-link local-phone-link", "Open the simulated phone (key filled in)");
          a.href = phone;
          a.rel = "noopener noreferrer";
          a.target = "_blank";
          item.append(a);
        }
        const link = safeLink(p.link);
        if (link) {
          const a = el("a", "contact-link", linkLabel(link, p.channel));
          a.href = link;
          a.rel = "noopener noreferrer";
          if (/^https:/i.test(link)) a.target = "_blank";
          item.append(a);
        }
        const qr = qrImage(p.qr, p.channel);
        if (qr) item.append(qr);
        list.append(item);
      });
    });
  }

  // The short join code (`join amber-fox-river-482`), shown as text beside the contact points.
  function renderJoinCode(code) {
    const value = str(code);
    document.querySelectorAll(".join-code").forEach(function (node) {
      node.textContent = value;
    });
    document.querySelectorAll(".join-code-note").forEach(function (note) {
      note.hidden = !value;
    });
  }

  // The API's QR code of a contact point's link: only an SVG data URL, shown as an image (never as markup), which
  // the page's CSP (img-src 'self' data:) allows.
  function qrImage(qr, channel) {
    const value = str(qr);
    if (!/^data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+$/.test(value)) return null;
    const img = document.createElement("img");
    img.className = "contact-qr";
    img.src = value;
    img.alt = "QR code: opens " + str(channel) + " with the join code typed in";
    img.width = 164;
    img.height = 164;
    return img;
  }

  // Only links the page means to offer: https web links and sms: links.
  function safeLink(link) {
    const value = str(link);
    return /^(https:\/\/|sms:)/i.test(value) ? value : "";
  }

  // The local stack's phone page: an http(s) link to /_local/phone (the local stack serves plain http).
  function localPhoneLink(link) {
    const value = str(link);
    if (!value) return "";
    try {
      const url = new URL(value);
      return /^https?:$/.test(url.protocol) && url.pathname.indexOf("/_local/phone") === 0 ? url.href : "";
    } catch (_error) {
      return "";
    }
  }

  function linkLabel(link, channel) {
    if (/^sms:/i.test(link)) return "Open in your messages app (key filled in)";
    if (/wa\.me\//i.test(link)) return "Open WhatsApp (key filled in)";
    return "Open " + str(channel);
  }

  // --- Whitelist ---

  function renderWhitelist(data) {
    const rows = $("whitelist-rows");
    const recipients = Array.isArray(data.recipients) ? data.recipients : [];
    const expired = isExpired();
    rows.replaceChildren();
    recipients.forEach(function (r, index) {
      const tr = document.createElement("tr");
      tr.append(cell("Channel", str(r.channel)));
      const recipient = cell("Recipient", null);
      recipient.append(el("code", "recipient", str(r.recipient)));
      tr.append(recipient);
      const when = cell("Whitelisted", null);
      when.append(timeElement(r.whitelistedAt, false));
      tr.append(when);
      const actions = cell("", null);
      actions.className = "actions";
      if (!expired && r.curl) {
        const example = button("Example code", null, function () {
          openCurl(r, example);
        });
        example.dataset.focusId = "curl:" + index + ":" + str(r.channel) + ":" + str(r.recipient);
        example.setAttribute("aria-label", "Example code for " + str(r.channel) + " " + str(r.recipient));
        actions.append(example);
      }
      tr.append(actions);
      rows.append(tr);
    });
    const empty = recipients.length === 0;
    $("whitelist-table").hidden = empty;
    $("whitelist-empty").hidden = !empty || expired;
    const max = Number(data.max) || 10;
    $("whitelist-more").hidden = empty || expired || recipients.length >= max;
    $("count-whitelist").textContent = "(" + recipients.length + ")";
    $("postman").hidden = empty || expired || !data.postmanCollection;
    if (empty && expired) {
      $("whitelist-note").textContent = "No recipients were whitelisted during this trial.";
    }
  }

  function cell(label, text) {
    const td = el("td", null, text);
    if (label) td.dataset.label = label;
    return td;
  }

  function downloadPostman() {
    const collection = state.whitelist && state.whitelist.postmanCollection;
    if (!collection) return;
    const blob = new Blob([JSON.stringify(collection, null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    const id = str(state.trial && state.trial.trial && state.trial.trial.id) || "trial";
    link.href = url;
    link.download = "trialgw-" + id.replace(/[^A-Za-z0-9_-]/g, "") + ".postman_collection.json";
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 10000);
    announce("Postman collection downloaded. In Postman: File › Import, then choose the file.");
  }

  // --- Messages ---

  function mergeMessages(list) {
    let changed = false;
    list.forEach(function (m, index) {
      if (!m || typeof m.id !== "string") return;
      const before = state.messages.get(m.id);
      const after = JSON.stringify(m);
      if (!before || before.raw !== after) {
        state.messages.set(m.id, { message: m, raw: after, pos: index });
        changed = true;
      } else {
        before.pos = index;
      }
    });
    return changed;
  }

  // Newest first by time (milliseconds); within one millisecond, or one second of an older record, the API's
  // own order, which is the order the messages arrived in.
  function sortedMessages() {
    return Array.from(state.messages.values())
      .sort(function (a, b) {
        const ta = Date.parse(a.message.at) || 0;
        const tb = Date.parse(b.message.at) || 0;
        if (ta !== tb) return tb - ta;
        if (a.pos !== b.pos) return a.pos - b.pos;
        return a.message.id < b.message.id ? 1 : a.message.id > b.message.id ? -1 : 0;
      })
      .map(function (entry) {
        return entry.message;
      });
  }

  function isRefused(m) {
    return m.direction === "outbound" && m.status === "refused";
  }

  // Where the local stack's simulated phone is (a contact point's link, its key left out), or "" when deployed.
  function simulatedPhone() {
    const points = (state.trial && Array.isArray(state.trial.contactPoints)) ? state.trial.contactPoints : [];
    for (let i = 0; i < points.length; i += 1) {
      const link = localPhoneLink(points[i] && points[i].localPhoneLink);
      if (link) return link.split("#")[0];
    }
    return "";
  }

  function sandboxNote() {
    const phone = simulatedPhone();
    const note = el("span", "provider-note", phone ? SANDBOX_LOCAL_NOTE : SANDBOX_NOTE);
    if (phone) {
      const a = el("a", "provider-link", "Open the simulated phone");
      a.href = phone;
      a.rel = "noopener noreferrer";
      a.target = "_blank";
      note.append(" ", a);
    }
    return note;
  }

  function renderMessages() {
    const rows = $("message-rows");
    const messages = sortedMessages();
    rows.replaceChildren();
    messages.forEach(function (m) {
      const tr = document.createElement("tr");
      tr.className = "message-row" + (isRefused(m) ? " is-refused" : "");
      tr.dataset.id = m.id;
      const time = cell("Time", null);
      time.append(timeElement(m.at, true));
      tr.append(time);
      const inbound = m.direction === "inbound";
      const direction = cell("Direction", null);
      direction.append(el("span", "direction " + (inbound ? "is-in" : "is-out"), inbound ? "← In" : "Out →"));
      tr.append(direction);
      tr.append(cell("Channel", str(m.channel)));
      const counterpart = cell(inbound ? "From" : "To", null);
      counterpart.append(el("code", "recipient", str(m.counterpart)));
      tr.append(counterpart);
      tr.append(cell("Content", withoutKey(str(m.summary))));
      const status = cell("Status", null);
      // One wrapper, so the badge and its reason stay together in the phone layout's second column.
      const box = el("span", "status-box");
      if (inbound) {
        box.append(el("span", "badge is-received", "received"));
      } else {
        const name = str(m.status) || "queued";
        box.append(el("span", "badge is-" + name.replace(/[^a-z]/g, ""), name));
        // A refused attempt: the gateway's answer, its CM errorCode apart from its text.
        if (isRefused(m) && m.errorCode !== null && m.errorCode !== undefined) {
          box.append(el("span", "error-code", "errorCode " + str(m.errorCode)));
        }
        if (m.reason) box.append(el("span", "reason", withoutKey(str(m.reason))));
        // The sandbox carries no message to a real phone: the operator left this channel on it.
        if (m.provider === "sandbox") box.append(sandboxNote());
      }
      status.append(box);
      tr.append(status);
      const actions = cell("", null);
      actions.className = "actions";
      const json = button("JSON", null, function () {
        openJson(m, json);
      });
      json.dataset.focusId = "json:" + m.id;
      json.setAttribute("aria-label", "Complete JSON of the message at " + formatLocal(m.at, true));
      actions.append(json);
      if (m.explain) {
        const explain = button("Explain", null, function () {
          openExplain(m, explain);
        });
        explain.dataset.focusId = "explain:" + m.id;
        explain.setAttribute("aria-label", "Explain the delivery of the message at " + formatLocal(m.at, true));
        actions.append(explain);
      }
      tr.append(actions);
      // A click anywhere on the row opens the JSON; keyboard users have the button.
      tr.addEventListener("click", function (event) {
        if (event.target.closest("button, a")) return;
        if (window.getSelection && String(window.getSelection()).length) return;
        openJson(m, json);
      });
      rows.append(tr);
    });
    $("messages-table").hidden = messages.length === 0;
    $("messages-empty").hidden = messages.length > 0;
    // Refused attempts are listed but were never sent: counted apart (of the messages loaded so far).
    const refused = messages.filter(isRefused).length;
    $("count-messages").textContent = "(" + messages.length + (state.olderCursor ? "+" : "") +
      (refused ? ", " + refused + " refused" : "") + ")";
    $("load-older").hidden = !state.olderCursor;
  }

  async function loadOlder() {
    const btn = $("load-older");
    if (!state.olderCursor || btn.disabled) return;
    btn.disabled = true;
    btn.textContent = "Loading…";
    try {
      const data = await api(messagesPath(state.olderCursor));
      mergeMessages(Array.isArray(data.messages) ? data.messages : []);
      state.olderCursor = typeof data.next === "string" && data.next ? data.next : null;
      state.olderLoaded = true;
      keepFocus(renderMessages);
      announce(state.olderCursor ? "Older messages loaded." : "All messages are shown.");
    } catch (error) {
      if (error instanceof ApiError && error.kind === "invalid") {
        showInvalidKey();
        return;
      }
      announce("Older messages could not be loaded. Please try again.");
    } finally {
      btn.disabled = false;
      btn.textContent = "Load older messages";
    }
  }

  function messagesPath(cursor) {
    let path = "/dashboard-api/messages?limit=" + PAGE_SIZE;
    if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
    return path;
  }

  // --- Webhooks (issue 18): the URLs, the signing secret, a test event, the log with a replay per event ---
  //
  // URLs, answers and payloads in the log are whatever a receiver or a sender made them: text only, like the rest.

  const WEBHOOK_FIELDS = { inboundUrl: "webhook-inbound", statusUrl: "webhook-status" };

  // A write (or a read whose refusals the page shows): the status and the JSON answer, whatever the status.
  async function apiCall(method, path, body) {
    if (!state.apiUrl) state.apiUrl = await loadConfig();
    const controller = new AbortController();
    const timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    const headers = { Authorization: "Bearer " + state.key, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(state.apiUrl + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        referrerPolicy: "no-referrer",
        signal: controller.signal,
      });
    } catch (_error) {
      throw new ApiError("network", 0);
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_error) {
      data = null;
    }
    if (response.status === 401) throw new ApiError("invalid", response.status);
    return { status: response.status, data: data && typeof data === "object" ? data : {}, headers: response.headers };
  }

  function refusalText(result, fallback) {
    const message = str(result.data.message);
    let text = message || fallback;
    const wait = result.headers ? Number(result.headers.get("Retry-After")) : NaN;
    if (result.status === 429 && Number.isFinite(wait) && wait > 0) {
      text += " (in about " + Math.ceil(wait / 60) + " min)";
    }
    return text;
  }

  function failedCall(error, out, what) {
    if (error instanceof ApiError && error.kind === "invalid") {
      showInvalidKey();
      return;
    }
    out.textContent = what + " Please try again.";
  }

  // A webhook action behind its button: the button disabled while it runs (a click meanwhile does nothing), a call that
  // failed (network, timeout, an expired key) said in `out` as `what` and "Please try again.", the button enabled again.
  async function withBusyButton(button, out, what, action) {
    if (button.disabled) return;
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      failedCall(error, out, what);
    } finally {
      button.disabled = false;
    }
  }

  function renderWebhooks(config) {
    $("webhook-inbound").value = str(config.inboundUrl);
    $("webhook-status").value = str(config.statusUrl);
    const hasSecret = config.hasSecret === true;
    $("secret-warning").hidden = hasSecret;
    $("secret-create").textContent = hasSecret ? "Rotate signing secret" : "Create signing secret";
  }

  function fieldError(name, text) {
    const input = $(WEBHOOK_FIELDS[name]);
    const out = $(WEBHOOK_FIELDS[name] + "-error");
    out.textContent = text || "";
    out.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  async function loadWebhooks() {
    try {
      const result = await apiCall("GET", "/dashboard-api/webhooks");
      if (result.status === 200) renderWebhooks(result.data);
    } catch (error) {
      failedCall(error, $("webhooks-result"), "The webhooks could not be loaded.");
    }
    loadWebhookLog(null);
  }

  async function saveWebhooks(event) {
    event.preventDefault();
    const out = $("webhooks-result");
    await withBusyButton($("webhooks-save"), out, "The webhooks could not be saved.", async function () {
      out.textContent = "Saving…";
      Object.keys(WEBHOOK_FIELDS).forEach(function (name) {
        fieldError(name, "");
      });
      const body = {
        inboundUrl: $("webhook-inbound").value.trim() || null,
        statusUrl: $("webhook-status").value.trim() || null,
      };
      const result = await apiCall("PUT", "/dashboard-api/webhooks", body);
      if (result.status === 200) {
        renderWebhooks(result.data);
        out.textContent = "Saved.";
        return;
      }
      // A refused URL's message names its field first ("inboundUrl: …"): shown next to that field.
      const message = str(result.data.message);
      const field = Object.keys(WEBHOOK_FIELDS).find(function (name) {
        return message.indexOf(name + ": ") === 0;
      });
      if (field) {
        fieldError(field, message.slice(field.length + 2));
        out.textContent = "Not saved: check the highlighted URL.";
        $(WEBHOOK_FIELDS[field]).focus();
      } else {
        out.textContent = "Not saved: " + refusalText(result, "the webhooks could not be saved.");
      }
    });
  }

  async function createSecret() {
    const out = $("secret-result");
    await withBusyButton($("secret-create"), out, "The secret could not be made.", async function () {
      out.textContent = "";
      const result = await apiCall("POST", "/dashboard-api/webhooks/secret");
      if (result.status === 200 && typeof result.data.secret === "string") {
        $("secret-value").textContent = result.data.secret;
        $("secret-shown").hidden = false;
        renderWebhooks({
          inboundUrl: $("webhook-inbound").value || null,
          statusUrl: $("webhook-status").value || null,
          hasSecret: true,
        });
        out.textContent = "New secret made: events are signed with it from now on.";
      } else {
        out.textContent = refusalText(result, "The secret could not be made.");
      }
    });
  }

  async function sendTestEvent() {
    const out = $("webhook-test-result");
    await withBusyButton($("webhook-test"), out, "The test event could not be sent.", async function () {
      out.textContent = "Sending…";
      const result = await apiCall("POST", "/dashboard-api/webhooks/test");
      if (result.status === 202) {
        out.textContent = "Test event " + str(result.data.eventId) + " queued: its calls appear in the log below.";
        setTimeout(function () {
          loadWebhookLog(null);
        }, 2000);
      } else {
        out.textContent = refusalText(result, "The test event could not be sent.");
      }
    });
  }

  async function replayEvent(eventId, opener) {
    const out = $("webhook-test-result");
    await withBusyButton(opener, out, "The event could not be replayed.", async function () {
      const result = await apiCall("POST", "/dashboard-api/webhook-log/" + encodeURIComponent(eventId) + "/replay");
      out.textContent = result.status === 202
        ? "Event " + eventId + " queued again: its new calls appear in the log."
        : refusalText(result, "The event could not be replayed.");
    });
  }

  // The log's rows by attempt id, newest first, and the cursor of the next older page.
  const webhookLog = { attempts: [], next: null };

  function webhookLogPath(cursor) {
    let path = "/dashboard-api/webhook-log?limit=" + PAGE_SIZE;
    if (cursor) path += "&cursor=" + encodeURIComponent(cursor);
    return path;
  }

  async function loadWebhookLog(cursor) {
    const older = $("webhook-log-older");
    try {
      const result = await apiCall("GET", webhookLogPath(cursor));
      if (result.status !== 200) {
        $("webhook-test-result").textContent = refusalText(result, "The webhook log could not be read.");
        return;
      }
      const attempts = Array.isArray(result.data.attempts) ? result.data.attempts : [];
      webhookLog.attempts = cursor ? webhookLog.attempts.concat(attempts) : attempts;
      webhookLog.next = typeof result.data.next === "string" && result.data.next ? result.data.next : null;
      renderWebhookLog();
    } catch (error) {
      failedCall(error, $("webhook-test-result"), "The webhook log could not be read.");
    } finally {
      older.disabled = false;
    }
  }

  function attemptResult(a) {
    if (typeof a.status === "number") return "HTTP " + a.status + (a.willRetry ? " (will retry)" : "");
    return (str(a.error) || "no answer") + (a.willRetry ? " (will retry)" : "");
  }

  // `replayable`: the event's newest row shown, which carries its one Replay button.
  function attemptRow(a, replayable) {
    const tr = el("tr", "webhook-attempt");
    tr.dataset.attemptId = str(a.id);
    function cell(label, child, className) {
      const td = el("td", className || null);
      td.dataset.label = label;
      if (child instanceof Node) td.append(child);
      else td.textContent = str(child);
      return td;
    }
    const ok = typeof a.status === "number" && a.status >= 200 && a.status < 300;
    const payload = el("details", "webhook-payload");
    payload.append(el("summary", null, "Payload"), el("pre", "code", str(a.payload)));
    const actions = cell("Actions", "", "actions");
    if (replayable) {
      const replay = button("Replay", "button-secondary webhook-replay", function () {
        replayEvent(str(a.eventId), replay);
      });
      replay.dataset.focusId = "replay-" + str(a.eventId);
      replay.setAttribute("aria-label", "Replay event " + str(a.eventId));
      actions.append(replay);
    }
    tr.append(
      cell("Time", timeElement(a.at, true)),
      cell("Kind", str(a.kind), "webhook-kind"),
      cell("URL", el("code", "url webhook-url", str(a.url))),
      cell("Result", attemptResult(a), ok ? "webhook-result is-ok" : "webhook-result is-failed"),
      cell("Latency", Number.isFinite(Number(a.latencyMs)) ? Number(a.latencyMs) + " ms" : ""),
      cell("Answer", el("code", "webhook-answer", str(a.answer))),
      cell("Payload", payload),
      actions,
    );
    return tr;
  }

  function renderWebhookLog() {
    const rows = $("webhook-log-rows");
    const seen = new Set();
    rows.replaceChildren.apply(rows, webhookLog.attempts.map(function (a) {
      const first = !seen.has(str(a.eventId));
      seen.add(str(a.eventId));
      return attemptRow(a, first);
    }));
    const empty = webhookLog.attempts.length === 0;
    $("webhook-log-empty").hidden = !empty;
    $("webhook-log-table").hidden = empty;
    $("webhook-log-older").hidden = !webhookLog.next;
  }

  // --- The popup (one <dialog> for JSON, explanations and example code) ---

  let dialogOpener = null;

  function openDialog(title, children, opener) {
    const dialog = $("detail");
    $("detail-title").textContent = title;
    $("detail-body").replaceChildren.apply($("detail-body"), children);
    dialogOpener = opener && opener.dataset ? opener.dataset.focusId || null : null;
    if (!dialog.open) dialog.showModal();
    $("detail-close").focus();
  }

  function codeBlock(text, label) {
    const wrap = el("div", "code-wrap");
    const bar = el("div", "code-bar");
    const pre = el("pre", "code");
    const code = el("code", null, text);
    pre.append(code);
    pre.tabIndex = 0;
    pre.setAttribute("aria-label", label);
    const copy = button("Copy", "button-secondary copy", function () {
      copyText(text, pre, label);
    });
    copy.setAttribute("aria-label", "Copy the " + label);
    bar.append(el("span", "code-label", label), copy);
    wrap.append(bar, pre);
    return wrap;
  }

  function openJson(m, opener) {
    if (isRefused(m)) {
      const what = el("p", "hint", "Refused " + formatLocal(m.at, true) +
        " — the request as you sent it, without your key (long values shortened). Nothing was sent or counted.");
      const answer = el("p", "refusal-answer");
      answer.append(el("strong", null, "errorCode " + str(m.errorCode) + ": "), withoutKey(str(m.reason)));
      openDialog("Refused send", [what, answer, codeBlock(JSON.stringify(m.json, null, 2), "Request JSON")], opener);
      return;
    }
    const summary = el("p", "hint", (m.direction === "inbound" ? "Received " : "Sent ") + formatLocal(m.at, true) +
      (m.direction === "inbound" ? " — the webhook payload as it arrived." : " — the request sent on, without your key."));
    openDialog("Message JSON", [summary, codeBlock(JSON.stringify(m.json, null, 2), "Message JSON")], opener);
  }

  function openExplain(m, opener) {
    const x = m.explain || {};
    const parts = [];
    const dl = el("dl", "explain");
    function row(term, value) {
      if (value === undefined || value === null || value === "") return;
      dl.append(el("dt", null, term), el("dd", null, value));
    }
    const sms = x.sms || null;
    if (sms) {
      row("Encoding", str(sms.encoding));
      row("Characters", str(sms.characters));
      row("Parts", str(sms.parts) + (sms.partSize ? " (up to " + sms.partSize + " characters each)" : ""));
      if (sms.deliveredParts !== undefined && sms.deliveredParts !== null) {
        row("Parts delivered", str(sms.deliveredParts));
      }
    }
    const rule = x.countryRule || null;
    if (rule) {
      const where = [rule.country, rule.region].filter(Boolean).map(str).join(", ");
      row("Country rule", (where ? where + ": " : "") + str(rule.action || "none"));
    } else if (sms) {
      row("Country rule", "none applied");
    }
    if (m.provider) {
      row("Delivered by", m.provider === "sandbox" ? (simulatedPhone() ? SANDBOX_LOCAL_NOTE : SANDBOX_NOTE) : str(m.provider));
    }
    if (x.delivered && x.delivered.from) row("Sent from", str(x.delivered.from));
    if (x.messageDetails) row("Details", str(x.messageDetails));
    parts.push(dl);

    const original = originalText(m);
    const delivered = x.delivered ? str(x.delivered.text) : "";
    if (delivered && original !== null && original !== delivered) {
      parts.push(el("h3", "explain-sub", "Your text"));
      parts.push(el("p", "quote", original));
      parts.push(el("h3", "explain-sub", "Delivered instead"));
      parts.push(el("p", "quote", delivered));
    } else if (delivered) {
      parts.push(el("h3", "explain-sub", "Delivered text"));
      parts.push(el("p", "quote", delivered));
    }
    openDialog("How this message was delivered", parts, opener);
  }

  // The text the developer sent: the body content of the request (field names compared without case).
  function originalText(m) {
    function pick(obj, name) {
      if (!obj || typeof obj !== "object") return undefined;
      const found = Object.keys(obj).find(function (k) {
        return k.toLowerCase() === name;
      });
      return found === undefined ? undefined : obj[found];
    }
    const messages = pick(m.json, "messages");
    const msg = pick(messages, "msg");
    const first = Array.isArray(msg) ? msg[0] : null;
    const content = pick(pick(first, "body"), "content");
    return typeof content === "string" ? content : null;
  }

  function openCurl(r, opener) {
    const intro = el("p", null, "Sends a test message to " + str(r.recipient) + " on " + str(r.channel) +
      ". Your key is filled in: keep it private.");
    const postman = el("p", "hint", "To use it in Postman: File › Import › Raw text, then paste the command.");
    openDialog("Example code", [intro, codeBlock(str(r.curl), "curl command"), postman], opener);
  }

  async function copyText(text, pre, label) {
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error("no clipboard");
      await navigator.clipboard.writeText(text);
      announce(label + " copied.");
    } catch (_error) {
      // Without clipboard access, select the text so one keystroke copies it.
      if (pre) {
        const range = document.createRange();
        range.selectNodeContents(pre);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        pre.focus();
      }
      announce("Copying is blocked here: the text is selected, press Ctrl+C (⌘C on a Mac) to copy it.");
    }
  }

  function announce(text) {
    const out = $("refresh-status");
    out.textContent = "";
    // A fresh text node so screen readers announce a repeated message again.
    setTimeout(function () {
      out.textContent = text;
    }, 50);
  }

  // --- Tabs (WAI-ARIA tabs with automatic activation) ---

  const tabs = [$("tab-whitelist"), $("tab-messages")];

  function selectTab(tab, focus) {
    tabs.forEach(function (t) {
      const selected = t === tab;
      t.setAttribute("aria-selected", selected ? "true" : "false");
      t.tabIndex = selected ? 0 : -1;
      $(t.getAttribute("aria-controls")).hidden = !selected;
    });
    if (focus) tab.focus();
  }

  tabs.forEach(function (tab, index) {
    tab.addEventListener("click", function () {
      selectTab(tab, false);
    });
    tab.addEventListener("keydown", function (event) {
      let next = null;
      if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
      else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
      else if (event.key === "Home") next = tabs[0];
      else if (event.key === "End") next = tabs[tabs.length - 1];
      if (next) {
        event.preventDefault();
        selectTab(next, true);
      }
    });
  });

  // Re-rendering replaces buttons; put the focus back on the same one.
  function keepFocus(render) {
    const active = document.activeElement;
    const id = active && active.dataset ? active.dataset.focusId : null;
    render();
    if (id) {
      const again = document.querySelector('[data-focus-id="' + CSS.escape(id) + '"]');
      if (again) again.focus();
    }
  }

  // --- Refreshing: poll with back-off, paused while the page is hidden ---

  function isExpired() {
    return Boolean(state.trial && state.trial.trial && state.trial.trial.status === "expired");
  }

  async function refresh() {
    if (state.inFlight || state.dead) return;
    state.inFlight = true;
    let changed = false;
    try {
      const answers = await Promise.all([
        api("/dashboard-api/trial"),
        api("/dashboard-api/whitelist"),
        api(messagesPath(null)),
      ]);
      changed = apply(answers[0], answers[1], answers[2]);
      if (state.failed) announce("Up to date again.");
      state.failed = false;
      state.delay = changed ? POLL_MIN_MS : Math.min(POLL_MAX_MS, state.delay * 2);
    } catch (error) {
      if (error instanceof ApiError && error.kind === "invalid") {
        showInvalidKey();
        return;
      }
      if (!(error instanceof ApiError)) {
        showBroken();
        return;
      }
      state.delay = state.failed ? Math.min(POLL_MAX_MS, state.delay * 2) : POLL_MIN_MS * 2;
      state.failed = true;
      if (!state.ready) {
        $("loading-title").textContent =
          "The dashboard is temporarily unavailable. Trying again in " + Math.round(state.delay / 1000) + " s…";
      } else {
        announce("Could not refresh. Trying again in " + Math.round(state.delay / 1000) + " s.");
      }
    } finally {
      state.inFlight = false;
    }
    schedule();
  }

  function apply(trial, whitelist, messages) {
    let changed = false;
    const trialRaw = JSON.stringify([trial.trial, trial.quotas, trial.contactPoints]);
    // secondsLeft changes every call; only a real change resets the back-off.
    const trialKey = trialRaw.replace(/"secondsLeft":\d+/, "");
    if (trialKey !== state.seen.trial || !state.ready) {
      state.seen.trial = trialKey;
      state.trial = trial;
      renderTrial(trial);
      // The whitelist's actions depend on the trial's state.
      state.seen.whitelist = "";
      changed = true;
    } else {
      state.trial = trial;
    }
    const whitelistRaw = JSON.stringify(whitelist);
    if (whitelistRaw !== state.seen.whitelist) {
      state.seen.whitelist = whitelistRaw;
      state.whitelist = whitelist;
      keepFocus(function () {
        renderWhitelist(whitelist);
      });
      changed = true;
    }
    const list = Array.isArray(messages.messages) ? messages.messages : [];
    const next = typeof messages.next === "string" && messages.next ? messages.next : null;
    const merged = mergeMessages(list);
    if (!state.olderLoaded && next !== state.olderCursor) {
      state.olderCursor = next;
      changed = true;
    }
    if (merged || !state.ready || changed) keepFocus(renderMessages);
    changed = changed || merged;
    if (!state.ready) {
      state.ready = true;
      $("loading").hidden = true;
      $("dashboard").hidden = false;
      loadWebhooks();
      document.title = (str(trial.trial && trial.trial.name) || "Your trial") + " – Trial dashboard";
    }
    return changed;
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    if (state.dead || document.hidden) return;
    const delay = isExpired() ? POLL_MAX_MS : state.delay;
    state.timer = setTimeout(refresh, delay);
  }

  function refreshSoon(delay) {
    clearTimeout(state.timer);
    state.timer = setTimeout(refresh, delay);
  }

  function stopPolling() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stopPolling();
    } else if (!state.dead) {
      state.delay = POLL_MIN_MS;
      refreshSoon(0);
    }
  });

  // --- Wiring ---

  $("key-toggle").addEventListener("click", function () {
    state.keyShown = !state.keyShown;
    renderKey();
  });
  $("key-copy").addEventListener("click", function () {
    copyText(state.key, null, "Trial key");
  });
  $("postman").addEventListener("click", downloadPostman);
  $("load-older").addEventListener("click", loadOlder);
  $("webhooks-form").addEventListener("submit", saveWebhooks);
  $("secret-create").addEventListener("click", createSecret);
  $("secret-copy").addEventListener("click", function () {
    copyText($("secret-value").textContent, $("secret-value"), "Signing secret");
  });
  $("webhook-test").addEventListener("click", sendTestEvent);
  $("webhook-log-refresh").addEventListener("click", function () {
    loadWebhookLog(null);
  });
  $("webhook-log-older").addEventListener("click", function () {
    if (!webhookLog.next) return;
    $("webhook-log-older").disabled = true;
    loadWebhookLog(webhookLog.next);
  });
  $("detail-close").addEventListener("click", function () {
    $("detail").close();
  });
  $("detail").addEventListener("click", function (event) {
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    if (event.target === $("detail")) $("detail").close();
  });
  $("detail").addEventListener("close", function () {
    if (dialogOpener) {
      const opener = document.querySelector('[data-focus-id="' + CSS.escape(dialogOpener) + '"]');
      if (opener) opener.focus();
    }
  });
  window.addEventListener("hashchange", function () {
    // Another key: start over for it.
    window.location.reload();
  });

  function readKey() {
    let raw = window.location.hash.replace(/^#/, "");
    try {
      raw = decodeURIComponent(raw);
    } catch (_error) {
      return { key: null, present: raw.length > 0 };
    }
    raw = raw.trim();
    if (!raw) return { key: null, present: false };
    return { key: KEY_SHAPE.test(raw) ? raw : null, present: true };
  }

  const found = readKey();
  if (!found.present) {
    showMissingKey();
  } else if (!found.key) {
    showInvalidKey();
  } else {
    state.key = found.key;
    refresh();
  }
})();
