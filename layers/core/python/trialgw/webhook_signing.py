"""How a trial's own webhook calls are signed, and each trial's signing secret.

Every call carries `X-Trial-Timestamp: <unix seconds>` and `X-Trial-Signature: sha256=<hex>`, the HMAC-SHA256 of
`"<timestamp>.<raw body>"` keyed with the trial's secret (its UTF-8 text, `whsec_` prefix included). The timestamp is
covered, so a receiver that refuses old timestamps refuses replays. `verify` is what a receiver does; the README
shows it in five lines of Python and of Node.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TIMESTAMP_HEADER = "X-Trial-Timestamp"
SIGNATURE_HEADER = "X-Trial-Signature"
SCHEME = "sha256="
SECRET_PREFIX = "whsec_"  # noqa: S105  # a prefix, not a secret
# 32 random bytes: as strong as the HMAC's key can usefully be.
SECRET_BYTES = 32
# How far a receiver's clock and ours may differ, by default, before a call is taken for a replay.
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret: `whsec_` and 43 URL-safe characters."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def is_secret(text: object) -> bool:
    """Whether `text` has the shape of a secret `new_secret` makes (stored items are checked before use)."""
    return isinstance(text, str) and text.startswith(SECRET_PREFIX) and 40 <= len(text) <= 100


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of `<timestamp>.<body>` keyed with the secret."""
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return SCHEME + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers a call with this body, sent at `timestamp` (unix seconds), carries."""
    return {TIMESTAMP_HEADER: str(int(timestamp)), SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify(
    secret: str,
    body: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """Whether a call's headers sign this body with this secret, at a time within `tolerance_seconds` of `now`."""
    if not timestamp_header or not signature_header:
        return False
    text = timestamp_header.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 12):  # seconds until the year 33658
        return False
    timestamp = int(text)
    if abs(now - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), signature_header.strip())


__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SCHEME",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "is_secret",
    "new_secret",
    "signature",
    "signed_headers",
    "verify",
]
