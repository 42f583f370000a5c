// The local webhook receiver's page (local stack only): what arrived at /_local/receiver/<name>, newest first.
//
// Everything shown came from whoever posted it (a trial's webhooks, or anyone on this machine): rendered as text
// only (textContent), never as markup. The signing secret pasted here stays in this page: the signature is checked
// with WebCrypto's HMAC-SHA256 over "<X-Trial-Timestamp>.<raw body>", as the README tells a receiver to.
"use strict";

(function () {
  const POLL_MS = 3000;
  const $ = function (id) {
    return document.getElementById(id);
  };
  let last = [];
  let timer = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function header(request, name) {
    const wanted = name.toLowerCase();
    const found = (request.headers || []).find(function (pair) {
      return String(pair[0]).toLowerCase() === wanted;
    });
    return found ? String(found[1]) : null;
  }

  function bytesOf(base64) {
    const raw = atob(base64 || "");
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i += 1) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer))
      .map(function (b) {
        return b.toString(16).padStart(2, "0");
      })
      .join("");
  }

  // "valid", "invalid", "unsigned", "no secret", "cut" (the body was cut: its signature cannot be checked) or
  // "unavailable" (no WebCrypto here).
  async function verdict(request, secret) {
    const signature = header(request, "X-Trial-Signature");
    const timestamp = header(request, "X-Trial-Timestamp");
    if (!signature || !timestamp) return "unsigned";
    if (!secret) return "no secret";
    if (request.truncated) return "cut";
    if (!window.crypto || !window.crypto.subtle) return "unavailable";
    const encoder = new TextEncoder();
    const key = await crypto.subtle.importKey(
      "raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const prefix = encoder.encode(timestamp.trim() + ".");
    const body = bytesOf(request.bodyBase64);
    const message = new Uint8Array(prefix.length + body.length);
    message.set(prefix, 0);
    message.set(body, prefix.length);
    const expected = "sha256=" + hex(await crypto.subtle.sign("HMAC", key, message));
    return expected === signature.trim() ? "valid" : "invalid";
  }

  const VERDICTS = {
    valid: ["Signature valid", "is-ok"],
    invalid: ["Signature does NOT match this secret", "is-bad"],
    unsigned: ["Unsigned (the trial has no signing secret yet)", "is-unknown"],
    "no secret": ["Signed: paste the secret above to check it", "is-unknown"],
    cut: ["Signed, but the body was cut at 64 KiB: not checkable here", "is-unknown"],
    unavailable: ["Signed: this browser cannot check it (no WebCrypto)", "is-unknown"],
  };

  function pretty(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (_error) {
      return text;
    }
  }

  async function render(requests) {
    const secret = $("secret").value.trim();
    const items = await Promise.all(requests.map(async function (request) {
      const item = el("li", "request");
      item.dataset.requestId = String(request.id);
      const head = el("p", "request-head");
      head.append(
        el("span", null, "#" + request.id),
        el("span", "request-name", "/_local/receiver/" + String(request.name)),
        el("span", null, String(request.at)),
        el("span", "request-kind", String(request.kind || "(no X-Trial-Event-Kind)")),
        el("span", "request-event", String(request.eventId || "")),
        el("span", null, "answered " + request.answered),
      );
      let result;
      try {
        result = await verdict(request, secret);
      } catch (_error) {
        result = "unavailable";
      }
      const shown = VERDICTS[result];
      const verdictLine = el("p", "verdict " + shown[1], shown[0]);
      verdictLine.dataset.verdict = result;
      const headers = el("details", "headers");
      headers.append(el("summary", null, "Headers"));
      const list = el("pre", null, (request.headers || []).map(function (pair) {
        return String(pair[0]) + ": " + String(pair[1]);
      }).join("\n"));
      headers.append(list);
      const body = el("pre", "request-body", pretty(String(request.body || "")));
      item.append(head, verdictLine, headers, body);
      if (request.truncated) item.append(el("p", "hint", "Body cut at 64 KiB (" + request.size + " bytes arrived)."));
      return item;
    }));
    $("requests").replaceChildren.apply($("requests"), items);
    $("empty").hidden = requests.length > 0;
  }

  async function load() {
    clearTimeout(timer);
    try {
      const response = await fetch("/_local/receiver/requests.json", { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      last = Array.isArray(data.requests) ? data.requests : [];
      await render(last);
      $("status").textContent = last.length + " call(s) kept (the last 200).";
    } catch (_error) {
      $("status").textContent = "The list could not be read; retrying.";
    }
    timer = setTimeout(load, POLL_MS);
  }

  $("inbound-url").textContent = window.location.origin + "/_local/receiver/inbound";
  $("refresh").addEventListener("click", load);
  $("secret").addEventListener("input", function () {
    render(last);
  });
  $("secret-form").addEventListener("submit", function (event) {
    event.preventDefault();
  });
  load();
})();
