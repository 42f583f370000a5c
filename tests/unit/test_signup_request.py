import pytest
from pydantic import ValidationError

from trialgw.models import SignupRequest


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
