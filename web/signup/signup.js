// Signup page: validates the form, posts it to the API named in /config.json and shows the outcome.
// Text from the server is only ever rendered with textContent (the page runs under a strict CSP).
"use strict";

(function () {
  const REQUEST_TIMEOUT_MS = 20000;
  const EMAIL_PATTERN = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
  const FIELDS = ["name", "email", "company", "consent"];

  const form = document.getElementById("signup-form");
  const button = document.getElementById("submit");
  const buttonLabel = button.querySelector(".button-label");
  const status = document.getElementById("status");
  const done = document.getElementById("done");
  const idleLabel = buttonLabel.textContent;

  let configPromise = null;
  let submitted = false;
  let busy = false;

  function loadConfig() {
    if (!configPromise) {
      configPromise = fetch("/config.json", { cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("config.json answered HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (config) {
          if (!config || typeof config.apiUrl !== "string") {
            throw new Error("config.json has no apiUrl");
          }
          const check = config.wafChallengeScriptUrl;
          return {
            apiUrl: config.apiUrl.replace(/\/+$/, ""),
            // In AWS, sign-up passes WAF's Challenge only with the token its JavaScript integration obtains.
            humanCheckScript: typeof check === "string" && check ? check : null,
          };
        })
        .catch(function (error) {
          // Forget the failure so the next submit tries again.
          configPromise = null;
          throw error;
        });
    }
    return configPromise;
  }

  // --- The human check (AWS WAF Challenge): its SDK wraps fetch and adds the token WAF asks for ---

  let humanCheckPromise = null;

  function loadHumanCheck(scriptUrl) {
    if (!humanCheckPromise) {
      humanCheckPromise = new Promise(function (resolve, reject) {
        const script = document.createElement("script");
        const timer = setTimeout(function () {
          reject(new Error("the human check did not load in time"));
        }, REQUEST_TIMEOUT_MS);
        script.src = scriptUrl;
        script.async = true;
        script.onload = function () {
          clearTimeout(timer);
          const integration = window.AwsWafIntegration;
          if (integration && typeof integration.fetch === "function") {
            resolve(integration);
          } else {
            reject(new Error("the human check script has no fetch"));
          }
        };
        script.onerror = function () {
          clearTimeout(timer);
          reject(new Error("the human check script did not load"));
        };
        document.head.appendChild(script);
      }).catch(function (error) {
        // Forget the failure (and the script) so the next submit tries again.
        humanCheckPromise = null;
        throw error;
      });
    }
    return humanCheckPromise;
  }

  // --- Field validation (convenience only: the server decides) ---

  function input(field) {
    return document.getElementById(field);
  }

  function clientError(field) {
    const el = input(field);
    if (field === "consent") {
      return el.checked ? "" : "Please agree to the trial terms to get a key.";
    }
    const value = el.value.trim();
    if (field === "name") {
      if (!value) return "Enter your name.";
      if (value.length > 100) return "Use at most 100 characters for your name.";
    } else if (field === "email") {
      if (!value) return "Enter your e-mail address.";
      if (value.length > 254 || !EMAIL_PATTERN.test(value)) {
        return "Enter a valid e-mail address, like name@example.com.";
      }
    } else if (field === "company") {
      if (value.length > 100) return "Use at most 100 characters for the company name.";
    }
    return "";
  }

  function setFieldError(field, message) {
    const el = input(field);
    const errorEl = document.getElementById(field + "-error");
    if (!el || !errorEl) return;
    // The message joins the field's description only while it shows.
    const described = (el.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (id) {
      return id && id !== errorEl.id;
    });
    if (message) {
      errorEl.textContent = message;
      errorEl.hidden = false;
      el.setAttribute("aria-invalid", "true");
      described.push(errorEl.id);
    } else {
      errorEl.textContent = "";
      errorEl.hidden = true;
      el.removeAttribute("aria-invalid");
    }
    if (described.length) {
      el.setAttribute("aria-describedby", described.join(" "));
    } else {
      el.removeAttribute("aria-describedby");
    }
  }

  function validateField(field) {
    const message = clientError(field);
    setFieldError(field, message);
    return message;
  }

  function focusField(field) {
    const el = input(field);
    el.focus();
    if (el.scrollIntoView) el.scrollIntoView({ block: "center" });
  }

  // Show server-side field errors; returns the first field (in form order) that has one.
  function showFieldErrors(fields) {
    let first = null;
    FIELDS.forEach(function (field) {
      const message = fields && typeof fields[field] === "string" ? fields[field] : "";
      setFieldError(field, message);
      if (message && !first) first = field;
    });
    return first;
  }

  // --- Outcome messages ---

  function clearStatus() {
    status.className = "status";
    status.replaceChildren();
  }

  function showStatus(kind, title, detail) {
    status.className = "status is-" + kind;
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
    status.replaceChildren.apply(status, parts);
  }

  function showError(title, detail) {
    showStatus("error", title, detail);
  }

  function setBusy(on) {
    busy = on;
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
    form.setAttribute("aria-busy", on ? "true" : "false");
    buttonLabel.textContent = on ? "Sending…" : idleLabel;
  }

  function formatExpiry(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return null;
    try {
      return date.toLocaleString(undefined, {
        weekday: "short",
        day: "numeric",
        month: "short",
        hour: "2-digit",
        minute: "2-digit",
        timeZoneName: "short",
      });
    } catch (_error) {
      return date.toUTCString();
    }
  }

  function minutesFrom(retryAfter) {
    if (!retryAfter) return null;
    let seconds = Number(retryAfter);
    if (!Number.isFinite(seconds)) {
      // Retry-After may also be an HTTP date.
      const when = Date.parse(retryAfter);
      if (Number.isNaN(when)) return null;
      seconds = (when - Date.now()) / 1000;
    }
    return Math.max(1, Math.ceil(seconds / 60));
  }

  function waitText(minutes) {
    if (!minutes) return "Please try again later.";
    if (minutes >= 120) return "Please try again in " + Math.ceil(minutes / 60) + " hours.";
    return "Please try again in " + minutes + (minutes === 1 ? " minute." : " minutes.");
  }

  function showDone(body, fallbackEmail) {
    const email = body && typeof body.email === "string" && body.email ? body.email : fallbackEmail;
    document.getElementById("done-email").textContent = email;
    const expiryEl = document.getElementById("done-expiry");
    const expiry = formatExpiry(body && body.expiresAt);
    if (expiry) {
      expiryEl.textContent = expiry;
      expiryEl.setAttribute("datetime", body.expiresAt);
    } else {
      expiryEl.textContent = "24 hours from now";
      expiryEl.removeAttribute("datetime");
    }
    // Announce briefly; the panel itself carries the details.
    status.className = "status visually-hidden";
    status.textContent = "Sign-up complete. Check your inbox: we sent your trial key to " + email + ".";
    form.hidden = true;
    done.hidden = false;
    document.getElementById("done-title").focus();
  }

  function handleAnswer(response, body, email) {
    const message = body && typeof body.message === "string" ? body.message : "";
    switch (response.status) {
      case 200:
      case 201:
      case 202:
        showDone(body, email);
        return;
      case 422: {
        const first = showFieldErrors(body && body.fields);
        if (first) {
          showError("Please check the highlighted fields.");
          focusField(first);
        } else {
          showError("Please check your details.", message || null);
        }
        return;
      }
      case 400:
      case 403:
      case 415:
        showError("The sign-up could not be processed.", message || "Please check your details and try again.");
        return;
      case 429: {
        // The API says which limit (this address, this network, the whole trial) and how long; WAF's own
        // 429 says nothing, so the wait comes from Retry-After when there is no message.
        const minutes = minutesFrom(response.headers.get("Retry-After")) ||
          minutesFrom(body && body.retryAfter);
        showError("Sign-up limit reached.", message || waitText(minutes));
        return;
      }
      case 503:
        showError(
          "Sign-up is temporarily unavailable.",
          "Nothing was lost on your side. Please try again in a few moments.",
        );
        return;
      default:
        showError(
          "Something went wrong on our side.",
          "The sign-up service answered with an unexpected error (HTTP " + response.status +
            "). Please try again in a few moments.",
        );
    }
  }

  async function submit() {
    const payload = {
      name: input("name").value.trim(),
      email: input("email").value.trim(),
      consent: input("consent").checked,
    };
    const company = input("company").value.trim();
    if (company) payload.company = company;

    setBusy(true);
    showStatus("info", "Sending your sign-up…");

    let config;
    try {
      config = await loadConfig();
    } catch (_error) {
      setBusy(false);
      showError(
        "The sign-up service could not be reached.",
        "Check your connection, reload the page and try again.",
      );
      return;
    }
    let post = window.fetch.bind(window);
    if (config.humanCheckScript) {
      try {
        const integration = await loadHumanCheck(config.humanCheckScript);
        post = integration.fetch.bind(integration);
      } catch (_error) {
        setBusy(false);
        showError(
          "The sign-up check could not be loaded.",
          "It keeps robots from signing up. Check your connection (and any content blocker), then try again.",
        );
        return;
      }
    }

    const controller = new AbortController();
    const timer = setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS);
    let response;
    try {
      response = await post(config.apiUrl + "/signup", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
        credentials: "omit",
        signal: controller.signal,
      });
    } catch (error) {
      clearTimeout(timer);
      setBusy(false);
      if (error && error.name === "AbortError") {
        showError("The sign-up service took too long to answer.", "Please try again in a moment.");
      } else {
        showError(
          "The sign-up service could not be reached.",
          "Check your internet connection and try again.",
        );
      }
      return;
    }
    clearTimeout(timer);

    let body = null;
    try {
      body = await response.json();
    } catch (_error) {
      body = null;
    }
    setBusy(false);
    handleAnswer(response, body, payload.email);
  }

  // --- Wiring ---

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy) return;
    submitted = true;
    let first = null;
    FIELDS.forEach(function (field) {
      if (validateField(field) && !first) first = field;
    });
    if (first) {
      showError("Please check the highlighted fields.");
      focusField(first);
      return;
    }
    submit();
  });

  FIELDS.forEach(function (field) {
    const el = input(field);
    el.addEventListener("input", function () {
      el.dataset.dirty = "true";
      // Once a message shows, keep it in step with what the user types.
      if (el.getAttribute("aria-invalid") === "true") validateField(field);
    });
    el.addEventListener("change", function () {
      el.dataset.dirty = "true";
      if (field === "consent" || el.getAttribute("aria-invalid") === "true") validateField(field);
    });
    el.addEventListener("blur", function () {
      // Tabbing through an untouched form stays quiet; after a submit attempt every field is checked.
      if (submitted || el.dataset.dirty === "true") validateField(field);
    });
  });

  document.getElementById("again").addEventListener("click", function () {
    done.hidden = true;
    form.hidden = false;
    clearStatus();
    submitted = false;
    input("email").focus();
    input("email").select();
  });

  // --- The limits: the page's text is the default rules; /trial.json has the ones this trial configures ---

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  function setText(id, text) {
    const node = document.getElementById(id);
    if (node && typeof text === "string") node.textContent = text;
  }

  // "A, B and C" (or "A, B or C"), as nodes: `wrap` makes each name's node.
  function listed(names, conjunction, wrap) {
    const nodes = [];
    names.forEach(function (name, index) {
      if (index > 0) nodes.push(index === names.length - 1 ? " " + conjunction + " " : ", ");
      nodes.push(wrap(name));
    });
    return nodes;
  }

  function either(names) {
    return listed(names, "and", String).join("");
  }

  function renderChannels(channels) {
    if (!Array.isArray(channels) || !channels.length) return;
    const shorts = channels.map(function (c) {
      return String(c.short);
    });
    const intro = document.getElementById("rule-channels");
    if (intro) {
      intro.replaceChildren.apply(intro, listed(shorts, "and", function (name) {
        return element("strong", name);
      }));
    }
    // Where to whitelist from: channels with numbers by region (SMS) last, as in the e-mail.
    const ordered = channels.filter(function (c) {
      return !c.regional;
    }).concat(channels.filter(function (c) {
      return c.regional;
    }));
    setText("rule-whitelist-channels", listed(ordered.map(function (c) {
      return String(c.short);
    }), "or", String).join(""));
  }

  // "<strong>10 messages</strong> each on SMS and WhatsApp, <strong>30</strong> on each other channel."
  function renderQuotas(groups) {
    const item = document.getElementById("rule-quotas");
    if (!item || !Array.isArray(groups) || !groups.length) return;
    const nodes = [];
    groups.forEach(function (group, index) {
      const quota = Number(group.quota) || 0;
      const names = Array.isArray(group.channels) ? group.channels.map(String) : [];
      if (index > 0) nodes.push(", ");
      nodes.push(element("strong", index === 0 ? plural(quota, "message") : String(quota)));
      if (group.shared) nodes.push(" on each other channel");
      else nodes.push((names.length > 1 ? " each on " : " on ") + either(names));
    });
    nodes.push(".");
    item.replaceChildren.apply(item, nodes);
  }

  function element(tag, text) {
    const node = document.createElement(tag);
    node.textContent = text;
    return node;
  }

  function showRules(rules) {
    if (!rules || typeof rules !== "object") return;
    if (typeof rules.lifetime === "string") {
      document.querySelectorAll("[data-rule=lifetime]").forEach(function (node) {
        // The title keeps "24 hours" on one line.
        node.textContent = node.hasAttribute("data-nbsp") ? rules.lifetime.replace(/ /g, "\u00a0") : rules.lifetime;
      });
    }
    renderChannels(rules.channels);
    if (Number.isFinite(rules.maxRecipients)) setText("rule-recipients", plural(rules.maxRecipients, "recipient"));
    renderQuotas(rules.quotaGroups);
    const sms = rules.sms;
    if (sms && Number.isFinite(sms.maxParts)) {
      setText("rule-sms-parts", plural(sms.maxParts, "part"));
      setText("rule-sms-chars", sms.gsm7Chars + " plain or " + sms.unicodeChars + " Unicode characters");
    }
  }

  fetch("/trial.json", { cache: "no-store", credentials: "same-origin" })
    .then(function (response) {
      return response.ok ? response.json() : null;
    })
    .then(showRules)
    .catch(function () {
      // The page's own text stays: the default rules.
    });

  loadConfig()
    .then(function (config) {
      // Loaded early, so the human check has its token by the time the form is sent.
      if (config.humanCheckScript) return loadHumanCheck(config.humanCheckScript);
      return null;
    })
    .catch(function () {
      // Reported when the user submits; the submit retries the load.
    });
  setBusy(false);
})();
