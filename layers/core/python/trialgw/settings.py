"""Settings: one frozen record per function, read from `TRIALGW_*` environment variables.

Every limit from the seed is a setting whose default is the seed's value, so an operator (or a
tester wanting a trial to expire in seconds) changes behaviour without touching code. A field
`foo_bar` is read from `TRIALGW_FOO_BAR`; dicts and lists are given as JSON.

No pydantic here: every function reads its settings on its cold start, and pydantic's import and model building
cost more than the rest of a handler's import together. The few constraints the fields use (`gt`, `ge`, `le`,
`min_length`, `max_length`, `pattern`, enums, lists and dicts) are checked below, with pydantic's lax coercion of
environment strings; the models keep the pydantic names infra and tests use (`model_fields`, `model_validate`,
`model_dump`, `model_copy`), and a bad value raises pydantic's `ValidationError` (imported only then), naming the
field and its variable.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, ClassVar, NamedTuple, Self

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
        # Reported by the field's type check, naming the field, like any other bad value.
        return raw


class _Missing:
    """No default given."""


MISSING: Any = _Missing()


class FieldInfo(NamedTuple):
    """What `model_fields` tells about a field (the part of pydantic's FieldInfo infra and tests read). A NamedTuple,
    not a dataclass: every function makes this class on its cold start (trialgw.ports says why)."""

    annotation: Any = None
    default: Any = MISSING
    default_factory: Callable[[], Any] | None = None
    constraints: Mapping[str, Any] = types.MappingProxyType({})

    def value(self) -> Any:
        return self.default_factory() if self.default_factory is not None else self.default


def Field(  # named like pydantic's, which the declarations below used
    default: Any = MISSING,
    *,
    default_factory: Callable[[], Any] | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: str | None = None,
) -> Any:
    """A settings field with a default and the constraints its value must meet."""
    constraints = {
        name: value
        for name, value in {
            "gt": gt,
            "ge": ge,
            "le": le,
            "min_length": min_length,
            "max_length": max_length,
            "pattern": pattern,
        }.items()
        if value is not None
    }
    return FieldInfo(default=default, default_factory=default_factory, constraints=constraints)


class _Invalid(ValueError):
    pass


# The words pydantic's lax mode reads as a boolean (any ASCII case), for the settings and for sign-up's `consent`.
LAX_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
LAX_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


def _coerce(annotation: Any, value: Any) -> Any:  # noqa: PLR0911, PLR0912  # one branch per kind of type
    """`value` as `annotation`, coerced the way pydantic's lax mode coerces environment strings."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(inner, value)
    if origin is list:
        if not isinstance(value, list | tuple):
            raise _Invalid("must be a JSON list")
        (item,) = typing.get_args(annotation)
        return [_coerce(item, element) for element in value]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Invalid("must be a JSON object")
        key_type, value_type = typing.get_args(annotation)
        return {_coerce(key_type, k): _coerce(value_type, v) for k, v in value.items()}
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        try:
            return annotation(value)
        except ValueError:
            *others, last = [repr(member.value) for member in annotation]
            raise _Invalid(f"must be {', '.join(others)} or {last}" if others else f"must be {last}") from None
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in LAX_TRUE_WORDS | LAX_FALSE_WORDS:
            return value.strip().lower() in LAX_TRUE_WORDS
        raise _Invalid("must be a boolean (true or false)")
    if annotation is int:
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise _Invalid("must be an integer")
    if annotation is float:
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise _Invalid("must be a number")
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _Invalid("must be a string")
    raise TypeError(f"settings fields of type {annotation!r} are not supported")


def _check(value: Any, constraints: Mapping[str, Any]) -> None:
    if value is None:
        return
    if "gt" in constraints and not value > constraints["gt"]:
        raise _Invalid(f"must be greater than {constraints['gt']}")
    if "ge" in constraints and not value >= constraints["ge"]:
        raise _Invalid(f"must be at least {constraints['ge']}")
    if "le" in constraints and not value <= constraints["le"]:
        raise _Invalid(f"must be at most {constraints['le']}")
    if "min_length" in constraints and len(value) < constraints["min_length"]:
        raise _Invalid(f"must have at least {constraints['min_length']} characters or items")
    if "max_length" in constraints and len(value) > constraints["max_length"]:
        raise _Invalid(f"must have at most {constraints['max_length']} characters or items")
    if "pattern" in constraints and not re.search(constraints["pattern"], value):
        raise _Invalid(f"must match {constraints['pattern']}")


def _validation_error(model: type, errors: list[tuple[str, Any, str]]) -> Exception:
    """pydantic's ValidationError (what callers catch, and what names each field), imported only for a bad value."""
    from pydantic_core import ValidationError

    return ValidationError.from_exception_data(
        model.__name__,
        [
            {"type": "value_error", "loc": (field,), "input": value, "ctx": {"error": ValueError(message)}}
            for field, value, message in errors
        ],
    )


class _Settings:
    """Each subclass is a frozen, keyword-only record of its annotated fields (and its bases'), whose values are
    coerced and checked as it is built (keyword arguments, checked at run time as pydantic's were). Not
    `dataclasses.dataclass`: its generated code costs the cold start more than this whole module otherwise does."""

    model_fields: ClassVar[dict[str, FieldInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        namespace = vars(sys.modules[cls.__module__])
        fields = dict(cls.model_fields)
        for name, written in cls.__annotations__.items():
            if name.startswith("_"):
                continue
            declared = cls.__dict__.get(name, MISSING)
            info = declared if isinstance(declared, FieldInfo) else FieldInfo(default=declared)
            # This module's own annotations, strings (`from __future__ import annotations`).
            annotation = eval(written, namespace) if isinstance(written, str) else written  # noqa: S307
            fields[name] = info._replace(annotation=annotation)
            if isinstance(declared, FieldInfo):
                delattr(cls, name)
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        unknown = [name for name in values if name not in self.model_fields]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        errors: list[tuple[str, Any, str]] = []
        for name, info in self.model_fields.items():
            raw = values[name] if name in values else info.value()
            if raw is MISSING:
                errors.append((name, None, f"{env_var(name)} is required"))
                continue
            try:
                value = self._normalize(name, _coerce(info.annotation, raw))
                _check(value, info.constraints)
            except _Invalid as error:
                errors.append((name, raw, f"{env_var(name)} {error} (got {raw!r})"))
                continue
            object.__setattr__(self, name, value)
        if errors:
            raise _validation_error(type(self), errors)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"settings are frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings are frozen: cannot delete {name}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.model_fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Settings)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.model_fields)
        return f"{type(self).__name__}({shown})"

    def _normalize(self, field: str, value: Any) -> Any:  # noqa: ARG002  # a subclass's hook
        """A subclass's own check of one field, after its type's (raises `_Invalid`)."""
        return value

    @classmethod
    def model_validate(cls, values: Mapping[str, Any]) -> Self:
        """The settings from `values` (field → value), every value checked; unknown fields are refused."""
        unknown = [name for name in values if name not in cls.model_fields]
        if unknown:
            raise _validation_error(cls, [(name, values[name], "is not a setting") for name in unknown])
        return cls(**values)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, info in cls.model_fields.items():
            raw = source.get(env_var(field))
            if raw is None:
                continue
            values[field] = _parse_json(raw) if typing.get_origin(info.annotation) in (dict, list) else raw
        return cls.model_validate(values)

    def model_dump(self, *, include: set[str] | None = None) -> dict[str, Any]:
        """The values by field (lists and dicts copied)."""
        return {
            name: json.loads(json.dumps(value)) if isinstance(value, dict | list) else value
            for name in self.model_fields
            if include is None or name in include
            for value in (getattr(self, name),)
        }

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with some values replaced, unchecked (as pydantic's): for tests."""
        copy = object.__new__(type(self))
        for name, value in {**vars(self), **(update or {})}.items():
            object.__setattr__(copy, name, value)
        return copy

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
    # The simulated end user's phone (`/_local/phone`): only the local stack sets it, where the contact points above
    # are CM's real ones and never reach this stack. Unset (AWS), the e-mail and the dashboard name no simulator.
    local_phone_url: str | None = None

    trials_table: str = names.TRIALS.local_name

    def _normalize(self, field: str, value: Any) -> Any:
        if field in ("site_url", "api_url", "local_phone_url") and value is not None:
            if not value.startswith(("http://", "https://")):
                raise _Invalid("must be an http(s) URL")
            return value.rstrip("/")
        return value

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
    # The trial's own webhook events (issue 18): recorded messages', and the status reports' of flagged sends.
    webhook_events_queue_url: str = ""
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


class WebhookTargetSettings(TrialSettings):
    """Where a trial's own webhooks (issue 18) may point: what the dashboard checks when a URL is saved and the
    webhook worker checks again before each call (`trialgw.webhook_urls`)."""

    # Admits `http://127.0.0.1:<port>` (nothing else private): on under `make dev` (infra/local/environment.py), off
    # in AWS, where only https URLs resolving to public addresses are accepted.
    webhook_allow_loopback: bool = False


class WebhookDeliverySettings(WebhookTargetSettings):
    """The webhook worker (issue 18): where it reads a trial's webhooks (the trials table) and logs each attempt (the
    messages table), the webhook queue it re-queues retries onto, and the retries' back-off: the first retry waits
    `webhook_retry_base_seconds`, each later one twice the one before, at most 15 minutes (SQS's longest delay), for as
    long as the trial is live."""

    messages_table: str = names.MESSAGES.local_name
    webhook_events_queue_url: str = ""
    webhook_retry_base_seconds: int = Field(default=10, ge=1, le=900)


class DashboardSettings(WebhookTargetSettings):
    """The dashboard API: the tables it reads, how many messages one page holds at most, and the webhooks' targets."""

    whitelist_table: str = names.WHITELIST.local_name
    messages_table: str = names.MESSAGES.local_name
    dashboard_page_size: int = Field(default=50, ge=1, le=200)
    # Where the dashboard's test events and replays go (issue 18): the webhook worker's queue.
    webhook_events_queue_url: str = ""
    # Events a person may ask for by hand (test events and replays together) per trial and fixed window, so the
    # dashboard's buttons cannot flood a third party's URL; more answer 429 with Retry-After (the window's end).
    webhook_manual_limit: int = Field(default=20, ge=1)
    webhook_manual_window_seconds: int = Field(default=3600, gt=0)


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
    # The sandbox reports each send it took `delivered` (through the status path providers' reports take); off, it
    # leaves it `sent`, as a provider whose reports come later through its webhook would (to exercise those).
    sandbox_reports: bool = True
    messages_table: str = names.MESSAGES.local_name
    idempotency_table: str = names.IDEMPOTENCY.local_name
    outbound_queue_url: str = ""
    # The status events of sends whose trial has a status webhook URL (issue 18).
    webhook_events_queue_url: str = ""

    @property
    def trial_sms_sender(self) -> str:
        """Who every trial SMS comes from (see `sms_sender`)."""
        derived = "".join(ch for ch in self.brand if ch.isascii() and ch.isalnum())[:11]
        return self.sms_sender or self.cm_senders.get(Channel.SMS.value) or derived or "Trial"


class DeadLettersSettings(DeliveryAttempts):
    """The dead-letter consumer: marks each accepted send that reached the delivery queue's dead-letter queue
    `failed` in the messages table."""

    messages_table: str = names.MESSAGES.local_name
    # The status events of sends whose trial has a status webhook URL (issue 18).
    webhook_events_queue_url: str = ""


class SweeperSettings(DeliveryAttempts):
    """The stale-message sweeper: reads the messages table for `queued` records older than the longest a delivery
    can take, and marks them `failed`."""

    messages_table: str = names.MESSAGES.local_name
    # The status events of sends whose trial has a status webhook URL (issue 18).
    webhook_events_queue_url: str = ""


_LOADED: dict[type[_Settings], _Settings] = {}


def load[S: _Settings](model: type[S]) -> S:
    """The settings of one function, read once per process (cold start) and cached."""
    loaded = _LOADED.get(model)
    if loaded is None:
        loaded = _LOADED[model] = model.from_env()
    assert isinstance(loaded, model)
    return loaded


def reload() -> None:
    """Forgets cached settings (tests change the environment between cases)."""
    _LOADED.clear()
