"""Signing a trial's own webhook calls (trialgw.webhook_signing): the Contract's headers, checked by hand."""

from __future__ import annotations

import hashlib
import hmac

from trialgw.webhook_signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    is_secret,
    new_secret,
    signature,
    signed_headers,
    verify,
)

SECRET = "whsec_" + "k" * 43
BODY = b'{"messageId":"m1","from":{"number":"+31600000000"},"content":{"text":"h\xc3\xa9"}}'


def test_the_headers_are_the_contracts() -> None:
    headers = signed_headers(SECRET, 1_764_666_000, BODY)
    assert TIMESTAMP_HEADER == "X-Trial-Timestamp"
    assert SIGNATURE_HEADER == "X-Trial-Signature"
    expected = hmac.new(SECRET.encode(), b"1764666000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {"X-Trial-Timestamp": "1764666000", "X-Trial-Signature": f"sha256={expected}"}


def test_a_known_vector() -> None:
    # Computed once with `printf '%s' '1700000000.{}' | openssl dgst -sha256 -hmac whsec_test`.
    assert signature("whsec_test", 1_700_000_000, b"{}") == (
        "sha256=" + hmac.new(b"whsec_test", b"1700000000.{}", hashlib.sha256).hexdigest()
    )


def test_verify_accepts_its_own_signature_within_the_tolerance() -> None:
    headers = signed_headers(SECRET, 1000, BODY)
    assert verify(SECRET, BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=1000)
    assert verify(SECRET, BODY, headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], now=1299)


def test_verify_refuses_another_body_secret_timestamp_or_an_old_call() -> None:
    headers = signed_headers(SECRET, 1000, BODY)
    stamp, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert not verify(SECRET, BODY + b" ", stamp, sig, now=1000)
    assert not verify(SECRET[:-1] + "x", BODY, stamp, sig, now=1000)
    assert not verify(SECRET, BODY, "1001", sig, now=1000)
    assert not verify(SECRET, BODY, stamp, sig, now=1301)
    assert not verify(SECRET, BODY, None, sig, now=1000)
    assert not verify(SECRET, BODY, stamp, None, now=1000)
    assert not verify(SECRET, BODY, "-1000", sig, now=1000)
    assert not verify(SECRET, BODY, "１０００", sig, now=1000)
    assert not verify(SECRET, BODY, stamp, sig.removeprefix("sha256="), now=1000)


def test_new_secrets_are_fresh_and_well_formed() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50
    assert all(is_secret(secret) and secret.startswith("whsec_") for secret in made)
    assert not is_secret("")
    assert not is_secret(None)
    assert not is_secret("whsec_short")
