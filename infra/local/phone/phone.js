// The end user's phone (local stack only): sends messages through POST /_local/mo, as the provider would
// deliver them, and shows the conversation with the trial company, refreshing by itself.
// Everything from the server or the user is rendered with textContent (the page runs under a strict CSP).
"use strict";

(function () {
  const POLL_MS = 2000;
  const REQUEST_TIMEOUT_MS = 20000;
  const MAX_SENT_PER_CONVERSATION = 200;
  const STORAGE_KEY = "trialgw.localPhone.v1";
  // The channel the page opens on (listed first): the one most people try first. The list is the channel
  // registry's, from /trial.json.
  const PREFERRED_CHANNEL = "WhatsApp";
  const SENDER_KINDS = {
    phone: {
      label: "Your phone number",
      hint: "International format, e.g. +31612345678.",
      fallback: "+31612345678",
      inputmode: "tel",
    },
    id: {
      label: "Your account id",
      hint: "Numeric id, as the page-scoped (Messenger) or Instagram-scoped id, e.g. 1234567890123456.",
      fallback: "1234567890123456",
      inputmode: "numeric",
    },
  };
  const OUTCOMES = {
    whitelisted: ["Whitelisted", "ok"],
    already_whitelisted: ["Already whitelisted", "ok"],
    recorded: ["Received by the trial", "ok"],
    stopped: ["Removed from the trial", "ok"],
    join_hint: ["Not whitelisted: join hint sent", "error"],
    invalid_key: ["Invalid or expired key", "error"],
    whitelist_full: ["Whitelist full", "error"],
    ignored: ["Ignored", "error"],
    duplicate: ["Duplicate, ignored", "error"],
  };
  const VIAS = { meta: "Meta webhook", sns: "two-way SMS (SNS)", cm: "CM webhook" };

  // --- What the trial company sent this person: the one place to swap the source ---
  //
  // What the delivery function handed to the sandbox provider for this address (GET /_local/deliveries):
  // the messages a real phone would have received, each send with its record's status (`status`) as the trial
  // recorded it; a reply has no record. The rest of the page only needs `{id, text, at, note, unread}` items,
  // oldest first (`unread`: a send this page has not yet reported read).
  const RECEIVED = {
    note: "Messages from the trial company show here once the delivery function hands them to the sandbox " +
      "provider, which records them instead of reaching a real phone; a message shown here is reported read.",
    load: async function (channel, address) {
      const body = await getJson("/_local/deliveries?to=" + encodeURIComponent(address));
      if (!Array.isArray(body)) throw new Error("/_local/deliveries did not answer a list");
      return body
        .filter(function (entry) {
          return entry && typeof entry === "object" && entry.channel === channel && entry.to === address &&
            typeof entry.text === "string";
        })
        .map(function (entry, index) {
          let note = entry.kind === "reply" ? "Automatic reply" : "Sent through the gateway";
          if (typeof entry.from === "string" && entry.from) note += ", from " + entry.from;
          // The record's own status, never one assumed: a reply has none to show.
          if (typeof entry.status === "string") note += " · status: " + entry.status;
          const id = String(entry.message_id || "delivery-" + index);
          const unread = entry.kind === "send" && (entry.status === "sent" || entry.status === "delivered");
          return {
            id: id, text: entry.text, at: deliveredAt(id, Number(entry.at)), note: note, unread: unread,
            media: mediaLinks(entry.richContent),
          };
        });
    },
  };

  // The person saw these messages (the page is showing them): the sandbox reports them `read` through the
  // trial's status path (POST /_local/read), once per message; it marks only what the sandbox delivered.
  const reportedRead = Object.create(null);

  async function reportRead(found) {
    if (document.visibilityState !== "visible") return false;
    const ids = found
      .filter(function (m) {
        return m.unread && !(m.id in reportedRead);
      })
      .map(function (m) {
        return m.id;
      });
    if (!ids.length) return false;
    ids.forEach(function (id) {
      reportedRead[id] = true;
    });
    const response = await fetch("/_local/read", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ message_ids: ids }),
      credentials: "same-origin",
    });
    if (!response.ok) {
      // Tried again on a later poll.
      ids.forEach(function (id) {
        delete reportedRead[id];
      });
      return false;
    }
    return true;
  }

  // When a delivery happened, in ms for sorting against what the person sent (Date.now()). The server gives
  // whole seconds, so the delivery lies somewhere in [at, at + 1 s); it also lies before this page first saw it.
  // The earlier of the two bounds never sorts a reply before the message it answers, nor after a message the
  // person sent once it showed.
  const firstSeen = Object.create(null);

  function deliveredAt(id, seconds) {
    if (!Number.isFinite(seconds)) return 0;
    if (!(id in firstSeen)) firstSeen[id] = Date.now();
    return Math.min(seconds * 1000 + 999, firstSeen[id]);
  }

  const whoForm = document.getElementById("who");
  const channelEl = document.getElementById("channel");
  const senderEl = document.getElementById("sender");
  const senderLabel = document.getElementById("sender-label");
  const senderHint = document.getElementById("sender-hint");
  const subtitle = document.getElementById("chat-subtitle");
  const list = document.getElementById("conversation");
  const empty = document.getElementById("empty");
  const status = document.getElementById("status");
  const compose = document.getElementById("compose");
  const textEl = document.getElementById("text");
  const sendButton = document.getElementById("send");

  let state = loadState();
  let received = [];
  let receivedFor = "";
  let lastRendered = "";
  let busy = false;
  let refreshing = null;
  let again = false;
  let pollTimer = null;
  let inputTimer = null;

  // --- Storage (the page works without it, it just forgets on reload) ---

  function loadState() {
    const fresh = { channel: PREFERRED_CHANNEL, senders: {}, aliases: {}, sent: {} };
    try {
      const stored = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      if (stored && typeof stored === "object") {
        ["senders", "aliases", "sent"].forEach(function (name) {
          if (stored[name] && typeof stored[name] === "object") fresh[name] = stored[name];
        });
        if (typeof stored.channel === "string") fresh.channel = stored.channel;
      }
    } catch (_error) {
      // Unreadable or disabled storage: start empty.
    }
    return fresh;
  }

  function saveState() {
    try {
      window.localStorage.setItem(STORAGE_KEY, JSON.stringify(state));
    } catch (_error) {
      // Full or disabled: the conversation still shows until the page is reloaded.
    }
  }

  // --- Who is sending ---

  // How a channel addresses its end users (the registry's addressing, kept on its <option>).
  function kindOf(channel) {
    const option = Array.prototype.find.call(channelEl.options, function (o) {
      return o.value === channel;
    });
    return option && option.dataset.addressing === "phone" ? "phone" : "id";
  }

  // The channel registry's channels (/trial.json), the preferred one first, as the <select>'s options.
  async function loadChannels() {
    const body = await getJson("/trial.json");
    const channels = (body && Array.isArray(body.channels) ? body.channels : []).filter(function (c) {
      return c && typeof c.name === "string" && typeof c.addressing === "string";
    });
    channels.sort(function (a, b) {
      return (b.name === PREFERRED_CHANNEL) - (a.name === PREFERRED_CHANNEL);
    });
    channels.forEach(function (c) {
      const option = document.createElement("option");
      option.value = c.name;
      option.textContent = c.name;
      option.dataset.addressing = c.addressing;
      channelEl.append(option);
    });
  }

  function channel() {
    return channelEl.value;
  }

  function rawSender() {
    return senderEl.value.trim();
  }

  // The canonical address the server will use: what it answered for this input before, else a guess.
  function address() {
    const raw = rawSender();
    const known = state.aliases[channel() + "|" + raw];
    if (typeof known === "string") return known;
    if (kindOf(channel()) === "id") return raw;
    let cleaned = raw.replace(/[\s().\-]/g, "");
    if (cleaned.indexOf("00") === 0) cleaned = "+" + cleaned.slice(2);
    // Bare international digits (as WhatsApp ids come) are a number, as the server reads them.
    if (/^\d+$/.test(cleaned)) cleaned = "+" + cleaned;
    return cleaned;
  }

  function conversationKey() {
    return channel() + "|" + address();
  }

  function showSenderField() {
    const kind = SENDER_KINDS[kindOf(channel())];
    senderLabel.textContent = kind.label;
    senderHint.textContent = kind.hint;
    senderEl.setAttribute("inputmode", kind.inputmode);
    senderEl.placeholder = kind.fallback;
    const remembered = state.senders[kindOf(channel())];
    senderEl.value = typeof remembered === "string" && remembered ? remembered : kind.fallback;
  }

  function rememberSender() {
    state.channel = channel();
    if (rawSender()) state.senders[kindOf(channel())] = rawSender();
    saveState();
  }

  function conversationChanged() {
    rememberSender();
    received = [];
    receivedFor = "";
    clearStatus();
    render();
    refresh();
  }

  // --- HTTP ---

  async function getJson(url) {
    const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error(url + " answered HTTP " + response.status);
    return response.json();
  }

  async function postMo(payload) {
    const controller = new AbortController();
    const timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch("/_local/mo", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
        credentials: "same-origin",
        signal: controller.signal,
      });
      let body = null;
      try {
        body = await response.json();
      } catch (_error) {
        body = null;
      }
      return { status: response.status, body: body };
    } finally {
      clearTimeout(timer);
    }
  }

  // --- Status line ---

  function clearStatus() {
    status.className = "status";
    status.replaceChildren();
  }

  function showError(title, detail, example) {
    status.className = "status is-error";
    const parts = [];
    const titleEl = document.createElement("p");
    titleEl.className = "status-title";
    titleEl.textContent = title;
    parts.push(titleEl);
    if (detail) {
      const detailEl = document.createElement("p");
      detailEl.textContent = detail;
      parts.push(detailEl);
    }
    if (example) {
      const label = document.createElement("p");
      label.textContent = "Example of a valid message:";
      const pre = document.createElement("pre");
      pre.textContent = JSON.stringify(example, null, 2);
      parts.push(label, pre);
    }
    status.replaceChildren.apply(status, parts);
  }

  // --- The conversation ---

  function sentMessages() {
    const found = state.sent[conversationKey()];
    // Stored by an older page or edited by hand: show only what is well-formed.
    return (Array.isArray(found) ? found : []).filter(function (m) {
      return m && typeof m.text === "string" && Number.isFinite(m.at) &&
        (!m.outcome || (typeof m.outcome.text === "string" && /^(ok|error)$/.test(m.outcome.tone)));
    });
  }

  function outcomeOf(result) {
    if (result.status !== 200) {
      return { text: "Not accepted by the entry point (HTTP " + result.status + ")", tone: "error" };
    }
    const answer = result.answer;
    const codes = answer && Array.isArray(answer.outcomes) ? answer.outcomes : [];
    if (!codes.length) return { text: "Accepted", tone: "ok" };
    const labels = codes.map(function (code) {
      const known = OUTCOMES[code];
      return known ? known[0] : String(code);
    });
    const bad = codes.some(function (code) {
      return !OUTCOMES[code] || OUTCOMES[code][1] === "error";
    });
    return { text: labels.join(", "), tone: bad ? "error" : "ok", codes: codes };
  }

  function formatTime(ms) {
    const date = new Date(ms);
    if (!ms || Number.isNaN(date.getTime())) return "";
    try {
      return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    } catch (_error) {
      return date.toISOString();
    }
  }

  function items() {
    const sent = sentMessages().map(function (m) {
      return { side: "sent", id: m.id, text: m.text, at: m.at, outcome: m.outcome, via: m.via };
    });
    const got = receivedFor === conversationKey() ? received : [];
    const all = sent.concat(
      got.map(function (m) {
        return { side: "received", id: m.id, text: m.text, at: m.at, note: m.note, media: m.media };
      }),
    );
    // Oldest first; a reply sorts after the message it answers when both carry the same millisecond.
    return all.sort(function (a, b) {
      return a.at - b.at || (a.side === b.side ? 0 : a.side === "sent" ? -1 : 1);
    });
  }

  // The media a message's richContent carries, as links to open: every `mediaUri` (any letter case, as the gateway
  // reads it) that is an https URL, at most a few. The message's text already says what each is ("[image] …",
  // "WhatsApp template …"); a link is only ever made of an https URL, and its text is the URL itself.
  const MAX_MEDIA_LINKS = 5;

  function mediaLinks(rich) {
    const found = [];
    const stack = [rich];
    while (stack.length && found.length < MAX_MEDIA_LINKS) {
      const node = stack.pop();
      if (Array.isArray(node)) {
        for (let i = node.length - 1; i >= 0; i--) stack.push(node[i]);
      } else if (node && typeof node === "object") {
        Object.keys(node).reverse().forEach(function (key) {
          const value = node[key];
          if (key.toLowerCase() === "mediauri" && typeof value === "string") {
            const url = httpsUrl(value);
            if (url && found.indexOf(url) < 0) found.push(url);
          } else {
            stack.push(value);
          }
        });
      }
    }
    return found;
  }

  function httpsUrl(value) {
    try {
      const url = new URL(value);
      return url.protocol === "https:" && !url.username && !url.password ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function mediaList(urls) {
    const list = document.createElement("ul");
    list.className = "media";
    urls.forEach(function (url) {
      const li = document.createElement("li");
      const link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.referrerPolicy = "no-referrer";
      link.textContent = url;
      li.append("Open media: ", link);
      list.append(li);
    });
    return list;
  }

  function bubble(item) {
    const li = document.createElement("li");
    li.className = "msg msg-" + item.side;
    li.dataset.id = item.id;
    const text = document.createElement("p");
    text.className = "bubble";
    text.textContent = item.text;
    const meta = document.createElement("p");
    meta.className = "meta";
    const time = document.createElement("time");
    time.dateTime = new Date(item.at).toISOString();
    time.textContent = formatTime(item.at);
    if (item.side === "sent") {
      meta.append("You · ", time);
      if (item.via) meta.append(" · via " + (VIAS[item.via] || item.via));
      if (item.outcome) {
        const outcome = document.createElement("span");
        outcome.className = "outcome is-" + item.outcome.tone;
        outcome.textContent = item.outcome.text;
        meta.append(" · ", outcome);
      }
    } else {
      meta.append("Trial company · ", time, " · " + item.note);
    }
    li.append(text);
    if (item.media && item.media.length) li.append(mediaList(item.media));
    li.append(meta);
    return li;
  }

  function render() {
    const kindLabel = kindOf(channel()) === "phone" ? "as " : "as account ";
    subtitle.textContent = channel() + ", " + kindLabel + (address() || "(no sender)");
    const all = items();
    const signature = conversationKey() + "\n" + JSON.stringify(all);
    if (signature === lastRendered) return;
    lastRendered = signature;
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 48;
    list.replaceChildren.apply(list, all.map(bubble));
    empty.hidden = all.length > 0;
    if (nearBottom || all.length && all[all.length - 1].side === "sent") list.scrollTop = list.scrollHeight;
  }

  function refresh() {
    if (refreshing) {
      // One more round once this one ends: it may have started before the latest send.
      again = true;
      return refreshing;
    }
    const key = conversationKey();
    const to = address();
    const wanted = channel();
    if (!to) return Promise.resolve();
    refreshing = RECEIVED.load(wanted, to)
      .then(function (found) {
        // The person may have switched conversation while this was under way.
        if (key !== conversationKey()) return;
        received = found;
        receivedFor = key;
        render();
        return reportRead(found);
      })
      .then(function (reported) {
        // Show the status the report recorded, without waiting for the next poll.
        if (reported) again = true;
      })
      .catch(function () {
        // A stopped stack or a hiccup: the next poll tries again; the send path reports errors.
      })
      .finally(function () {
        refreshing = null;
        if (again) {
          again = false;
          refresh();
        }
      });
    return refreshing;
  }

  // --- Sending ---

  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    sendButton.setAttribute("aria-busy", on ? "true" : "false");
    sendButton.textContent = on ? "Sending…" : "Send";
  }

  async function send() {
    const text = textEl.value;
    if (!text.trim()) {
      showError("Type a message first.");
      textEl.focus();
      return;
    }
    if (!rawSender()) {
      showError("Enter who is sending.", SENDER_KINDS[kindOf(channel())].hint);
      senderEl.focus();
      return;
    }
    rememberSender();
    const payload = { channel: channel(), from: rawSender(), text: text };
    setBusy(true);
    clearStatus();
    // When it left the phone: the replies it causes are queued after this.
    const sentAt = Date.now();
    let result;
    try {
      result = await postMo(payload);
    } catch (error) {
      setBusy(false);
      if (error && error.name === "AbortError") {
        showError("The local stack took too long to answer.", "The message may or may not have arrived.");
      } else {
        showError("The local stack could not be reached.", "Is `make dev` still running?");
      }
      return;
    }
    setBusy(false);
    const body = result.body;
    if (result.status !== 200 || !body || typeof body !== "object") {
      const message = body && typeof body.message === "string" ? body.message : "";
      const title = result.status === 400 ? "The message was not sent." : "The local stack answered HTTP " +
        result.status + ".";
      showError(title, message || "Unexpected answer from /_local/mo.", body && body.example);
      return;
    }
    if (typeof body.from === "string" && body.from) {
      state.aliases[payload.channel + "|" + payload.from] = body.from;
    }
    const key = payload.channel + "|" + (body.from || address());
    const sent = Array.isArray(state.sent[key]) ? state.sent[key] : [];
    sent.push({
      id: String(body.providerMessageId || Date.now()),
      text: text,
      at: sentAt,
      via: typeof body.via === "string" ? body.via : "",
      outcome: outcomeOf({ status: Number(body.status), answer: body.answer }),
    });
    state.sent[key] = sent.slice(-MAX_SENT_PER_CONVERSATION);
    saveState();
    textEl.value = "";
    textEl.focus();
    render();
    refresh();
  }

  // --- Polling: every POLL_MS while the tab is visible ---

  function startPolling() {
    if (pollTimer === null) pollTimer = setInterval(refresh, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) clearInterval(pollTimer);
    pollTimer = null;
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      stopPolling();
    } else {
      refresh();
      startPolling();
    }
  });

  // --- Pre-filled from the link in the key e-mail or the dashboard: #channel=<channel>&text=<trial key> ---

  // The fragment, like the dashboard's, never reaches the server; it is dropped once read, so a reload (or a
  // bookmark) does not type the key again after it was sent.
  function takePrefill() {
    const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (!params.has("channel") && !params.has("text")) return null;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    return { channel: params.get("channel") || "", text: params.get("text") || "" };
  }

  // --- Wiring ---

  whoForm.addEventListener("submit", function (event) {
    event.preventDefault();
    textEl.focus();
  });

  channelEl.addEventListener("change", function () {
    showSenderField();
    conversationChanged();
  });

  senderEl.addEventListener("input", function () {
    clearTimeout(inputTimer);
    inputTimer = setTimeout(conversationChanged, 400);
  });

  senderEl.addEventListener("change", function () {
    clearTimeout(inputTimer);
    conversationChanged();
  });

  compose.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!busy) send();
  });

  textEl.addEventListener("keydown", function (event) {
    // Enter sends, Shift+Enter is a new line (as in chat apps); not while an IME is composing.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (!busy) send();
    }
  });

  document.getElementById("source-note").textContent = RECEIVED.note;
  const prefill = takePrefill();
  loadChannels()
    .catch(function (error) {
      showError("The channels could not be loaded.", String(error && error.message ? error.message : error));
    })
    .then(function () {
      const offered = function (name) {
        return Array.prototype.some.call(channelEl.options, function (o) {
          return o.value === name;
        });
      };
      if (prefill && offered(prefill.channel)) state.channel = prefill.channel;
      if (offered(state.channel)) channelEl.value = state.channel;
      showSenderField();
      if (prefill && prefill.text) {
        textEl.value = prefill.text;
        textEl.focus();
      }
      render();
      refresh();
      if (!document.hidden) startPolling();
    });
})();
