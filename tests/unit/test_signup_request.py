import pytest
from pydantic import ValidationError

from trialgw.signup_input import SignupRequest


def test_valid_request_is_normalized():
    request = SignupRequest.model_validate(
        {"name": "  Jane Doe ", "email": "Jane.Doe@Example.COM", "company": "  ", "consent": True, "extra": 1}
    )
    assert request.name == "Jane Doe"
    assert request.email == "Jane.Doe@example.com"
    assert request.company is None


def test_company_and_consent_are_optional():
    request = SignupRequest.model_validate({"name": "Jane", "email": "jane@example.com"})
    assert request.company is None
    assert request.consent is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "jane@example.com"}, "name"),
        ({"name": "", "email": "jane@example.com"}, "name"),
        ({"name": "x" * 101, "email": "jane@example.com"}, "name"),
        ({"name": "Jane\r\nBcc: evil@example.com", "email": "jane@example.com"}, "name"),
        ({"name": 12, "email": "jane@example.com"}, "name"),
        ({"name": "Jane"}, "email"),
        ({"name": "Jane", "email": "jane"}, "email"),
        ({"name": "Jane", "email": "jane@"}, "email"),
        ({"name": "Jane", "email": "jane@example.com\nBcc: x@example.com"}, "email"),
        ({"name": "Jane", "email": ["jane@example.com"]}, "email"),
        ({"name": "Jane", "email": "jane@example.com", "company": "c" * 101}, "company"),
        ({"name": "Jane", "email": "jane@example.com", "consent": False}, "consent"),
    ],
)
def test_invalid_fields_are_named(body, field):
    with pytest.raises(ValidationError) as caught:
        SignupRequest.model_validate(body)
    assert field in {str(error["loc"][0]) for error in caught.value.errors()}


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
    with pytest.raises(ValidationError) as caught:
        SignupRequest.model_validate(body)
    (error,) = caught.value.errors()
    assert error["loc"] == (field,)
    assert f"must not contain {what}" in error["msg"]
    assert "turn it into a link" in error["msg"]
