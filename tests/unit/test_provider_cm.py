"""The CM provider against a fake CM gateway on 127.0.0.1: the request CM gets, how each answer maps to the port
(transient or permanent), timeouts and connection reuse, the token's secrecy; and CM's JSON status reports."""

from __future__ import annotations

import copy
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.hostile import HostileJson
from trialgw.errors import InvalidPayload
from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.cm.delivery import (
    DEFAULT_GATEWAY_URL,
    CmProvider,
    build_cm_request,
    cm_number,
    interpret_cm_response,
)
from trialgw.providers.cm.status import parse_cm_status_report
from trialgw.providers.port import Delivered, DeliveryFailed, Provider, ProviderName, SmsSenders
from trialgw.providers.status import StatusReport
from trialgw.settings import DeliverySettings

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"
TOKEN = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9"
SENDERS = {"SMS": "CMTrial", "WhatsApp": "0031850876714", "Facebook Messenger": "104857600", "Instagram": "17841400"}
OK_MESSAGE: dict[str, Any] = {
    "to": "0031612345678",
    "status": "Accepted",
    "reference": "ab12",
    "parts": 1,
    "messageDetails": None,
    "messageErrorCode": 0,
}
OK: dict[str, Any] = {"details": "Created 1 message(s)", "errorCode": 0, "messages": [OK_MESSAGE]}


def rejected(code: int, details: str, *, request_code: int = 201) -> dict[str, Any]:
    return {
        "details": "Created 0 message(s)",
        "errorCode": request_code,
        "messages": [
            {
                "to": "0031612345678",
                "status": "Rejected",
                "reference": "ab12",
                "parts": 0,
                "messageDetails": details,
                "messageErrorCode": code,
            }
        ],
    }


@dataclass
class Answer:
    status: int = 200
    body: bytes = json.dumps(OK).encode()
    delay: float = 0.0
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int

    def json(self) -> Any:
        return json.loads(self.body)


class FakeCm:
    """A CM gateway that records every request and answers with the queued canned answers (then 200 OK)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[Answer] = deque()
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, so connection reuse is visible as the same client port.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                fake.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, self.client_address[1])
                )
                answer = fake.answers.popleft() if fake.answers else Answer()
                if answer.delay:
                    fake.stopping.wait(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1.0/message"

    def answer(self, status: int, body: Any, **kwargs: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers.append(Answer(status, raw, **kwargs))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def cm() -> Iterator[FakeCm]:
    fake = FakeCm()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


def provider_for(cm: FakeCm, **kwargs: Any) -> CmProvider:
    kwargs.setdefault("senders", SENDERS)
    kwargs.setdefault("timeout_seconds", 2.0)
    kwargs.setdefault("sms_senders", SmsSenders("CMTrial", developer_allowed=True))
    return CmProvider(lambda: TOKEN, cm.url, **kwargs)


def outbound(channel: Channel = Channel.WHATSAPP, **kwargs: Any) -> OutboundMessage:
    kwargs.setdefault("to", "+31612345678" if channel in {Channel.SMS, Channel.WHATSAPP} else "6543210987654321")
    kwargs.setdefault("text", "Hello from the trial")
    kwargs.setdefault("kind", "send")
    kwargs.setdefault("message_id", "5f0c2a9e8b7d4c31a6e2f1d0c9b8a7e6")
    kwargs.setdefault("sender", "DevCo")
    return OutboundMessage(channel=channel, **kwargs)


def failure_of(provider: CmProvider, message: OutboundMessage | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        provider.deliver(message or outbound())
    return caught.value


def assert_no_token(failure: BaseException, provider: CmProvider | None = None) -> None:
    shown = [str(failure), repr(failure), "".join(traceback.format_exception(failure))]
    shown += [getattr(failure, "reason", ""), repr(provider)]
    assert all(TOKEN not in text for text in shown)


# --- the request -----------------------------------------------------------------------------------------------


def test_whatsapp_request_as_cm_documents_it(cm):
    provider: Provider = provider_for(cm)
    assert provider.deliver(outbound(Channel.WHATSAPP, sender="DevCo")) == Delivered(ProviderName.CM, None)
    [request] = cm.received
    assert request.path == "/v1.0/message"
    assert request.headers["x-cm-producttoken"] == TOKEN
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.json() == {
        "messages": {
            "msg": [
                {
                    # The trial company's WhatsApp sender, never the developer's `from`.
                    "from": "0031850876714",
                    "to": [{"number": "0031612345678"}],
                    "body": {"type": "auto", "content": "Hello from the trial"},
                    "reference": "5f0c2a9e8b7d4c31a6e2f1d0c9b8a7e6",
                    "allowedChannels": ["WhatsApp"],
                    "customGrouping3": "trialgw",
                }
            ]
        }
    }
    # The token travels only in the header.
    assert TOKEN.encode() not in request.body


def test_sms_request_uses_the_developers_from_and_part_bounds(cm):
    provider_for(cm).deliver(outbound(Channel.SMS, sender="DevCo", text="Ünïcode ok"))
    [msg] = cm.received[0].json()["messages"]["msg"]
    assert msg["from"] == "DevCo"
    assert msg["allowedChannels"] == ["SMS"]
    assert msg["body"]["content"] == "Ünïcode ok"
    assert (msg["minimumNumberOfMessageParts"], msg["maximumNumberOfMessageParts"]) == (1, 8)


@pytest.mark.parametrize(
    ("sender", "developer_allowed", "expected"),
    [("MyBank", False, "CMTrial"), ("DevCo", True, "DevCo"), (None, True, "CMTrial"), (None, False, "CMTrial")],
)
def test_sms_comes_from_the_trial_company_unless_developer_senders_are_allowed(cm, sender, developer_allowed, expected):
    senders = SmsSenders("CMTrial", developer_allowed)
    provider_for(cm, sms_senders=senders).deliver(outbound(Channel.SMS, sender=sender, kind="reply"))
    assert cm.received[0].json()["messages"]["msg"][0]["from"] == expected


def test_messenger_id_unchanged_and_rich_content_passed_through(cm):
    rich = {
        "conversation": [{"text": "Pick one"}],
        "suggestions": [{"action": "reply", "label": "Yes", "postbackdata": "YES"}],
    }
    provider_for(cm).deliver(outbound(Channel.MESSENGER, rich_content=rich))
    [msg] = cm.received[0].json()["messages"]["msg"]
    assert msg["to"] == [{"number": "6543210987654321"}]
    assert msg["from"] == "104857600"
    assert msg["allowedChannels"] == ["Facebook Messenger"]
    assert msg["richContent"] == rich
    assert "minimumNumberOfMessageParts" not in msg


def test_a_channel_without_a_sender_fails_permanently_without_calling_cm(cm):
    failure = failure_of(provider_for(cm, senders={"SMS": "CMTrial"}), outbound(Channel.INSTAGRAM))
    assert (failure.transient, failure.code) == (False, "no-sender")
    assert "Instagram" in failure.reason
    assert cm.received == []


def test_cm_number():
    assert cm_number(Channel.WHATSAPP, "+31612345678") == "0031612345678"
    assert cm_number(Channel.SMS, "0031612345678") == "0031612345678"
    assert cm_number(Channel.INSTAGRAM, "17841400123") == "17841400123"


def test_build_request_has_one_message_one_recipient_one_channel():
    body = build_cm_request(outbound(Channel.INSTAGRAM), "17841400")
    [msg] = body["messages"]["msg"]  # type: ignore[index]
    assert len(msg["to"]) == 1
    assert msg["allowedChannels"] == ["Instagram"]
    assert "authentication" not in body["messages"]  # type: ignore[operator]


def test_settings_defaults_point_at_cms_gateway():
    settings = DeliverySettings()
    assert settings.cm_gateway_url == DEFAULT_GATEWAY_URL == "https://gw.messaging.cm.com/v1.0/message"
    provider = CmProvider(
        lambda: settings.cm_product_token,
        settings.cm_gateway_url,
        settings.cm_senders,
        settings.provider_timeout_seconds,
        sms_senders=SmsSenders(settings.trial_sms_sender, settings.sms_allow_developer_sender),
    )
    assert provider.name is ProviderName.CM


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="URL"):
        CmProvider(lambda: TOKEN, "ftp://example.com", sms_senders=SmsSenders("CMTrial"))
    with pytest.raises(ValueError, match="timeout"):
        CmProvider(lambda: TOKEN, DEFAULT_GATEWAY_URL, {}, 0, sms_senders=SmsSenders("CMTrial"))


# --- HTTP behaviour -------------------------------------------------------------------------------------------


def test_the_pool_is_built_lazily_once_and_connections_are_reused(cm):
    provider = provider_for(cm)
    assert provider._http is None
    provider.deliver(outbound())
    pool = provider._http
    provider.deliver(outbound(Channel.SMS))
    provider.deliver(outbound(Channel.MESSENGER))
    assert provider._http is pool
    assert len({request.client_port for request in cm.received}) == 1


def test_a_given_pool_is_used(cm):
    import urllib3

    pool = urllib3.PoolManager()
    provider = provider_for(cm, http=pool)
    provider.deliver(outbound())
    assert provider._http is pool


def test_importing_the_adapter_does_not_import_urllib3():
    code = "import sys, trialgw.providers.cm.delivery; print('urllib3' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core" / "python")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"


def test_slow_answer_times_out_as_transient(cm):
    cm.answer(200, OK, delay=3.0)
    provider = provider_for(cm, timeout_seconds=0.3)
    started = time.monotonic()
    failure = failure_of(provider)
    assert time.monotonic() - started < 2.0
    assert (failure.transient, failure.code) == (True, "timeout")
    assert_no_token(failure, provider)


def test_unreachable_gateway_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = CmProvider(
        lambda: TOKEN, f"http://127.0.0.1:{port}/v1.0/message", SENDERS, 1.0, sms_senders=SmsSenders("CMTrial")
    )
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (True, "connection")
    assert str(port) not in failure.reason
    assert_no_token(failure, provider)


def test_redirects_are_not_followed(cm):
    cm.answer(302, b"", headers={"Location": "http://127.0.0.1:9/elsewhere"})
    failure = failure_of(provider_for(cm))
    assert (failure.transient, failure.code) == (False, "http-302")
    assert len(cm.received) == 1


def test_an_oversized_answer_is_cut_and_the_next_request_still_works(cm):
    cm.answer(200, b"x" * (200 * 1024), content_type="text/plain")
    provider = provider_for(cm)
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (True, "999")
    assert provider.deliver(outbound()) == Delivered(ProviderName.CM, None)


# --- answers → outcome ----------------------------------------------------------------------------------------

AUTH = {"details": "No account found for the given authentication", "errorCode": 101, "messages": []}


@pytest.mark.parametrize(
    "case",
    [
        (400, AUTH, True, "101", "credentials"),
        (400, {"details": "Insufficient balance", "errorCode": 102, "messages": []}, True, "102", "balance"),
        (400, {"details": "Invalid product token", "errorCode": 103, "messages": []}, True, "103", "token"),
        (401, b"Unauthorized", True, "http-401", "credentials"),
        (403, b"<html>Forbidden</html>", True, "http-403", "credentials"),
        (400, rejected(303, "Gsm '0044791112345a' is not a number."), False, "303", "Gsm '004***a'"),
        (
            400,
            rejected(304, "Maximum number of parts exceeded. (need at least 10, max is 8)"),
            False,
            "304",
            "Maximum number of parts exceeded",
        ),
        (400, rejected(301, "Invalid from"), False, "301", "sender"),
        (400, rejected(302, "Invalid to"), False, "302", "recipient"),
        (400, rejected(305, "Bad field"), False, "305", "field"),
        (200, rejected(401, "Spam"), False, "401", "spam"),
        (200, rejected(402, "Blacklisted"), False, "402", "blacklisted"),
        (400, rejected(403, "Rejected"), False, "403", "rejected"),
        (400, rejected(500, "Internal error"), True, "500", "internal"),
        (400, {"details": "Created 0 message(s)", "errorCode": 201, "messages": []}, False, "201", "rejected"),
        (400, {"details": "Invalid POST data", "errorCode": 202, "messages": []}, False, "202", "malformed"),
        (400, {"details": "No msg", "errorCode": 203, "messages": []}, False, "203", "message list"),
        (400, {"details": "Unknown", "errorCode": 999, "messages": []}, True, "999", "unknown"),
        (400, {"details": "New thing", "errorCode": 777, "messages": []}, False, "777", "777"),
        (200, {"details": "Oops", "errorCode": 500, "messages": []}, True, "500", "internal"),
        (503, {"details": "Bad request", "errorCode": 202, "messages": []}, True, "202", "malformed"),
        (500, b"Internal Server Error", True, "http-500", "HTTP 500"),
        (502, b"<html>Bad gateway</html>", True, "http-502", "HTTP 502"),
        (429, b"Too Many Requests", True, "http-429", "HTTP 429"),
        (404, b"Not found", False, "http-404", "HTTP 404"),
        (400, b"not json", False, "http-400", "HTTP 400"),
        (200, b"{not json", True, "999", "without CM's JSON"),
        (200, b"[]", True, "999", "without CM's JSON"),
        (200, {}, True, "999", "without CM's JSON"),
        (200, {**OK, "messages": [{**OK_MESSAGE, "status": "Rejected"}]}, False, "201", "rejected"),
    ],
)
def test_answer_mapping(cm, case):
    # (HTTP status, body) → (transient, code, a piece of the reason)
    status, body, transient, code, reason = case
    cm.answer(status, body, content_type="application/json" if isinstance(body, dict) else "text/html")
    provider = provider_for(cm)
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (transient, code)
    assert reason.casefold() in failure.reason.casefold()
    assert_no_token(failure, provider)


@pytest.mark.parametrize(
    "body",
    [
        OK,
        {**OK, "errorCode": "0"},
        # Older answers lack errorCode and messageErrorCode.
        {"details": "Created 1 message(s)", "messages": [{"to": "0031612345678", "status": "Accepted"}]},
        # One message to one recipient: accepted even when the request-level code says some failed.
        {**OK, "errorCode": 201},
        {"details": "Created 1 message(s)", "errorCode": 0, "messages": []},
    ],
)
def test_acceptance(cm, body):
    assert provider_for(cm).deliver(outbound()) == Delivered(ProviderName.CM, None)
    cm.answer(201, body)
    assert provider_for(cm).deliver(outbound()) == Delivered(ProviderName.CM, None)


def test_interpret_without_a_server():
    assert interpret_cm_response(200, json.dumps(OK).encode()) is None
    with pytest.raises(DeliveryFailed) as caught:
        interpret_cm_response(400, json.dumps(rejected(302, "x")).encode())
    assert caught.value.code == "302"


def test_long_cm_texts_are_shortened_to_one_line():
    text = "line one\n\nline two " + "y" * 1000
    with pytest.raises(DeliveryFailed) as caught:
        interpret_cm_response(400, json.dumps(rejected(305, text)).encode())
    assert "\n" not in caught.value.reason
    assert len(caught.value.reason) <= 260


# --- the token's secrecy --------------------------------------------------------------------------------------


def test_a_token_echoed_by_cm_never_reaches_the_reason(cm):
    cm.answer(400, {"details": f"Invalid product token {TOKEN}", "errorCode": 103, "messages": []})
    cm.answer(400, rejected(305, f"Field problem near {TOKEN}"))
    provider = provider_for(cm)
    for _ in range(2):
        assert_no_token(failure_of(provider), provider)


def test_missing_token_fails_permanently_without_calling_cm(cm):
    provider = CmProvider(lambda: None, cm.url, SENDERS, sms_senders=SmsSenders("CMTrial"))
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (False, "no-token")
    assert cm.received == []


def test_a_failing_token_source_is_transient_and_not_quoted(cm):
    def source() -> str:
        raise RuntimeError(f"secret {TOKEN} unavailable")

    provider = CmProvider(source, cm.url, SENDERS, sms_senders=SmsSenders("CMTrial"))
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (True, "no-token")
    assert "RuntimeError" in failure.reason
    assert_no_token(failure, provider)
    assert cm.received == []


def test_a_malformed_token_is_refused_before_any_request(cm):
    provider = CmProvider(lambda: TOKEN + "\r\nX-Evil: 1", cm.url, SENDERS, sms_senders=SmsSenders("CMTrial"))
    failure = failure_of(provider)
    assert (failure.transient, failure.code) == (False, "no-token")
    assert_no_token(failure, provider)
    assert cm.received == []


def test_repr_shows_no_token(cm):
    assert repr(provider_for(cm)) == f"CmProvider(gateway_url={cm.url!r}, channels={sorted(SENDERS)!r})"


# --- status reports -------------------------------------------------------------------------------------------


def load(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_delivered_report():
    assert parse_cm_status_report(load("cm_status_delivered.json")) == [
        StatusReport(message_id="5f0c2a9e8b7d4c31a6e2f1d0c9b8a7e6", status="delivered", reason=None, at=1_772_442_965)
    ]


def test_failed_report_masks_the_number_in_the_reason():
    [report] = parse_cm_status_report(load("cm_status_failed.json"))
    assert (report.message_id, report.status, report.at) == (
        "0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a",
        "failed",
        1_772_442_967,
    )
    assert report.reason == "Unknown subscriber 004***"
    assert report.provider_message_id is None


def test_read_report_with_upper_case_keys():
    [report] = parse_cm_status_report(load("cm_status_read_whatsapp.json"))
    assert (report.status, report.reason, report.at) == ("read", None, 1_772_443_050)


def test_batch_skips_what_cannot_be_matched_or_understood():
    reports = parse_cm_status_report(load("cm_status_batch.json"))
    assert [(r.message_id, r.status, r.reason) for r in reports] == [
        ("a1b2c3d4e5f60718293a4b5c6d7e8f90", "sent", None),
        ("b2c3d4e5f60718293a4b5c6d7e8f90a1", "failed", "Rejected by CM or the operator"),
    ]


@pytest.mark.parametrize(
    ("status", "expected", "reason"),
    [
        ({"code": 2}, "delivered", None),
        ({"code": "Delivered"}, "delivered", None),
        ({"code": "ACCEPTED"}, "sent", None),
        ({"code": "Cancelled"}, "failed", "Cancelled"),
        ({"code": "3", "errorCode": 9}, "failed", "CM status error 9"),
        ({"code": "3", "errorCode": "EXPIRED"}, "failed", "CM status error EXPIRED"),
        ({"code": "3"}, "failed", "Not delivered"),
    ],
)
def test_status_values(status, expected, reason):
    body = {"messages": {"msg": {"reference": "abc123", "status": status}}}
    [report] = parse_cm_status_report(body)
    assert (report.status, report.reason, report.at) == (expected, reason, None)


@pytest.mark.parametrize(
    ("received", "at"),
    [
        ("2026-03-02 09:16:05", 1_772_442_965),
        ("2026-03-02T09:16:05.123", 1_772_442_965),
        ("2026-03-02T10:16:05+01:00", 1_772_442_965),
        ("2026-03-02T09:16:05Z", 1_772_442_965),
        (1_772_442_965, 1_772_442_965),
        (1_772_442_965_123, 1_772_442_965),
        ("1772442965", 1_772_442_965),
        ("02/03/2026 09:16", None),
        (float("inf"), None),
        (10**40, None),
        (True, None),
        ("", None),
    ],
)
def test_received_times(received, at):
    body = {"messages": {"msg": {"reference": "abc123", "received": received, "status": {"code": "2"}}}}
    assert parse_cm_status_report(body)[0].at == at


@pytest.mark.parametrize(
    "item",
    [
        {"status": {"code": "2"}},
        {"reference": "", "status": {"code": "2"}},
        {"reference": "x" * 65, "status": {"code": "2"}},
        {"reference": "a b", "status": {"code": "2"}},
        {"reference": 12, "status": {"code": "2"}},
        {"reference": "abc"},
        {"reference": "abc", "status": "2"},
        {"reference": "abc", "status": {"code": True}},
        {"reference": "abc", "status": {"code": "9"}},
        "not an object",
    ],
)
def test_unusable_reports_are_skipped(item):
    assert parse_cm_status_report({"messages": {"msg": [item]}}) == []


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {}, {"messages": None}, {"messages": []}, {"messages": {"msg": "x"}}, {"messages": {}}],
)
def test_a_body_that_is_not_a_cm_status_report_is_invalid(body):
    with pytest.raises(InvalidPayload):
        parse_cm_status_report(body)


def test_too_many_reports_are_refused():
    item = {"reference": "abc", "status": {"code": "2"}}
    with pytest.raises(InvalidPayload, match="1000"):
        parse_cm_status_report({"messages": {"msg": [item] * 1001}})


def test_a_reason_from_a_text_with_a_lone_surrogate_can_be_stored():
    # Found by the fuzz suite: the reason is written to DynamoDB, which takes only valid Unicode.
    body = load("cm_status_failed.json")
    body["messages"]["msg"]["status"]["errorDescription"] = "Unknown \ud800 subscriber"
    [report] = parse_cm_status_report(body)
    assert report.reason == "Unknown ? subscriber"


@pytest.mark.parametrize("seed", range(3))
def test_hostile_reports_raise_only_invalid_payload(seed):
    rng = random.Random(seed)
    fixtures = [load(name) for name in ("cm_status_delivered.json", "cm_status_failed.json", "cm_status_batch.json")]
    keys = ["messages", "msg", "reference", "status", "code", "errorCode", "errorDescription", "received"]
    hostile = HostileJson(rng, ["2", "3", "4", "abc", "2026-03-02T09:16:05", "Delivered"], keys)
    inputs = [hostile.value() for _ in range(100)] + [
        hostile.mutate(copy.deepcopy(rng.choice(fixtures))) for _ in range(400)
    ]
    errors: list[str] = []
    for value in inputs:
        try:
            reports = parse_cm_status_report(value)
        except InvalidPayload as error:
            errors.append(str(error))
            continue
        for report in reports:
            assert report.status in {"sent", "delivered", "read", "failed"}
            assert report.reason is None or len(report.reason) <= 200
            assert len(report.message_id) <= 64
    assert max(map(len, errors), default=0) < 500  # never echoes a huge hostile value


@pytest.mark.parametrize("seed", range(3))
def test_hostile_answers_map_to_delivered_or_delivery_failed(seed):
    rng = random.Random(seed)
    keys = ["details", "errorCode", "messages", "status", "messageErrorCode", "messageDetails", "to"]
    hostile = HostileJson(rng, ["Accepted", "Rejected", "0", "101", "303", TOKEN], keys)
    bodies = [hostile.value() for _ in range(100)] + [hostile.mutate(rejected(303, "x")) for _ in range(200)]
    reasons: list[str] = []
    for body in bodies:
        for status in (200, 400, 503):
            try:
                assert interpret_cm_response(status, json.dumps(body).encode(), token=TOKEN) is None
            except DeliveryFailed as failure:
                reasons.append(failure.reason)
    assert reasons
    assert all(TOKEN not in reason and len(reason) <= 260 for reason in reasons)
