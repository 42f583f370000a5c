"""`/trial.json`: the trial's rules and channels as the pages show them, from the settings and the channel registry.

One definition for the CDK site deployment and the local stack. `config.json` stays the deploy-time file (the API's
URL and the human check's SDK); these values are known at synth, so they need no custom resource to write them.
"""

from __future__ import annotations

from typing import Any

from trialgw.channels import CHANNELS, ChannelSpec, single_contact
from trialgw.logic.trial_email import humanize_seconds
from trialgw.quotas import quota_groups
from trialgw.settings import TrialSettings

TRIAL_JSON = "trial.json"


def trial_rules(settings: TrialSettings) -> dict[str, Any]:
    """The pages' view of the trial: lifetime, recipients, the channels (how each is addressed, its quota) and the
    quotas grouped as the sign-up page words them (channels with a quota of their own, then the shared one)."""
    return {
        "lifetime": humanize_seconds(settings.trial_lifetime_seconds),
        "maxRecipients": settings.max_recipients,
        "channels": [_channel(spec, settings) for spec in CHANNELS.values()],
        "quotaGroups": _quota_groups(settings),
        "sms": {
            "maxParts": settings.sms_max_parts,
            "gsm7Chars": settings.sms_gsm7_part_chars * settings.sms_max_parts,
            "unicodeChars": settings.sms_unicode_part_chars * settings.sms_max_parts,
        },
    }


def _channel(spec: ChannelSpec, settings: TrialSettings) -> dict[str, Any]:
    return {
        "name": spec.channel.value,
        "short": spec.channel.short_name,
        "addressing": spec.addressing.value,
        "quota": settings.quota_for(spec.channel),
        # Numbers by region (SMS): listed last where the pages name the channels to whitelist from.
        "regional": single_contact(settings, spec.channel) is None,
    }


def _quota_groups(settings: TrialSettings) -> list[dict[str, Any]]:
    """`{quota, channels, shared}` per quota (`trialgw.quotas.quota_groups`), channels with a quota of their own merged
    where the quota is the same: the page says "10 messages each on SMS and WhatsApp, 30 on each other channel"."""
    own: dict[int, list[str]] = {}
    shared: list[dict[str, Any]] = []
    for group in quota_groups(settings):
        names = [channel.value for channel in group.channels]
        if group.shared:
            shared.append({"quota": group.quota, "channels": names, "shared": True})
        else:
            own.setdefault(group.quota, []).extend(names)
    return [{"quota": quota, "channels": names, "shared": False} for quota, names in own.items()] + shared
