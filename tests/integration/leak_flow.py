"""A whole trial, traced as in Lambda: run only by `test_secret_leaks.py`, in a process of its own.

Not collected by the suite (no `test_` file name): Powertools' Tracer decides once per process whether it traces,
from the environment (`LAMBDA_TASK_ROOT`, `_X_AMZN_TRACE_ID`), and the suite's process must not trace. This
process does: every X-Ray subsegment the handlers close is captured by an emitter in place of the UDP one, and
everything the functions log or emit as metrics goes to stdout. The flow: sign-up, the Meta verify handshake, the
CM and Meta webhooks whitelisting, sends with the key in the header and in the body, the status endpoint, the
dashboard's three views and the trial's own webhooks (URLs and a signing secret), delivery through CM and Meta
(a first CM attempt failing), CM status reports, and a forged webhook call. Secrets come from Secrets Manager, as in
AWS. The captured segments and the secrets go to the JSON file named by `LEAK_CAPTURE`, for the outer test to search.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aws_xray_sdk.core import xray_recorder

from tests.cm_requests import cm_send_body
from tests.conftest import TRIAL_KEY
from tests.integration.conftest import EVENTS, SITE_URL, invoke, load_handler, rest_event
from tests.integration.test_dashboard_handler import get as dashboard_get
from tests.integration.test_dashboard_webhooks import request as dashboard_request
from tests.integration.test_delivery_handler import failures, receive, run
from tests.integration.test_mo_webhook_handler import FIXTURE_KEY, cm_event, meta_event
from tests.integration.test_send_handler import get_event
from trialgw.observability import logger, tracer
from trialgw.providers.meta.inbound import sign

# Distinct, recognizable values: a hit in the capture is a leak, never a coincidence.
SECRETS = {
    "cm_webhook_secret": "cmWebhookSecret0x7f3a9c1e5b2d4f6a8c0e1b3d",
    "meta_app_secret": "metaAppSecret0x4e2c8a6f1d3b5e7a9c0f2d4b",
    "meta_verify_token": "metaVerifyToken0x9b1d3f5a7c2e4a6c8e0a1c3e",
}
PROVIDER_SECRETS = {
    "cm_product_token": "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
    "whatsapp_access_token": "",
    "messenger_page_token": "EAAmessengerPageToken0x5c7e9a1b3d5f7a9c",
    "instagram_access_token": "",
}
# Logged and traced on purpose: the outer test finds it in both, so its search can find a leak at all.
CANARY = "leak-probe-canary-7d1e"
PHONE = "+31687654321"
PSID = "7012345678901234"


class CapturingEmitter:
    """What the X-Ray recorder sends to the daemon, kept in memory instead."""

    def __init__(self) -> None:
        self.entities: list[str] = []

    def send_entity(self, entity: Any) -> None:
        self.entities.append(entity.serialize())

    def set_daemon_address(self, address: str | None) -> None:
        del address


EMITTER = CapturingEmitter()


class FakeProviders(BaseHTTPRequestHandler):
    """CM's gateway and Meta's Graph API on 127.0.0.1: CM fails its first request (a retried delivery)."""

    cm_requests = 0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        if self.path.startswith("/cm"):
            type(self).cm_requests += 1
            if type(self).cm_requests == 1:
                self._answer(500, {"details": "Internal error", "errorCode": 999, "messages": []})
                return
            message = {"to": "0031687654321", "status": "Accepted", "reference": "r", "parts": 1}
            self._answer(200, {"details": "Created 1 message(s)", "errorCode": 0, "messages": [message]})
            return
        self._answer(200, {"recipient_id": PSID, "message_id": "m_leakprobe0001"})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def providers() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeProviders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def traced_aws(aws_env: None, providers: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets in Secrets Manager (as in AWS), WhatsApp through CM and Messenger through Meta."""
    client = boto3.client("secretsmanager")
    webhook = client.create_secret(Name="trialgw-webhooks", SecretString=json.dumps(SECRETS))["Name"]
    provider = client.create_secret(Name="trialgw-providers", SecretString=json.dumps(PROVIDER_SECRETS))["Name"]
    for name in ("TRIALGW_CM_WEBHOOK_SECRET", "TRIALGW_META_APP_SECRET", "TRIALGW_META_VERIFY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "TRIALGW_WEBHOOK_SECRETS_NAME": webhook,
        "TRIALGW_PROVIDER_SECRETS_NAME": provider,
        "TRIALGW_PROVIDER_WHATSAPP": "cm",
        "TRIALGW_CM_GATEWAY_URL": f"{providers}/cm/v1.0/message",
        "TRIALGW_CM_SENDERS": json.dumps({"WhatsApp": "0031850876714"}),
        "TRIALGW_PROVIDER_MESSENGER": "meta",
        "TRIALGW_META_GRAPH_URL": f"{providers}/graph",
        "TRIALGW_MESSENGER_PAGE_ID": "104958372615243",
        "TRIALGW_DELIVERY_BACKOFF_BASE_SECONDS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    from trialgw import settings

    settings.reload()


def _mo_fixture(name: str, key: str) -> str:
    return (EVENTS / name).read_text().replace(FIXTURE_KEY.upper(), key).replace(FIXTURE_KEY, key)


def _sign_up() -> str:
    body = json.dumps({"name": "Jane Doe", "email": "jane.leak@example.com"})
    status, _, answer = invoke(load_handler("signup"), rest_event("apigw_rest_signup.json", body=body))
    assert status == 202, answer
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    (mail,) = ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages
    return str(TRIAL_KEY.findall(mail.body)[0])


def _whitelist(mo: Any, key: str) -> None:
    verify = meta_event("", None)
    verify.update(httpMethod="GET", body=None)
    verify["queryStringParameters"] = {
        "hub.mode": "subscribe",
        "hub.verify_token": SECRETS["meta_verify_token"],
        "hub.challenge": "1158201444",
    }
    assert invoke(mo, verify)[0] == 200
    cm_status = invoke(mo, cm_event(_mo_fixture("mo_cm_whatsapp.json", key), secret=SECRETS["cm_webhook_secret"]))
    assert cm_status[0] == 200, cm_status
    raw = _mo_fixture("meta_messenger_text.json", key)
    signed = meta_event(raw, sign(raw.encode(), SECRETS["meta_app_secret"]))
    assert invoke(mo, signed)[0] == 200
    # A forger guessing at the CM webhook's secret, and one signing with a wrong Meta secret.
    assert invoke(mo, cm_event(_mo_fixture("mo_cm_whatsapp.json", key), secret="not-the-secret"))[0] == 404
    assert invoke(mo, meta_event(raw, sign(raw.encode(), "wrong")))[0] == 401


def _send(key: str) -> None:
    send = load_handler("send")
    in_header = rest_event(
        "apigw_rest_send.json",
        body=cm_send_body(None, channels=["WhatsApp"], to=(PHONE,), content="Hello", sender="Trial", reference="r1"),
        headers={"X-CM-PRODUCTTOKEN": key},
    )
    assert invoke(send, in_header)[0] == 200
    in_body = cm_send_body(
        key, channels=["Facebook Messenger"], to=(PSID,), content="Hi", sender="Trial", reference="r2"
    )
    assert invoke(send, rest_event("apigw_rest_send.json", body=in_body))[0] == 200
    refused = cm_send_body(key, channels=["Viber"], to=(PHONE,), content="Hi", sender="Trial", reference="r3")
    assert invoke(send, rest_event("apigw_rest_send.json", body=refused))[0] == 400
    status_event = get_event("/messaging/messagingtrial/status")
    status_event["headers"]["X-CM-PRODUCTTOKEN"] = key
    status_event["multiValueHeaders"]["X-CM-PRODUCTTOKEN"] = [key]
    assert invoke(send, status_event)[0] == 200


def _dashboard(key: str) -> str:
    """The dashboard's views, the trial's own webhooks configured; the webhook signing secret it showed once."""
    dashboard = load_handler("dashboard")
    for path in ("/dashboard-api/trial", "/dashboard-api/whitelist", "/dashboard-api/messages"):
        status, _, answer = dashboard_get(dashboard, path, key=key)
        assert status == 200, answer
    # The answers do carry the key (curl examples): what must not is a trace of them.
    assert key in json.dumps(dashboard_get(dashboard, "/dashboard-api/whitelist", key=key)[2])
    # An IP literal: checked without DNS (this process resolves nothing).
    urls = {"inboundUrl": "https://8.8.8.8:8443/in", "statusUrl": None}
    assert dashboard_request(dashboard, "PUT", "/dashboard-api/webhooks", key=key, body=urls)[0] == 200
    status, _, answer = dashboard_request(dashboard, "POST", "/dashboard-api/webhooks/secret", key=key)
    assert status == 200, answer
    assert dashboard_request(dashboard, "GET", "/dashboard-api/webhooks", key=key)[2]["hasSecret"] is True
    return str(answer["secret"])


def _deliver() -> None:
    delivery = load_handler("delivery")
    for _attempt in range(3):
        messages = receive(visibility=0)
        if not messages:
            return
        for message in messages:
            result = run(delivery, message)
            if not failures(result):
                boto3.client("sqs").delete_message(
                    QueueUrl=boto3.client("sqs").get_queue_url(QueueName="trialgw-outbound")["QueueUrl"],
                    ReceiptHandle=message["ReceiptHandle"],
                )
    assert receive(visibility=0) == []


def test_a_whole_trial_traced(traced_aws: None) -> None:
    assert not tracer().disabled, "this process must trace as in Lambda (see the module docstring)"
    xray_recorder.configure(emitter=EMITTER)
    with tracer().provider.in_subsegment("leak-probe canary") as subsegment:
        subsegment.put_metadata("canary", CANARY)
    logger.info("leak probe canary", extra={"canary": CANARY})

    key = _sign_up()
    mo = load_handler("mo_webhook")
    _whitelist(mo, key)
    _send(key)
    webhook_signing_secret = _dashboard(key)
    _deliver()
    status_body = (EVENTS / "cm_status_delivered.json").read_text()
    cm_status = cm_event(status_body, secret=SECRETS["cm_webhook_secret"])
    cm_status.update(
        resource="/webhooks/cm-status/{secret}", path=f"/webhooks/cm-status/{SECRETS['cm_webhook_secret']}"
    )
    assert invoke(mo, cm_status)[0] == 200
    assert FakeProviders.cm_requests >= 2, "a CM delivery failed once and was retried"

    with open(os.environ["LEAK_CAPTURE"], "w", encoding="utf-8") as capture:
        json.dump(
            {
                "segments": EMITTER.entities,
                "secrets": {
                    "trial key": key,
                    "trial webhook signing secret": webhook_signing_secret,
                    **SECRETS,
                    **{name: value for name, value in PROVIDER_SECRETS.items() if value},
                },
                "canary": CANARY,
                "site": SITE_URL,
            },
            capture,
        )
