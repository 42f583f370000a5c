"""Trial keys: random GUIDs (122 random bits) that are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
import uuid

# A GUID anywhere in a text (e.g. an inbound message that carries a key), any letter case.
KEY_PATTERN = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)


def new_key() -> str:
    """A new trial key, shaped like a CM product token: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`."""
    return str(uuid.uuid4())


def normalize_key(key: str) -> str | None:
    """The canonical (lower-case) form of a key, or None when it is not GUID-shaped."""
    candidate = key.strip().lower()
    return candidate if KEY_PATTERN.fullmatch(candidate) else None


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which a (normalized) key is stored and looked up."""
    return hashlib.sha256(key.strip().lower().encode("ascii", "replace")).hexdigest()


KEY_PLACEHOLDER = "[trial key]"


def redact_keys(text: str) -> str:
    """`text` with every key-shaped GUID replaced by a placeholder, for storing or printing what users wrote."""
    return KEY_PATTERN.sub(KEY_PLACEHOLDER, text)


def trial_id(key_hash: str) -> str:
    """A short public id of a trial for operators; derived from the hash, it reveals nothing of the key."""
    return key_hash[:16]
