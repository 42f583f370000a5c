"""The `meta` provider's delivery: WhatsApp Cloud API, Messenger Send API and Instagram messaging through Meta's
Graph API.

Endpoints (all `POST`, `Authorization: Bearer <token>`, JSON):

- WhatsApp: `{graph}/{whatsapp_phone_number_id}/messages` with `messaging_product: whatsapp`, `recipient_type:
  individual`, `to` (digits, no `+`), `type: text`, `text: {preview_url: false, body}`.
- Messenger: `{graph}/{messenger_page_id}/messages` with `recipient.id` (PSID), `messaging_type: RESPONSE`,
  `message.text`.
- Instagram: `{graph}/{instagram_account_id}/messages` with `recipient.id` (IGSID), `message.text`.

A missing Page or Instagram account id sends to `{graph}/me/messages`, which Meta resolves to the owner of the
token. Messenger uses `RESPONSE`: the trial only ever talks to people who wrote to the trial company first, inside
the 24-hour standard messaging window; outside it Meta refuses (code 10 / subcode 2018278 → permanent).

CM's `richContent` (already checked for its channel by the gateway) is mapped by `trialgw.providers.meta.rich`:
templates, interactive messages, media, location and contacts on WhatsApp, reply suggestions as buttons or quick
replies, rich cards as generic templates on Messenger and Instagram. What has no faithful mapping (several items
in one message, suggestions Meta has no button for) fails permanently with code `rich_content` and says why,
never half-translated.

Graph errors → `DeliveryFailed`, decided in this order (Meta says to branch on `error.code`, not on HTTP status):

1. code 10 with subcode 2018278 / 2018108 (outside the Messenger/Instagram window) → permanent.
2. permanent codes (`_PERMANENT`, 200–299, 132xxx): 131047 outside the 24-hour window, 131026 undeliverable,
   131048 spam rate limit, 131049 Meta chose not to deliver, 100 invalid parameter, 190 access token expired or
   invalid (waiting won't renew it; the operator must), 10 / 200–299 permissions, 102 session, 368 policy block,
   551 user unavailable, 131005 / 131008 / 131009 / 131021 / 131031 / 131042 / 131051, 133010, 132xxx templates.
3. transient codes (`_TRANSIENT`): 130429 throughput, 131056 pair rate, 80007 / 4 / 17 / 32 / 613 rate limits,
   1 / 2 temporary, 131000 something went wrong, 131016 service unavailable, 131057 maintenance, 133004 server
   unavailable, 1200 Messenger temporary failure.
4. `error.is_transient: true` → transient.
5. HTTP 408, 429 or 5xx (also when the body is not Graph JSON) → transient; any other non-2xx → permanent.
6. No answer: timeout, connection or TLS error (urllib3) → transient.

`DeliveryFailed.code` is Meta's `error.code` as a string, `http_<status>` without one, `network` without an answer,
`config` / `channel` / `token_source` for our own refusals.

A timeout after the request was sent is ambiguous (Meta may have taken it); it is still transient, as the port
says, because losing an accepted message is worse than the rare duplicate. A 2xx with an unreadable body counts
as delivered (Meta took it; retrying would send twice) with no provider message id.

The access token comes from `token_source` on every call (so a rotated secret takes effect without a cold start) and
only ever goes into the `Authorization` header; error texts are scrubbed of it before they reach `reason`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

from trialgw import budgets
from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.masking import MaskRule, mask_reason
from trialgw.providers.meta.rich import send_api_message, whatsapp_body
from trialgw.providers.port import Delivered, DeliveryFailed, ProviderName

if TYPE_CHECKING:
    from urllib3 import PoolManager

# Graph error codes whose retry cannot succeed: the message, recipient, window or credentials are wrong.
_PERMANENT: dict[int, str] = {
    131047: "outside WhatsApp's 24-hour customer-service window (a template would be needed)",
    131026: "undeliverable: the number is not on WhatsApp or cannot receive this message",
    131048: "WhatsApp spam rate limit: sending stopped for quality reasons",
    131049: "Meta chose not to deliver this message",
    131005: "access denied by Meta",
    131008: "a required parameter is missing",
    131009: "a parameter value is invalid",
    131021: "the recipient cannot be the sender",
    131031: "the business account is locked",
    131042: "a payment problem on the business account",
    131051: "unsupported message type",
    133010: "the business phone number is not registered",
    100: "invalid parameter",
    102: "the API session is invalid",
    190: "Meta rejected the access token (expired or invalid); the operator must renew it",
    10: "the app lacks permission for this message",
    368: "temporarily blocked for a policy violation",
    551: "this person isn't available to receive messages",
}
# Graph error codes that say "later": rate limits and Meta-side trouble.
_TRANSIENT: dict[int, str] = {
    130429: "WhatsApp throughput limit reached",
    131056: "too many messages to this recipient in a short time (pair rate limit)",
    80007: "WhatsApp Business account rate limit reached",
    4: "app rate limit reached",
    17: "user rate limit reached",
    32: "Page rate limit reached",
    613: "rate limit reached",
    1: "unknown Graph API error",
    2: "temporary Graph API service problem",
    131000: "something went wrong at Meta",
    131016: "Meta's service is temporarily unavailable",
    131057: "the business account is in maintenance mode",
    133004: "Meta's server is temporarily unavailable",
    1200: "temporary send failure at Meta",
}
# Messenger/Instagram subcodes (under code 10) for a message outside the allowed window.
_WINDOW_SUBCODES = frozenset({2018278, 2018108})
_TRANSIENT_HTTP = frozenset({408, 429})
# Meta access tokens look like EAA… (page/system-user) or IG… (Instagram Login); scrub lookalikes too.
META_MASKING = MaskRule(tokens=re.compile(r"\b(?:EAA|IG)[A-Za-z0-9_\-]{16,}"))


class MetaProvider:
    """Delivers text to WhatsApp, Messenger or Instagram from the trial company's number, Page or account."""

    name = ProviderName.META

    def __init__(  # noqa: PLR0917 - the delivery factory's positional contract
        self,
        graph_url: str,
        whatsapp_phone_number_id: str | None,
        messenger_page_id: str | None,
        instagram_account_id: str | None,
        token_source: Callable[[Channel], str | None],
        timeout_seconds: float,
        http: PoolManager | None = None,
    ) -> None:
        self._graph_url = graph_url.rstrip("/")
        self._whatsapp_phone_number_id = whatsapp_phone_number_id
        self._messenger_page_id = messenger_page_id
        self._instagram_account_id = instagram_account_id
        self._token_source = token_source
        self._timeout_seconds = timeout_seconds
        # Built on first use and kept: the instance lives across warm invocations, so connections are reused.
        self._http = http

    def deliver(self, message: OutboundMessage) -> Delivered:
        """POSTs the message to the channel's Graph endpoint; raises DeliveryFailed (see the module's table)."""
        url, body = self._request(message)
        token = self._token(message.channel)
        status, data = self._post(url, body, token)
        if 200 <= status < 300:
            return Delivered(ProviderName.META, _provider_message_id(message.channel, data))
        raise _graph_failure(status, data, token)

    def _request(self, message: OutboundMessage) -> tuple[str, dict[str, object]]:
        if message.channel is Channel.WHATSAPP:
            if not self._whatsapp_phone_number_id:
                raise DeliveryFailed("WhatsApp phone number id is not configured", transient=False, code="config")
            # WhatsApp ids are digits; the gateway keeps E.164 with '+', which Meta also accepts, but wa_id has none.
            to = message.to.removeprefix("+")
            body: dict[str, object] = {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"preview_url": False, "body": message.text},
            }
            if message.rich_content is not None:
                body = whatsapp_body(to, message.text, message.rich_content)
            return self._endpoint(self._whatsapp_phone_number_id), body
        content: dict[str, object] = {"text": message.text}
        if message.rich_content is not None:
            content = send_api_message(message.text, message.rich_content)
        if message.channel is Channel.MESSENGER:
            body = {"recipient": {"id": message.to}, "messaging_type": "RESPONSE", "message": content}
            return self._endpoint(self._messenger_page_id or "me"), body
        if message.channel is Channel.INSTAGRAM:
            body = {"recipient": {"id": message.to}, "message": content}
            return self._endpoint(self._instagram_account_id or "me"), body
        raise DeliveryFailed(
            f"the meta provider does not carry {message.channel.value}", transient=False, code="channel"
        )

    def _endpoint(self, node: str) -> str:
        return f"{self._graph_url}/{quote(node, safe='')}/messages"

    def _token(self, channel: Channel) -> str:
        try:
            token = self._token_source(channel)
        except Exception as exc:
            # The secret store's error may quote the secret's payload; say only what kind of failure it was.
            raise DeliveryFailed(
                f"could not read the {channel.short_name} access token ({type(exc).__name__})",
                transient=True,
                code="token_source",
            ) from None
        if not token:
            raise DeliveryFailed(f"no {channel.short_name} access token is configured", transient=False, code="config")
        return token

    def _pool(self) -> PoolManager:
        if self._http is None:
            import urllib3

            # One pool per provider instance; a few connections are plenty for one Lambda's batch.
            self._http = urllib3.PoolManager(num_pools=4, maxsize=4, block=False)
        return self._http

    def _post(self, url: str, body: dict[str, object], token: str) -> tuple[int, object]:
        import urllib3
        from urllib3.exceptions import HTTPError

        # The time budget's figures (trialgw.budgets.provider_worst_seconds): each try within the timeout in total,
        # so a failed connection and the retried request take at most META_CONNECT_SECONDS + the timeout.
        connect = min(self._timeout_seconds, budgets.META_CONNECT_SECONDS)
        timeout = urllib3.Timeout(total=self._timeout_seconds, connect=connect, read=self._timeout_seconds)
        # A connect failure never reached Meta, so one retry is safe; a read failure might have sent: no retry here.
        retries = urllib3.Retry(total=1, connect=1, read=0, status=0, other=0, redirect=0, raise_on_redirect=False)
        try:
            response = self._pool().request(
                "POST",
                url,
                body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                },
                timeout=timeout,
                retries=retries,
            )
        except HTTPError as exc:
            # urllib3's texts carry the URL (ids, no token); keep only the kind of failure anyway.
            raise DeliveryFailed(
                f"Meta Graph API {_failure_kind(exc)} ({type(exc).__name__})", transient=True, code="network"
            ) from None
        try:
            data: object = json.loads(response.data.decode("utf-8")) if response.data else None
        except (UnicodeDecodeError, ValueError):
            data = None
        return response.status, data


def _failure_kind(exc: BaseException) -> str:
    from urllib3.exceptions import NewConnectionError, TimeoutError

    # urllib3 wraps the cause in MaxRetryError.reason; NewConnectionError subclasses its timeout error: test it first.
    seen: BaseException | None = exc
    for _ in range(8):  # a short walk suffices and cannot loop
        if seen is None or isinstance(seen, NewConnectionError):
            break
        if isinstance(seen, TimeoutError):
            return "timed out"
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__cause__
    return "could not be reached"


def _provider_message_id(channel: Channel, data: object) -> str | None:
    if not isinstance(data, Mapping):
        return None
    if channel is Channel.WHATSAPP:
        messages = data.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], Mapping):
            wamid = messages[0].get("id")
            return wamid if isinstance(wamid, str) and wamid else None
        return None
    mid = data.get("message_id")
    return mid if isinstance(mid, str) and mid else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _scrub(text: str, token: str | None = None) -> str:
    """Meta's own wording, without anything secret or personal, short enough for a dashboard line."""
    return mask_reason(text, META_MASKING, secret=token)


def _permanent_range(code: int) -> bool:
    # 200–299: missing permissions; 132xxx: template errors. Neither heals by waiting.
    return 200 <= code < 300 or 132000 <= code < 133000


def classify_graph_error(http_status: int, code: int | None, subcode: int | None, is_transient: bool) -> bool:
    """True when a Graph error is worth retrying; the module's table, in order."""
    if code == 10 and subcode in _WINDOW_SUBCODES:
        return False
    if code is not None and (code in _PERMANENT or _permanent_range(code)):
        return False
    if code is not None and code in _TRANSIENT:
        return True
    if is_transient:
        return True
    return http_status in _TRANSIENT_HTTP or http_status >= 500


def _describe(code: int | None, subcode: int | None, title: str, details: str) -> str:
    if code == 10 and subcode in _WINDOW_SUBCODES:
        known: str | None = "outside the 24-hour messaging window"
    elif code is not None:
        known = _PERMANENT.get(code) or _TRANSIENT.get(code)
        if known is None and 132000 <= code < 133000:
            known = "template error"
        elif known is None and 200 <= code < 300:
            known = "the app lacks a permission"
    else:
        known = None
    parts = [p for p in (known, title, details) if p]
    # Keep Meta's wording when it adds something to our own text.
    unique = list(dict.fromkeys(parts))
    return "; ".join(unique) or "error"


def _graph_failure(status: int, data: object, token: str) -> DeliveryFailed:
    error = data.get("error") if isinstance(data, Mapping) else None
    if not isinstance(error, Mapping):
        transient = status in _TRANSIENT_HTTP or status >= 500
        return DeliveryFailed(f"Meta Graph API answered HTTP {status}", transient=transient, code=f"http_{status}")
    code = _int(error.get("code"))
    subcode = _int(error.get("error_subcode"))
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, Mapping) else None
    message = error.get("message")
    title = _scrub(message, token) if isinstance(message, str) else ""
    detail_text = _scrub(details, token) if isinstance(details, str) else ""
    transient = classify_graph_error(status, code, subcode, error.get("is_transient") is True)
    label = "Meta error" if code is None else f"Meta error {code}" + (f"/{subcode}" if subcode is not None else "")
    reason = f"{label} (HTTP {status}): {_describe(code, subcode, title, detail_text)}"
    return DeliveryFailed(reason, transient=transient, code=str(code) if code is not None else f"http_{status}")
