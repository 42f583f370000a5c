"""A trial's own webhooks, as the dashboard API configures them (issue 18): two optional URLs and a signing secret.

`GET /dashboard-api/webhooks` shows the URLs and whether a secret exists; `PUT` replaces both URLs (a missing or empty
one is removed), each checked by `trialgw.webhook_urls` (public https in AWS; `http://127.0.0.1:<port>` too under
`make dev`); `POST /dashboard-api/webhooks/secret` makes a new secret and shows it this once: no read returns it
again. An ended trial (expired) shows its webhooks but changes nothing; a revoked one is unknown, as everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from trialgw.errors import TrialGatewayError
from trialgw.logic.dashboard import UnknownTrial, Viewer, trial_status
from trialgw.ports import Clock, WebhookConfig, WebhookConfigStore
from trialgw.settings import WebhookTargetSettings
from trialgw.webhook_urls import RefusedUrl, Resolver, check_url

# The body's fields, as the Contract names them.
FIELDS = {"inboundUrl": "inbound", "statusUrl": "status"}
INVALID_URL = "invalid_webhook_url"


class InvalidWebhooks(TrialGatewayError):
    """A PUT whose body or URL is refused: 400 with `code` (`invalid_webhook_url` for a refused URL)."""

    def __init__(self, message: str, code: str = INVALID_URL) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class TrialEnded(TrialGatewayError):
    """A change to the webhooks of a trial that has ended: 409."""


class WebhookDeps(NamedTuple):
    store: WebhookConfigStore
    # What a host name resolves to (trialgw.adapters.dns in the functions; a function in tests: no network).
    resolve: Resolver
    new_secret: Callable[[], str]
    clock: Clock


def view(config: WebhookConfig) -> dict[str, Any]:
    """The Contract's shape: `{"inboundUrl", "statusUrl", "hasSecret"}`."""
    return {"inboundUrl": config.inbound_url, "statusUrl": config.status_url, "hasSecret": config.has_secret}


def _config(viewer: Viewer, deps: WebhookDeps) -> WebhookConfig:
    config = deps.store.config(viewer.state.trial.key_hash)
    if config is None:
        raise UnknownTrial("There is no trial for this key. Sign up for a new one.")
    return config


def webhooks_view(viewer: Viewer, deps: WebhookDeps) -> dict[str, Any]:
    """The trial's webhooks; raises UnknownTrial or StoreError."""
    return view(_config(viewer, deps))


def _ensure_open(viewer: Viewer, deps: WebhookDeps) -> None:
    if trial_status(viewer.state, deps.clock()) != "active":
        raise TrialEnded("This trial has ended: its webhooks can no longer be changed. Sign up for a new one.")


def requested_urls(body: dict[str, Any], settings: WebhookTargetSettings, resolve: Resolver) -> dict[str, str | None]:
    """The URLs of a PUT body by field (`inboundUrl`, `statusUrl`), each checked; raises InvalidWebhooks naming the
    field and why. A missing, null or empty field removes that webhook."""
    unknown = sorted(name for name in body if name not in FIELDS)
    if unknown:
        shown = ", ".join(name[:40] for name in unknown[:3])
        raise InvalidWebhooks(f"Unknown field(s): {shown}. Send inboundUrl and statusUrl only.", "unknown_field")
    urls: dict[str, str | None] = {}
    for name in FIELDS:
        value = body.get(name)
        if value is None or value == "":
            urls[name] = None
            continue
        if not isinstance(value, str):
            raise InvalidWebhooks(f"{name}: give a URL as text, or null for none.")
        try:
            check_url(value, allow_loopback=settings.webhook_allow_loopback, resolve=resolve)
        except RefusedUrl as refusal:
            raise InvalidWebhooks(f"{name}: {refusal}") from None
        urls[name] = value
    return urls


def save_webhooks(
    viewer: Viewer, body: dict[str, Any], settings: WebhookTargetSettings, deps: WebhookDeps
) -> dict[str, Any]:
    """Replaces the trial's URLs with the body's; raises InvalidWebhooks, TrialEnded, UnknownTrial or StoreError."""
    _ensure_open(viewer, deps)
    urls = requested_urls(body, settings, deps.resolve)
    saved = deps.store.save_urls(
        viewer.state.trial.key_hash, inbound_url=urls["inboundUrl"], status_url=urls["statusUrl"]
    )
    if saved is None:
        raise UnknownTrial("There is no trial for this key. Sign up for a new one.")
    return view(saved)


def rotate_secret(viewer: Viewer, deps: WebhookDeps) -> dict[str, Any]:
    """A new signing secret, stored and shown this once: `{"secret"}`. The previous one signs nothing from now on.
    Raises TrialEnded, UnknownTrial or StoreError."""
    _ensure_open(viewer, deps)
    secret = deps.new_secret()
    if not deps.store.save_secret(viewer.state.trial.key_hash, secret, now=int(deps.clock())):
        raise UnknownTrial("There is no trial for this key. Sign up for a new one.")
    return {"secret": secret}


__all__ = [
    "INVALID_URL",
    "InvalidWebhooks",
    "TrialEnded",
    "WebhookDeps",
    "requested_urls",
    "rotate_secret",
    "save_webhooks",
    "view",
    "webhooks_view",
]
