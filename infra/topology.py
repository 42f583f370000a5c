"""The single list of functions, routes, tables and what each function may touch.

Pure Python (no CDK import): the CDK stack and the local stack both read it, so the two can never
disagree about a route or a grant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from trialgw import budgets, names
from trialgw.providers.registry import WEBHOOK_ROUTES
from trialgw.settings import (
    DashboardSettings,
    DeadLettersSettings,
    DeliverySettings,
    MoWebhookSettings,
    SendSettings,
    SignupSettings,
    SmsInboundSettings,
    SweeperSettings,
    TrialSettings,
    WebhookDeliverySettings,
)
from trialgw.urls import (
    GATEWAY_PATH,
    GATEWAY_SDK_PATH,
    STATUS_PATH,
    WEBHOOK_LOG_PATH,
    WEBHOOK_REPLAY_PATH,
    WEBHOOK_SECRET_PATH,
    WEBHOOK_TEST_PATH,
    WEBHOOKS_PATH,
)

ROOT = Path(__file__).resolve().parent.parent
# The project's one Python version (major.minor): the Lambda runtime, the bytecode every asset ships, the deps layer's
# wheels, the venv's interpreter and mypy's and ruff's targets. The Makefile reads the same file; a test keeps the rest
# equal to it.
PYTHON_VERSION = (ROOT / ".python-version").read_text(encoding="utf-8").strip()
FUNCTIONS_DIR = ROOT / "functions"
# X-Ray tracing in every function unless the operator says otherwise (the `tracing` knob): off, because the X-Ray SDK
# nearly doubles each cold start's import (benchmarks/cold_start.py measures both).
TRACING_BY_DEFAULT = False
WEB_DIR = ROOT / "web"
CORE_LAYER_DIR = ROOT / "layers" / "core"
DEPS_REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"


class Access(StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


@dataclass(frozen=True, slots=True)
class FunctionDef:
    """One Lambda function: its code lives in `functions/<name>/handler.py`, entry point `handler`."""

    name: str
    description: str
    # The settings model its environment must satisfy.
    settings_model: type[TrialSettings]
    tables: dict[str, Access] = field(default_factory=dict)
    # Logical names of the queues (names.QUEUES) it sends to.
    sends_to: tuple[str, ...] = ()
    # Logical names of the queues whose messages it consumes (an SQS event source with partial batch responses): a
    # queue's `logical`, or its dead-letter queue's (`QueueDef.dead_letters`; see `names.queue_source`). SNS topics
    # reach a function only through a queue they are subscribed to (`QueueDef.topics`).
    consumes: tuple[str, ...] = ()
    # Invoked every this many minutes (an EventBridge schedule in AWS, a timer thread locally); None: never.
    schedule_minutes: int | None = None
    # Whether it reads the webhook secrets (one Secrets Manager secret, see MoWebhookSettings).
    reads_webhook_secrets: bool = False
    # Whether it reads the channel providers' credentials (one Secrets Manager secret, see DeliverySettings).
    reads_provider_secrets: bool = False
    sends_email: bool = False
    # Whether it sends SMS through AWS End User Messaging (pinpoint-sms-voice-v2 SendTextMessage).
    sends_sms: bool = False
    memory_mb: int = 256
    # The most invocations its SQS event source drives at once (Lambda's maximum concurrency, at least 2); None: the
    # stack's `deliveryMaxConcurrency`.
    max_concurrency: int | None = None

    @property
    def budget(self) -> budgets.FunctionBudget:
        """Its time budget (`trialgw.budgets`, by its name): the AWS calls of its longest path, its batch size, its
        timeout. A function without one gets `budgets.DEFAULT`; tests/unit/test_budgets.py fails for a function of
        `FUNCTIONS` that has none of its own."""
        return budgets.for_function(self.name)

    @property
    def timeout_seconds(self) -> int:
        """Derived from its budget, never stated here: its calls' limits and its batch must fit in it."""
        return self.budget.timeout_seconds

    @property
    def batch_size(self) -> int:
        """Records per batch of the SQS event source(s) of a function that `consumes` a queue."""
        size = self.budget.batch_size
        if size is None:
            raise ValueError(f"{self.name}'s budget has no batch size: give it one to consume a queue")
        return size

    @property
    def code_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name

    @property
    def handler(self) -> str:
        return "handler.handler"


class RouteGroup(StrEnum):
    """Which throttling figures a route's method gets in API Gateway (the stack's knobs
    `<group>ThrottleRateLimit` and `<group>ThrottleBurstLimit`), so a flood on one group cannot use
    up what the others need."""

    SIGNUP = "signup"
    GATEWAY = "gateway"
    WEBHOOKS = "webhooks"
    DASHBOARD = "dashboard"


@dataclass(frozen=True, slots=True)
class RouteDef:
    """An API Gateway REST route; `path` uses API Gateway's `{param}` syntax."""

    method: str
    path: str
    function: str
    # Required by the CDK stack (it refuses a route without one); the local stack does not throttle.
    group: RouteGroup | None = None


# The inbound functions' tables (the webhooks' and the SMS queue's: one use case). Read-write: whitelisting adds the
# recipient to the trial item's members in the same transaction.
INBOUND_TABLES = {
    names.TRIALS.logical: Access.READ_WRITE,
    names.WHITELIST.logical: Access.READ_WRITE,
    names.MESSAGES.logical: Access.READ_WRITE,
}

FUNCTIONS: tuple[FunctionDef, ...] = (
    FunctionDef(
        name="send",
        description="The trial send gateway: CM JSON in, trial rules and quotas, accepted messages to the queue",
        settings_model=SendSettings,
        tables={
            # Trials: the quota's conditional write and the capacity breaker; messages: the queued record.
            names.TRIALS.logical: Access.READ_WRITE,
            names.MESSAGES.logical: Access.READ_WRITE,
        },
        sends_to=(names.OUTBOUND.logical,),
    ),
    FunctionDef(
        name="signup",
        description="Creates a 24-hour trial and e-mails its key",
        settings_model=SignupSettings,
        tables={names.TRIALS.logical: Access.READ_WRITE},
        sends_email=True,
    ),
    FunctionDef(
        name="mo_webhook",
        description="The providers' webhooks: whitelists end users who send a trial key, records their messages, "
        "replies; applies status reports",
        settings_model=MoWebhookSettings,
        tables=INBOUND_TABLES,
        sends_to=(names.OUTBOUND.logical, names.WEBHOOK_EVENTS.logical),
        reads_webhook_secrets=True,
    ),
    FunctionDef(
        name="sms_inbound",
        description="The SMS topics' queue: two-way SMS as the webhooks' messages are; SMS delivery events",
        settings_model=SmsInboundSettings,
        tables=INBOUND_TABLES,
        sends_to=(names.OUTBOUND.logical, names.WEBHOOK_EVENTS.logical),
        # Two-way SMS (end users' texts) and SMS delivery events (status reports of messages we sent), through the
        # queue both SMS topics are subscribed to.
        consumes=(names.SMS_INBOUND.logical,),
    ),
    FunctionDef(
        name="dashboard",
        description="JSON for the trial dashboard: the trial, its whitelist with examples, its messages; its webhooks",
        settings_model=DashboardSettings,
        tables={
            # Read-write for the trial's own webhooks only (its URLs and signing secret, on its trial item).
            names.TRIALS.logical: Access.READ_WRITE,
            names.WHITELIST.logical: Access.READ,
            names.MESSAGES.logical: Access.READ,
        },
        # Test events and replays, for the webhook worker.
        sends_to=(names.WEBHOOK_EVENTS.logical,),
    ),
    FunctionDef(
        name="delivery",
        description="Hands queued messages to each channel's provider; records sent/failed; retries with back-off",
        settings_model=DeliverySettings,
        tables={names.MESSAGES.logical: Access.READ_WRITE, names.IDEMPOTENCY.logical: Access.READ_WRITE},
        # The status events of sends whose trial has a status webhook URL (issue 18).
        sends_to=(names.WEBHOOK_EVENTS.logical,),
        consumes=(names.OUTBOUND.logical,),
        reads_provider_secrets=True,
        sends_sms=True,
    ),
    FunctionDef(
        name="dead_letters",
        description="Marks each accepted send that reached the delivery queue's dead-letter queue failed, once",
        settings_model=DeadLettersSettings,
        tables={names.MESSAGES.logical: Access.READ_WRITE},
        # The status events of sends whose trial has a status webhook URL (issue 18).
        sends_to=(names.WEBHOOK_EVENTS.logical,),
        consumes=(names.OUTBOUND.dead_letters,),
    ),
    FunctionDef(
        name="webhook_delivery",
        description="POSTs each trial's webhook events, signed, to the trial's own URLs; logs attempts; retries",
        settings_model=WebhookDeliverySettings,
        tables={
            # Trials: the trial's URLs, secret and expiry; messages: the webhook log (attempts and their events).
            names.TRIALS.logical: Access.READ,
            names.MESSAGES.logical: Access.READ_WRITE,
        },
        # Retries and deferred events go back onto the queue it consumes, delayed.
        sends_to=(names.WEBHOOK_EVENTS.logical,),
        consumes=(names.WEBHOOK_EVENTS.logical,),
        # With a batch's records handled one at a time, this bounds the calls in flight to any one trial's URLs (and
        # to all of them): a slow receiver holds up at most this many invocations.
        max_concurrency=budgets.WEBHOOK_MAX_CONCURRENCY,
    ),
    FunctionDef(
        name="sweeper",
        description="Counts and fails sends still queued after the longest a delivery can take (StaleQueued)",
        settings_model=SweeperSettings,
        tables={names.MESSAGES.logical: Access.READ_WRITE},
        # The status events of sends whose trial has a status webhook URL (issue 18).
        sends_to=(names.WEBHOOK_EVENTS.logical,),
        schedule_minutes=5,
    ),
)

ROUTES: tuple[RouteDef, ...] = (
    # API Gateway and Powertools both take `/gw/` for `/gw`: the trailing slash is optional.
    RouteDef(method="POST", path=GATEWAY_PATH.rstrip("/"), function="send", group=RouteGroup.GATEWAY),
    RouteDef(method="POST", path=GATEWAY_SDK_PATH, function="send", group=RouteGroup.GATEWAY),
    RouteDef(method="GET", path=STATUS_PATH, function="send", group=RouteGroup.GATEWAY),
    RouteDef(method="GET", path="/openapi.json", function="send", group=RouteGroup.GATEWAY),
    RouteDef(method="POST", path="/signup", function="signup", group=RouteGroup.SIGNUP),
    RouteDef(method="GET", path="/dashboard-api/trial", function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="GET", path="/dashboard-api/whitelist", function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="GET", path="/dashboard-api/messages", function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="GET", path=WEBHOOKS_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="PUT", path=WEBHOOKS_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="POST", path=WEBHOOK_SECRET_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="POST", path=WEBHOOK_TEST_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="GET", path=WEBHOOK_LOG_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    RouteDef(method="POST", path=WEBHOOK_REPLAY_PATH, function="dashboard", group=RouteGroup.DASHBOARD),
    # The providers' webhooks, as each provider package declares them.
    *(
        RouteDef(method=method, path=path, function="mo_webhook", group=RouteGroup.WEBHOOKS)
        for method, path in WEBHOOK_ROUTES
    ),
)


def function(name: str) -> FunctionDef:
    return next(f for f in FUNCTIONS if f.name == name)


# Leases of exactly the holding function's timeout: the inbound function's claims on provider message ids
# (trialgw.logic.inbound) and the send function's claims on Idempotency-Keys (trialgw.logic.send).
INBOUND_LEASE_FIELD = "inbound_lease_seconds"
IDEMPOTENCY_LEASE_FIELD = "idempotency_lease_seconds"
LEASE_FIELDS = (INBOUND_LEASE_FIELD, IDEMPOTENCY_LEASE_FIELD)


def derived_settings(definition: FunctionDef) -> dict[str, str]:
    """Settings (field → value) that a function's definition fixes, set alike by the CDK stack and the local stack:
    a lease shorter than the timeout would let a retry in beside a running invocation, a longer one keep the retry of
    a dead one waiting."""
    return {
        field: str(definition.timeout_seconds)
        for field in LEASE_FIELDS
        if field in definition.settings_model.model_fields
    }
