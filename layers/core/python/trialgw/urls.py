"""URLs a developer is given: the gateway, the dashboard and the deep links to the trial company."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

GATEWAY_PATH = "/messaging/messagingtrial/gw/"
# The same send route under production's path: CM's SDKs append `/v1.0/message` to whatever base URL they are given
# (the Node SDK always does), so a client whose base URL is the trial gateway posts here.
GATEWAY_SDK_PATH = f"{GATEWAY_PATH}v1.0/message"
# The trial's expiry, whitelist and remaining quotas, for the key in `X-CM-PRODUCTTOKEN`.
STATUS_PATH = "/messaging/messagingtrial/status"
# A trial's own webhooks on the dashboard API (issue 18's Contract): its URLs, and a new signing secret.
WEBHOOKS_PATH = "/dashboard-api/webhooks"
WEBHOOK_SECRET_PATH = f"{WEBHOOKS_PATH}/secret"
# A test event to the inbound URL, the webhook log, and a logged event's replay (API Gateway's `{param}` syntax).
WEBHOOK_TEST_PATH = f"{WEBHOOKS_PATH}/test"
WEBHOOK_LOG_PATH = "/dashboard-api/webhook-log"
WEBHOOK_REPLAY_PATH = f"{WEBHOOK_LOG_PATH}/{{eventId}}/replay"


def gateway_url(api_url: str) -> str:
    return f"{api_url.rstrip('/')}{GATEWAY_PATH}"


def dashboard_url(site_url: str, key: str) -> str:
    """The trial's own dashboard: the key rides in the fragment, which browsers never send to a server."""
    return f"{site_url.rstrip('/')}/dashboard/#{key}"


def whatsapp_link(number: str, text: str) -> str:
    """A wa.me link that opens WhatsApp with `text` typed to `number` (digits only, as wa.me wants)."""
    digits = "".join(ch for ch in number if ch.isdigit())
    return f"https://wa.me/{digits}?text={quote(text)}"


def sms_link(number: str, text: str) -> str:
    """An sms: link that opens the phone's messages app with `text` to `number`."""
    return f"sms:{number}?body={quote(text)}"


# Page links that take a typed text: Messenger's m.me (`?text=`, documented by Meta). Instagram's ig.me takes only a
# `ref` (letters, digits, - _ =), which reaches the webhook as a referral event rather than a message, so its link
# opens the chat with nothing typed.
TEXT_PAGE_HOSTS = frozenset({"m.me", "www.m.me"})


def page_link(url: str, text: str) -> str:
    """A page's link (Messenger, Instagram) with `text` typed in where the service allows it (m.me), else `url`."""
    parts = urlsplit(url)
    if parts.scheme != "https" or (parts.hostname or "").lower() not in TEXT_PAGE_HOSTS:
        return url
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "text"]
    query.append(("text", text))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def local_phone_link(phone_url: str, channel: str, key: str) -> str:
    """The local stack's simulated phone, opened on `channel` with the key typed in: both ride in the fragment, as the
    dashboard's key does, so the local server's log never holds the key."""
    return f"{phone_url.rstrip('/')}#{urlencode({'channel': channel, 'text': key}, quote_via=quote)}"
