"""The signup's input (`trialgw.signup_input.parse_signup`), and proof that it answers as the pydantic model it
replaced.

`PydanticSignupRequest` below is that model as it was, with its validators and the handler's `field_errors`: the
oracle. Every body, generated or listed, must get the same normalised request or the same message per field, in the
same order, from both.
"""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from trialgw.errors import InvalidInput
from trialgw.linkable import linkable_part
from trialgw.signup_input import SignupRequest, parse_signup


def _old_clean_text(value: str, field: str) -> str:
    """The model's cleaning as it was: copied on purpose, so that the oracle shares no code with what it checks."""
    value = unicodedata.normalize("NFC", value).strip()
    if any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in value):
        raise ValueError(f"The {field} must not contain control characters.")
    linkable = linkable_part(value)
    if linkable is not None:
        raise ValueError(
            f"The {field} must not contain {linkable}: what you enter here goes into e-mails, where mail "
            f"programs would turn it into a link. Please enter the {field} only."
        )
    return value


class PydanticSignupRequest(BaseModel):
    """The model `parse_signup` replaced, as it was but for one fix (a name its cleaning empties is refused)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    company: str | None = Field(default=None, max_length=100)
    consent: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        name = _old_clean_text(value, "name")
        # The one deliberate difference (see `trialgw.signup_input._name`): a name its cleaning empties is refused.
        if not name:
            raise ValueError("String should have at least 1 character")
        return name

    @field_validator("company")
    @classmethod
    def _company(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = _old_clean_text(value, "company")
        return cleaned or None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"Enter a valid e-mail address, like name@example.com ({error}).") from error

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("Please agree to the trial terms to get a key.")
        return value


def _old_field_errors(error: ValidationError) -> dict[str, str]:
    """The signup handler's messages from pydantic's errors, as they were (`trialgw.http.field_errors`)."""
    fields: dict[str, str] = {}
    for item in error.errors(include_url=False):
        field = str(item["loc"][0]) if item["loc"] else "body"
        message = "This field is required." if item["type"] == "missing" else str(item["msg"])
        fields.setdefault(field, message.removeprefix("Value error, "))
    return fields


def _oracle(body: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    try:
        request = PydanticSignupRequest.model_validate(body)
    except ValidationError as error:
        # The old handler's refusal: InvalidInput with this message and `field_errors`.
        return "Please correct the highlighted fields.", list(_old_field_errors(error).items())
    return "valid", list(request.model_dump().items())


def _parsed(body: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    try:
        request = parse_signup(body)
    except InvalidInput as error:
        return error.message, list(error.fields.items())
    return "valid", list(request._asdict().items())


def _assert_same_answer(body: dict[str, Any]) -> None:
    expected = _oracle(body)
    parsed = _parsed(body)
    assert parsed == expected
    # Types too: True is not 1, and None is not "".
    assert [type(value) for _, value in parsed[1]] == [type(value) for _, value in expected[1]]


# White space pydantic strips and Python's str.strip() too, what only Python's strips, and invisible characters.
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000"
_SPECIAL = _WHITE_SPACE + "\x00\x1c\x1d\x1e\x1f\u200b\u200d\ufeff\u0301\u0958e@.+"
_BOOLEAN_WORDS = ("1", "on", "t", "true", "y", "yes", "0", "off", "f", "false", "n", "no")
_I64 = 2**63

_padding = st.text(st.sampled_from(_WHITE_SPACE + "\x1c\x1f"), max_size=3)
_texts = st.one_of(
    st.text(st.one_of(st.characters(), st.sampled_from(_SPECIAL)), max_size=12),
    # Around the lengths' limits (1, 3, 100, 254), with white space around.
    st.builds(
        lambda left, size, char, right: left + char * size + right,
        _padding,
        st.sampled_from([0, 1, 2, 3, 4, 99, 100, 101, 253, 254, 255, 300]),
        st.sampled_from(["x", "é", "e\u0301", "\u0958", " ", "\x1c"]),
        _padding,
    ),
    st.builds(
        lambda left, name, right: left + name + right, _padding, st.sampled_from(["Jane Doe", "ACME B.V."]), _padding
    ),
    st.builds(lambda left, address, right: left + address + right, _padding, st.emails(), _padding),
    st.sampled_from(["Jane@Example.COM", "jane@", "jane", "a@b", "jane@example.com\nBcc: x@example.com", "jane@xn--"]),
    st.sampled_from(["\ud800", "Jane\udfff", "tru\udc80"]),  # lone surrogates (decode_object refuses them first)
)
_words = st.builds(
    lambda word, upper, left, right: (
        left + "".join(c.upper() if u else c for c, u in zip(word, upper, strict=False)) + right
    ),
    st.sampled_from(_BOOLEAN_WORDS),
    st.lists(st.booleans(), min_size=5, max_size=5),
    st.sampled_from(["", "", "", " "]),
    st.sampled_from(["", "", "", " ", "\n"]),
)
_integers = st.one_of(
    st.integers(-3, 3),
    st.integers(),
    st.sampled_from([_I64 - 1, _I64, -_I64, -_I64 - 1, 2**64, 10**30]),
)
_floats = st.one_of(
    st.floats(),
    st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.0, 0.5, 1e20, 2.0**63, -(2.0**63), 9.2e18, 1.0000000000000002]),
)
_scalars = st.one_of(st.none(), st.booleans(), _integers, _floats, _texts, _words)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=3),
    st.dictionaries(st.text(max_size=5), _scalars, max_size=3),
)
_bodies = st.fixed_dictionaries(
    {},
    optional={"name": _values, "email": _values, "company": _values, "consent": _values, "extra": _values},
)


@settings(max_examples=1500, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(_bodies)
def test_generated_bodies_get_the_pydantic_models_answer(body: dict[str, Any]) -> None:
    _assert_same_answer(body)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(
    st.builds(
        lambda name, email, company, consent: {"name": name, "email": email, "company": company, "consent": consent},
        st.builds(lambda left, name, right: left + name + right, _padding, st.sampled_from(["Jane", "Zoë"]), _padding),
        st.builds(lambda left, address, right: left + address + right, _padding, st.emails(), _padding),
        st.one_of(st.none(), _texts),
        st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, 0.0, 1.0]), _words),
    )
)
def test_generated_valid_looking_bodies_get_the_pydantic_models_answer(body: dict[str, Any]) -> None:
    _assert_same_answer(body)


_OK = {"name": "Jane", "email": "jane@example.com"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"Name": "Jane", "email": "jane@example.com"},
        {"name": 1, "email": 2, "company": 3, "consent": 4},
        {"name": True, "email": None, "company": False, "consent": []},
        {"name": ["Jane"], "email": {"a": 1}, "company": [], "consent": {}},
        {"name": "x" * 10_000, "email": "y" * 10_000 + "@example.com", "company": "z" * 10_000},
        {"name": "\x1c", "email": "jane@example.com"},  # pydantic keeps U+001C, Python's strip removes it: refused
        {"name": " " + "x" * 100 + "\u3000", "email": "jane@example.com"},
        {"name": "e\u0301" * 60, "email": "jane@example.com"},  # 120 characters, 60 once composed
        {"name": "\u0958" * 60, "email": "jane@example.com"},  # 60 characters, 120 once normalised
        {"name": "a\u200b", "email": "jane@example.com"},
        {"name": "Jane", "email": " a@b "},
        {**_OK, "company": "\x1c"},
        {**_OK, "company": None, "consent": None},
        *({**_OK, "consent": value} for value in (True, False, 0, 1, 2, -1, 0.0, -0.0, 1.0, 2.0, 0.5, float("nan"))),
        *({**_OK, "consent": value} for value in (_I64 - 1, _I64, -_I64, -_I64 - 1, 2.0**63, -(2.0**63), 9.2e18)),
        *({**_OK, "consent": word} for word in ("TRUE", "tRuE", "No", " true", "true ", "", "2", "1.0", "ja", "ı")),
        *({**_OK, "consent": word} for word in ("ＴＲＵＥ", "１", "tru\u0435", "\u212a")),
    ],
    ids=repr,
)
def test_listed_bodies_get_the_pydantic_models_answer(body: dict[str, Any]) -> None:
    _assert_same_answer(body)


@pytest.mark.parametrize("word", _BOOLEAN_WORDS)
def test_every_boolean_word_in_every_case_gets_the_pydantic_models_answer(word: str) -> None:
    for mask in range(2 ** len(word)):
        spelled = "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(word))
        _assert_same_answer({**_OK, "consent": spelled})


def test_white_space_is_stripped_where_pydantic_stripped_it() -> None:
    # Every character Python calls white space, or a separator, control or format character: stripped before the
    # lengths are checked (pydantic's Unicode White_Space) or only afterwards (Python's U+001C..U+001F), or kept.
    candidates = [
        chr(code)
        for code in range(sys.maxunicode + 1)
        if not 0xD800 <= code <= 0xDFFF
        and (chr(code).isspace() or unicodedata.category(chr(code)) in {"Zs", "Zl", "Zp", "Cc", "Cf"})
    ]
    assert len(candidates) > 100
    for char in candidates:
        _assert_same_answer({"name": char, "email": "jane@example.com", "company": char + "ACME" + char})


def test_a_name_of_only_separators_is_refused_not_emptied():
    with pytest.raises(InvalidInput) as caught:
        parse_signup({"name": "\x1c\x1f", "email": "jane@example.com"})
    assert caught.value.fields == {"name": "String should have at least 1 character"}


def test_valid_request_is_normalized():
    request = parse_signup(
        {"name": "  Jane Doe ", "email": "Jane.Doe@Example.COM", "company": "  ", "consent": True, "extra": 1}
    )
    assert request == SignupRequest(name="Jane Doe", email="Jane.Doe@example.com", company=None, consent=True)


def test_company_and_consent_are_optional():
    request = parse_signup({"name": "Jane", "email": "jane@example.com"})
    assert request.company is None
    assert request.consent is None


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"email": "jane@example.com"}, "name", "This field is required."),
        ({"name": "", "email": "jane@example.com"}, "name", "String should have at least 1 character"),
        ({"name": "x" * 101, "email": "jane@example.com"}, "name", "String should have at most 100 characters"),
        (
            {"name": "Jane\r\nBcc: evil@example.com", "email": "jane@example.com"},
            "name",
            "The name must not contain control characters.",
        ),
        ({"name": 12, "email": "jane@example.com"}, "name", "Input should be a valid string"),
        ({"name": "Jane"}, "email", "This field is required."),
        ({"name": "Jane", "email": "ja"}, "email", "String should have at least 3 characters"),
        (
            {"name": "Jane", "email": "jane"},
            "email",
            "Enter a valid e-mail address, like name@example.com (An email address must have an @-sign.).",
        ),
        (
            {"name": "Jane", "email": "jane@"},
            "email",
            "Enter a valid e-mail address, like name@example.com (There must be something after the @-sign.).",
        ),
        ({"name": "Jane", "email": ["jane@example.com"]}, "email", "Input should be a valid string"),
        (
            {"name": "Jane", "email": "jane@example.com", "company": "c" * 101},
            "company",
            "String should have at most 100 characters",
        ),
        (
            {"name": "Jane", "email": "jane@example.com", "consent": False},
            "consent",
            "Please agree to the trial terms to get a key.",
        ),
        (
            {"name": "Jane", "email": "jane@example.com", "consent": "maybe"},
            "consent",
            "Input should be a valid boolean, unable to interpret input",
        ),
        ({"name": "Jane", "email": "jane@example.com", "consent": 0.5}, "consent", "Input should be a valid boolean"),
    ],
)
def test_invalid_fields_are_named_with_their_message(body, field, message):
    with pytest.raises(InvalidInput) as caught:
        parse_signup(body)
    assert caught.value.message == "Please correct the highlighted fields."
    assert caught.value.fields == {field: message}


def test_an_e_mail_header_in_the_address_is_refused():
    with pytest.raises(InvalidInput) as caught:
        parse_signup({"name": "Jane", "email": "jane@example.com\nBcc: x@example.com"})
    assert list(caught.value.fields) == ["email"]
    assert caught.value.fields["email"].startswith("Enter a valid e-mail address, like name@example.com (")


def test_every_wrong_field_is_named_in_the_fields_order():
    with pytest.raises(InvalidInput) as caught:
        parse_signup({"consent": "no", "company": 1, "extra": None})
    assert caught.value.fields == {
        "name": "This field is required.",
        "email": "This field is required.",
        "company": "Input should be a valid string",
        "consent": "Please agree to the trial terms to get a key.",
    }
    assert list(caught.value.fields) == ["name", "email", "company", "consent"]


@pytest.mark.parametrize(
    ("field", "value", "what"),
    [
        ("name", "Hi URGENT: your account is locked, log in at https://bank.example", "a web address"),
        ("name", "Jane bank.example/verify", "a web address"),
        ("name", "Jane jane@example.org", "an e-mail address"),
        ("name", "Jane call +44 20 7946 0000", "a phone number"),
        ("company", "acme.example", "a web address"),
    ],
)
def test_a_link_or_an_address_in_a_name_is_refused_with_the_reason(field, value, what):
    body = {"name": "Jane", "email": "jane@example.com", field: value}
    with pytest.raises(InvalidInput) as caught:
        parse_signup(body)
    assert caught.value.fields == {
        field: f"The {field} must not contain {what}: what you enter here goes into e-mails, where mail programs would "
        f"turn it into a link. Please enter the {field} only."
    }
