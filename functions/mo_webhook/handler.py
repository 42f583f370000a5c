"""The providers' webhooks: end users' messages (CM's MO webhook, Meta's webhooks) and the status reports of messages
we sent (CM's status webhook, Meta's `statuses`). SMS, both ways, arrives through SNS and a queue instead: the
`sms_inbound` function.

Every entry point authenticates first (an unauthenticated call changes nothing and learns nothing), then
parses the provider's payload and hands it to one use case: inbound messages to `handle_inbound`, status
reports to `apply_reports`.
"""

from __future__ import annotations

import hmac
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import settings as trial_settings
from trialgw import wiring
from trialgw.adapters.secrets import webhook_secrets
from trialgw.http import json_response, parse_json_object, request_text, resolver, text_response
from trialgw.logic.inbound import InboundDeps, handle_inbound
from trialgw.logic.status_reports import apply_reports
from trialgw.models import InboundMessage
from trialgw.observability import lambda_entry
from trialgw.ports import MessageStatusStore
from trialgw.providers.cm.inbound import parse_cm_mo
from trialgw.providers.cm.status import parse_cm_status_report
from trialgw.providers.meta.inbound import parse_meta, verify_signature, verify_subscription
from trialgw.providers.meta.status import meta_status_reports
from trialgw.providers.port import ProviderName
from trialgw.providers.status import StatusReport
from trialgw.settings import MoWebhookSettings

if TYPE_CHECKING:
    # Powertools' event_handler is imported on the first request (trialgw.http.resolver), not at the cold start's.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

NOT_FOUND = {"message": "Not found.", "code": "not_found"}


def _settings() -> MoWebhookSettings:
    return trial_settings.load(MoWebhookSettings)


@cache
def _statuses() -> MessageStatusStore:
    return wiring.status_store(_settings())


@cache
def _deps() -> InboundDeps:
    return wiring.inbound_deps(_settings())


def _now() -> int:
    """The time as the use cases see it: their clock, one per function instance (a test's fake, or time.time)."""
    return int(_deps().clock())


def _handle_all(messages: list[InboundMessage]) -> Response[str]:
    outcomes = [handle_inbound(message, _settings(), _deps()).value for message in messages]
    return json_response(200, {"processed": len(outcomes), "outcomes": outcomes})


def post_cm(secret: str) -> Response[str]:
    if not _cm_secret_matches(secret):
        return json_response(404, NOT_FOUND)
    body = parse_json_object(request_text(_app().current_event), max_bytes=_settings().webhook_max_body_bytes)
    return _handle_all(parse_cm_mo(body, received_at=_now()))


def post_cm_status(secret: str) -> Response[str]:
    if not _cm_secret_matches(secret):
        return json_response(404, NOT_FOUND)
    body = parse_json_object(request_text(_app().current_event), max_bytes=_settings().webhook_max_body_bytes)
    reports = parse_cm_status_report(body)
    moved = _apply(reports, provider=ProviderName.CM)
    return json_response(200, {"processed": len(reports), "updated": moved})


def _cm_secret_matches(secret: str) -> bool:
    expected = webhook_secrets(_settings()).cm_webhook_secret
    # Constant-time, and the same 404 as an unknown path: a wrong secret learns nothing.
    return bool(expected) and hmac.compare_digest(secret.encode("utf-8", "surrogatepass"), expected.encode())


def _apply(reports: list[StatusReport], *, provider: ProviderName) -> int:
    # A flagged send's move goes to its trial's status webhook, on the queue the inbound events take.
    return apply_reports(_statuses(), reports, now=_now(), provider=provider.value, events=_deps().webhook_events)


def get_meta() -> Response[str]:
    params = _app().current_event.query_string_parameters or {}
    challenge = verify_subscription(params, webhook_secrets(_settings()).meta_verify_token)
    if challenge is None:
        return json_response(403, {"message": "Verification failed.", "code": "forbidden"})
    return text_response(200, challenge)


def post_meta() -> Response[str]:
    event = _app().current_event
    max_bytes = _settings().webhook_max_body_bytes
    raw = request_text(event) or ""
    raw_bytes = raw.encode("utf-8", "surrogatepass")
    if len(raw_bytes) > max_bytes:
        return json_response(400, {"message": "The request body is too large.", "code": "body_too_large"})
    # The signature covers the exact bytes Meta sent, so it is checked before anything is parsed.
    signature = event.headers.get("x-hub-signature-256") or event.headers.get("X-Hub-Signature-256")
    if not verify_signature(raw_bytes, signature, webhook_secrets(_settings()).meta_app_secret):
        return json_response(401, {"message": "Invalid or missing X-Hub-Signature-256.", "code": "unauthorized"})
    batch = parse_meta(parse_json_object(raw, max_bytes=max_bytes), received_at=_now())
    _apply(meta_status_reports(batch.statuses), provider=ProviderName.META)
    return _handle_all(batch.messages)


@cache
def _app() -> APIGatewayRestResolver:
    app = resolver()
    app.post("/webhooks/cm/<secret>")(post_cm)
    app.post("/webhooks/cm-status/<secret>")(post_cm_status)
    app.get("/webhooks/meta")(get_meta)
    app.post("/webhooks/meta")(post_meta)
    return app


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
