"""The validated input of a signup, checked by plain code; email_validator is loaded only by the signup function (its
first request), never by the others' cold starts.

The rules and the messages are those of the pydantic model this replaced (`extra="ignore"`,
`str_strip_whitespace=True`, lax mode), whose import cost about 90 ms of every signup cold start:
tests/unit/test_signup_request.py keeps that model and checks both give the same answer to generated bodies. The body
is a decoded JSON object (`trialgw.http.parse_json_object`): strings, numbers, booleans, null, arrays and objects.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email

from trialgw.errors import InvalidInput
from trialgw.linkable import linkable_part
from trialgw.settings import LAX_FALSE_WORDS, LAX_TRUE_WORDS

INVALID = "Please correct the highlighted fields."
REQUIRED = "This field is required."
NOT_A_STRING = "Input should be a valid string"
NOT_UNICODE = "Input should be a valid string, unable to parse raw data as a unicode string"
NOT_A_BOOLEAN = "Input should be a valid boolean"
NOT_A_BOOLEAN_WORD = "Input should be a valid boolean, unable to interpret input"
NO_CONSENT = "Please agree to the trial terms to get a key."

# What pydantic's strip removed before the lengths were checked: Unicode's White_Space (Rust's `str::trim`). Python's
# `str.strip()` also strips U+001C..U+001F; `_clean_text` does that afterwards, as the model's validators did.
_WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# Numbers other than 0 and 1 are "unable to interpret" within a 64-bit integer's range, "not a boolean" beyond it.
_I64 = 2**63


class SignupRequest(NamedTuple):
    """What the signup form (or an API caller) sends, validated and normalised (`parse_signup`)."""

    name: str
    email: str
    company: str | None = None
    # The page makes the box mandatory; API callers accept the terms by calling, so absence is fine,
    # but an explicit refusal is respected.
    consent: bool | None = None


def parse_signup(body: Mapping[str, Any]) -> SignupRequest:
    """`body` as a SignupRequest (other keys ignored), or InvalidInput with one message per wrong field, in the fields'
    order."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, required, check in _FIELDS:
        if field not in body:
            if required:
                errors[field] = REQUIRED
            continue
        try:
            values[field] = check(body[field])
        except ValueError as error:
            errors[field] = str(error)
    if errors:
        raise InvalidInput(INVALID, errors)
    return SignupRequest(**values)


def _text(value: object, min_length: int, max_length: int) -> str:
    """A string, stripped of white space, within its lengths (counted in characters after the strip)."""
    if not isinstance(value, str):
        raise ValueError(NOT_A_STRING)
    value = _unicode(value).strip(_WHITE_SPACE)
    if len(value) < min_length:
        raise ValueError(_too_short(min_length))
    if len(value) > max_length:
        raise ValueError(f"String should have at most {max_length} characters")
    return value


def _too_short(min_length: int) -> str:
    return f"String should have at least {min_length} character{'' if min_length == 1 else 's'}"


def _unicode(value: str) -> str:
    """`value`, if it is text UTF-8 can write (no lone surrogate; `parse_json_object` refuses those before)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(NOT_UNICODE) from None
    return value


def _clean_text(value: str, field: str) -> str:
    value = unicodedata.normalize("NFC", value).strip()
    # Control characters (CR/LF included) have no place in a name and would let a value break
    # out of an e-mail header or a log line.
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
        raise ValueError(f"The {field} must not contain control characters.")
    # Strangers' names go into e-mails to whatever address they typed: a link or an address there would make
    # the trial a free sender of phishing mail.
    linkable = linkable_part(value)
    if linkable is not None:
        raise ValueError(
            f"The {field} must not contain {linkable}: what you enter here goes into e-mails, where mail "
            f"programs would turn it into a link. Please enter the {field} only."
        )
    return value


def _name(value: object) -> str:
    name = _clean_text(_text(value, 1, 100), "name")
    # The one difference from the pydantic model: U+001C..U+001F pass its strip and its length check, then
    # `_clean_text`'s strip removes them, which left an empty name (a key e-mail to "Hi ,").
    if not name:
        raise ValueError(_too_short(1))
    return name


def _email(value: object) -> str:
    address = _text(value, 3, 254)
    try:
        # Syntax only: a deliverability check would cost a DNS lookup on every signup.
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"Enter a valid e-mail address, like name@example.com ({error}).") from error


def _company(value: object) -> str | None:
    if value is None:
        return None
    return _clean_text(_text(value, 0, 100), "company") or None


def _boolean(value: object) -> bool:
    """`value` as lax mode reads a boolean: true/false, 0/1 (integers or floats) and the words above."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value in (0, 1):
            return value == 1
        raise ValueError(NOT_A_BOOLEAN_WORD if -_I64 <= value < _I64 else NOT_A_BOOLEAN)
    if isinstance(value, float):
        if value.is_integer() and -_I64 < value < _I64:
            if value in (0.0, 1.0):
                return value == 1.0
            raise ValueError(NOT_A_BOOLEAN_WORD)
        raise ValueError(NOT_A_BOOLEAN)
    if isinstance(value, str):
        word = value.lower() if _unicode(value).isascii() else ""
        # The settings' words, but no white space around them: a body is not an environment variable.
        if word in LAX_TRUE_WORDS or word in LAX_FALSE_WORDS:
            return word in LAX_TRUE_WORDS
        raise ValueError(NOT_A_BOOLEAN_WORD)
    raise ValueError(NOT_A_BOOLEAN)


def _consent(value: object) -> bool | None:
    if value is None:
        return None
    if not _boolean(value):
        raise ValueError(NO_CONSENT)
    return True


# In the order pydantic checked them (the declaration's): field, required, check.
_FIELDS: tuple[tuple[str, bool, Callable[[object], Any]], ...] = (
    ("name", True, _name),
    ("email", True, _email),
    ("company", False, _company),
    ("consent", False, _consent),
)
