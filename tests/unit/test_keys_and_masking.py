import re
import uuid

import pytest

from trialgw.keys import KEY_PATTERN, hash_key, new_key, normalize_key, trial_id
from trialgw.observability import mask_email, mask_ip, mask_phone


def test_new_key_is_a_random_v4_guid_with_hyphens():
    keys = {new_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key)
        assert uuid.UUID(key).version == 4


def test_hash_is_sha256_hex_and_ignores_case_and_whitespace():
    key = new_key()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_key(key))
    assert hash_key(key) == hash_key(f"  {key.upper()} ")
    assert hash_key(key) != hash_key(new_key())
    assert key not in hash_key(key)


def test_trial_id_is_a_prefix_of_the_hash():
    digest = hash_key(new_key())
    assert trial_id(digest) == digest[:16]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("6F9619FF-8B86-4D01-B42D-00CF4FC964FF", "6f9619ff-8b86-4d01-b42d-00cf4fc964ff"),
        (" 6f9619ff-8b86-4d01-b42d-00cf4fc964ff\n", "6f9619ff-8b86-4d01-b42d-00cf4fc964ff"),
        ("6f9619ff8b864d01b42d00cf4fc964ff", None),
        ("not-a-key", None),
        ("", None),
    ],
)
def test_normalize_key(raw, expected):
    assert normalize_key(raw) == expected


def test_key_pattern_finds_a_key_inside_text():
    key = new_key()
    match = KEY_PATTERN.search(f"hello, my key is {key}!")
    assert match is not None
    assert match.group(0) == key


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("jane.doe@example.com", "j***@e***.com"),
        ("x@mail.example.co.uk", "x***@m***.uk"),
        ("jane@localhost", "j***@l***"),
        ("no-at-sign", "***"),
    ],
)
def test_mask_email(address, masked):
    assert mask_email(address) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+31612345678", "+316******78"),
        ("0031612345678", "003********78"),
        ("12345", "***"),
    ],
)
def test_mask_phone(number, masked):
    assert mask_phone(number) == masked
    assert "345" not in masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        (" 198.51.100.1 ", "198.51.100.0/24"),
        ("2001:db8:1:2::5", "2001:db8:1::/48"),
        ("::1", "::/48"),
        ("not-an-ip", "***"),
        ("", "***"),
    ],
)
def test_mask_ip_keeps_the_network_not_the_host(address, masked):
    assert mask_ip(address) == masked
