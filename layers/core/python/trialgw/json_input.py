"""Untrusted JSON: one decoder for request bodies, and typed access with errors that name the path
(`entry[0].messaging[1].sender.id`).

`decode_json` is the one reader of a request body: the send gateway's (which answers in CM's words) and, through
`decode_object` and `trialgw.http.parse_json_object`, every other function's.
The field readers raise `InvalidPayload`, whatever JSON value they are given: the providers' webhook parsers and
status-report parsers read through them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from trialgw.errors import InvalidPayload

# Error texts go back to the caller and into logs: never echo more than a hint of a hostile value.
_MAX_SHOWN = 40
# Unix times in seconds or milliseconds; more digits than this is not a time.
_MAX_TIMESTAMP_DIGITS = 16
_KINDS: dict[type, str] = {type(None): "null", list: "an array", dict: "an object"}
# Providers' message ids are tens of characters (WhatsApp's wamid, Instagram's mid: up to a few hundred).
MAX_ID_BYTES = 512
# Arrays and objects nested deeper than any request needs (CM's rich content, the deepest, stays within 30). The
# limit is ours, the same on every interpreter: the json module's own stop is its recursion limit, about 1,000 levels
# on Python 3.11 and 10,000 on 3.13.
MAX_DEPTH = 64


class NotAnObject(StrEnum):
    """Why a body is not a usable JSON document; `decode_json` and `decode_object` raise `UnreadableJson` with one."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    # Text no UTF-8 encoder can write (a lone surrogate): nothing read from it could be stored or sent on.
    NOT_UNICODE = "not_unicode"
    NOT_JSON = "not_json"
    # JSON syntax no request needs: nesting deeper than MAX_DEPTH, numbers of thousands of digits or beyond a float's
    # range.
    BEYOND_LIMITS = "beyond_limits"
    NOT_OBJECT = "not_object"


class UnreadableJson(ValueError):
    def __init__(self, problem: NotAnObject) -> None:
        super().__init__(problem.value)
        self.problem = problem


_BOM = "\ufeff"


class _NotJsonConstant(ValueError):
    """`NaN`/`Infinity`: Python's json module reads them, JSON has no such thing."""


def _reject_constant(name: str) -> object:
    raise _NotJsonConstant(name)


def _finite_float(text: str) -> float:
    # `1e999` is JSON syntax but becomes infinity, which no JSON encoder may write back out.
    value = float(text)
    if math.isinf(value):
        raise ValueError("number out of range")
    return value


def decode_json(raw: str | None, *, max_bytes: int) -> object:
    """`raw` as a JSON document, or UnreadableJson saying why not: size first, so a huge body is never parsed; a
    leading byte order mark is skipped; only what JSON has is read (no `NaN`, no infinite number)."""
    if raw is None:
        raise UnreadableJson(NotAnObject.EMPTY)
    # surrogatepass: a body may decode to lone surrogates; its size is still its size.
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise UnreadableJson(NotAnObject.TOO_LARGE)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise UnreadableJson(NotAnObject.NOT_UNICODE) from None
    text = raw.removeprefix(_BOM)
    if not text.strip():
        raise UnreadableJson(NotAnObject.EMPTY)
    try:
        document: object = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except (json.JSONDecodeError, _NotJsonConstant):
        raise UnreadableJson(NotAnObject.NOT_JSON) from None
    except (ValueError, RecursionError):
        # ValueError here: over-long integers, infinite floats; RecursionError: nesting past the parser's own stop.
        raise UnreadableJson(NotAnObject.BEYOND_LIMITS) from None
    # Fewer brackets than the limit cannot nest past it (the usual body): only a bracket-rich one is walked.
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(document, MAX_DEPTH):
        raise UnreadableJson(NotAnObject.BEYOND_LIMITS)
    return document


def _deeper_than(document: object, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels in `document` (walked without recursion)."""
    stack: list[tuple[object, int]] = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Iterable[object] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def decode_object(raw: str | None, *, max_bytes: int) -> dict[str, Any]:
    """`raw` as a JSON object (`decode_json`'s rules), or UnreadableJson saying why not."""
    parsed = decode_json(raw, max_bytes=max_bytes)
    if not isinstance(parsed, dict):
        raise UnreadableJson(NotAnObject.NOT_OBJECT)
    return parsed


def describe(value: object) -> str:
    """A short, safe description of a JSON value for an error text."""
    if isinstance(value, str):
        shown = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return repr(shown)
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _KINDS.get(type(value), "an unsupported value")


def as_object(value: object, path: str) -> Mapping[str, object]:
    """`value` as a JSON object, or InvalidPayload naming `path`."""
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path} must be an object, not {describe(value)}.")
    return value


def as_list(value: object, path: str) -> list[object]:
    """`value` as a JSON array, or InvalidPayload naming `path`."""
    if not isinstance(value, list):
        raise InvalidPayload(f"{path} must be an array, not {describe(value)}.")
    return value


def lookup(obj: Mapping[str, object], key: str, *, ignore_case: bool = False) -> object:
    """`obj[key]` or None; with `ignore_case`, an exact match wins, else the first key equal ignoring case."""
    if key in obj:
        return obj[key]
    if ignore_case:
        folded = key.casefold()
        for name, value in obj.items():
            if isinstance(name, str) and name.casefold() == folded:
                return value
    return None


def _unicode(value: str, path: str) -> str:
    # JSON may escape lone surrogates (`"\ud800"`); such a string cannot be stored (DynamoDB, SQS take UTF-8), and
    # a provider's retry would fail the same way, so it is a malformed payload, not a transient failure.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPayload(f"{path} is not valid Unicode text.") from None
    return value


def required_str(obj: Mapping[str, object], key: str, path: str, *, ignore_case: bool = False) -> str:
    """A non-empty string field (surrounding white space does not count as content)."""
    value = lookup(obj, key, ignore_case=ignore_case)
    if value is None:
        raise InvalidPayload(f"{path}.{key} is required.")
    if not isinstance(value, str):
        raise InvalidPayload(f"{path}.{key} must be a string, not {describe(value)}.")
    if not value.strip():
        raise InvalidPayload(f"{path}.{key} must not be empty.")
    return _unicode(value, f"{path}.{key}")


def required_id(obj: Mapping[str, object], key: str, path: str, *, ignore_case: bool = False) -> str:
    """A provider's message id: a required string of at most `MAX_ID_BYTES` (it becomes part of DynamoDB keys, whose
    sort keys hold 1,024 bytes; a longer one would fail the store on every retry of the provider)."""
    value = required_str(obj, key, path, ignore_case=ignore_case)
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidPayload(f"{path}.{key} is longer than {MAX_ID_BYTES} bytes.")
    return value


def optional_str(obj: Mapping[str, object], key: str, path: str, *, ignore_case: bool = False) -> str | None:
    """A string field kept verbatim, or None when absent, null or empty."""
    value = lookup(obj, key, ignore_case=ignore_case)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload(f"{path}.{key} must be a string, not {describe(value)}.")
    return _unicode(value, f"{path}.{key}") or None


def optional_object(
    obj: Mapping[str, object], key: str, path: str, *, ignore_case: bool = False
) -> Mapping[str, object] | None:
    """An object field, or None when absent or null."""
    value = lookup(obj, key, ignore_case=ignore_case)
    return None if value is None else as_object(value, f"{path}.{key}")


def optional_list(obj: Mapping[str, object], key: str, path: str) -> list[object]:
    """An array field, or an empty list when absent or null."""
    value = obj.get(key)
    return [] if value is None else as_list(value, f"{path}.{key}")


def optional_timestamp(obj: Mapping[str, object], key: str, path: str) -> int | None:
    """A Unix time given as a number or a string of digits (WhatsApp sends strings), or None when absent."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**_MAX_TIMESTAMP_DIGITS:
        return value
    if isinstance(value, str) and 0 < len(value) <= _MAX_TIMESTAMP_DIGITS and value.isascii() and value.isdigit():
        return int(value)
    raise InvalidPayload(f"{path}.{key} must be a Unix time, not {describe(value)}.")


def optional_int(obj: Mapping[str, object], key: str, path: str) -> int | None:
    """An integer field (a code), or None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidPayload(f"{path}.{key} must be an integer, not {describe(value)}.")
