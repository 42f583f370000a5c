"""The CM provider: hands a message to CM's Business Messaging JSON API, and reads CM's JSON status reports.

Request (reference §1): `POST {gateway_url}` with the operator's product token in the `X-CM-PRODUCTTOKEN` header
(CM's recommended way; it keeps the token out of the body, which we might otherwise log), one `msg` with one
recipient, `allowedChannels` [the channel] (no fallback to other channels), `reference` = our message id (a
32-hex uuid, within CM's 1–32 alphanumerics, so status reports come back with it), `body.type` `auto`, the
trial company's `from` for the channel (for SMS the developer's validated `from` unless the operator fixed one),
`richContent` passed through, and SMS part bounds 1–8 (without them a two-part trial SMS may be refused).
Phone numbers go as CM asks: `00` + digits, no `+`. Messenger and Instagram ids go as they are.

HTTP: urllib3, one PoolManager per adapter, built at the first delivery (connections are reused across Lambda
invocations), no automatic retries and no redirects (SQS does the retrying; a redirect could carry the token
elsewhere), a total timeout per request, at most 64 KiB of answer read.

How an answer maps to the port (reference §2; "code" is `DeliveryFailed.code`):

| answer | outcome (code) | note |
|---|---|---|
| HTTP 2xx, `errorCode` 0 or absent, the message `Accepted` | Delivered, id None | 1 |
| timeout, connection error, TLS error | transient (`timeout`, `connection`) | 2 |
| HTTP 408, 425, 429, 5xx, whatever the body | transient (CM code or `http-<status>`) | 3 |
| HTTP 2xx with a body that is not CM's JSON | transient (`999`) | 4 |
| 101 authentication failed, 102 balance insufficient, 103 product token incorrect | transient | 5 |
| HTTP 401 / 403 without a CM code | transient (`http-401`, `http-403`) | 5 |
| 201 without a per-message code | permanent | 6 |
| 202 request malformed, 203 `msg` incorrect | permanent | 7 |
| 301 `from`, 302 `to`, 303 MSISDN, 304 body, 305 other field | permanent | 8 |
| 401 spam, 402 blacklisted, 403 rejected | permanent | 8 |
| 500 internal error, 999 unknown error | transient | 9 |
| any other CM code | permanent | 10 |
| any other HTTP status without a code (3xx, other 4xx) | permanent (`http-<status>`) | |

1. CM's answer carries no id of its own; status reports carry our `reference`.
2. Nothing reached CM, or CM did not answer; a retry may duplicate a message CM did take (at-least-once, as
   with every HTTP provider).
3. CM or its CDN is busy or broken.
4. What CM's PHP SDK calls 999 (unknown): CM may not have taken it.
5. The operator's account, not the message: a rotated token or a top-up within the retry window saves it, and
   after the last attempt the record is marked failed anyway. CM's own text is left out (it might echo the token).
6. CM refused the message and said no more.
7. Our request is wrong; the same bytes would fail again.
8. This message is invalid, or CM or the operator refuses it.
9. CM says the fault is its own.
10. Unknown to us; retrying blindly could spam.

A per-message code (`messages[0].messageErrorCode`) wins over the request's `errorCode` (201 says only "see the
messages"). Reasons quote CM's `details`/`messageDetails` shortened, with long digit runs (phone numbers)
masked; the product token never appears in a reason, a log or a repr.

CM's status reports are read by `trialgw.providers.cm.status`; its MO webhook by `trialgw.providers.cm.inbound`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from trialgw.channels import is_phone
from trialgw.json_input import lookup
from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.cm._values import as_int as _as_int
from trialgw.providers.cm._values import as_text as _as_text
from trialgw.providers.cm._values import scrub as _scrub
from trialgw.providers.port import Delivered, DeliveryFailed, ProviderName, SmsSenders, trial_sender

if TYPE_CHECKING:
    from urllib3 import BaseHTTPResponse, PoolManager

DEFAULT_GATEWAY_URL = "https://gw.messaging.cm.com/v1.0/message"
TOKEN_HEADER = "X-CM-PRODUCTTOKEN"  # noqa: S105 - a header name, not a secret
# Tags our messages in CM's messaging log, as CM's SDKs tag theirs.
CUSTOM_GROUPING = "trialgw"
SMS_MIN_PARTS = 1
SMS_MAX_PARTS = 8
# CM's answers are a few hundred bytes; more is not CM, and reading it all would only cost time and memory.
_MAX_RESPONSE_BYTES = 64 * 1024
# A header value must be printable ASCII without spaces; anything else would make http.client quote it in an error.
_TOKEN_SHAPE = re.compile(r"[!-~]{1,200}")

_ACCOUNT_CODES = frozenset({101, 102, 103})
_TRANSIENT_CODES = _ACCOUNT_CODES | {500, 999}
_TRANSIENT_HTTP = frozenset({408, 425, 429})
_ACCOUNT_HTTP = frozenset({401, 403})
_CODE_REASONS: dict[int, str] = {
    101: "CM refused the operator's credentials",
    102: "The operator's CM account has insufficient balance",
    103: "CM refused the operator's product token",
    201: "CM rejected the message",
    202: "CM found the request malformed",
    203: "CM found the message list malformed",
    301: "CM rejected the sender (from)",
    302: "CM rejected the recipient (to)",
    303: "CM rejected the recipient's number",
    304: "CM rejected the message body",
    305: "CM rejected a field of the message",
    401: "CM filtered the message as spam",
    402: "The recipient is blacklisted at CM",
    403: "CM or the operator rejected the message",
    500: "CM had an internal error",
    999: "CM had an unknown error",
}


def cm_number(channel: Channel, to: str) -> str:
    """The recipient as CM wants it: `00` + digits for phone channels (`+31…` → `0031…`), an id unchanged."""
    if is_phone(channel) and to.startswith("+"):
        return "00" + to[1:]
    return to


def build_cm_request(message: OutboundMessage, sender: str) -> dict[str, object]:
    """CM's send JSON for one message to one recipient on exactly its channel (see the module docstring)."""
    msg: dict[str, object] = {
        "from": sender,
        "to": [{"number": cm_number(message.channel, message.to)}],
        "body": {"type": "auto", "content": message.text},
        "reference": message.message_id,
        "allowedChannels": [message.channel.value],
        "customGrouping3": CUSTOM_GROUPING,
    }
    if message.channel is Channel.SMS:
        msg["minimumNumberOfMessageParts"] = SMS_MIN_PARTS
        msg["maximumNumberOfMessageParts"] = SMS_MAX_PARTS
    if message.rich_content is not None:
        msg["richContent"] = message.rich_content
    return {"messages": {"msg": [msg]}}


def _failure(code: int | None, http_status: int, cm_text: str | None, token: str | None) -> DeliveryFailed:
    """The DeliveryFailed for a CM answer that is not an acceptance (the table in the module docstring)."""
    server_trouble = http_status in _TRANSIENT_HTTP or http_status >= 500
    if code is None:
        transient = server_trouble or http_status in _ACCOUNT_HTTP
        if http_status in _ACCOUNT_HTTP:
            summary = "CM refused the operator's credentials"
        else:
            summary = f"CM answered HTTP {http_status}"
        return DeliveryFailed(summary, transient=transient, code=f"http-{http_status}")
    transient = server_trouble or code in _TRANSIENT_CODES
    summary = _CODE_REASONS.get(code, f"CM refused the message with error code {code}")
    # CM's text for an account problem is left out: it concerns the token and might quote it.
    if cm_text and code not in _ACCOUNT_CODES:
        summary = f"{summary}: {_scrub(cm_text, token)}"
    return DeliveryFailed(summary, transient=transient, code=str(code))


def _first_message(payload: Mapping[str, object]) -> Mapping[str, object]:
    messages = lookup(payload, "messages", ignore_case=True)
    if isinstance(messages, list) and messages and isinstance(messages[0], dict):
        return messages[0]
    return {}


def interpret_cm_response(http_status: int, body: bytes, *, token: str | None = None) -> str | None:
    """The provider message id of an accepted message (CM gives none: always None), or raises DeliveryFailed.

    `token` is only used to make sure it never appears in a reason, whatever CM writes back.
    """
    try:
        payload: object = json.loads(body)
    except ValueError:
        payload = None
    success = 200 <= http_status < 300
    error_code = _as_int(lookup(payload, "errorCode", ignore_case=True)) if isinstance(payload, dict) else None
    first = _first_message(payload) if isinstance(payload, dict) else {}
    status = (_as_text(lookup(first, "status", ignore_case=True)) or "").casefold()
    # Older answers lack `errorCode`; an answer with neither a code nor a message status is not CM's.
    if not isinstance(payload, dict) or (error_code is None and not status):
        if success:
            raise DeliveryFailed(f"CM answered HTTP {http_status} without CM's JSON", transient=True, code="999")
        raise _failure(None, http_status, None, token)
    message_code = _as_int(lookup(first, "messageErrorCode", ignore_case=True))
    rejected = status == "rejected"
    # One message to one recipient: its own status decides, even when the request-level code says "some failed".
    if success and not message_code and not rejected and (not error_code or status == "accepted"):
        return None
    code = message_code or error_code or None
    if code is None and rejected:
        # Rejected without a code: the request-level 201 is what CM means by it.
        code = 201
    cm_text = _as_text(lookup(first, "messageDetails", ignore_case=True)) if message_code else None
    cm_text = cm_text or _as_text(lookup(payload, "details", ignore_case=True))
    raise _failure(code, http_status, cm_text, token)


class CmProvider:
    """A `Provider` that sends through CM's Business Messaging API (see the module docstring)."""

    name = ProviderName.CM

    def __init__(
        self,
        product_token_source: Callable[[], str | None],
        gateway_url: str = DEFAULT_GATEWAY_URL,
        senders: Mapping[str, str] | None = None,
        timeout_seconds: float = 5.0,
        http: PoolManager | None = None,
        *,
        sms_senders: SmsSenders,
    ) -> None:
        if not gateway_url.startswith(("https://", "http://")):
            raise ValueError("gateway_url must be an http(s) URL")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        self._token_source = product_token_source
        self._url = gateway_url
        self._senders = dict(senders or {})
        self._timeout = timeout_seconds
        self._sms_senders = sms_senders
        self._http = http
        self._http_lock = threading.Lock()

    def __repr__(self) -> str:
        # Never the token (it is not even held here), nor the senders' full list of accounts.
        return f"CmProvider(gateway_url={self._url!r}, channels={sorted(self._senders)!r})"

    def _pool(self) -> PoolManager:
        # Built on first use: importing urllib3 and creating the pool costs nothing at cold start until needed.
        with self._http_lock:
            if self._http is None:
                import urllib3

                self._http = urllib3.PoolManager(num_pools=2, maxsize=4, retries=False)
            return self._http

    def _token(self) -> str:
        try:
            token = self._token_source()
        except Exception as error:
            # The source's own message could quote the secret's name or value: only its type is kept.
            raise DeliveryFailed(
                f"Could not read the CM product token ({type(error).__name__})", transient=True, code="no-token"
            ) from None
        if not token:
            raise DeliveryFailed("No CM product token is configured", transient=False, code="no-token")
        token = token.strip()
        if not _TOKEN_SHAPE.fullmatch(token):
            raise DeliveryFailed("The configured CM product token is malformed", transient=False, code="no-token")
        return token

    def deliver(self, message: OutboundMessage) -> Delivered:
        """Posts `message` to CM: Delivered once CM accepted it (not yet on the phone), else DeliveryFailed."""
        sender = trial_sender(message, self._senders, self._sms_senders)
        if not sender:
            raise DeliveryFailed(
                f"No CM sender is configured for {message.channel.value}", transient=False, code="no-sender"
            )
        token = self._token()
        body = json.dumps(build_cm_request(message, sender), ensure_ascii=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": "trialgw",
            TOKEN_HEADER: token,
        }
        status, answer = self._post(body, headers)
        provider_message_id = interpret_cm_response(status, answer, token=token)
        return Delivered(provider=ProviderName.CM, provider_message_id=provider_message_id)

    def _post(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        import urllib3

        pool = self._pool()
        response: BaseHTTPResponse | None = None
        complete = False
        try:
            response = pool.request(
                "POST",
                self._url,
                body=body,
                headers=dict(headers),
                timeout=urllib3.Timeout(total=self._timeout),
                retries=False,
                redirect=False,
                preload_content=False,
            )
            answer = response.read(_MAX_RESPONSE_BYTES + 1)
            complete = len(answer) <= _MAX_RESPONSE_BYTES
            return response.status, answer[:_MAX_RESPONSE_BYTES]
        except (urllib3.exceptions.HTTPError, OSError) as error:
            # urllib3 makes a refused connection a subclass of its connect timeout: told apart explicitly.
            timed_out = isinstance(error, urllib3.exceptions.TimeoutError) and not isinstance(
                error, urllib3.exceptions.NewConnectionError
            )
            if timed_out:
                raise DeliveryFailed("CM did not answer in time", transient=True, code="timeout") from None
            # Only the error's type: urllib3's texts name hosts and URLs, and nothing more is needed to act on it.
            raise DeliveryFailed(
                f"Could not reach CM ({type(error).__name__})", transient=True, code="connection"
            ) from None
        finally:
            if response is not None:
                if not complete:
                    # A connection with unread bytes cannot carry the next request.
                    response.close()
                response.release_conn()


__all__ = [
    "DEFAULT_GATEWAY_URL",
    "TOKEN_HEADER",
    "CmProvider",
    "build_cm_request",
    "cm_number",
    "interpret_cm_response",
]
