"""The e-mail that hands a developer their trial key: one content model, rendered as text and HTML."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import NamedTuple

from trialgw.channels import CHANNELS, Channel, ContactLink, ContactSpec, contacts, single_contact
from trialgw.examples import curl_example
from trialgw.join_codes import join_text
from trialgw.models import Trial
from trialgw.ports import OutgoingEmail
from trialgw.quotas import quota_groups
from trialgw.settings import TrialSettings
from trialgw.urls import dashboard_url, local_phone_link, page_link, sms_link, whatsapp_link


class ContactPoint(NamedTuple):
    channel: str
    instruction: str
    address: str
    link: str
    # The local stack's simulated phone on this channel, key filled in (None in AWS): the real contact point above
    # never reaches a local stack.
    local_phone: str | None = None
    # The deep link with the join code (`join amber-fox-river-482`) typed in instead of the key: what the dashboard's
    # QR code holds. Messenger's m.me link takes the text too; Instagram's takes none, so it is `link` itself.
    join_link: str = ""


def humanize_seconds(seconds: int) -> str:
    """86400 → '24 hours', 1800 → '30 minutes', 45 → '45 seconds'."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def contact_points(settings: TrialSettings, key: str) -> list[ContactPoint]:
    """Where to send the key from each channel, with a link that pre-fills it where the channel allows.

    In registry order, except that numbers by region (SMS) come last: the e-mail's caveat about regions follows them.
    """
    specs = sorted(CHANNELS.values(), key=lambda spec: single_contact(settings, spec.channel) is None)
    return [point for spec in specs for point in _contact_points(spec.channel, spec.contact, settings, key)]


def _contact_points(channel: Channel, contact: ContactSpec, settings: TrialSettings, key: str) -> list[ContactPoint]:
    points = []
    phone = local_phone_link(settings.local_phone_url, channel.value, key) if settings.local_phone_url else None
    joining = join_text(key)
    for region, value in contacts(settings, channel).items():
        instruction = contact.instruction.format(region=region)
        if contact.link is ContactLink.URL:
            points.append(
                ContactPoint(
                    channel.value, instruction, "", page_link(value, key), phone, join_link=page_link(value, joining)
                )
            )
        else:
            make = whatsapp_link if contact.link is ContactLink.WHATSAPP else sms_link
            points.append(
                ContactPoint(channel.value, instruction, value, make(value, key), phone, join_link=make(value, joining))
            )
    return points


def local_stack_note(brand: str) -> str:
    """Said once above the contact points on the local stack, by the e-mail and the dashboard alike."""
    return (
        f"This trial runs on a local stack: the numbers and pages below are {brand}'s real ones, which never reach "
        "it. Send the key from the simulated phone instead; each channel's link opens it with the key filled in."
    )


def limits(settings: TrialSettings) -> list[str]:
    lifetime = humanize_seconds(settings.trial_lifetime_seconds)
    gsm7 = settings.sms_gsm7_part_chars * settings.sms_max_parts
    unicode = settings.sms_unicode_part_chars * settings.sms_max_parts
    return [
        f"The key is valid for {lifetime}; after that, request a new one and whitelist again.",
        f"At most {settings.max_recipients} whitelisted recipients; the whitelist expires with the key.",
        _quotas(settings),
        "One message to one recipient per call, on one channel (no bulk, no channel fallback).",
        f"SMS: at most {settings.sms_max_parts} parts ({gsm7} GSM-7 or {unicode} Unicode characters), "
        "a sender (from) of 4-11 letters and digits, and some destination countries are not allowed.",
        f"Messages come from the {settings.brand} trial account, not from your own company.",
    ]


def _quotas(settings: TrialSettings) -> str:
    """ "10 messages via SMS and 10 via WhatsApp; 30 via each other channel." from the registry's quota settings."""
    groups = quota_groups(settings)
    own = [f"{group.quota} via {group.channels[0].value}" for group in groups if not group.shared]
    shared = [f"{group.quota} via each other channel" for group in groups if group.shared]
    if own:
        own[0] = own[0].replace(" via ", " messages via ", 1)
    else:
        shared[0] = shared[0].replace(" via ", " messages via ", 1)
    return "; ".join(part for part in (" and ".join(own), " and ".join(shared)) if part) + "."


SMS_CAVEAT = (
    "SMS sent from outside these regions may never arrive: operators do not reliably deliver "
    "messages across regions. Use WhatsApp, Messenger or Instagram instead."
)


class _EmailFacts(NamedTuple):
    """What the key e-mail says, computed once for its text and its HTML part."""

    name: str
    key: str
    # `join amber-fox-river-482`: whitelists like the key, and is easier to type on a phone.
    join: str
    brand: str
    subject: str
    expiry: str
    lifetime: str
    dashboard: str
    points: list[ContactPoint]
    curl: str
    rules: list[str]
    # Set on the local stack only: the note that says the contact points are the simulator's.
    local_note: str | None


def render_trial_email(trial: Trial, key: str, settings: TrialSettings) -> OutgoingEmail:
    """The key e-mail. Everything the user typed (their name) is escaped in the HTML part."""
    facts = _EmailFacts(
        name=trial.name,
        key=key,
        join=join_text(key),
        brand=settings.brand,
        subject=f"Your {settings.brand} messaging trial key",
        expiry=datetime.fromtimestamp(trial.expires_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC"),
        lifetime=humanize_seconds(settings.trial_lifetime_seconds),
        dashboard=dashboard_url(settings.site_url, key),
        points=contact_points(settings, key),
        curl=curl_example(settings.api_url, key),
        rules=limits(settings),
        local_note=local_stack_note(settings.brand) if settings.local_phone_url else None,
    )
    return OutgoingEmail(to=trial.email, subject=facts.subject, text=_text(facts), html=_html(facts))


def _text(facts: _EmailFacts) -> str:
    points = "\n".join(
        f"- {p.channel}: {p.instruction} {p.address}".rstrip()
        + (f"\n  Simulated phone (local stack): {p.local_phone}" if p.local_phone else "")
        + f"\n  {p.link}"
        for p in facts.points
    )
    return "\n".join(
        (
            f"Hi {facts.name},",
            "",
            f"Here is your trial key for the {facts.brand} Business Messaging API:",
            "",
            f"    {facts.key}",
            "",
            f"It is valid for {facts.lifetime}, until {facts.expiry}.",
            "",
            f"Your trial dashboard (keep this link to yourself, it carries your key):\n{facts.dashboard}",
            "",
            "1. Whitelist your recipients",
            f"Send the key to the {facts.brand} trial company from each phone number or account "
            "you want to receive test messages on:",
            *([facts.local_note] if facts.local_note else []),
            points,
            SMS_CAVEAT,
            "",
            f"Typing on a phone? Instead of the key, send the short join code: {facts.join}",
            "Your dashboard shows a QR code per channel that opens the chat with it typed in.",
            "",
            "2. Send a message (replace the number with one you whitelisted)",
            facts.curl,
            "",
            "Limits of the trial",
            *(f"- {rule}" for rule in facts.rules),
            "",
            "Happy testing!",
        )
    )


# The HTML part reads on a 390 px phone: the viewport is the device's, the column at most 600 px, and keys, links and
# the curl example (long words with no space) break anywhere rather than widen the page. Inline styles: many mail
# clients drop a <style> block.
_WRAP = "overflow-wrap:anywhere;word-break:break-word"
_LOCAL_NOTE_STYLE = "background:#fff4d6;border-left:4px solid #b88a00;padding:8px 12px"


def _html(facts: _EmailFacts) -> str:
    points = "".join(
        f"<li><strong>{escape(p.channel)}</strong>: {escape(p.instruction)} "
        + (f"<strong>{escape(p.address)}</strong> " if p.address else "")
        + (
            f'<br><a href="{escape(p.local_phone)}">Open the simulated phone (local stack, key filled in)</a><br>'
            if p.local_phone
            else ""
        )
        + f'<a href="{escape(p.link)}">{escape(p.link)}</a></li>'
        for p in facts.points
    )
    local_note = f'<p style="{_LOCAL_NOTE_STYLE}">{escape(facts.local_note)}</p>' if facts.local_note else ""
    rules = "".join(f"<li>{escape(rule)}</li>" for rule in facts.rules)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(facts.subject)}</title></head>"
        '<body style="margin:0;padding:0;font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">'
        f'<div style="max-width:600px;margin:0 auto;padding:16px;box-sizing:border-box;{_WRAP}">'
        f"<p>Hi {escape(facts.name)},</p>"
        f"<p>Here is your trial key for the {escape(facts.brand)} Business Messaging API:</p>"
        f'<p style="font-family:monospace;font-size:1.2em"><strong>{escape(facts.key)}</strong></p>'
        f"<p>It is valid for {escape(facts.lifetime)}, until <strong>{escape(facts.expiry)}</strong>.</p>"
        f'<p><a href="{escape(facts.dashboard)}">Open your trial dashboard</a> '
        "(keep this link to yourself, it carries your key).</p>"
        '<h2 style="font-size:1.25em">1. Whitelist your recipients</h2>'
        f"<p>Send the key to the {escape(facts.brand)} trial company from each phone number or "
        f"account you want to receive test messages on:</p>{local_note}"
        f'<ul style="padding-left:1.25em">{points}</ul><p>{escape(SMS_CAVEAT)}</p>'
        "<p>Typing on a phone? Instead of the key, send the short join code: "
        f'<strong style="font-family:monospace;font-size:1.1em">{escape(facts.join)}</strong><br>'
        "Your dashboard shows a QR code per channel that opens the chat with it typed in.</p>"
        '<h2 style="font-size:1.25em">2. Send a message</h2><p>Replace the number with one you whitelisted:</p>'
        f'<pre style="white-space:pre-wrap;{_WRAP};background:#f4f4f4;padding:8px">{escape(facts.curl)}</pre>'
        f'<h2 style="font-size:1.25em">Limits of the trial</h2><ul style="padding-left:1.25em">{rules}</ul>'
        "<p>Happy testing!</p></div></body></html>"
    )
