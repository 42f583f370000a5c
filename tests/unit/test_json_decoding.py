"""The one decoder of request bodies (`trialgw.json_input.decode_json`): the send gateway and every other function read
bodies through it, so both refuse alike what JSON does not have, and each answers in its own words."""

from __future__ import annotations

import pytest

from trialgw.gateway.answers import INVALID_POST_DATA, NOT_JSON
from trialgw.gateway.request import parse_send_request
from trialgw.gateway.respond import refusal_for
from trialgw.http import BadRequest, parse_json_object
from trialgw.json_input import MAX_DEPTH, NotAnObject, UnreadableJson, decode_json, decode_object
from trialgw.logic.send_outcomes import Refused
from trialgw.settings import SendSettings

LIMIT = 16_384
SEND = '{"messages": {"authentication": {"producttoken": "k"}, "msg": [{"to": [{"number": "+31612345678"}], '


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (None, NotAnObject.EMPTY),
        ("", NotAnObject.EMPTY),
        ("\ufeff  ", NotAnObject.EMPTY),
        (" " * (LIMIT + 1), NotAnObject.TOO_LARGE),
        ('{"a": "\ud800"}', NotAnObject.NOT_UNICODE),
        ("{", NotAnObject.NOT_JSON),
        ('{"a": NaN}', NotAnObject.NOT_JSON),
        ('{"a": -Infinity}', NotAnObject.NOT_JSON),
        ('{"a": 1e999}', NotAnObject.BEYOND_LIMITS),
        ('{"a": ' + "9" * 5000 + "}", NotAnObject.BEYOND_LIMITS),
        ("[" * 3000 + "]" * 3000, NotAnObject.BEYOND_LIMITS),
        ('{"a":' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1), NotAnObject.BEYOND_LIMITS),
        ("[" * 8000 + "]" * 8000, NotAnObject.BEYOND_LIMITS),
    ],
    ids=[
        "none",
        "empty",
        "bom-only",
        "too-large",
        "lone-surrogate",
        "truncated",
        "nan",
        "infinity",
        "1e999",
        "huge-int",
        "deep",
        "one-level-too-deep",
        "deeper-than-3.11-parses",
    ],
)
def test_what_json_does_not_have_is_refused_with_its_reason(raw: str | None, problem: NotAnObject) -> None:
    with pytest.raises(UnreadableJson) as refused:
        decode_json(raw, max_bytes=LIMIT)
    assert refused.value.problem is problem


def test_nesting_up_to_the_limit_is_read_on_every_interpreter() -> None:
    # The limit is ours, not the json module's recursion limit (about 1,000 levels on 3.11, 10,000 on 3.13).
    deepest = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert decode_json(deepest, max_bytes=LIMIT) is not None
    wide = "[" + ",".join(["[[1]]"] * 500) + "]"  # many brackets, little depth
    assert len(decode_json(wide, max_bytes=LIMIT)) == 500  # type: ignore[arg-type]


def test_a_leading_byte_order_mark_is_skipped_and_any_document_is_read() -> None:
    assert decode_json('\ufeff{"a": [1, 2.5]}', max_bytes=LIMIT) == {"a": [1, 2.5]}
    assert decode_json("[1]", max_bytes=LIMIT) == [1]
    with pytest.raises(UnreadableJson) as refused:
        decode_object("[1]", max_bytes=LIMIT)
    assert refused.value.problem is NotAnObject.NOT_OBJECT


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"a": NaN}', "invalid_json"),
        ('{"a": 1e999}', "invalid_json"),
        ('{"a": "\ud800"}', "invalid_encoding"),
        ("\ufeff", "empty_body"),
    ],
)
def test_the_webhooks_and_signup_answer_each_reason_in_plain_words(raw: str, code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json_object(raw, max_bytes=LIMIT)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("raw", "details"),
    [
        (SEND + '"body": {"content": "hi"}, "x": NaN}]}}', NOT_JSON),
        (SEND + '"body": {"content": "hi"}, "x": 1e999}]}}', INVALID_POST_DATA),
        ("\ufeff" + SEND + '"body": {"content": "hi"}}]}}', None),
    ],
    ids=["nan-is-no-json", "infinite-is-invalid-post-data", "bom-is-read"],
)
def test_the_gateway_answers_the_same_reasons_in_cms_words(raw: str, details: str | None) -> None:
    parsed = parse_send_request(raw, "application/json", None)
    if details is None:
        assert not isinstance(parsed, Refused)
        return
    assert isinstance(parsed, Refused)
    assert refusal_for(parsed, SendSettings()).details == details
