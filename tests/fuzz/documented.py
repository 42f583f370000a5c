"""Every answer docs/api.md documents, per public route: the one table the fuzz suite holds the product to.

An answer is `(HTTP status, code)`: the send gateway's and the status route's `errorCode` (CM's envelope), the
other JSON routes' `code` (None for a success body, which has none), `None` for Meta's text handshake. An answer
that is not in its route's row fails the fuzz suite as undocumented, so a new answer has to be documented (docs/api.md)
and added here in the same change. 5xx answers are listed where docs/api.md documents them (a tripped capacity
breaker, a failed AWS dependency), but the fuzz stack never trips the breaker and AWS (moto) never fails there, so
the suite also fails any 5xx on its own.
"""

from __future__ import annotations

from collections.abc import Mapping

Answer = tuple[int, int | str | None]

SEND = "POST /messaging/messagingtrial/gw"
# The same send route under production's path, for SDKs that append it (docs/api.md, "Send gateway").
SEND_SDK = "POST /messaging/messagingtrial/gw/v1.0/message"
STATUS = "GET /messaging/messagingtrial/status"
OPENAPI = "GET /openapi.json"
SIGNUP = "POST /signup"
CM_MO = "POST /webhooks/cm/{secret}"
CM_STATUS = "POST /webhooks/cm-status/{secret}"
META_VERIFY = "GET /webhooks/meta"
META = "POST /webhooks/meta"
DASHBOARD_TRIAL = "GET /dashboard-api/trial"
DASHBOARD_WHITELIST = "GET /dashboard-api/whitelist"
DASHBOARD_MESSAGES = "GET /dashboard-api/messages"
DASHBOARD_WEBHOOKS = "GET /dashboard-api/webhooks"
DASHBOARD_SAVE_WEBHOOKS = "PUT /dashboard-api/webhooks"
DASHBOARD_WEBHOOK_SECRET = "POST /dashboard-api/webhooks/secret"
DASHBOARD_WEBHOOK_TEST = "POST /dashboard-api/webhooks/test"
DASHBOARD_WEBHOOK_LOG = "GET /dashboard-api/webhook-log"
DASHBOARD_WEBHOOK_REPLAY = "POST /dashboard-api/webhook-log/{eventId}/replay"
# Not a public route: the local stack's end user's phone, which feeds two-way SMS to the MO function as the SNS
# event AWS would deliver (the only way to reach the SNS entry point over HTTP).
LOCAL_MO = "POST /_local/mo"

# docs/api.md, "Send gateway": rows 1-13 and the dependency failure, in the table's order.
_SEND_ANSWERS: frozenset[Answer] = frozenset(
    {
        (400, 202),  # 1 not JSON, 2 not a send request
        (503, 999),  # 3 capacity breaker; a failed dependency
        (401, 101),  # 4 key
        (400, 203),  # 5 channel fallback, 6 bulk
        (400, 302),  # 7 several recipients; 12 no address on the channel
        (400, 305),  # 8 channel not offered; 11 a dcs the trial cannot honour, rich content the channel cannot carry
        (400, 301),  # 9 SMS from
        (403, 403),  # 10 blocked country
        (400, 304),  # 11 binary, over 2 SMS parts, over the request's maximumNumberOfMessageParts, no content
        (403, 302),  # 12 not whitelisted
        (429, 102),  # 13 quota used up
        (409, 202),  # Idempotency-Key used for another body, or its request still in progress
        (200, 0),  # accepted
    }
)
# docs/api.md, "Whitelisting": "Bad input: 400 with {message, code} (invalid_json, invalid_payload,
# body_too_large, …)";
# the "…" are the body readers' other two (`trialgw.http`: empty_body, invalid_encoding).
_WEBHOOK_BAD_INPUT: frozenset[Answer] = frozenset(
    (400, code) for code in ("empty_body", "invalid_json", "invalid_encoding", "body_too_large", "invalid_payload")
)
# docs/api.md, "Dashboard": 401 without a usable Authorization, 404 for an unknown or revoked key; 503 like every
# function when DynamoDB fails.
_DASHBOARD_ANSWERS: frozenset[Answer] = frozenset(
    {(200, None), (401, "unauthorized"), (404, "not_found"), (503, "unavailable")}
)

DOCUMENTED: Mapping[str, frozenset[Answer]] = {
    SEND: _SEND_ANSWERS,
    SEND_SDK: _SEND_ANSWERS,
    STATUS: frozenset({(200, None), (401, 101), (503, 999)}),
    OPENAPI: frozenset({(200, None)}),
    # docs/api.md, "Sign-up API".
    SIGNUP: frozenset(
        {
            (202, None),
            (403, "forbidden_origin"),
            (415, "unsupported_media_type"),
            (400, "empty_body"),
            (400, "invalid_json"),
            (400, "invalid_encoding"),
            (400, "body_too_large"),
            (422, "invalid_fields"),
            (429, "rate_limited"),
            (503, "unavailable"),
        }
    ),
    # A wrong path secret is 404 (docs/api.md, "Whitelisting"); a processing failure 503 (the provider retries).
    CM_MO: _WEBHOOK_BAD_INPUT | {(200, None), (404, "not_found"), (503, "unavailable")},
    # "The same secret as the MO webhook" (docs/delivery.md).
    CM_STATUS: _WEBHOOK_BAD_INPUT | {(200, None), (404, "not_found"), (503, "unavailable")},
    # The handshake echoes `hub.challenge` as text; a wrong verify token is 403.
    META_VERIFY: frozenset({(200, None), (403, "forbidden")}),
    # A bad or missing signature is 401; the body limit is checked before the signature.
    META: _WEBHOOK_BAD_INPUT | {(200, None), (401, "unauthorized"), (503, "unavailable")},
    DASHBOARD_TRIAL: _DASHBOARD_ANSWERS,
    DASHBOARD_WHITELIST: _DASHBOARD_ANSWERS,
    # `?limit=&cursor=`: a limit that is no whole number from 1, or a cursor the API did not give out, is 400
    # (functions/dashboard/handler.py; docs/api.md's dashboard table does not list these two yet).
    DASHBOARD_MESSAGES: _DASHBOARD_ANSWERS | {(400, "invalid_limit"), (400, "invalid_cursor")},
    # docs/api.md's dashboard table: a trial's own webhooks (issue 18). No fuzz property drives these yet.
    DASHBOARD_WEBHOOKS: _DASHBOARD_ANSWERS,
    DASHBOARD_SAVE_WEBHOOKS: _DASHBOARD_ANSWERS
    | {
        (400, "invalid_webhook_url"),
        (400, "unknown_field"),
        (400, "empty_body"),
        (400, "invalid_json"),
        (400, "invalid_encoding"),
        (400, "body_too_large"),
        (409, "trial_ended"),
        (415, "unsupported_media_type"),
    },
    DASHBOARD_WEBHOOK_SECRET: _DASHBOARD_ANSWERS | {(409, "trial_ended")},
    # A test event and a replay are queued (202; 503 also when the queue fails); both count against the trial's limit
    # on events asked for by hand (429 rate_limited with Retry-After). No inbound URL to test: 400 no_webhook_url; a
    # replay of an event the trial's log does not hold: 404 not_found.
    DASHBOARD_WEBHOOK_TEST: _DASHBOARD_ANSWERS
    | {(202, None), (400, "no_webhook_url"), (409, "trial_ended"), (429, "rate_limited")},
    DASHBOARD_WEBHOOK_LOG: _DASHBOARD_ANSWERS | {(400, "invalid_limit"), (400, "invalid_cursor")},
    DASHBOARD_WEBHOOK_REPLAY: _DASHBOARD_ANSWERS | {(202, None), (409, "trial_ended"), (429, "rate_limited")},
    # docs/local.md, "Running locally": the helper answers 200 with the entry point's own answer inside, or 400 when the
    # helper's own request is wrong.
    LOCAL_MO: frozenset({(200, None), (400, "bad_request")}),
}

# The routes whose answers carry CM's envelope (`errorCode`) rather than `code`.
ENVELOPE_ROUTES = frozenset({SEND, SEND_SDK, STATUS})
# Rows 1-4 and the breaker answer before the key is known good: no trial state may leak into their headers
# (docs/design-decisions.md, "Trial headers only after the key is known good"); every other gateway answer carries it.
NO_TRIAL_HEADERS = frozenset({202, 101, 999})
TRIAL_EXPIRY_HEADER = "X-Trial-Expires-At"
# docs/api.md, "Send gateway" row 11: at most 2 parts of 144 GSM-7 or 63 Unicode characters.
SMS_MAX_UNITS = 288
# 63 characters always fit: 63 x 2 UTF-16 units (astral characters) is 126, 63 x 2 septets (extension characters)
# is 126 <= 288.
SMS_ALWAYS_FITS_CHARS = 63


def answer_code(route: str, body: object) -> int | str | None:
    """The code an answer's body carries on `route`: `errorCode` in CM's envelope, else `code`, None when absent."""
    if not isinstance(body, dict):
        return None
    key = "errorCode" if route in ENVELOPE_ROUTES else "code"
    code = body.get(key)
    return code if isinstance(code, int | str) and not isinstance(code, bool) else None


def is_documented(route: str, status: int, code: int | str | None) -> bool:
    return (status, code) in DOCUMENTED[route]
