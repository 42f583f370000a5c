"""The `meta` provider against a fake Graph API on 127.0.0.1: URLs, bodies, headers, error mapping, status webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.meta.delivery import MetaProvider, classify_graph_error
from trialgw.providers.port import Delivered, DeliveryFailed, Provider, ProviderName

EVENTS = Path(__file__).resolve().parent.parent / "events"
TOKENS = {
    Channel.WHATSAPP: "EAAGtestWhatsAppToken0123456789abcdef",
    Channel.MESSENGER: "EAAGtestMessengerPageToken0123456789",
    Channel.INSTAGRAM: "IGtestInstagramToken0123456789abcdef",
}
WAMID = "wamid.HBgLMTU1NTEyMzAwMDEVAgARGBI0QTNEOTk5AA=="


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    client_port: int


@dataclass
class Canned:
    status: int = 200
    body: bytes = b"{}"
    delay: float = 0.0


@dataclass
class FakeGraph:
    """A tiny Graph API: records every request, answers with queued responses (or a default 200)."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    responses: list[Canned] = field(default_factory=list)

    def answer(self, status: int, body: object, *, delay: float = 0.0) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.responses.append(Canned(status, raw, delay))


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    fake = FakeGraph(url="")

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.1 keeps connections open, so connection reuse is observable.
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            fake.requests.append(
                Recorded("POST", self.path, dict(self.headers.items()), json.loads(raw), self.client_address[1])
            )
            canned = fake.responses.pop(0) if fake.responses else Canned(200, json.dumps(_wa_ok()).encode())
            if canned.delay:
                time.sleep(canned.delay)
            try:
                self.send_response(canned.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v21.0"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _wa_ok(wamid: str = WAMID) -> dict[str, object]:
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "31687654321", "wa_id": "31687654321"}],
        "messages": [{"id": wamid}],
    }


def _graph_error(code: int, message: str, *, subcode: int | None = None, **extra: object) -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "Axyz"}
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def _provider(graph: FakeGraph, **overrides: object) -> MetaProvider:
    kwargs: dict[str, Any] = {
        "graph_url": graph.url,
        "whatsapp_phone_number_id": "118000000000055",
        "messenger_page_id": "1029384756",
        "instagram_account_id": "17841400000000001",
        "token_source": TOKENS.get,
        "timeout_seconds": 2.0,
    }
    kwargs.update(overrides)
    return MetaProvider(**kwargs)


def _message(channel: Channel = Channel.WHATSAPP, to: str = "+31687654321", **extra: Any) -> OutboundMessage:
    return OutboundMessage(channel=channel, to=to, text="Hello from the trial", kind="send", message_id="m-1", **extra)


def _fail(provider: MetaProvider, message: OutboundMessage | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        provider.deliver(message or _message())
    return caught.value


# --- sending --------------------------------------------------------------------------------------------------


def test_is_a_provider(graph):
    provider: Provider = _provider(graph)
    assert provider.name is ProviderName.META


def test_whatsapp_send_posts_the_cloud_api_body(graph):
    result = _provider(graph).deliver(_message())

    assert result == Delivered(ProviderName.META, WAMID)
    [request] = graph.requests
    assert request.path == "/v21.0/118000000000055/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKENS[Channel.WHATSAPP]}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "31687654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Hello from the trial"},
    }


def test_messenger_send_uses_the_page_and_response_type(graph):
    graph.answer(200, {"recipient_id": "6712345678901234", "message_id": "m_AbCdEf123"})

    result = _provider(graph).deliver(_message(Channel.MESSENGER, "6712345678901234"))

    assert result == Delivered(ProviderName.META, "m_AbCdEf123")
    [request] = graph.requests
    assert request.path == "/v21.0/1029384756/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKENS[Channel.MESSENGER]}"
    assert request.body == {
        "recipient": {"id": "6712345678901234"},
        "messaging_type": "RESPONSE",
        "message": {"text": "Hello from the trial"},
    }


def test_instagram_send_uses_the_account_and_its_own_token(graph):
    graph.answer(200, {"recipient_id": "5566778899001122", "message_id": "aWdfZAG1faXRlbTox"})

    result = _provider(graph).deliver(_message(Channel.INSTAGRAM, "5566778899001122"))

    assert result.provider_message_id == "aWdfZAG1faXRlbTox"
    [request] = graph.requests
    assert request.path == "/v21.0/17841400000000001/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKENS[Channel.INSTAGRAM]}"
    assert request.body == {"recipient": {"id": "5566778899001122"}, "message": {"text": "Hello from the trial"}}


@pytest.mark.parametrize(
    ("channel", "setting"), [(Channel.MESSENGER, "messenger_page_id"), (Channel.INSTAGRAM, "instagram_account_id")]
)
def test_without_an_account_id_the_token_owner_is_used(graph, channel, setting):
    graph.answer(200, {"recipient_id": "1", "message_id": "m_1"})

    _provider(graph, **{setting: None}).deliver(_message(channel, "6712345678901234"))

    assert graph.requests[0].path == "/v21.0/me/messages"


def test_the_reference_and_sender_are_not_sent(graph):
    _provider(graph).deliver(_message(reference="ref-1", sender="TrialCo"))

    body = graph.requests[0].body
    assert body["type"] == "text"
    assert "ref-1" not in json.dumps(body)
    assert "TrialCo" not in json.dumps(body)


def test_rich_content_is_carried_as_metas_own_message(graph):
    rich = {"conversation": [{"text": "Keep the slot?"}], "suggestions": [{"action": "reply", "label": "Yes"}]}
    _provider(graph).deliver(_message(rich_content=rich))
    graph.answer(200, {"recipient_id": "1", "message_id": "m_1"})
    _provider(graph).deliver(_message(Channel.INSTAGRAM, "6712345678901234", rich_content=rich))

    whatsapp, instagram = (request.body for request in graph.requests)
    assert whatsapp["type"] == "interactive"
    assert whatsapp["interactive"]["action"]["buttons"] == [{"type": "reply", "reply": {"id": "Yes", "title": "Yes"}}]
    assert instagram["message"] == {
        "text": "Keep the slot?",
        "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "Yes"}],
    }


def test_rich_content_meta_cannot_carry_fails_permanently_without_a_call(graph):
    rich = {"conversation": [{"text": "one"}, {"text": "two"}]}
    failed = _fail(_provider(graph), _message(rich_content=rich))

    assert (failed.transient, failed.code) == (False, "rich_content")
    assert "2 conversation items" in str(failed)
    assert graph.requests == []


def test_the_message_text_is_sent_verbatim_as_utf8(graph):
    text = 'Hé 😀 "quoted" \\ and <tags>'
    _provider(graph).deliver(OutboundMessage(Channel.WHATSAPP, "+31687654321", text, "send", "m-2"))

    assert graph.requests[0].body["text"]["body"] == text


def test_trailing_slash_in_graph_url_is_tolerated(graph):
    _provider(graph, graph_url=graph.url + "/").deliver(_message())

    assert graph.requests[0].path == "/v21.0/118000000000055/messages"


def test_connections_are_reused_and_the_pool_is_built_lazily(graph):
    provider = _provider(graph)
    assert provider._http is None  # nothing built before the first send (cold start)

    provider.deliver(_message())
    pool = provider._http
    provider.deliver(_message())
    provider.deliver(_message(Channel.MESSENGER, "6712345678901234"))

    assert provider._http is pool
    assert len({r.client_port for r in graph.requests}) == 1


def test_an_injected_pool_is_used(graph):
    import urllib3

    pool = urllib3.PoolManager()
    provider = _provider(graph, http=pool)
    provider.deliver(_message())

    assert provider._http is pool
    assert len(graph.requests) == 1


def test_the_token_is_read_per_send(graph):
    tokens = iter(["EAAGfirstToken0123456789abcdefgh", "EAAGsecondToken0123456789abcdefg"])
    provider = _provider(graph, token_source=lambda _channel: next(tokens))
    provider.deliver(_message())
    provider.deliver(_message())

    assert [r.headers["Authorization"] for r in graph.requests] == [
        "Bearer EAAGfirstToken0123456789abcdefgh",
        "Bearer EAAGsecondToken0123456789abcdefg",
    ]


def test_200_with_a_malformed_body_still_counts_as_delivered(graph):
    graph.answer(200, b"<html>not json")

    result = _provider(graph).deliver(_message())

    # Meta took it; retrying would send the message twice.
    assert result == Delivered(ProviderName.META, None)


# --- refusals before any request -----------------------------------------------------------------------------


def test_sms_is_not_carried(graph):
    failure = _fail(_provider(graph), _message(Channel.SMS))

    assert not failure.transient
    assert failure.code == "channel"
    assert graph.requests == []


def test_missing_phone_number_id_is_permanent(graph):
    failure = _fail(_provider(graph, whatsapp_phone_number_id=None))

    assert (failure.transient, failure.code) == (False, "config")
    assert graph.requests == []


def test_missing_token_is_permanent(graph):
    failure = _fail(_provider(graph, token_source=lambda _channel: None))

    assert (failure.transient, failure.code) == (False, "config")
    assert "WhatsApp access token" in failure.reason
    assert graph.requests == []


def test_a_failing_token_source_is_transient_and_quotes_nothing(graph):
    def broken(_channel: Channel) -> str:
        raise RuntimeError('secret payload {"whatsapp_access_token": "EAAGleaked0123456789abcdef"}')

    failure = _fail(_provider(graph, token_source=broken))

    assert (failure.transient, failure.code) == (True, "token_source")
    assert "leaked" not in str(failure)
    assert failure.__cause__ is None
    assert failure.__suppress_context__


# --- Graph errors ---------------------------------------------------------------------------------------------


def test_131047_outside_the_window_is_permanent(graph):
    graph.answer(
        400,
        _graph_error(
            131047,
            "(#131047) Re-engagement message",
            error_data={"messaging_product": "whatsapp", "details": "More than 24 hours have passed."},
        ),
    )

    failure = _fail(_provider(graph))

    assert not failure.transient
    assert failure.code == "131047"
    assert "24-hour" in failure.reason
    assert len(graph.requests) == 1  # never retried inline


def test_130429_throughput_is_transient(graph):
    graph.answer(
        400,
        _graph_error(
            130429,
            "(#130429) Rate limit hit",
            error_data={"messaging_product": "whatsapp", "details": "Cloud API message throughput has been reached."},
        ),
    )

    failure = _fail(_provider(graph))

    assert (failure.transient, failure.code) == (True, "130429")
    assert "throughput" in failure.reason


def test_190_expired_token_is_permanent_and_never_echoes_the_token(graph, capsys):
    token = TOKENS[Channel.WHATSAPP]
    graph.answer(
        401,
        _graph_error(190, f"Error validating access token: Session has expired. Malformed access token {token}"),
    )

    failure = _fail(_provider(graph))

    assert (failure.transient, failure.code) == (False, "190")
    assert "access token" in failure.reason
    assert token not in str(failure)
    assert token not in repr(failure.args)
    captured = capsys.readouterr()
    assert token not in captured.out + captured.err


def test_500_is_transient(graph):
    graph.answer(500, _graph_error(131000, "(#131000) Something went wrong"))

    failure = _fail(_provider(graph))

    assert (failure.transient, failure.code) == (True, "131000")


@pytest.mark.parametrize(
    ("status", "transient"), [(500, True), (502, True), (503, True), (429, True), (400, False), (404, False)]
)
def test_non_json_error_bodies_follow_the_http_status(graph, status, transient):
    graph.answer(status, b"<html><body>Bad Gateway</body></html>")

    failure = _fail(_provider(graph))

    assert failure.transient is transient
    assert failure.code == f"http_{status}"


def test_malformed_error_json_is_handled(graph):
    graph.answer(400, b'{"error": {"code": ')

    failure = _fail(_provider(graph))

    assert (failure.transient, failure.code) == (False, "http_400")


def test_is_transient_flag_is_honoured_for_unknown_codes(graph):
    graph.answer(400, _graph_error(99999, "Something new", is_transient=True))

    assert _fail(_provider(graph)).transient


def test_messenger_outside_the_window_is_permanent(graph):
    graph.answer(400, _graph_error(10, "(#10) This message is sent outside of allowed window.", subcode=2018278))

    failure = _fail(_provider(graph), _message(Channel.MESSENGER, "6712345678901234"))

    assert (failure.transient, failure.code) == (False, "10")
    assert "Meta error 10/2018278" in failure.reason
    assert "window" in failure.reason


def test_phone_numbers_in_meta_texts_are_masked(graph):
    graph.answer(400, _graph_error(131026, "(#131026) Message undeliverable to 31687654321"))

    failure = _fail(_provider(graph))

    assert "31687654321" not in failure.reason
    assert not failure.transient


def test_timeout_is_transient_and_quotes_no_secret(graph):
    graph.answer(200, _wa_ok(), delay=1.5)

    started = time.monotonic()
    failure = _fail(_provider(graph, timeout_seconds=0.3))

    assert time.monotonic() - started < 1.4
    assert (failure.transient, failure.code) == (True, "network")
    assert "timed out" in failure.reason
    assert TOKENS[Channel.WHATSAPP] not in str(failure)
    assert len(graph.requests) == 1  # a read timeout is not retried inline: Meta may have sent it


def test_unreachable_graph_is_transient(graph):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    failure = _fail(_provider(graph, graph_url=f"http://127.0.0.1:{port}/v21.0", timeout_seconds=0.5))

    assert (failure.transient, failure.code) == (True, "network")
    assert "could not be reached" in failure.reason


@pytest.mark.parametrize(
    ("status", "code", "subcode", "is_transient", "expected"),
    [
        (400, 131047, None, False, False),
        (400, 131026, None, False, False),
        (400, 131048, None, False, False),
        (400, 131049, None, False, False),
        (400, 100, None, False, False),
        (401, 190, None, False, False),
        (403, 200, None, False, False),
        (400, 132001, None, False, False),
        (400, 10, 2018278, False, False),
        (400, 551, None, False, False),
        (400, 130429, None, False, True),
        (400, 131056, None, False, True),
        (400, 80007, None, False, True),
        (400, 4, None, False, True),
        (400, 613, None, False, True),
        (500, 131000, None, False, True),
        (503, 131016, None, False, True),
        (500, 2, None, False, True),
        (500, None, None, False, True),
        (429, None, None, False, True),
        (400, None, None, False, False),
        (400, 12345, None, True, True),
        # A permanent code stays permanent even when Meta answers 5xx or says "transient".
        (500, 131047, None, True, False),
    ],
)
def test_classification_table(status, code, subcode, is_transient, expected):
    assert classify_graph_error(status, code, subcode, is_transient) is expected
