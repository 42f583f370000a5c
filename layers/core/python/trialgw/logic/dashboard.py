"""The trial dashboard's data: the trial and its quotas, the whitelist with ready examples, the messages.

The key arrives in the `Authorization` header only (the page keeps it in the URL fragment, which no server
sees). A missing or malformed header is 401; an unknown or revoked key is 404 with the same text either way,
so the answer never says whether a key existed. An expired trial stays readable (status "expired") while its
items are kept, so an old link says "ended" rather than "unknown".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from trialgw.channels import channels
from trialgw.errors import TrialGatewayError
from trialgw.examples import curl_example, postman_collection
from trialgw.join_codes import join_text
from trialgw.keys import hash_key, normalize_key, trial_id
from trialgw.logic.trial_email import contact_points
from trialgw.models import TrialState, TrialStatus
from trialgw.ports import Clock, MessageLog, StoredMessage, TrialStore, WhitelistEntry, WhitelistStore
from trialgw.qr import qr_data_url
from trialgw.quotas import iso_utc, iso_utc_ms, quota_rows
from trialgw.settings import DashboardSettings
from trialgw.urls import STATUS_PATH, gateway_url

SUMMARY_CHARS = 80
# What the send path recorded beside the request: what was delivered, the SMS count, the country rule applied.
EXPLAIN_FIELDS = ("delivered", "sms", "countryRule", "messageDetails")
BEARER = "bearer "


class Unauthorized(TrialGatewayError):
    """No usable key in the Authorization header."""


class UnknownTrial(TrialGatewayError):
    """No trial for this key (never one, or revoked): one answer for both."""


class DashboardDeps(NamedTuple):
    trials: TrialStore
    whitelist: WhitelistStore
    messages: MessageLog
    clock: Clock


class Viewer(NamedTuple):
    """An authenticated dashboard request: the key (to build examples with) and its trial."""

    key: str
    state: TrialState


def authenticate(authorization: str | None, deps: DashboardDeps) -> Viewer:
    """The viewer of `Authorization: Bearer <key>`; raises Unauthorized, UnknownTrial or StoreError."""
    if not authorization or len(authorization) > 200 or not authorization.lower().startswith(BEARER):
        raise Unauthorized("Send the trial key as `Authorization: Bearer <key>`.")
    key = normalize_key(authorization[len(BEARER) :])
    if key is None:
        raise Unauthorized("Send the trial key as `Authorization: Bearer <key>`.")
    state = deps.trials.state(hash_key(key))
    if state is None or state.trial.status is TrialStatus.REVOKED:
        raise UnknownTrial("There is no trial for this key. Sign up for a new one.")
    return Viewer(key=key, state=state)


def trial_status(state: TrialState, now: float) -> str:
    """`revoked`, `expired` (past its expiry, not revoked) or `active`: what the dashboard and the operator call it."""
    if state.trial.status is TrialStatus.REVOKED:
        return "revoked"
    return "active" if now < state.trial.expires_at else "expired"


def current_whitelist(state: TrialState, entries: Iterable[WhitelistEntry]) -> list[WhitelistEntry]:
    """The entries still whitelisted: the trial item's members are the truth (a STOP removes both, and sends check
    the members); an entry carries the time, and one without a member is a removal's leftover."""
    return [entry for entry in entries if state.is_whitelisted(entry.channel, entry.address)]


def message_fields(message: StoredMessage, text: tuple[str, str | None]) -> dict[str, Any]:
    """A message as every list of messages shows it; `text` is the view's (name, value) for its text, which goes
    after the counterpart (the dashboard shows a summary, the operator CLI the whole text)."""
    name, value = text
    return {
        "id": message.message_id,
        # Milliseconds when the record has them (the list's order is theirs); whole seconds for older records.
        "at": iso_utc(message.at) if message.at_ms is None else iso_utc_ms(message.at_ms),
        "direction": message.direction,
        "channel": str(message.channel),
        "counterpart": message.counterpart,
        name: value,
        "status": message.status,
        "reason": message.reason,
        # CM's errorCode of a refused attempt (its `reason` is the answer's text); None for every other message.
        "errorCode": message.error_code,
    }


def trial_view(viewer: Viewer, settings: DashboardSettings, now: float) -> dict[str, Any]:
    """The trial, its quotas and where to send the key. An expired trial has no quota left on any channel (`sent`
    still counts what it sent); `contactPoints[].localPhoneLink` is set on the local stack only. Each contact point
    carries a QR code of its link with the join code typed in: the code, not the key, because the person scanning
    sees and sends a short readable text, a shorter text makes a less dense code that scans easily off a screen,
    and a photo of the screen or the phone's chat history then holds no credential that sends messages."""
    trial = viewer.state.trial
    seconds_left = max(0, trial.expires_at - int(now))
    status = trial_status(viewer.state, now)
    expired = status == "expired"
    return {
        "trial": {
            "id": trial_id(trial.key_hash),
            "name": trial.name,
            "company": trial.company,
            "createdAt": iso_utc(trial.created_at),
            "expiresAt": iso_utc(trial.expires_at),
            "secondsLeft": seconds_left,
            # Never "revoked" here: a revoked key is refused before any view.
            "status": status,
            "expired": expired,
        },
        "quotas": quota_rows(viewer.state, settings, channels(), ended=expired),
        "whitelistMax": settings.max_recipients,
        # `join amber-fox-river-482`: whitelists like the key (trialgw.join_codes).
        "joinCode": join_text(viewer.key),
        "contactPoints": [
            {
                "channel": point.channel,
                "instruction": point.instruction,
                "address": point.address,
                "link": point.link,
                "localPhoneLink": point.local_phone,
                # The link with the join code typed in, and its QR code: an SVG data URL for an <img>.
                "joinLink": point.join_link,
                "qr": qr_data_url(point.join_link),
            }
            for point in contact_points(settings, viewer.key)
        ],
        "gatewayUrl": gateway_url(settings.api_url),
        "statusUrl": settings.api_url + STATUS_PATH,
    }


def whitelist_view(viewer: Viewer, settings: DashboardSettings, deps: DashboardDeps) -> dict[str, Any]:
    current = current_whitelist(viewer.state, deps.whitelist.entries(viewer.state.trial.key_hash))
    recipients = [(entry.channel, entry.address) for entry in current]
    return {
        "max": settings.max_recipients,
        "recipients": [
            {
                "channel": entry.channel.value,
                "recipient": entry.address,
                "whitelistedAt": iso_utc(entry.whitelisted_at),
                "curl": curl_example(settings.api_url, viewer.key, entry.channel, entry.address),
            }
            for entry in current
        ],
        "postmanCollection": postman_collection(
            settings.api_url, viewer.key, f"trialgw trial {trial_id(viewer.state.trial.key_hash)}", recipients
        ),
    }


def messages_view(
    viewer: Viewer, settings: DashboardSettings, deps: DashboardDeps, *, limit: int | None, cursor: str | None
) -> dict[str, Any]:
    """One page of messages, newest first. Raises InvalidCursor for a cursor this API did not give out."""
    size = settings.dashboard_page_size if limit is None else max(1, min(limit, settings.dashboard_page_size))
    page = deps.messages.page(viewer.state.trial.key_hash, limit=size, cursor=cursor)
    return {"messages": [_message(message) for message in page.messages], "next": page.cursor}


def _message(message: StoredMessage) -> dict[str, Any]:
    try:
        payload: Any = json.loads(message.payload)
    except ValueError:
        payload = {}
    explain = None
    request: Any = payload
    if message.direction == "outbound" and isinstance(payload, dict):
        request = payload.get("request", {})
        explain = {name: payload[name] for name in EXPLAIN_FIELDS if name in payload}
    text = message.text or ""
    return {
        **message_fields(message, ("summary", text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…")),
        # Who took it: "sandbox" means the local simulated phone (`/_local/phone`), never a real one.
        "provider": message.provider,
        "json": request,
        "explain": explain or None,
    }


__all__ = [
    "DashboardDeps",
    "Unauthorized",
    "UnknownTrial",
    "Viewer",
    "authenticate",
    "current_whitelist",
    "message_fields",
    "messages_view",
    "trial_status",
    "trial_view",
    "whitelist_view",
]
