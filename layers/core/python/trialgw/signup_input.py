"""The validated input of a signup: pydantic and email_validator, loaded only by the signup function (its first
request), never by the others' cold starts."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field, field_validator

from trialgw.linkable import linkable_part


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


class SignupRequest(BaseModel):
    """What the signup form (or an API caller) sends."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    name: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    company: str | None = Field(default=None, max_length=100)
    # The page makes the box mandatory; API callers accept the terms by calling, so absence is fine,
    # but an explicit refusal is respected.
    consent: bool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _clean_text(value, "name")

    @field_validator("company")
    @classmethod
    def _company(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = _clean_text(value, "company")
        return cleaned or None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        try:
            # Syntax only: a deliverability check would cost a DNS lookup on every signup.
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"Enter a valid e-mail address, like name@example.com ({error}).") from error

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool | None) -> bool | None:
        if value is False:
            raise ValueError("Please agree to the trial terms to get a key.")
        return value
