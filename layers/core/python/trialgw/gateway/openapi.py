"""What the OpenAPI document (`GET /openapi.json`) says of the API's routes.

Powertools generates the document from the send resolver's routes. The send route reads its body itself (its answers
must be CM's exact texts, not a validator's), so its request body is described here by hand and given to Powertools as
an operation field. The other public routes belong to other functions (sign-up, dashboard API, webhooks): they are
described here as OpenAPI path items and added to the generated document (`document`), never registered in the send
resolver. Every example is an answer the code gives (tests/integration/test_openapi_document.py validates them all
against their schemas, and checks that every public route of `infra.topology` is in the document).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from trialgw.channels import DEFAULT_CHANNEL, channels
from trialgw.gateway import answers
from trialgw.gateway.answers import Refusal
from trialgw.models import Channel, InboundOutcome
from trialgw.rich_content import MAX_CONVERSATION_ITEMS, MAX_RICH_CONTENT_BYTES, MAX_SUGGESTIONS
from trialgw.urls import (
    WEBHOOK_LOG_PATH,
    WEBHOOK_REPLAY_PATH,
    WEBHOOK_SECRET_PATH,
    WEBHOOK_TEST_PATH,
    WEBHOOKS_PATH,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

OPENAPI_PATH = "/openapi.json"
TOKEN_HEADER = "X-CM-PRODUCTTOKEN"  # noqa: S105 - a header name, not a secret
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

_JSON = "application/json"

_TOKEN = {"type": "string", "format": "uuid", "description": "The trial key from the sign-up e-mail."}
# What the parser takes as a value at all (longer or blank is "Invalid POST data"), so that every request this
# schema calls valid gets past the parser (request.py: MAX_SHORT_FIELD_CHARS, and `required` strings must not be
# blank). Blank is Python's `str.strip`, whose white space is ECMA's `\s` plus U+001C-U+001F and U+0085.
_NOT_BLANK = r"[^\s\x1c-\x1f\x85]"
_SHORT_TEXT: dict[str, Any] = {"minLength": 1, "maxLength": 64, "pattern": _NOT_BLANK}
_NAMES = [channel.value for channel in channels()]
_CHANNEL_NAMES = ", ".join(_NAMES[:-1]) + " or " + _NAMES[-1]

_EXAMPLE_NUMBER = "+31612345678"
_EXAMPLE_REFERENCE = "order-1234"
_RICH_CONTENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "CM's rich content, checked for the channel it is sent on: WhatsApp carries text, media, location, "
        "contacts, WhatsApp templates, WhatsApp interactive messages and suggestions; Facebook Messenger and "
        "Instagram carry text, media, rich cards and suggestions (quick replies, buttons); SMS carries none (its "
        "text is body.content). At most "
        f"{MAX_CONVERSATION_ITEMS} conversation items, {MAX_SUGGESTIONS} suggestions and {MAX_RICH_CONTENT_BYTES} "
        "bytes as compact JSON; every media and link URL https. Otherwise errorCode 305; nothing to send at all, "
        "304."
    ),
    "properties": {
        "conversation": {"type": "array", "maxItems": MAX_CONVERSATION_ITEMS, "items": {"type": "object"}},
        "suggestions": {"type": "array", "maxItems": MAX_SUGGESTIONS, "items": {"type": "object"}},
    },
}


def _send_example(channel: str, content: str, **extra: Any) -> dict[str, Any]:
    """A send request as CM's SDKs build it (the key in the body), to the example number."""
    msg = {
        "allowedChannels": [channel],
        "from": "TrialTest",
        "to": [{"number": _EXAMPLE_NUMBER}],
        "body": {"type": "AUTO", "content": content},
        "reference": _EXAMPLE_REFERENCE,
        **extra,
    }
    return {"messages": {"authentication": {"producttoken": "00000000-0000-4000-8000-000000000000"}, "msg": [msg]}}


_SMS_REQUEST = _send_example("SMS", "Your order 1234 has shipped.")
# A WhatsApp template as CM's Python SDK sends it: the message in richContent, the text empty.
_TEMPLATE_REQUEST = _send_example(
    "WhatsApp",
    "",
    richContent={
        "conversation": [
            {
                "template": {
                    "whatsapp": {
                        "namespace": "00000000_0000_0000_0000_000000000000",
                        "element_name": "order_update",
                        "language": {"policy": "deterministic", "code": "en"},
                        "components": [{"type": "body", "parameters": [{"type": "text", "text": "1234"}]}],
                    }
                }
            }
        ]
    },
)

SEND_REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "object",
            "required": ["msg"],
            "properties": {
                "authentication": {"type": "object", "properties": {"producttoken": _TOKEN}},
                "msg": {
                    "type": "array",
                    "minItems": 1,
                    "description": "Exactly one message in the trial (more: errorCode 203).",
                    "items": {
                        "type": "object",
                        "required": ["to", "body"],
                        "properties": {
                            "allowedChannels": {
                                "type": "array",
                                "items": {"type": "string", **_SHORT_TEXT, "examples": ["SMS", "WhatsApp"]},
                                "description": f"One channel (none means {DEFAULT_CHANNEL.value}): "
                                f"{_CHANNEL_NAMES}, in any letter case.",
                            },
                            "from": {
                                "type": "string",
                                "maxLength": 64,
                                "description": "SMS sender: 4-11 letters and digits.",
                            },
                            "to": {
                                "type": "array",
                                "minItems": 1,
                                "description": "Exactly one whitelisted recipient.",
                                "items": {
                                    "type": "object",
                                    "required": ["number"],
                                    "properties": {
                                        "number": {
                                            "type": "string",
                                            **_SHORT_TEXT,
                                            "description": "+ or 00 international number; "
                                            "the account id on Messenger and Instagram.",
                                        }
                                    },
                                },
                            },
                            "body": {
                                "type": "object",
                                "description": "content is required and not blank, unless richContent is given: "
                                'then it may be empty or absent (CM\'s SDKs send templates with content "").',
                                "properties": {
                                    "type": {
                                        "type": "string",
                                        "enum": ["auto", "AUTO", "text", "TEXT", "binary", "BINARY"],
                                        "description": "AUTO (default): GSM-7 or Unicode as the text needs, dcs "
                                        "ignored. TEXT: the encoding dcs names, when given. BINARY is not in the "
                                        "trial (errorCode 304).",
                                    },
                                    "content": {"type": "string", "maxLength": 4096},
                                },
                            },
                            "reference": {"type": "string", "maxLength": 64},
                            "minimumNumberOfMessageParts": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 255,
                                "description": "SMS: refuses nothing; a text is sent in the parts it needs.",
                            },
                            "maximumNumberOfMessageParts": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": 255,
                                "description": "SMS: a text needing more parts is refused (errorCode 304, "
                                "production's text), within the trial's own limit of 2.",
                            },
                            "dcs": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": 255,
                                "description": "SMS data coding scheme, with body.type TEXT: 0 (GSM-7) or 8 "
                                "(Unicode), honoured when the text is sent in it, else refused (errorCode 305). "
                                "Ignored with AUTO, as in production.",
                            },
                            "richContent": _RICH_CONTENT_SCHEMA,
                        },
                        # A text, or rich content to stand for it.
                        "anyOf": [
                            {"required": ["richContent"]},
                            {
                                "properties": {
                                    "body": {
                                        "required": ["content"],
                                        "properties": {"content": {"minLength": 1, "pattern": _NOT_BLANK}},
                                    }
                                }
                            },
                        ],
                    },
                },
            },
        }
    },
}

_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["details", "errorCode", "messages"],
    "properties": {
        "details": {"type": "string"},
        "errorCode": {"type": "integer"},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "to": {"type": ["string", "null"]},
                    "status": {"type": "string", "enum": ["Accepted", "Rejected"]},
                    "reference": {"type": ["string", "null"]},
                    "parts": {"type": "integer"},
                    "messageDetails": {"type": ["string", "null"]},
                    "messageErrorCode": {"type": "integer"},
                },
            },
        },
    },
}


_RETRY_AFTER = 30


def _envelope(description: str, example: Refusal | dict[str, Any]) -> dict[str, Any]:
    """A response in CM's envelope; its example is the body the gateway gives (`answers.envelope` for a refusal)."""
    body = example if isinstance(example, dict) else _refused(example)
    return {
        "description": description,
        "content": {_JSON: {"schema": _ENVELOPE, "examples": {"answer": {"value": body}}}},
    }


def _refused(refusal: Refusal) -> dict[str, Any]:
    return answers.envelope(refusal, to=_EXAMPLE_NUMBER, reference=_EXAMPLE_REFERENCE)


SEND_OPERATION: dict[str, Any] = {
    "summary": "Send one message (CM Business Messaging JSON) under the trial's rules",
    "description": (
        "Accepts one message to one whitelisted recipient on one channel, or refuses it with CM's envelope and "
        "the trial's exact text. The key goes in the X-CM-PRODUCTTOKEN header or in "
        "messages.authentication.producttoken. Answers carry X-Trial-Expires-At and X-Trial-Remaining-<Channel> "
        "once the key is known good."
    ),
    "tags": ["Send"],
    "operation_id": "send",
    "responses": {
        200: _envelope(
            "Accepted: queued for delivery.",
            answers.accepted_envelope(_EXAMPLE_NUMBER, _EXAMPLE_REFERENCE, parts=1, message_details=None),
        ),
        400: _envelope(
            "Not JSON, not a valid request, or a trial rule (errorCode 202, 203, 301-305): among them binary "
            "messages, a dcs the trial cannot honour, an SMS over the trial's 2 parts or the request's "
            "maximumNumberOfMessageParts, and richContent its channel does not carry (305) or no content at all "
            "(304).",
            answers.not_json(),
        ),
        401: _envelope("Missing, unknown, revoked or expired key (errorCode 101).", answers.invalid_token()),
        403: _envelope(
            "Destination country blocked, or recipient not whitelisted (errorCode 403, 302).",
            answers.country_blocked(),
        ),
        409: _envelope(
            "The Idempotency-Key was used for another request body in this trial, or its request is still being "
            "processed (then with Retry-After) (errorCode 202).",
            answers.idempotency_key_reused(),
        ),
        429: _envelope(
            "The trial's quota on the channel is used up (errorCode 102).", answers.quota_used_up(Channel.WHATSAPP)
        ),
        503: _envelope(
            "At capacity, or a dependency failed; see Retry-After (errorCode 999).", answers.at_capacity(_RETRY_AFTER)
        ),
    },
    "openapi_extensions": {
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {
                    "schema": SEND_REQUEST_SCHEMA,
                    "examples": {"sms": {"value": _SMS_REQUEST}, "whatsappTemplate": {"value": _TEMPLATE_REQUEST}},
                }
            },
        },
        "parameters": [
            {"name": TOKEN_HEADER, "in": "header", "required": False, "schema": _TOKEN},
            {
                "name": IDEMPOTENCY_KEY_HEADER,
                "in": "header",
                "required": False,
                "description": (
                    "Beyond CM's API: makes the send safe to retry. The same key and body within the trial's life "
                    "give the first accepted answer again, without a second message or quota slot; a refused or "
                    "failed send leaves the key free for the retry."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
            },
        ],
    },
}

# The same send under production's path (`…/gw/v1.0/message`): CM's SDKs append it to the base URL they are given.
SEND_SDK_OPERATION: dict[str, Any] = {
    **SEND_OPERATION,
    "summary": "Send one message: the same route as POST /messaging/messagingtrial/gw/, under production's path",
    "description": (
        "For clients whose base URL is the trial gateway and that append production's /v1.0/message to it, as "
        "CM's SDKs do (the Node SDK always). Same request, rules and answers as the send route."
    ),
    "operation_id": "sendV1Message",
}

_DATE_TIME = {"type": "string", "format": "date-time"}
# A channel's quota, as the status route and the dashboard API show it (trialgw.quotas.quota_rows).
_QUOTA_ROW = {
    "type": "object",
    "properties": {
        "channel": {"type": "string"},
        "quota": {"type": "integer"},
        "sent": {"type": "integer"},
        "remaining": {"type": "integer"},
    },
}

STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "expiresAt", "secondsLeft", "channels", "whitelist"],
    "properties": {
        "status": {"type": "string", "enum": ["active"]},
        "expiresAt": _DATE_TIME,
        "secondsLeft": {"type": "integer"},
        "channels": {"type": "array", "items": _QUOTA_ROW},
        "whitelist": {
            "type": "object",
            "properties": {
                "max": {"type": "integer"},
                "recipients": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"channel": {"type": "string"}, "recipient": {"type": "string"}},
                    },
                },
            },
        },
    },
}

_STATUS_EXAMPLE: dict[str, Any] = {
    "status": "active",
    "expiresAt": "2026-12-03T09:00:00Z",
    "secondsLeft": 86000,
    "channels": [{"channel": "WhatsApp", "quota": 10, "sent": 1, "remaining": 9}],
    "whitelist": {"max": 10, "recipients": [{"channel": "WhatsApp", "recipient": _EXAMPLE_NUMBER}]},
}

STATUS_OPERATION: dict[str, Any] = {
    "summary": "The trial's expiry, whitelist and remaining quotas",
    "tags": ["Send"],
    "operation_id": "trialStatus",
    "responses": {
        200: {
            "description": "The trial's state.",
            "content": {_JSON: {"schema": STATUS_SCHEMA, "examples": {"trial": {"value": _STATUS_EXAMPLE}}}},
        },
        401: _envelope("Missing, unknown, revoked or expired key (errorCode 101).", answers.invalid_token()),
        503: _envelope("A dependency failed; see Retry-After.", answers.unavailable(_RETRY_AFTER)),
    },
    "openapi_extensions": {
        "parameters": [{"name": TOKEN_HEADER, "in": "header", "required": True, "schema": _TOKEN}],
    },
}


OPENAPI_OPERATION: dict[str, Any] = {
    "summary": "This document: every public route of the API",
    "tags": ["Documentation"],
    "operation_id": "openapiDocument",
    "responses": {200: {"description": "The OpenAPI 3 document.", "content": {_JSON: {"schema": {"type": "object"}}}}},
}

# --- The routes other functions own, as OpenAPI path items (added to the generated document by `document`). ---------
# Their answers are `{"message", "code"}` (trialgw.http's error answers and the handlers' own).


def _error_schema(*codes: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["message", "code"],
        "properties": {"message": {"type": "string"}, "code": {"type": "string", "enum": list(codes)}, **(extra or {})},
    }


def _answer(
    description: str, schema: dict[str, Any], *examples: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A JSON response whose examples are bodies the code gives; `headers`: name → description."""
    response: dict[str, Any] = {
        "description": description,
        "content": {
            _JSON: {"schema": schema, "examples": {f"answer{i}": {"value": ex} for i, ex in enumerate(examples, 1)}}
        },
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}} for name, text in headers.items()
        }
    return response


def _error(description: str, code: str, message: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return _answer(description, _error_schema(code), {"message": message, "code": code}, headers=headers)


_RETRY = {"Retry-After": "Seconds to wait before retrying."}
EXAMPLE_SITE = "https://trial.example.com"
_EXAMPLE_KEY = "3f2b8c1d-7e4a-4b9c-a1d2-0e5f6a7b8c9d"
_BAD_BODY = _answer(
    "The body is empty, not UTF-8, not JSON, not an object, or too large.",
    _error_schema("empty_body", "invalid_json", "invalid_encoding", "body_too_large"),
    {"message": "The request body is not valid JSON.", "code": "invalid_json"},
    {"message": "The request body is empty; send a JSON object.", "code": "empty_body"},
)

SIGNUP_PATH_ITEM: dict[str, Any] = {
    "post": {
        "summary": "Sign up for a 24-hour trial: its key is e-mailed",
        "description": "Checked in this order, the first that fails answers: 403, 415, 400, 422, 429, 503. In AWS the "
        "sign-up page also passes WAF's human check.",
        "tags": ["Sign-up"],
        "operationId": "signUp",
        "requestBody": {
            "required": True,
            "content": {
                _JSON: {
                    "schema": {
                        "type": "object",
                        "required": ["name", "email"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "email": {"type": "string", "format": "email"},
                            "company": {"type": ["string", "null"]},
                            "consent": {"type": "boolean", "description": "false is refused (422)."},
                        },
                    },
                    "examples": {"signup": {"value": {"name": "Jane Doe", "email": "jane.doe@example.com"}}},
                }
            },
        },
        "responses": {
            "202": _answer(
                "The trial is created and its key e-mailed.",
                {
                    "type": "object",
                    "required": ["message", "email", "expiresAt"],
                    "properties": {"message": {"type": "string"}, "email": {"type": "string"}, "expiresAt": _DATE_TIME},
                },
                {
                    "message": "Check your inbox: we sent your trial key to j***@e***.com.",
                    "email": "j***@e***.com",
                    "expiresAt": "2026-12-03T09:00:00Z",
                },
            ),
            "400": _BAD_BODY,
            "403": _error(
                "A browser request from another web site (an Origin other than the site's, or Sec-Fetch-Site: "
                "cross-site).",
                "forbidden_origin",
                f"This request came from another web site. Sign up on the trial's own page: {EXAMPLE_SITE}/",
            ),
            "415": _error(
                "The body is not declared as JSON.",
                "unsupported_media_type",
                "Send the request as JSON, with the header Content-Type: application/json.",
            ),
            "422": _answer(
                "Fields wrong: one message per field.",
                _error_schema(
                    "invalid_fields",
                    extra={"fields": {"type": "object", "additionalProperties": {"type": "string"}}},
                ),
                {
                    "message": "Please correct the highlighted fields.",
                    "code": "invalid_fields",
                    "fields": {"name": "This field is required."},
                },
            ),
            "429": _answer(
                "A sign-up limit is reached; nothing was counted.",
                _error_schema(
                    "rate_limited", extra={"limit": {"type": "string", "enum": ["mailbox", "ip", "domain", "global"]}}
                ),
                {
                    "message": "Too many sign-ups for this e-mail address. Please try again in 16 hours, or use the "
                    "key we already sent you.",
                    "code": "rate_limited",
                    "limit": "mailbox",
                },
                headers=_RETRY,
            ),
            "503": _error(
                "DynamoDB or SES failed; no usable trial is left behind.",
                "unavailable",
                "Sign-up is temporarily unavailable. Please try again shortly.",
                headers=_RETRY,
            ),
        },
    }
}

_BEARER = "trialKey"
_DASHBOARD_ERRORS: dict[str, Any] = {
    "401": _error(
        "No or a malformed Authorization header.",
        "unauthorized",
        "Send the trial key as `Authorization: Bearer <key>`.",
        headers={"WWW-Authenticate": "Bearer"},
    ),
    "404": _error(
        "An unknown or revoked key (one text for both).",
        "not_found",
        "There is no trial for this key. Sign up for a new one.",
    ),
    "503": _error("DynamoDB failed.", "unavailable", "The trial could not be read; please retry.", headers=_RETRY),
}
_TRIAL_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["trial", "quotas", "whitelistMax", "contactPoints", "gatewayUrl", "statusUrl"],
    "properties": {
        "trial": {
            "type": "object",
            "required": ["id", "name", "createdAt", "expiresAt", "secondsLeft", "status"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "company": {"type": ["string", "null"]},
                "createdAt": _DATE_TIME,
                "expiresAt": _DATE_TIME,
                "secondsLeft": {"type": "integer", "minimum": 0},
                "status": {"type": "string", "enum": ["active", "expired"]},
                "expired": {"type": "boolean", "description": "Every quota then shows 0 left."},
            },
        },
        "quotas": {"type": "array", "items": _QUOTA_ROW},
        "whitelistMax": {"type": "integer"},
        "joinCode": {
            "type": "string",
            "description": "`join amber-fox-river-482`: whitelists like the key when sent on any channel.",
        },
        "contactPoints": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "channel": {"type": "string"},
                    "instruction": {"type": "string"},
                    "address": {"type": "string"},
                    "link": {"type": ["string", "null"]},
                    "localPhoneLink": {
                        "type": ["string", "null"],
                        "description": "The simulated phone, key filled in: on the local stack only.",
                    },
                    "joinLink": {
                        "type": "string",
                        "description": "The link with the join code typed in (a page's link as it is).",
                    },
                    "qr": {
                        "type": "string",
                        "description": "A QR code of `joinLink`: an SVG image as a `data:image/svg+xml;base64,` URL.",
                    },
                },
            },
        },
        "gatewayUrl": {"type": "string", "format": "uri"},
        "statusUrl": {"type": "string", "format": "uri"},
    },
}
_WHITELIST_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["max", "recipients", "postmanCollection"],
    "properties": {
        "max": {"type": "integer"},
        "recipients": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["channel", "recipient", "whitelistedAt", "curl"],
                "properties": {
                    "channel": {"type": "string"},
                    "recipient": {"type": "string"},
                    "whitelistedAt": _DATE_TIME,
                    "curl": {"type": "string", "description": "A ready command with the key."},
                },
            },
        },
        "postmanCollection": {"type": "object", "description": "A Postman collection (v2.1), one request each."},
    },
}
_MESSAGES_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["messages", "next"],
    "properties": {
        "messages": {
            "type": "array",
            "description": (
                "Newest first, in the order the messages arrived (times have milliseconds; records older than that "
                "have whole seconds and list before newer ones of the same second). Refused send attempts of the "
                "trial's key are items too (`status` `refused`); a refusal before the key is known belongs to no "
                "trial and is not listed."
            ),
            "items": {
                "type": "object",
                "required": ["id", "at", "direction", "channel", "status"],
                "properties": {
                    "id": {"type": "string"},
                    "at": {**_DATE_TIME, "description": "UTC, with milliseconds (e.g. 2026-12-02T09:06:00.125Z)."},
                    "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                    "channel": {
                        "type": "string",
                        "description": "A refused attempt's channel as its request named it (cut to 64 characters).",
                    },
                    "counterpart": {"type": ["string", "null"]},
                    "summary": {"type": ["string", "null"]},
                    "status": {
                        "type": ["string", "null"],
                        "description": (
                            "Outbound: queued, sent, delivered, read, failed, or refused (a refused send attempt, "
                            "never sent nor counted against the quota); inbound: null."
                        ),
                    },
                    "reason": {
                        "type": ["string", "null"],
                        "description": "failed: why; refused: the answer's text (`details`) the gateway gave.",
                    },
                    "errorCode": {
                        "type": ["integer", "null"],
                        "description": "refused: the answer's CM errorCode; null for every other message.",
                    },
                    "provider": {
                        "type": ["string", "null"],
                        "description": (
                            "Who took a sent message. sandbox: no real phone; on the local stack, the simulated "
                            "phone at /_local/phone."
                        ),
                    },
                    "json": {"description": "The webhook payload (inbound) or the CM request without the key."},
                    "explain": {"type": ["object", "null"], "description": "Delivered text, SMS parts, country rule."},
                },
            },
        },
        "next": {"type": ["string", "null"], "description": "The next page's cursor; null on the last page."},
    },
}


def _dashboard(
    operation_id: str,
    summary: str,
    schema: dict[str, Any],
    example: dict[str, Any],
    *,
    method: str = "get",
    ok: str = "Read-only JSON (Cache-Control: no-store).",
    ok_status: str = "200",
    **operation: Any,
) -> dict[str, Any]:
    """A dashboard API route: Bearer key, JSON, its errors; `operation`: its own parameters and answers."""
    own_answers = operation.pop("responses", {})
    return {
        method: {
            "summary": summary,
            "tags": ["Dashboard API"],
            "operationId": operation_id,
            "security": [{_BEARER: []}],
            **operation,
            "responses": {
                ok_status: {
                    **_answer(ok, schema, example),
                    "headers": {"Cache-Control": {"schema": {"type": "string", "enum": ["no-store"]}}},
                },
                **own_answers,
                **_DASHBOARD_ERRORS,
            },
        }
    }


# A trial's own webhooks (issue 18): the URLs the trial's inbound messages and status reports are to be posted to.
_WEBHOOKS_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["inboundUrl", "statusUrl", "hasSecret"],
    "properties": {
        "inboundUrl": {"type": ["string", "null"], "format": "uri", "description": "Inbound messages (CM's MO JSON)."},
        "statusUrl": {"type": ["string", "null"], "format": "uri", "description": "Status reports (CM's JSON)."},
        "hasSecret": {"type": "boolean", "description": "Whether a signing secret was made (it is never shown again)."},
    },
}
_WEBHOOKS_EXAMPLE = {"inboundUrl": "https://hooks.example.com/trial/inbound", "statusUrl": None, "hasSecret": True}
_WEBHOOKS_PUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "inboundUrl": {"type": ["string", "null"], "maxLength": 2000},
        "statusUrl": {"type": ["string", "null"], "maxLength": 2000},
    },
}
_WEBHOOK_REFUSALS = _answer(
    "A refused URL (`invalid_webhook_url`, the message names the field and why), an unknown field, or a body that is "
    "not a JSON object of at most 8 KB.",
    _error_schema(
        "invalid_webhook_url", "unknown_field", "empty_body", "invalid_json", "invalid_encoding", "body_too_large"
    ),
    {"message": "statusUrl: Use an https:// URL.", "code": "invalid_webhook_url"},
    {
        "message": "inboundUrl: 169.254.169.254 is a cloud metadata address. Webhooks go to public addresses only.",
        "code": "invalid_webhook_url",
    },
    {"message": "Unknown field(s): inboundURL. Send inboundUrl and statusUrl only.", "code": "unknown_field"},
)
_TRIAL_ENDED = _error(
    "The trial has ended (expired): its webhooks are shown but no longer changed.",
    "trial_ended",
    "This trial has ended: its webhooks can no longer be changed. Sign up for a new one.",
)
_QUEUED: dict[str, Any] = {"type": "object", "required": ["eventId"], "properties": {"eventId": {"type": "string"}}}
_MANUAL_LIMIT = (
    "Test events and replays together: at most 20 per trial per hour (TRIALGW_WEBHOOK_MANUAL_LIMIT, "
    "TRIALGW_WEBHOOK_MANUAL_WINDOW_SECONDS), so these buttons cannot flood a receiver; the worker's own retries are "
    "not counted."
)
_ENDED_SENDS = _error(
    "The trial has ended (expired): nothing more is sent.",
    "trial_ended",
    "This trial has ended: it can no longer send test events. Sign up for a new one.",
)
_TOO_MANY_SENDS = _answer(
    "The trial's limit on test events and replays is reached; nothing was queued.",
    _error_schema("rate_limited", extra={"limit": {"type": "string", "enum": ["webhook_sends"]}}),
    {
        "message": "At most 20 test events and replays per trial every 60 minutes, so these buttons cannot flood a "
        "receiver; try again later.",
        "code": "rate_limited",
        "limit": "webhook_sends",
    },
    headers=_RETRY,
)
_WEBHOOK_LOG_VIEW: dict[str, Any] = {
    "type": "object",
    "required": ["attempts", "next"],
    "properties": {
        "attempts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "eventId", "kind", "url", "at", "status", "latencyMs", "error", "payload"],
                "properties": {
                    "id": {"type": "string"},
                    "eventId": {"type": "string", "description": "The same for every attempt of one event."},
                    "kind": {"type": "string", "enum": ["inbound", "status", "test"]},
                    "url": {"type": "string"},
                    "at": _DATE_TIME,
                    "status": {"type": ["integer", "null"], "description": "The HTTP status; null without an answer."},
                    "latencyMs": {"type": "integer", "minimum": 0},
                    "error": {
                        "type": ["string", "null"],
                        "description": "Why there was no usable answer (timeout, refused connection, refused URL).",
                    },
                    "payload": {"type": "string", "description": "The JSON text posted (and signed)."},
                    "answer": {"type": "string", "description": "The first bytes of the answer's body, as text."},
                    "willRetry": {"type": "boolean", "description": "Whether the worker will try this event again."},
                },
            },
        },
        "next": {"type": ["string", "null"], "description": "The next (older) page's cursor; null on the last page."},
    },
}
# A paged list (the messages, the webhook log): its query parameters, and its 400 for a bad limit or cursor.
_PAGED: dict[str, Any] = {
    "parameters": [
        {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "`next` of the previous page.",
            "schema": {"type": "string"},
        },
    ],
    "responses": {
        "400": _answer(
            "A limit that is not a whole number from 1, or a cursor the API did not give out.",
            _error_schema("invalid_limit", "invalid_cursor"),
            {"message": "limit must be a whole number from 1.", "code": "invalid_limit"},
            {"message": "The cursor is not one this API gave out.", "code": "invalid_cursor"},
        )
    },
}
_EXAMPLE_API = "https://api.example.com"
DASHBOARD_PATH_ITEMS: dict[str, dict[str, Any]] = {
    "/dashboard-api/trial": _dashboard(
        "dashboardTrial",
        "The trial, its quotas and how to whitelist recipients",
        _TRIAL_VIEW,
        {
            "trial": {
                "id": "a1b2c3d4e5f6",
                "name": "Jane Doe",
                "company": None,
                "createdAt": "2026-12-02T09:00:00Z",
                "expiresAt": "2026-12-03T09:00:00Z",
                "secondsLeft": 86000,
                "status": "active",
            },
            "quotas": [{"channel": "WhatsApp", "quota": 10, "sent": 1, "remaining": 9}],
            "whitelistMax": 10,
            "contactPoints": [
                {
                    "channel": "WhatsApp",
                    "instruction": "Send your trial key to this number on WhatsApp.",
                    "address": "+31850000000",
                    "link": f"https://wa.me/31850000000?text={_EXAMPLE_KEY}",
                }
            ],
            "gatewayUrl": f"{_EXAMPLE_API}/messaging/messagingtrial/gw/",
            "statusUrl": f"{_EXAMPLE_API}/messaging/messagingtrial/status",
        },
    ),
    "/dashboard-api/whitelist": _dashboard(
        "dashboardWhitelist",
        "The whitelisted recipients, each with a ready curl command",
        _WHITELIST_VIEW,
        {
            "max": 10,
            "recipients": [
                {
                    "channel": "WhatsApp",
                    "recipient": _EXAMPLE_NUMBER,
                    "whitelistedAt": "2026-12-02T09:05:00Z",
                    "curl": f"curl -X POST {_EXAMPLE_API}/messaging/messagingtrial/gw/ …",
                }
            ],
            "postmanCollection": {"info": {"name": "trialgw trial a1b2c3d4e5f6"}, "item": []},
        },
    ),
    "/dashboard-api/messages": _dashboard(
        "dashboardMessages",
        "The trial's messages, newest first, a page at a time",
        _MESSAGES_VIEW,
        {
            "messages": [
                {
                    "id": "5b0f3c2a9d8e4f1a8b7c6d5e4f3a2b1c",
                    "at": "2026-12-02T09:06:00Z",
                    "direction": "outbound",
                    "channel": "WhatsApp",
                    "counterpart": _EXAMPLE_NUMBER,
                    "summary": "Hello from the trial",
                    "status": "sent",
                    "reason": None,
                    "errorCode": None,
                    "provider": "sandbox",
                    "json": {"messages": {"msg": [{"to": [{"number": _EXAMPLE_NUMBER}], "body": {"content": "Hi"}}]}},
                    "explain": None,
                },
                {
                    "id": "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                    "at": "2026-12-02T09:05:59.870Z",
                    "direction": "outbound",
                    "channel": "SMS",
                    "counterpart": "+255712345678",
                    "summary": "Hello from the trial",
                    "status": "refused",
                    "reason": answers.COUNTRY_BLOCKED,
                    "errorCode": answers.CODE_REJECTED,
                    "provider": None,
                    "json": {
                        "messages": {
                            "msg": [
                                {
                                    "allowedChannels": ["SMS"],
                                    "from": "TrialTest",
                                    "to": [{"number": "+255712345678"}],
                                    "body": {"type": "auto", "content": "Hello from the trial"},
                                }
                            ]
                        }
                    },
                    "explain": None,
                },
            ],
            "next": None,
        },
        **_PAGED,
    ),
    WEBHOOKS_PATH: {
        **_dashboard(
            "dashboardWebhooks",
            "The trial's own webhooks: where its inbound messages and status reports are to be posted",
            _WEBHOOKS_VIEW,
            _WEBHOOKS_EXAMPLE,
            description="Delivery to these URLs is not built yet: they are stored and checked, nothing calls them.",
        ),
        **_dashboard(
            "dashboardSaveWebhooks",
            "Replace both webhook URLs (a missing, null or empty one is removed)",
            _WEBHOOKS_VIEW,
            _WEBHOOKS_EXAMPLE,
            method="put",
            ok="The webhooks as saved (Cache-Control: no-store).",
            description=(
                "In AWS, https URLs resolving to public addresses only: no private, loopback, link-local, "
                "CGNAT, multicast, reserved or metadata address (IPv4 or IPv6, IPv4-mapped included), no user name or "
                "password in the URL, port 443 or 1024-65535. On the local stack `http://127.0.0.1:<port>` is accepted "
                "too (TRIALGW_WEBHOOK_ALLOW_LOOPBACK)."
            ),
            requestBody={
                "required": True,
                "content": {
                    _JSON: {
                        "schema": _WEBHOOKS_PUT,
                        "examples": {
                            "both": {
                                "value": {
                                    "inboundUrl": "https://hooks.example.com/trial/inbound",
                                    "statusUrl": "https://hooks.example.com/trial/status",
                                }
                            }
                        },
                    }
                },
            },
            responses={
                "400": _WEBHOOK_REFUSALS,
                "409": _TRIAL_ENDED,
                "415": _error(
                    "The body is not declared as JSON.",
                    "unsupported_media_type",
                    "Send the request as JSON, with the header Content-Type: application/json.",
                ),
            },
        ),
    },
    WEBHOOK_SECRET_PATH: _dashboard(
        "dashboardNewWebhookSecret",
        "A new signing secret, shown this once (the previous one signs nothing from now on)",
        {"type": "object", "required": ["secret"], "properties": {"secret": {"type": "string", "format": "password"}}},
        {"secret": "whsec_Jm4v0b7TQ0p3WlYbq1u9xHn2cKe8ZsR5aDfG6hJ1kLo"},
        method="post",
        ok="The new secret: store it now, no answer shows it again (Cache-Control: no-store).",
        description=(
            "Each webhook call will carry `X-Trial-Timestamp: <unix seconds>` and `X-Trial-Signature: sha256=<hex "
            'HMAC-SHA256 of "<timestamp>.<raw body>" keyed with this secret>`.'
        ),
        responses={"409": _TRIAL_ENDED},
    ),
    WEBHOOK_TEST_PATH: _dashboard(
        "dashboardWebhookTest",
        "Send a test event to the inbound URL",
        _QUEUED,
        {"eventId": "evt_3q2-7wEvXk9LmR0aZbT1cYdUeF8"},
        method="post",
        ok_status="202",
        ok="Queued for the webhook worker: the log shows its attempts under this eventId (Cache-Control: no-store).",
        description=(
            "Kind `test`, posted to inboundUrl with the same headers and signature as an inbound message: CM's MO JSON "
            "of a made-up message from the trial's first whitelisted recipient (or +447700900123 while none is) with "
            f"the text `This is a test event from the <brand> messaging trial`. {_MANUAL_LIMIT}"
        ),
        responses={
            "400": _error(
                "The trial has no inbound URL to send the test event to.",
                "no_webhook_url",
                "There is no inbound URL to send a test event to: save one (inboundUrl) first.",
            ),
            "409": _ENDED_SENDS,
            "429": _TOO_MANY_SENDS,
        },
    ),
    WEBHOOK_LOG_PATH: _dashboard(
        "dashboardWebhookLog",
        "The trial's webhook log: each attempt to post an event, newest first, a page at a time",
        _WEBHOOK_LOG_VIEW,
        {
            "attempts": [
                {
                    "id": "att_Qm9vYmFy",
                    "eventId": "evt_3q2-7wEvXk9LmR0aZbT1cYdUeF8",
                    "kind": "test",
                    "url": "https://hooks.example.com/trial/inbound",
                    "at": "2026-12-02T09:06:00.120Z",
                    "status": 500,
                    "latencyMs": 84,
                    "error": None,
                    "payload": '{"reference":"evt_x","from":{"number":"+447700900123","name":""},"…":"…"}',
                    "answer": "Internal Server Error",
                    "willRetry": True,
                }
            ],
            "next": None,
        },
        **_PAGED,
    ),
    WEBHOOK_REPLAY_PATH: _dashboard(
        "dashboardWebhookReplay",
        "Send a logged event again (same eventId, so a receiver that dedupes on X-Trial-Event-Id sees it as seen)",
        _QUEUED,
        {"eventId": "evt_3q2-7wEvXk9LmR0aZbT1cYdUeF8"},
        method="post",
        ok_status="202",
        ok="Queued again for the webhook worker, as attempt 0 (Cache-Control: no-store).",
        description=(
            "The event as first made, to the trial's current URL for its kind. An eventId that this trial's log does "
            f"not hold (never attempted, expired, another trial's) is 404 `not_found`. {_MANUAL_LIMIT}"
        ),
        parameters=[
            {
                "name": "eventId",
                "in": "path",
                "required": True,
                "description": "An `eventId` from the webhook log.",
                "schema": {"type": "string", "pattern": "^evt_[A-Za-z0-9_-]{4,60}$"},
            }
        ],
        responses={"409": _ENDED_SENDS, "429": _TOO_MANY_SENDS},
    ),
}
# The webhooks: the providers' payloads as CM and Meta document them (keys CM sends in any letter case).
_SECRET_PARAMETER: dict[str, Any] = {
    "name": "secret",
    "in": "path",
    "required": True,
    "description": "The webhook secret (Secrets Manager's cm_webhook_secret) in the URL registered with CM. A secret: "
    "never publish or log it. A wrong one answers 404, as an unknown path does.",
    "schema": {"type": "string", "format": "password", "writeOnly": True},
}
_OUTCOMES = {
    "type": "object",
    "required": ["processed", "outcomes"],
    "properties": {
        "processed": {"type": "integer", "minimum": 0},
        "outcomes": {"type": "array", "items": {"type": "string", "enum": [o.value for o in InboundOutcome]}},
    },
}
_PROCESSED = _answer(
    "Processed (also a redelivery: `duplicate`); one outcome per message.",
    _OUTCOMES,
    {"processed": 1, "outcomes": ["whitelisted"]},
)
_WEBHOOK_400 = _answer(
    "The payload is not what the provider documents, not JSON, or too large.",
    _error_schema("invalid_payload", "empty_body", "invalid_json", "invalid_encoding", "body_too_large"),
    {"message": "body.from is required.", "code": "invalid_payload"},
)
_CM_NOT_FOUND = _error("The secret is wrong (the same answer as an unknown path).", "not_found", "Not found.")
_WEBHOOK_503 = _error(
    "A dependency failed; the provider retries.",
    "unavailable",
    "The message could not be processed; please retry.",
    headers=_RETRY,
)
# CM matches JSON keys in any letter case (`Channel`, `From`, …: CM's .NET clients send them so), which JSON Schema
# cannot say: CM's objects name no `required` keys, their descriptions do.
_NUMBER = {"type": "object", "description": "number: required.", "properties": {"number": {"type": "string"}}}
_CM_MO = {
    "type": "object",
    "description": "Keys in any letter case. Required: reference, from.number, to.number, channel.",
    "properties": {
        "reference": {"type": "string"},
        "messageContext": {"type": "string"},
        "from": {**_NUMBER, "properties": {"number": {"type": "string"}, "name": {"type": "string"}}},
        "to": _NUMBER,
        "message": {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "media": {"type": "object"},
                "custom": {"type": "object"},
            },
        },
        "groupings": {"type": "array", "items": {"type": "string"}},
        "timeUtc": {"type": "string", "description": "yyyy-MM-ddTHH:mm:ss in UTC, no zone."},
        "channel": {"type": "string", "examples": ["WhatsApp", "SMS"]},
    },
}
_CM_STATUS = {
    "type": "object",
    "description": "Keys in any letter case. A report without reference or status.code is skipped.",
    "properties": {
        "received": {"type": ["string", "integer"]},
        "to": {"type": "string"},
        "reference": {"type": "string", "description": "The message id the trial sent with."},
        "status": {
            "type": "object",
            "properties": {
                "code": {
                    "type": ["string", "integer"],
                    "description": "0 accepted, 1 rejected, 2 delivered, 3 failed, 4 read.",
                },
                "errorCode": {"type": ["string", "integer"]},
                "errorDescription": {"type": "string"},
            },
        },
        "operator": {"type": "string"},
    },
}


def _json_body(schema: dict[str, Any], example: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {_JSON: {"schema": schema, "examples": {"payload": {"value": example}}}}}


def _webhook(operation_id: str, summary: str, **operation: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": ["Webhooks"], "operationId": operation_id, **operation}


WEBHOOK_PATH_ITEMS: dict[str, dict[str, Any]] = {
    "/webhooks/cm/{secret}": {
        "parameters": [_SECRET_PARAMETER],
        "post": _webhook(
            "cmMoWebhook",
            "CM's MO webhook: an end user's message (a trial key whitelists its sender)",
            requestBody=_json_body(
                {"oneOf": [_CM_MO, {"type": "array", "items": _CM_MO}]},
                {
                    "reference": "3f6c1a2e-0000-4000-8000-000000000001",
                    "from": {"number": _EXAMPLE_NUMBER, "name": "Jan"},
                    "to": {"number": "0031201234567"},
                    "message": {"text": _EXAMPLE_KEY},
                    "groupings": ["", "", ""],
                    "timeUtc": "2026-12-02T09:05:00",
                    "channel": "WhatsApp",
                },
            ),
            responses={"200": _PROCESSED, "400": _WEBHOOK_400, "404": _CM_NOT_FOUND, "503": _WEBHOOK_503},
        ),
    },
    "/webhooks/cm-status/{secret}": {
        "parameters": [_SECRET_PARAMETER],
        "post": _webhook(
            "cmStatusWebhook",
            "CM's status reports of the messages the trial sent",
            requestBody=_json_body(
                {
                    "type": "object",
                    "description": "Keys in any letter case; `msg` is one report or an array of them.",
                    "properties": {
                        "messages": {
                            "type": "object",
                            "properties": {"msg": {"oneOf": [_CM_STATUS, {"type": "array", "items": _CM_STATUS}]}},
                        }
                    },
                },
                {
                    "messages": {
                        "msg": {
                            "received": "2026-12-02T09:06:01",
                            "to": "0031612345678",
                            "reference": "5b0f3c2a9d8e4f1a8b7c6d5e4f3a2b1c",
                            "status": {"code": "2", "errorCode": "", "errorDescription": "Delivered"},
                            "operator": "20416",
                        }
                    }
                },
            ),
            responses={
                "200": _answer(
                    "Applied: how many reports were read and how many moved a message's status.",
                    {
                        "type": "object",
                        "required": ["processed", "updated"],
                        "properties": {"processed": {"type": "integer"}, "updated": {"type": "integer"}},
                    },
                    {"processed": 1, "updated": 1},
                ),
                "400": _WEBHOOK_400,
                "404": _CM_NOT_FOUND,
                "503": _WEBHOOK_503,
            },
        ),
    },
    "/webhooks/meta": {
        "get": _webhook(
            "metaWebhookVerification",
            "Meta's verification handshake: echoes hub.challenge",
            parameters=[
                {
                    "name": "hub.mode",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "enum": ["subscribe"]},
                },
                {
                    "name": "hub.verify_token",
                    "in": "query",
                    "required": True,
                    "description": "The verify token (Secrets Manager's meta_verify_token), compared in constant time. "
                    "A secret: never publish it.",
                    "schema": {"type": "string", "format": "password", "writeOnly": True},
                },
                {
                    "name": "hub.challenge",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "minLength": 1},
                },
            ],
            responses={
                "200": {
                    "description": "The challenge, as text.",
                    "content": {"text/plain": {"schema": {"type": "string"}, "example": "1158201444"}},
                },
                "403": _error("Wrong mode or token, or no challenge.", "forbidden", "Verification failed."),
            },
        ),
        "post": _webhook(
            "metaWebhook",
            "Meta's webhook: WhatsApp Cloud API, Messenger and Instagram messages and statuses",
            parameters=[
                {
                    "name": "X-Hub-Signature-256",
                    "in": "header",
                    "required": True,
                    "description": "sha256=<HMAC-SHA256 of the raw body with the app secret>, hex.",
                    "schema": {"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}$"},
                }
            ],
            requestBody=_json_body(
                {
                    "type": "object",
                    "required": ["object", "entry"],
                    "properties": {
                        "object": {"type": "string", "enum": ["whatsapp_business_account", "page", "instagram"]},
                        "entry": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string"},
                                    "changes": {
                                        "type": "array",
                                        "description": "WhatsApp: `field` messages, `value` with messages[] or "
                                        "statuses[].",
                                        "items": {"type": "object"},
                                    },
                                    "messaging": {
                                        "type": "array",
                                        "description": "Messenger and Instagram: sender.id, recipient.id, message.",
                                        "items": {"type": "object"},
                                    },
                                },
                            },
                        },
                    },
                },
                {
                    "object": "whatsapp_business_account",
                    "entry": [
                        {
                            "id": "102000000000001",
                            "changes": [
                                {
                                    "field": "messages",
                                    "value": {
                                        "messaging_product": "whatsapp",
                                        "metadata": {
                                            "display_phone_number": "15550009999",
                                            "phone_number_id": "106000000000002",
                                        },
                                        "contacts": [{"profile": {"name": "Ana Trial"}, "wa_id": "15551230001"}],
                                        "messages": [
                                            {
                                                "from": "15551230001",
                                                "id": "wamid.INBOUND1",
                                                "timestamp": "1767225600",
                                                "type": "text",
                                                "text": {"body": _EXAMPLE_KEY},
                                            }
                                        ],
                                    },
                                }
                            ],
                        }
                    ],
                },
            ),
            responses={
                "200": _PROCESSED,
                "400": _WEBHOOK_400,
                "401": _error("A bad or missing signature.", "unauthorized", "Invalid or missing X-Hub-Signature-256."),
                "503": _WEBHOOK_503,
            },
        ),
    },
}

# The paths other functions own, added to the send resolver's generated document.
OTHER_PATH_ITEMS: dict[str, dict[str, Any]] = {
    "/signup": SIGNUP_PATH_ITEM,
    **DASHBOARD_PATH_ITEMS,
    **WEBHOOK_PATH_ITEMS,
}
SECURITY_SCHEMES: dict[str, Any] = {
    _BEARER: {"type": "http", "scheme": "bearer", "description": "The trial key from the sign-up e-mail."}
}


def document(app: APIGatewayRestResolver, api_url: str) -> str:
    """`GET /openapi.json`: Powertools' document of the send resolver's routes, with the other functions' paths."""
    generated: dict[str, Any] = json.loads(app.get_openapi_json_schema(**document_info(api_url)))
    clash = set(generated["paths"]) & set(OTHER_PATH_ITEMS)
    if clash:
        raise ValueError(f"paths both generated and declared: {sorted(clash)}")
    generated["paths"].update(OTHER_PATH_ITEMS)
    generated.setdefault("components", {}).setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return json.dumps(generated)


def document_info(api_url: str) -> dict[str, Any]:
    """The document's title, version, description and server, for `get_openapi_json_schema`."""
    from aws_lambda_powertools.event_handler.openapi.models import Server

    return {
        "title": "trialgw: messaging trial gateway",
        "version": "1.0.0",
        "description": "Try the Business Messaging API for 24 hours: CM-compatible send gateway with trial rules.",
        "servers": [Server(url=api_url)],
    }
