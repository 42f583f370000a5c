"""A CM Business Messaging send request (reference §1) as real clients send it, read from untrusted input.

`parse_send_request` refuses what is no JSON, or JSON but no valid send request (the first two checks of the send
table), and returns everything else as a `SendRequest`, with how many channels, messages and recipients it names:
the send use case checks those in the table's order, after the key.

Decisions (each has a test):
- Content types: `application/json`, `text/json` and `application/<x>+json`, any parameters (charset),
  any letter case: the media types ASP.NET Core's JSON input takes. Anything else, or none, is not JSON.
  Browsers can post form or `text/plain` bodies cross-site without a CORS preflight; JSON types cannot.
- JSON keys match ignoring case at every level (CM documents them case-insensitive; SDKs send `producttoken`,
  `productToken`, Zapier `Messages`/`Authentication`/`ProductToken`/`Msg`); an exact-case key wins a tie.
- The key: the `X-CM-PRODUCTTOKEN` header first (CM's recommended way), else
  `messages.authentication.producttoken`. A value that is not GUID-shaped counts as absent, so a typo in
  the header does not hide a good body key, and a request without a usable key is refused for its key.
- A valid request, in short: the body must be `{"messages": {"msg": [ {...} ]}}` with, in every `msg` item, a
  non-empty `to` array of `{"number": "<string>"}`, a `body` object and `body.content` a non-blank string, or,
  when the item has a `richContent` object, a string (empty too) or absent: CM's SDKs send WhatsApp templates
  and interactive messages with `"content": ""`, and the use case checks the rich content for its channel. `from`,
  `reference`, `body.type`, `allowedChannels`, `richContent`, `authentication` are optional but must have
  their types when given. Unknown keys are ignored (SDKs add `customGrouping3`, `$type`, …), and not forwarded.
- `allowedChannels`: absent, null or `[]` means SMS. Values match ignoring case and spaces (`whatsapp`,
  `Whatsapp`, `FacebookMessenger`). Duplicates of one channel are one channel; two different ones are
  channel fallback. An unknown value (`Viber`) is kept as `channel_raw` with `channel=None`: a channel the
  trial does not offer.
- `body.type`: `auto`, `text` or `binary`, any letter case (the SDKs' `AUTO`, `TEXT`, `BINARY`); the send use case
  refuses `binary` with its own text (binary SMS is not in the trial), not as "Invalid POST data".
- `minimumNumberOfMessageParts` and `maximumNumberOfMessageParts` (CM's SMS concatenation bounds) are whole numbers
  from 1 to 255 (SMS's own maximum), `dcs` (SMS data coding scheme) one from 0 to 255: JSON integers, or strings
  of digits as some clients send them. The use case applies them to SMS; nothing else about them is checked here.
- `from` may be absent (`""`): the trial's sender is always the trial company, and for SMS the sender check
  explains the 4-11 character rule better than "Invalid POST data" would.
- Limits: the body at most 64 KiB of UTF-8 (one message with the longest content below, fully
  `\\u`-escaped, plus a rich carousel fits with room; it bounds parse time and stays far under SQS's
  message size). `body.content` at most 4,096 characters: WhatsApp's text limit, the longest any trial
  channel carries (Messenger 2,000, Instagram 1,000, trial SMS 288 - the SMS limit is checked by the use case
  with the counter, so it gets its helpful text). `reference` at most 64 characters (CM
  documents 32 alphanumerics; 64 lets a UUID through). `richContent` at most 16 levels deep.
  Strings must be valid Unicode (no lone surrogates from `\\ud800` escapes): they go to DynamoDB and SQS.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import NamedTuple

from trialgw.channels import DEFAULT_CHANNEL, parse_channel
from trialgw.json_input import NotAnObject, UnreadableJson, decode_json, lookup
from trialgw.keys import normalize_key
from trialgw.logic.send_outcomes import BodyType, Objection, Reason, Refused, SendRequest, recipient_address
from trialgw.media_types import is_json_content_type

MAX_BODY_BYTES = 64 * 1024
MAX_CONTENT_CHARS = 4096
MAX_REFERENCE_CHARS = 64
MAX_RICH_CONTENT_DEPTH = 16
# Numbers, ids and channel names longer than this are not ones (normalize_address caps phones at 64 too).
MAX_SHORT_FIELD_CHARS = 64
# CM's own cap on `msg` items per call; a bigger array is no request at all.
MAX_MSG_ITEMS = 1000
MAX_RECIPIENTS = 1000
# An SMS has at most 255 parts (its concatenation header counts them in one octet); a data coding scheme is an octet.
MAX_SMS_PARTS = 255
MAX_DCS = 255


class _Invalid(Exception):
    """JSON, but no valid send request: the JSON path of the problem, for the log."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def parse_send_request(
    body: str | None,
    content_type: str | None,
    header_token: str | None,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> SendRequest | Refused:
    """The send request in `body`, or its refusal as not JSON or as no valid send request.

    Never raises, whatever it is given. `header_token` is the `X-CM-PRODUCTTOKEN` header's value.
    """
    try:
        return _request(_document(body, content_type, max_body_bytes), header_token)
    except _NotJsonAtAll as not_json:
        return Refused(objection=Objection(reason=Reason.NOT_JSON, hint=not_json.hint))
    except _Invalid as invalid:
        return Refused(objection=Objection(reason=Reason.INVALID_POST_DATA, hint=invalid.hint))


class _NotJsonAtAll(Exception):
    """No JSON: the content type or the body, named for the log."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


# How the body's decoding failed, as CM answers it: no JSON at all, or JSON that is no valid send request.
_NOT_JSON_HINTS = {
    NotAnObject.EMPTY: "empty body",
    NotAnObject.NOT_UNICODE: "body is not Unicode text",
    NotAnObject.NOT_JSON: "body does not parse",
}


def _document(body: str | None, content_type: str | None, max_body_bytes: int) -> object:
    if not is_json_content_type(content_type):
        raise _NotJsonAtAll("content-type")
    try:
        return decode_json(body, max_bytes=max_body_bytes)
    except UnreadableJson as error:
        if error.problem in _NOT_JSON_HINTS:
            raise _NotJsonAtAll(_NOT_JSON_HINTS[error.problem]) from None
        if error.problem is NotAnObject.TOO_LARGE:
            raise _Invalid(f"body larger than {max_body_bytes} bytes") from None
        raise _Invalid("nesting or number too large") from None


# Reading the document. Each helper raises _Invalid naming the path; none echoes a value.


def _field(obj: Mapping[str, object], key: str) -> object:
    # CM's field names in any case (an exact-case key wins).
    return lookup(obj, key, ignore_case=True)


def _object(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _Invalid(f"{path} must be an object")
    return value


def _array(value: object, path: str, limit: int) -> list[object]:
    if not isinstance(value, list):
        raise _Invalid(f"{path} must be an array")
    if not value:
        raise _Invalid(f"{path} must not be empty")
    if len(value) > limit:
        raise _Invalid(f"{path} has more than {limit} items")
    return value


def _unicode(value: str, path: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Invalid(f"{path} is not valid Unicode") from None
    return value


def _string(value: object, path: str, limit: int, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise _Invalid(f"{path} is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(f"{path} must be a string")
    if len(value) > limit:
        raise _Invalid(f"{path} is longer than {limit} characters")
    if required and not value.strip():
        raise _Invalid(f"{path} must not be empty")
    return _unicode(value, path)


def _body_type(value: object, path: str) -> BodyType:
    text = _string(value, path, MAX_SHORT_FIELD_CHARS, required=False)
    if text is None or not text.strip():
        return BodyType.AUTO
    try:
        return BodyType(text.strip().lower())
    except ValueError:
        raise _Invalid(f"{path} must be auto, text or binary") from None


def _whole_number(value: object, path: str, lowest: int, highest: int) -> int | None:
    """A JSON integer (`8.0` is one, as JSON Schema counts), or a string of digits (clients built on loosely typed
    JSON send `"8"`), within bounds."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and len(value) <= 8:
        value = int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**31:
        value = int(value)
    # bool is an int in Python, never in JSON.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"{path} must be a whole number")
    if not lowest <= value <= highest:
        raise _Invalid(f"{path} must be from {lowest} to {highest}")
    return value


def _channels(value: object, path: str) -> list[str]:
    """The distinct requested channel names, as given; `[]` when none are."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Invalid(f"{path} must be an array")
    names: dict[str, str] = {}
    for index, item in enumerate(value):
        name = _string(item, f"{path}[{index}]", MAX_SHORT_FIELD_CHARS, required=True)
        assert name is not None
        names.setdefault(name.replace(" ", "").casefold(), name.strip())
    return list(names.values())


def _rich_content(value: object, path: str) -> dict[str, object] | None:
    if value is None:
        return None
    rich = _object(value, path)
    stack: list[tuple[object, int]] = [(rich, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _unicode(node, path)
        elif isinstance(node, dict | list):
            if depth > MAX_RICH_CONTENT_DEPTH:
                raise _Invalid(f"{path} is nested more than {MAX_RICH_CONTENT_DEPTH} levels deep")
            if isinstance(node, dict):
                stack.extend((key, depth) for key in node)
                stack.extend((child, depth + 1) for child in node.values())
            else:
                stack.extend((child, depth + 1) for child in node)
    return rich


class _Message(NamedTuple):
    channels: list[str]
    sender: str
    recipients: list[str]
    content: str
    body_type: BodyType
    reference: str | None
    rich_content: dict[str, object] | None
    min_parts: int | None
    max_parts: int | None
    dcs: int | None


def _message(value: object, path: str) -> _Message:
    msg = _object(value, path)
    recipients: list[str] = []
    for index, item in enumerate(_array(_field(msg, "to"), f"{path}.to", MAX_RECIPIENTS)):
        recipient = _object(item, f"{path}.to[{index}]")
        number = _string(
            _field(recipient, "number"), f"{path}.to[{index}].number", MAX_SHORT_FIELD_CHARS, required=True
        )
        assert number is not None
        recipients.append(number)
    body = _object(_field(msg, "body"), f"{path}.body")
    rich_content = _rich_content(_field(msg, "richContent"), f"{path}.richContent")
    # With `richContent` the text may be empty or absent (CM's SDKs send templates with `"content": ""`): the use
    # case decides, for the channel, whether the rich content can stand for it.
    content = _string(_field(body, "content"), f"{path}.body.content", MAX_CONTENT_CHARS, required=rich_content is None)
    sender = _string(_field(msg, "from"), f"{path}.from", MAX_SHORT_FIELD_CHARS, required=False)
    reference = _string(_field(msg, "reference"), f"{path}.reference", MAX_REFERENCE_CHARS, required=False)
    return _Message(
        channels=_channels(_field(msg, "allowedChannels"), f"{path}.allowedChannels"),
        sender=sender or "",
        recipients=recipients,
        content=content or "",
        body_type=_body_type(_field(body, "type"), f"{path}.body.type"),
        reference=reference or None,
        rich_content=rich_content,
        min_parts=_whole_number(
            _field(msg, "minimumNumberOfMessageParts"), f"{path}.minimumNumberOfMessageParts", 1, MAX_SMS_PARTS
        ),
        max_parts=_whole_number(
            _field(msg, "maximumNumberOfMessageParts"), f"{path}.maximumNumberOfMessageParts", 1, MAX_SMS_PARTS
        ),
        dcs=_whole_number(_field(msg, "dcs"), f"{path}.dcs", 0, MAX_DCS),
    )


def _body_token(messages: Mapping[str, object]) -> str | None:
    authentication = _field(messages, "authentication")
    if authentication is None:
        return None
    token = _field(_object(authentication, "messages.authentication"), "producttoken")
    # A token of the wrong type is a malformed key: absent, so the send is refused for its key, not as invalid.
    return normalize_key(token) if isinstance(token, str) and len(token) <= MAX_SHORT_FIELD_CHARS else None


def _request(document: object, header_token: str | None) -> SendRequest:
    root = _object(document, "body")
    messages = _object(_field(root, "messages"), "messages")
    msg = _array(_field(messages, "msg"), "messages.msg", MAX_MSG_ITEMS)
    items = [_message(item, f"messages.msg[{index}]") for index, item in enumerate(msg)]
    body_token = _body_token(messages)
    header_key = (
        normalize_key(header_token)
        if isinstance(header_token, str) and len(header_token) <= MAX_SHORT_FIELD_CHARS
        else None
    )
    first = items[0]
    channel_raw = first.channels[0] if first.channels else DEFAULT_CHANNEL.value
    return SendRequest(
        token=header_key or body_token,
        channel=parse_channel(channel_raw),
        channel_raw=channel_raw,
        sender=first.sender,
        to_raw=first.recipients[0],
        content=first.content,
        body_type=first.body_type,
        reference=first.reference,
        rich_content=first.rich_content,
        min_parts=first.min_parts,
        max_parts=first.max_parts,
        dcs=first.dcs,
        most_channels=max(len(item.channels) for item in items),
        items=len(items),
        recipients=len(first.recipients),
        fingerprint=_fingerprint(document),
    )


def _fingerprint(document: object) -> str:
    # Keys sorted and no white space: a client that re-serializes the same request gets the same fingerprint.
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


# The request's model is the send use case's; it is named here too, where it is read.
__all__ = [
    "MAX_BODY_BYTES",
    "MAX_CONTENT_CHARS",
    "MAX_RICH_CONTENT_DEPTH",
    "BodyType",
    "SendRequest",
    "parse_send_request",
    "recipient_address",
]
