"""A trial's list of messages is ordered by its sort key: milliseconds now, whole seconds before (issue 17)."""

from __future__ import annotations

import pytest

from trialgw import names
from trialgw.quotas import iso_utc, iso_utc_ms

AT = 1_800_000_000


def test_millisecond_keys_sort_in_time_order_whatever_the_ids():
    keys = [names.message_sort_key(AT, f"{9 - n}id", at_ms=AT * 1000 + n) for n in range(10)]
    assert sorted(keys) == keys


def test_old_whole_second_keys_sort_with_new_ones_by_time():
    old = names.message_sort_key(AT, "zzz")
    same_second = names.message_sort_key(AT, "aaa", at_ms=AT * 1000)
    next_second = names.message_sort_key(AT + 1, "000", at_ms=(AT + 1) * 1000)
    older = names.message_sort_key(AT - 1, "zzz", at_ms=AT * 1000 - 1)
    assert sorted([next_second, same_second, old, older]) == [older, old, same_second, next_second]


@pytest.mark.parametrize("at_ms", [None, AT * 1000 + 7])
def test_a_key_says_its_time_and_id(at_ms):
    key = names.message_sort_key(AT, "m-1", at_ms=at_ms)
    assert names.parse_message_sort_key(key) == (AT, at_ms, "m-1")


@pytest.mark.parametrize(
    "key",
    [
        "MSG#123#m",
        "MSG#01800000000.12#m",
        "MSG#01800000000.123#",
        "MSG#0180000000a#m",
        "IDEMKEY#x",
        "MSG#０1800000000#m",
    ],
)
def test_anything_else_is_no_messages_key(key):
    with pytest.raises(ValueError, match="sort key"):
        names.parse_message_sort_key(key)


def test_times_with_milliseconds_keep_the_documented_format():
    assert iso_utc_ms(AT * 1000 + 5) == iso_utc(AT)[:-1] + ".005Z"
