"""Oversized bodies are refused before any parser sees them: `json.loads` is never called for one.

`parse_json_object` is what sign-up and the CM webhooks (MO and status) and, after its own size check and the
signature, Meta's webhook read bodies with; `parse_send_request` is the send gateway's. The e2e suite shows the same
over HTTP (an oversized body that is not JSON gets the size answer).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from trialgw.gateway.answers import INVALID_POST_DATA, Refusal
from trialgw.gateway.request import MAX_BODY_BYTES, parse_send_request
from trialgw.gateway.respond import refusal_for
from trialgw.http import BadRequest, parse_json_object
from trialgw.logic.send_outcomes import Refused
from trialgw.settings import SendSettings

LIMIT = 8192


@pytest.fixture
def parser_calls(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Calls that reached `json.loads` (each one fails the parse, so a test cannot pass by parsing)."""
    calls: list[Any] = []

    def loads(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise AssertionError("the body was parsed")

    monkeypatch.setattr(json, "loads", loads)
    return calls


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"name": "x" * LIMIT, "email": "jane@example.com"}),
        "{" * (LIMIT + 1),
        # Bytes, not characters: 4,097 two-byte characters are 8,194 bytes.
        '"' + "é" * 4097,
    ],
    ids=["valid-json", "not-json", "multi-byte"],
)
def test_json_object_bodies_over_the_limit_are_never_parsed(parser_calls: list[Any], raw: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_json_object(raw, max_bytes=LIMIT)
    assert refused.value.code == "body_too_large"
    assert parser_calls == []


def test_a_body_at_the_limit_is_parsed(parser_calls: list[Any]) -> None:
    with pytest.raises(AssertionError, match="parsed"):
        parse_json_object("{" * LIMIT, max_bytes=LIMIT)
    assert len(parser_calls) == 1


def test_send_bodies_over_the_limit_are_never_parsed(parser_calls: list[Any]) -> None:
    parsed = parse_send_request("{" + " " * MAX_BODY_BYTES, "application/json", None)
    assert isinstance(parsed, Refused)
    result = refusal_for(parsed, SendSettings())
    assert isinstance(result, Refusal)
    assert result.details == INVALID_POST_DATA
    assert result.hint == f"body larger than {MAX_BODY_BYTES} bytes"
    assert parser_calls == []
