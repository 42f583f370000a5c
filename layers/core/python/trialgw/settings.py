"""Settings: one pydantic model per function, read from `TRIALGW_*` environment variables.

Every limit from the seed is a setting whose default is the seed's value, so an operator (or a
tester wanting a trial to expire in seconds) changes behaviour without touching code. A field
`foo_bar` is read from `TRIALGW_FOO_BAR`; dicts and lists are given as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trialgw import budgets, names
from trialgw.channels import Channel, ProviderName, channels, spec_of

ENV_PREFIX = "TRIALGW_"


def env_var(field: str) -> str:
    """The environment variable that carries a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def _parse_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        # Let pydantic report it, naming the field, like any other bad value.
        return raw


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, info in cls.model_fields.items():
            raw = source.get(env_var(field))
            if raw is None:
                continue
            values[field] = _parse_json(raw) if str(info.annotation).startswith(("dict", "list")) else raw
        return cls.model_validate(values)

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings (used by the CDK stack and the local stack)."""
        env: dict[str, str] = {}
        for field, value in self.model_dump().items():
            if value is None:
                continue
            env[env_var(field)] = json.dumps(value) if isinstance(value, dict | list) else str(value)
        return env


class TrialSettings(_Settings):
    """What every function knows: the trial's rules, the trial company's contact points, the tables."""

    brand: str = Field(default="CM.COM", min_length=1, max_length=40)
    trial_lifetime_seconds: int = Field(default=24 * 3600, gt=0)
    # How long an expired trial stays readable (dashboard says "expired") before TTL may remove it.
    expired_retention_seconds: int = Field(default=24 * 3600, ge=0)
    max_recipients: int = Field(default=10, gt=0)
    quota_sms: int = Field(default=10, ge=0)
    quota_whatsapp: int = Field(default=10, ge=0)
    quota_other: int = Field(default=30, ge=0)
    sms_gsm7_part_chars: int = Field(default=144, gt=0)
    sms_unicode_part_chars: int = Field(default=63, gt=0)
    sms_max_parts: int = Field(default=2, gt=0)

    site_url: str = "http://127.0.0.1:8080"
    api_url: str = "http://127.0.0.1:8080"

    whatsapp_number: str = "+31850876714"
    sms_numbers: dict[str, str] = Field(
        default_factory=lambda: {
            "the UK": "+447860054666",
            "the US": "+14232515465",
            "the Netherlands": "+3197005159375",
        }
    )
    messenger_url: str = "https://m.me/cmdotcom"
    instagram_url: str = "https://ig.me/m/cmdotcom"

    trials_table: str = names.TRIALS.local_name

    @field_validator("site_url", "api_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    def quota_for(self, channel: Channel) -> int:
        """Messages a trial may send on `channel`: its registry spec names the quota setting (SMS and WhatsApp have
        their own, the others share `quota_other`)."""
        quota: int = getattr(self, spec_of(channel).quota_setting)
        return quota


SIGNUP_LIMIT_MAX = 10_000


class SignupSettings(TrialSettings):
    """The signup function: who the e-mail comes from, and how often anyone may sign up.

    Sign-ups are counted per mailbox (`signup_limit_per_window`, aliases and sub-addresses merged), per client
    network (`signup_limit_per_ip`) and per e-mail domain (`signup_limit_per_domain`, shared providers such as
    gmail.com exempt), each in fixed windows of `signup_window_seconds` (a trial's lifetime by default, so the
    limits also bound how many live trials one person can hold), and overall per hour (`signup_limit_global`).
    The per-IP and per-domain defaults are for AWS; the local stack, where every request comes from 127.0.0.1,
    loosens them (see infra/local/environment.py).
    """

    sender_email: str = "trials@trialgw.localhost"
    ses_configuration_set: str | None = None
    # At most SIGNUP_LIMIT_MAX: a counter item keeps a 17-byte mark per sign-up it counted, within DynamoDB's 400 KB.
    signup_limit_per_window: int = Field(default=3, gt=0, le=SIGNUP_LIMIT_MAX)
    signup_window_seconds: int = Field(default=24 * 3600, gt=0)
    signup_limit_per_ip: int = Field(default=5, gt=0, le=SIGNUP_LIMIT_MAX)
    signup_limit_per_domain: int = Field(default=20, gt=0, le=SIGNUP_LIMIT_MAX)
    signup_limit_global: int = Field(default=100, gt=0, le=SIGNUP_LIMIT_MAX)
    max_body_bytes: int = Field(default=8 * 1024, gt=0)


# The most replies per sender and window a setting may allow: the reply log keeps one slot per reply in one item,
# updated by one expression that must stay within DynamoDB's 4 KB per expression (adapters/dynamo_replies).
REPLY_LIMIT_MAX = 50


class InboundSettings(TrialSettings):
    """End users' messages, whichever way they arrive: the tables, the delivery queue for replies, the reply limit and
    the claim lease. The webhooks' function (`MoWebhookSettings`) and the SMS queue's (`SmsInboundSettings`) add what
    their entry needs."""

    whitelist_table: str = names.WHITELIST.local_name
    messages_table: str = names.MESSAGES.local_name
    outbound_queue_url: str = ""
    # Automatic replies (whitelisted, why not, join hint, STOP) per sender over a rolling window. 5 an hour covers a
    # person's busiest real hour (join, re-send, STOP, re-join, one mistyped key) and caps what 20 dead keys from one
    # number cost at 5 replies.
    reply_limit_per_sender: int = Field(default=5, ge=1, le=REPLY_LIMIT_MAX)
    reply_window_seconds: int = Field(default=3600, gt=0)
    # How long an invocation holds its claim on an inbound message before the provider's retry may take it over:
    # the function's timeout, which the CDK stack and the local stack set from topology (a test checks), so an
    # invocation still running never loses its claim, and one that died lets the retry through once it is over.
    inbound_lease_seconds: int = Field(default=10, gt=0)


class MoWebhookSettings(InboundSettings):
    """The providers' webhooks (CM's MO and status webhooks, Meta's): inbound settings, and the webhook secrets.

    In AWS the secrets live in Secrets Manager (`webhook_secrets_name`, a JSON secret with the keys
    `cm_webhook_secret`, `meta_app_secret`, `meta_verify_token`) and never in the environment; locally
    they may be given directly. A secret that is set nowhere disables its webhook (every call refused).
    """

    webhook_secrets_name: str | None = None
    cm_webhook_secret: str | None = None
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    webhook_max_body_bytes: int = Field(default=64 * 1024, gt=0)


class SmsInboundSettings(InboundSettings):
    """The SMS topics' queue (two-way SMS and SMS delivery events): inbound settings, and the queue itself."""

    # Records it has no time to start go back onto it (trialgw.adapters.sqs_batches).
    sms_inbound_queue_url: str = ""


class SendSettings(TrialSettings):
    """The send gateway: the channels it offers, where accepted messages go, and the capacity breaker.

    The breaker trips when more than `capacity_limit` messages were accepted across all trials within a
    window of `capacity_window_seconds`, and stays tripped until an operator resets it. Each function
    instance counts its accepted messages and adds them to the window at most every
    `capacity_flush_seconds` (0: at every send), and reads the tripped flag at most every
    `capacity_cache_seconds`, so the breaker costs the request path almost nothing.
    """

    offered_channels: list[Channel] = Field(default_factory=lambda: list(channels()), min_length=1)
    messages_table: str = names.MESSAGES.local_name
    outbound_queue_url: str = ""
    send_max_body_bytes: int = Field(default=64 * 1024, gt=0)
    capacity_limit: int = Field(default=1000, ge=0)
    capacity_window_seconds: int = Field(default=3600, gt=0)
    capacity_cache_seconds: float = Field(default=5.0, ge=0)
    capacity_flush_seconds: float = Field(default=1.0, ge=0)
    capacity_retry_after_seconds: int = Field(default=900, gt=0)
    # How long a send holds its Idempotency-Key before a retry may take it over: the send function's timeout, which
    # both stacks set (infra/topology.py `derived_settings`), so a request still running never loses its key.
    idempotency_lease_seconds: int = Field(default=30, gt=0)


class DashboardSettings(TrialSettings):
    """The dashboard API: the tables it reads, and how many messages one page holds at most."""

    whitelist_table: str = names.WHITELIST.local_name
    messages_table: str = names.MESSAGES.local_name
    dashboard_page_size: int = Field(default=50, ge=1, le=200)


class DeliveryAttempts(TrialSettings):
    """How the delivery queue retries a message: what the delivery function, the dead-letter consumer and the
    stale-message sweeper must agree on (the longest a delivery can take is derived from these)."""

    # Receives of one SQS message before it moves to the dead-letter queue: the queue's maxReceiveCount.
    delivery_max_attempts: int = Field(default=5, ge=1)
    # The first retry's back-off; each later one doubles it (capped at 15 minutes). 0 retries at once (tests).
    delivery_backoff_base_seconds: float = Field(default=10.0, ge=0)


class DeliverySettings(DeliveryAttempts):
    """The delivery function: which provider carries each channel (`provider_<channel>`, the field its registry spec
    names; a name that is no `ProviderName` fails validation, at synth as at start), and how to reach it.

    Credentials live in one Secrets Manager secret (`provider_secrets_name`, JSON with the keys
    `cm_product_token`, `whatsapp_access_token`, `messenger_page_token`, `instagram_access_token`), never in the
    environment; locally they may be given directly. The sandbox carries a channel only when it is the channel's
    provider; a channel whose provider lacks its credentials or account id fails closed ("channel not configured").
    The sandbox's fault settings exercise retries and the dead-letter queue.
    """

    provider_sms: ProviderName = ProviderName.SANDBOX
    provider_whatsapp: ProviderName = ProviderName.SANDBOX
    provider_messenger: ProviderName = ProviderName.SANDBOX
    provider_instagram: ProviderName = ProviderName.SANDBOX
    provider_secrets_name: str | None = None
    # One provider request, connecting included: at most what the delivery function's time budget counts on.
    provider_timeout_seconds: float = Field(
        default=budgets.PROVIDER_TIMEOUT_SECONDS, gt=0, le=budgets.PROVIDER_TIMEOUT_SECONDS
    )
    cm_product_token: str | None = None
    cm_gateway_url: str = "https://gw.messaging.cm.com/v1.0/message"
    # CM `from` per channel (channel value → sender): the trial company's number or account on each channel.
    cm_senders: dict[str, str] = Field(default_factory=dict)
    meta_graph_url: str = "https://graph.facebook.com/v21.0"
    whatsapp_phone_number_id: str | None = None
    whatsapp_access_token: str | None = None
    messenger_page_id: str | None = None
    messenger_page_token: str | None = None
    instagram_account_id: str | None = None
    instagram_access_token: str | None = None
    sms_origination_identity: str | None = None
    sms_configuration_set: str | None = None
    # The trial company's SMS sender (an alphanumeric sender ID or a number); none: `cm_senders["SMS"]`, else the
    # brand's letters and digits ("CMCOM"). Every SMS comes from it: the seed's sender is always the trial account.
    sms_sender: str | None = Field(default=None, pattern=r"^(?:[A-Za-z0-9]{1,11}|\+?[0-9]{3,15})$")
    # Lets the developer's validated `from` go out as the SMS sender instead: only for an operator whose senders
    # are registered and who accepts that trials may send as any 4-11 letters they like.
    sms_allow_developer_sender: bool = False
    # `crash`: every attempt raises an unexpected error (as a bug or a timeout would), not a provider's refusal.
    sandbox_fault: str = Field(default="none", pattern="^(none|transient|permanent|crash)$")
    sandbox_delay_seconds: float = Field(default=0.0, ge=0, le=60)
    messages_table: str = names.MESSAGES.local_name
    idempotency_table: str = names.IDEMPOTENCY.local_name
    outbound_queue_url: str = ""

    @property
    def trial_sms_sender(self) -> str:
        """Who every trial SMS comes from (see `sms_sender`)."""
        derived = "".join(ch for ch in self.brand if ch.isascii() and ch.isalnum())[:11]
        return self.sms_sender or self.cm_senders.get(Channel.SMS.value) or derived or "Trial"


class DeadLettersSettings(DeliveryAttempts):
    """The dead-letter consumer: marks each accepted send that reached the delivery queue's dead-letter queue
    `failed` in the messages table."""

    messages_table: str = names.MESSAGES.local_name


class SweeperSettings(DeliveryAttempts):
    """The stale-message sweeper: reads the messages table for `queued` records older than the longest a delivery
    can take, and marks them `failed`."""

    messages_table: str = names.MESSAGES.local_name


@cache
def _load(model: type[_Settings]) -> _Settings:
    return model.from_env()


def load[S: _Settings](model: type[S]) -> S:
    """The settings of one function, read once per process (cold start) and cached."""
    loaded = _load(model)
    assert isinstance(loaded, model)
    return loaded


def reload() -> None:
    """Forgets cached settings (tests change the environment between cases)."""
    _load.cache_clear()
