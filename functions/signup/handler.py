"""POST /signup: creates a 24-hour trial and e-mails its key."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from trialgw import settings as trial_settings
from trialgw.adapters import aws
from trialgw.adapters.dynamo_trials import DynamoSignupCounter, DynamoTrialStore
from trialgw.adapters.ses_mailer import SesMailer
from trialgw.http import (
    json_response,
    parse_json_object,
    request_text,
    require_json,
    require_site_origin,
    resolver,
)
from trialgw.logic.signup import SignupDeps, sign_up
from trialgw.observability import lambda_entry, metrics
from trialgw.settings import SignupSettings

if TYPE_CHECKING:
    # Powertools' event_handler is imported on the first request (trialgw.http.resolver), not at the cold start's.
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response


def _settings() -> SignupSettings:
    return trial_settings.load(SignupSettings)


@cache
def _deps() -> SignupDeps:
    import time

    settings = _settings()
    client = aws.dynamodb()
    return SignupDeps(
        trials=DynamoTrialStore(client, settings.trials_table),
        counter=DynamoSignupCounter(client, settings.trials_table),
        mailer=SesMailer(aws.sesv2(), settings.sender_email, settings.ses_configuration_set),
        clock=time.time,
    )


def post_signup() -> Response[str]:
    settings = _settings()
    event = _app().current_event
    # Another site's page first (it must learn nothing more), then what it could send without a preflight.
    require_site_origin(event, settings.site_url)
    require_json(event)
    body = parse_json_object(request_text(event), max_bytes=settings.max_body_bytes)
    # email_validator loads here, on the first request, not at the cold start's import.
    from trialgw.signup_input import parse_signup

    request = parse_signup(body)
    result = sign_up(request, settings, _deps(), client_ip=event.request_context.identity.source_ip)
    metrics.add_metric(name="TrialsCreated", unit=MetricUnit.Count, value=1)
    return json_response(
        202,
        {
            "message": f"Check your inbox: we sent your trial key to {result.masked_email}.",
            "email": result.masked_email,
            "expiresAt": result.expires_at.isoformat().replace("+00:00", "Z"),
        },
    )


@cache
def _app() -> APIGatewayRestResolver:
    # Built on first use, not at import: CORS needs the site's origin from the settings, and the resolver's import is
    # the first request's.
    app = resolver(site_url=_settings().site_url)
    app.post("/signup")(post_signup)
    return app


@lambda_entry
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _app().resolve(event, context)
