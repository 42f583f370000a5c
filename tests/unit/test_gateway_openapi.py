"""The send request schema of `GET /openapi.json` calls valid only requests that get past row 2.

Found by the fuzz suite (tests/fuzz): schemathesis' requests valid by the document, such as `to[0].number: ""`, were
answered "Invalid POST data", because the schema did not say what the parser refuses (blank or over-long values).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs
import pytest

from trialgw.gateway.openapi import SEND_REQUEST_SCHEMA
from trialgw.gateway.request import SendRequest, parse_send_request

VALIDATOR = jsonschema_rs.validator_for(SEND_REQUEST_SCHEMA)
# Python's white space (what `str.strip` removes, so the parser's "blank") and ECMA's, which adds U+FEFF.
WHITE_SPACE = [chr(code) for code in range(0x3001) if chr(code).isspace()] + ["\ufeff"]
VALUES = ["", " \t ", *WHITE_SPACE, "x" * 64, "x" * 65, "9" * 80, "+31612345678", "Viber", "é"]


def send_body(
    number: str = "+31612345678", sender: str = "TrialTest", channel: str = "WhatsApp", content: str = "Hi"
) -> Any:
    message = {"allowedChannels": [channel], "from": sender, "to": [{"number": number}], "body": {"content": content}}
    return {"messages": {"msg": [message]}}


@pytest.mark.parametrize("field", ["number", "sender", "channel", "content"])
@pytest.mark.parametrize("value", [*VALUES, "x" * 4096, "x" * 4097], ids=lambda v: f"{v[:6]!r}({len(v)})")
def test_what_the_schema_calls_valid_gets_past_row_2(field: str, value: str) -> None:
    document = send_body(**{field: value})
    if VALIDATOR.is_valid(document):
        assert isinstance(parse_send_request(json.dumps(document), "application/json", None), SendRequest)


def test_a_plain_send_is_valid_by_the_schema_and_the_parser() -> None:
    assert VALIDATOR.is_valid(send_body())
    assert isinstance(parse_send_request(json.dumps(send_body()), "application/json", None), SendRequest)


@pytest.mark.parametrize("field", ["minimumNumberOfMessageParts", "maximumNumberOfMessageParts", "dcs"])
@pytest.mark.parametrize("value", [-1, 0, 1, 8, 255, 256, 1.5, 8.0, "8", None, True])
def test_sms_options_the_schema_calls_valid_get_past_row_2(field: str, value: Any) -> None:
    document = send_body()
    document["messages"]["msg"][0][field] = value
    if VALIDATOR.is_valid(document):
        assert isinstance(parse_send_request(json.dumps(document), "application/json", None), SendRequest)
    # JSON Schema's integers include 8.0.
    expected = type(value) in (int, float) and (value in (1, 8, 255) or (field == "dcs" and value == 0))
    assert VALIDATOR.is_valid(document) == expected
