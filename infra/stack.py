"""The trialgw stack: composes one construct per capability and grants each function what topology says.

Wiring order matters only to Python, never to CloudFormation: the API exists first (functions and
pages need its URL, built from its id), then the site (its origin is the API's CORS origin), the
queues and the secrets, then the functions (their environment names all of them), then the routes,
topic subscriptions and queue event sources that lead to them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from aws_cdk import Annotations, Aspects, CfnOutput, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct, Node

from infra import topology
from infra.constructs import acknowledge
from infra.constructs.api import Api
from infra.constructs.email import Email
from infra.constructs.firewall import HUMAN_CHECKS, WAF_MINIMUM_RATE_LIMIT, ApiFirewall, HumanCheck
from infra.constructs.functions import (
    LOG_LEVELS,
    PROVIDER_SECRETS_FIELD,
    WEBHOOK_SECRETS_FIELD,
    Functions,
    settings_field,
)
from infra.constructs.operations import Operations
from infra.constructs.queues import Queues
from infra.constructs.secrets import SECRET_KEYS, ProviderSecrets, WebhookSecrets
from infra.constructs.site import Site
from infra.constructs.sms import Sms
from infra.constructs.storage import INDEX_WILDCARD_REASON, Storage
from infra.constructs.topics import Topics
from infra.scan_acknowledgements import ScanAcknowledgements
from infra.site_rules import trial_rules
from trialgw import names
from trialgw.channels import spec_of
from trialgw.providers.registry import PROVIDER_SECRET_KEYS, chosen_providers, missing_accounts, required_credentials
from trialgw.settings import DeliverySettings, TrialSettings
from trialgw.urls import gateway_url

# The delivery function's attempts per message: always the queues' maxReceiveCount (the
# queueMaxReceiveCount knob), so its last attempt is the one before the dead-letter queue.
MAX_ATTEMPTS_FIELD = "delivery_max_attempts"
# Settings the deployment itself provides (URLs, names of what the stack creates); every other
# settings field is an operator knob in the CDK context, named in camelCase.
DEPLOYED_SETTINGS = frozenset(
    {"site_url", "api_url", "sender_email", "ses_configuration_set", MAX_ATTEMPTS_FIELD, *topology.LEASE_FIELDS}
    | {settings_field(table.env_var) for table in names.TABLES}
    | {settings_field(queue.env_var) for queue in names.QUEUES}
    | {WEBHOOK_SECRETS_FIELD, PROVIDER_SECRETS_FIELD}
)
# Settings that are secrets, by the stack output naming the Secrets Manager secret they live in: in AWS
# they are there only, never in the CDK context (it is committed in cdk.json) nor in an environment.
SECRET_OUTPUTS = {
    **dict.fromkeys(SECRET_KEYS, "WebhookSecretsName"),
    **dict.fromkeys(PROVIDER_SECRET_KEYS, names.PROVIDER_SECRETS_OUTPUT),
}
SECRET_SETTINGS = frozenset(SECRET_OUTPUTS)
# Settings only the local stack sets (infra/local/environment.py): AWS has no simulated phone to point to.
LOCAL_ONLY_SETTINGS = frozenset({"local_phone_url"})
# How a function takes a queue it consumes: a batch of its budget's size (trialgw.budgets), waiting at most
# CONSUMER_BATCHING_WINDOW to fill it, and failed messages reported one by one (the others are not redelivered).
# The function whose capacity breaker (trialgw.logic.capacity) emits CapacityBreakerTripped.
BREAKER_SERVICE = "send"
# The functions that emit DeadLettered (the delivery queue's dead-letter consumer) and StaleQueued (the sweeper).
DEAD_LETTERS_SERVICE = next(f.name for f in topology.FUNCTIONS if names.OUTBOUND.dead_letters in f.consumes)
SWEEPER_SERVICE = "sweeper"

CONSUMER_BATCHING_WINDOW = Duration.seconds(1)
# What Lambda allows as an SQS event source's maximum concurrency.
DELIVERY_MAX_CONCURRENCY = (2, 1000)
_HOSTNAME = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")
_GLOBAL_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}")
_GLOBAL_WEB_ACL_ARN = re.compile(r"arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]{1,128}/[0-9a-f-]{36}")
_RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
}


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def delivery_settings(overrides: Mapping[str, Any]) -> DeliverySettings:
    """The delivery function's settings as the stack configures them (its defaults where no knob is set)."""
    fields = DeliverySettings.model_fields
    return DeliverySettings.model_validate({name: value for name, value in overrides.items() if name in fields})


def trial_settings(overrides: Mapping[str, Any]) -> TrialSettings:
    """The trial's rules as the stack configures them: what every function and the pages' `/trial.json` show."""
    fields = TrialSettings.model_fields
    return TrialSettings.model_validate({name: value for name, value in overrides.items() if name in fields})


def missing_channel_accounts(settings: DeliverySettings) -> list[str]:
    """Why the deploy refuses: each channel set to a provider without the account id it sends from, a context knob
    that synth can check (unlike the credentials in the secret). Such a channel could never send anything."""
    chosen = chosen_providers(settings)
    return [
        f"{camel(spec_of(channel).provider_setting)} is {chosen[channel].value}, which sends {channel.value} from an "
        f"account this deployment must name: set {camel(field)} (-c {camel(field)}=<id>), or choose another provider"
        for channel in chosen
        for field in missing_accounts(settings, channel)
    ]


def credential_reminders(settings: DeliverySettings, *, admin_target: str) -> dict[str, str]:
    """Per provider secret key, what the deploy tells the operator: which channels need it there and how to set it.
    The deploy cannot read the secret (it is created empty and filled after deploying), so it says so every time."""
    needing: dict[str, list[str]] = {}
    for channel, name in chosen_providers(settings).items():
        for key in required_credentials(name, channel):
            needing.setdefault(key, []).append(f"{channel.value} ({name.value})")
    return {
        key: (
            f"{', '.join(channels)} need{'s' if len(channels) == 1 else ''} {key} in the provider secret "
            f"({names.PROVIDER_SECRETS_OUTPUT} output): until it is there, {'its' if len(channels) == 1 else 'their'} "
            'messages fail "channel not configured" and the ChannelNotConfigured alarm fires. Set it after deploying: '
            f"trialgw-admin providers set-credential {key} {admin_target}"
        )
        for key, channels in needing.items()
    }


def settings_knobs() -> dict[str, str]:
    """Context key → settings field, for every field an operator may set (e.g. trialLifetimeSeconds)."""
    knobs: dict[str, str] = {}
    for definition in topology.FUNCTIONS:
        for name in definition.settings_model.model_fields:
            if name not in DEPLOYED_SETTINGS | SECRET_SETTINGS | LOCAL_ONLY_SETTINGS:
                knobs[camel(name)] = name
    return knobs


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    """Deployment knobs, read from the CDK context (cdk.json, or `-c key=value`) in camelCase."""

    sender_email: str
    # Verify a whole domain (DKIM records to add to DNS) instead of the single sender address.
    ses_domain: str | None = None
    # Tables get deletion protection and are retained, log groups are retained, and the stack gets
    # termination protection. Off: `cdk destroy` removes them (the S3 buckets are always kept).
    deletion_protection: bool = True
    log_retention_days: int = 30
    log_level: str = "INFO"
    # Lambda active tracing and Powertools' Tracer (boto3 subsegments in X-Ray); off by default (see the constant).
    tracing: bool = topology.TRACING_BY_DEFAULT
    api_stage_name: str = "v1"
    # Requests per second (steady) and burst of each method without a route group of its own: the CORS
    # preflights (OPTIONS). API Gateway keeps one token bucket per method of the stage.
    api_throttle_rate_limit: float = 20
    api_throttle_burst_limit: int = 40
    # Per-route throttling (topology.RouteGroup): each method of a group gets these figures, so a flood on
    # one route is refused with 429 by API Gateway while the others keep their own capacity.
    # Sign-up: a person signs up once; every sign-up sends an e-mail, and 2/s stays under a new SES
    # production account's 14 e-mails/s even with the gateway's replies and other mail beside it.
    signup_throttle_rate_limit: float = 2
    signup_throttle_burst_limit: int = 5
    # Gateway (send, status, OpenAPI): 10/s is 36,000 requests an hour, far above what the capacity
    # breaker lets through (capacityLimit, default 1,000 messages an hour); the send function's reserved
    # instances (sendReservedConcurrency, 10) serve it at well under a second per request.
    gateway_throttle_rate_limit: float = 10
    gateway_throttle_burst_limit: int = 20
    # Webhooks (CM, CM status, Meta GET/POST): providers deliver every end user's messages and every
    # status report from a few IPs, in bursts (a batch of sends brings its statuses at once); they retry
    # a 429, but a delayed key message is a delayed whitelisting, so these get the most room. Forged calls
    # are refused in code (signature, path secret); their bucket keeps a flood of them off the others.
    webhooks_throttle_rate_limit: float = 50
    webhooks_throttle_burst_limit: int = 100
    # Dashboard API: an open dashboard polls every 3 s while things change (30 s when idle), so 10/s per
    # method serves about 30 busy dashboards at once and many more idle ones.
    dashboard_throttle_rate_limit: float = 10
    dashboard_throttle_burst_limit: int = 20
    # Requests per client IP per 5 minutes, enforced by WAF with HTTP 429.
    waf_signup_limit_per_ip: int = 20
    waf_request_limit_per_ip: int = 1000
    # AWS WAF's Challenge on every sign-up POST, answered by its JavaScript SDK on the sign-up page
    # (`challenge`), or none (`off`). Sign-up by curl is then refused with WAF's HTTP 202 challenge.
    signup_human_check: HumanCheck = "challenge"
    # Deliveries of one SQS message before it moves to the queue's dead-letter queue.
    queue_max_receive_count: int = 5
    # Where the operator alerts topic e-mails its alarms (a subscription to confirm); none: no e-mail.
    alarm_email: str | None = None
    # Concurrent instances reserved for (and capping) the send function; 0: none reserved. The cap is what
    # keeps the capacity breaker's count honest: each instance holds up to TRIALGW_CAPACITY_FLUSH_SECONDS of
    # accepted sends it has not yet added to the window, and trusts a cached "not tripped" for
    # TRIALGW_CAPACITY_CACHE_SECONDS, so the overshoot past the limit grows with the number of instances.
    send_reserved_concurrency: int = 10
    # Concurrent delivery invocations the queue may drive (SQS event source maximum concurrency, 2 to 1000):
    # bounds the request rate to the channel providers without reserving account concurrency. Every consumer takes it
    # but one with its own cap (`FunctionDef.max_concurrency`: the webhook worker's 2).
    delivery_max_concurrency: int = 5
    # A custom domain for the API (regional, TLS 1.2) and the ARN of its ACM certificate in the stack's
    # region; both or neither. The API URL (curl examples, outputs) becomes https://<apiDomainName>.
    api_domain_name: str | None = None
    api_certificate_arn: str | None = None
    # A custom domain for the pages and the ARN of its ACM certificate, which CloudFront takes from us-east-1 only;
    # both or neither. With them the viewers get TLS 1.2 at least (TLSv1.2_2021) and the site's URL (the API's
    # only CORS origin, the links in e-mails) becomes https://<siteDomainName>; without, CloudFront's default
    # certificate, whose policy (TLS 1.0 and up) CloudFront fixes.
    site_domain_name: str | None = None
    site_certificate_arn: str | None = None
    # A CloudFront-scoped AWS WAF web ACL (created in us-east-1, which a stack in another region cannot do) to put
    # in front of the pages.
    site_web_acl_arn: str | None = None
    # Settings fields (snake_case) → values, validated by each function's settings model at synth.
    settings_overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.log_retention_days not in _RETENTION_DAYS:
            raise ValueError(f"logRetentionDays must be one of {sorted(_RETENTION_DAYS)}")
        if "@" not in self.sender_email:
            raise ValueError(f"senderEmail {self.sender_email!r} is not an e-mail address")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"logLevel must be one of {LOG_LEVELS}")
        if min(self.waf_signup_limit_per_ip, self.waf_request_limit_per_ip) < WAF_MINIMUM_RATE_LIMIT:
            raise ValueError(f"WAF rate limits must be at least {WAF_MINIMUM_RATE_LIMIT} per 5 minutes")
        if self.signup_human_check not in HUMAN_CHECKS:
            raise ValueError(f"signupHumanCheck must be one of {', '.join(HUMAN_CHECKS)}")
        self._check_route_throttling()
        if self.queue_max_receive_count < 1:
            raise ValueError("queueMaxReceiveCount must be at least 1")
        if self.alarm_email is not None and "@" not in self.alarm_email:
            raise ValueError(f"alarmEmail {self.alarm_email!r} is not an e-mail address")
        if self.send_reserved_concurrency < 0:
            raise ValueError("sendReservedConcurrency must be 0 (none reserved) or more")
        if not DELIVERY_MAX_CONCURRENCY[0] <= self.delivery_max_concurrency <= DELIVERY_MAX_CONCURRENCY[1]:
            raise ValueError(
                f"deliveryMaxConcurrency must be from {DELIVERY_MAX_CONCURRENCY[0]} to {DELIVERY_MAX_CONCURRENCY[1]}"
            )
        if (self.api_domain_name is None) != (self.api_certificate_arn is None):
            raise ValueError("set apiDomainName and apiCertificateArn together (or neither)")
        if self.api_domain_name is not None and not _HOSTNAME.fullmatch(self.api_domain_name):
            raise ValueError(f"apiDomainName {self.api_domain_name!r} is not a host name")
        if self.api_certificate_arn is not None and not _CERTIFICATE_ARN.fullmatch(self.api_certificate_arn):
            raise ValueError(f"apiCertificateArn {self.api_certificate_arn!r} is not an ACM certificate ARN")
        self._check_site_domain()
        self._check_channels()

    def _check_site_domain(self) -> None:
        if (self.site_domain_name is None) != (self.site_certificate_arn is None):
            raise ValueError("set siteDomainName and siteCertificateArn together (or neither)")
        if self.site_domain_name is not None and not _HOSTNAME.fullmatch(self.site_domain_name):
            raise ValueError(f"siteDomainName {self.site_domain_name!r} is not a host name")
        if self.site_certificate_arn is not None and not _GLOBAL_CERTIFICATE_ARN.fullmatch(self.site_certificate_arn):
            raise ValueError(
                f"siteCertificateArn {self.site_certificate_arn!r} is not an ACM certificate ARN in us-east-1 "
                "(CloudFront takes certificates from there only)"
            )
        if self.site_web_acl_arn is not None and not _GLOBAL_WEB_ACL_ARN.fullmatch(self.site_web_acl_arn):
            raise ValueError(
                f"siteWebAclArn {self.site_web_acl_arn!r} is not the ARN of a CloudFront-scoped web ACL "
                "(arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)"
            )

    def _check_channels(self) -> None:
        # A channel that could never send fails the deploy, not every message after it.
        missing = missing_channel_accounts(delivery_settings(self.settings_overrides))
        if missing:
            raise ValueError("; ".join(missing))

    def _check_route_throttling(self) -> None:
        for group in topology.RouteGroup:
            # 0 would refuse every request of the group: switching a route off is no throttling figure.
            if getattr(self, f"{group.value}_throttle_rate_limit") <= 0:
                raise ValueError(f"{group.value}ThrottleRateLimit must be more than 0 requests per second")
            if getattr(self, f"{group.value}_throttle_burst_limit") < 1:
                raise ValueError(f"{group.value}ThrottleBurstLimit must be at least 1")

    @property
    def log_retention(self) -> logs.RetentionDays:
        return _RETENTION_DAYS[self.log_retention_days]

    @property
    def removal_policy(self) -> RemovalPolicy:
        return RemovalPolicy.RETAIN if self.deletion_protection else RemovalPolicy.DESTROY

    @property
    def route_throttling(self) -> dict[topology.RouteGroup, apigateway.ThrottleSettings]:
        """Each route group's figures, from the `<group>Throttle*` knobs."""
        return {
            group: apigateway.ThrottleSettings(
                rate_limit=getattr(self, f"{group.value}_throttle_rate_limit"),
                burst_limit=getattr(self, f"{group.value}_throttle_burst_limit"),
            )
            for group in topology.RouteGroup
        }

    @classmethod
    def knobs(cls) -> frozenset[str]:
        """Every context key the stack reads."""
        own = {camel(f.name) for f in fields(cls) if f.name != "settings_overrides"}
        return frozenset(own | set(settings_knobs()))

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "settings_overrides":
                continue
            raw = node.try_get_context(camel(f.name))
            if raw is None or raw == "":
                continue
            # `-c key=value` on the command line always gives strings.
            values[f.name] = _parse(raw, str(f.type))
        if "sender_email" not in values:
            raise ValueError("set senderEmail (the From address of trial e-mails) in cdk.json or with -c")
        secrets_in_context = sorted(name for name in SECRET_SETTINGS if node.try_get_context(camel(name)))
        if secrets_in_context:
            raise ValueError(
                f"{', '.join(camel(name) for name in secrets_in_context)} must not be in the CDK context: set "
                f"them in the {' and '.join(sorted({SECRET_OUTPUTS[name] for name in secrets_in_context}))} "
                "secret (Secrets Manager) after deploying"
            )
        overrides: dict[str, Any] = {}
        for knob, settings_name in settings_knobs().items():
            raw = node.try_get_context(knob)
            # As for the stack's own knobs, "" (cdk.json's way to list a knob) leaves the setting's default.
            if raw is not None and raw != "":
                overrides[settings_name] = json.loads(raw) if isinstance(raw, str) and raw[:1] in "[{" else raw
        return cls(**values, settings_overrides=overrides)


def _parse(raw: Any, annotation: str) -> Any:
    if not isinstance(raw, str) or annotation.startswith("str"):
        return raw
    if annotation == "bool":
        if raw.lower() not in {"true", "false"}:
            raise ValueError(f"expected true or false, got {raw!r}")
        return raw.lower() == "true"
    if annotation == "int":
        return int(raw)
    if annotation == "float":
        return float(raw)
    return raw


class TrialGatewayStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            description="trialgw: a self-hostable messaging trial gateway",
            termination_protection=config.deletion_protection,
        )
        self.config = config
        # checkov's stack-wide acknowledgements, each on the resources it is true of (infra.scan_acknowledgements).
        Aspects.of(self).add(ScanAcknowledgements())
        self.storage = Storage(
            self,
            "Storage",
            deletion_protection=config.deletion_protection,
            removal_policy=config.removal_policy,
        )
        self.email = Email(self, "Email", sender_email=config.sender_email, domain=config.ses_domain)
        if config.sender_email.endswith("@example.com"):
            Annotations.of(self).add_warning_v2(
                "trialgw:placeholderSender",
                "senderEmail is cdk.json's placeholder: set an address you can receive mail at "
                "(SES sends it a verification link) before deploying.",
            )
        self.api = Api(
            self,
            "Api",
            stage_name=config.api_stage_name,
            routes=topology.ROUTES,
            throttle_rate_limit=config.api_throttle_rate_limit,
            throttle_burst_limit=config.api_throttle_burst_limit,
            route_throttling=config.route_throttling,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            domain_name=config.api_domain_name,
            certificate_arn=config.api_certificate_arn,
        )
        signup_route = next(route for route in topology.ROUTES if route.function == "signup")
        # Before the site: the pages' config.json names the Challenge SDK the web ACL serves; the web ACL
        # then accepts tokens from the site's domain (no cycle in CloudFormation, only in Python).
        self.firewall = ApiFirewall(
            self,
            "Firewall",
            stage=self.api.stage,
            stage_name=config.api_stage_name,
            signup_path=signup_route.path,
            signup_limit_per_ip=config.waf_signup_limit_per_ip,
            request_limit_per_ip=config.waf_request_limit_per_ip,
            webhook_path_fragment="/webhooks/",
            human_check=config.signup_human_check,
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
        )
        self.site = Site(
            self,
            "Site",
            web_dir=topology.WEB_DIR,
            api_origin=self.api.origin,
            api_url=self.api.url,
            waf_challenge_script_url=self.firewall.challenge_script_url,
            trial_rules=trial_rules(trial_settings(config.settings_overrides)),
            log_retention=config.log_retention,
            access_log_days=config.log_retention_days,
            removal_policy=config.removal_policy,
            domain_name=config.site_domain_name,
            certificate_arn=config.site_certificate_arn,
            web_acl_arn=config.site_web_acl_arn,
        )
        if self.firewall.challenge_script_url is not None:
            self.firewall.accept_tokens_from(self.site.distribution.distribution_domain_name)
        self.queues = Queues(
            self,
            "Queues",
            max_receive_count=config.queue_max_receive_count,
            consumed_dead_letters={logical for definition in topology.FUNCTIONS for logical in definition.consumes},
            removal_policy=config.removal_policy,
        )
        self.webhook_secrets = WebhookSecrets(self, "WebhookSecrets", removal_policy=config.removal_policy)
        self.provider_secrets = ProviderSecrets(self, "ProviderSecrets", removal_policy=config.removal_policy)
        self.sms = Sms(self, "Sms")
        self.functions = Functions(
            self,
            "Functions",
            definitions=topology.FUNCTIONS,
            deployed_settings={
                "site_url": self.site.url,
                "api_url": self.api.url,
                "sender_email": self.email.sender_email,
                "ses_configuration_set": self.email.configuration_set_name,
                MAX_ATTEMPTS_FIELD: str(self.queues.max_receive_count),
            },
            table_names={logical: table.table_name for logical, table in self.storage.tables.items()},
            queue_urls={logical: built.queue.queue_url for logical, built in self.queues.by_logical.items()},
            webhook_secrets_name=self.webhook_secrets.secret_name,
            provider_secrets_name=self.provider_secrets.secret_name,
            settings_overrides=config.settings_overrides,
            reserved_concurrency={BREAKER_SERVICE: config.send_reserved_concurrency or None},
            log_retention=config.log_retention,
            removal_policy=config.removal_policy,
            log_level=config.log_level,
            tracing=config.tracing,
        )
        self.api.add_routes(
            functions={name: built.function for name, built in self.functions.by_name.items()},
            allowed_origin=self.site.url,
        )
        self.topics = Topics(self, "Topics", removal_policy=config.removal_policy)
        for queue in names.QUEUES:
            for logical in queue.topics:
                # SNS's envelope kept (no raw delivery): the consumer reads the notification as SNS sent it. The
                # subscription adds the queue policy that lets this topic, and no other, send to the queue.
                self.topics[logical].add_subscription(
                    subscriptions.SqsSubscription(self.queues[queue.logical].queue, raw_message_delivery=False)
                )
        for definition in topology.FUNCTIONS:
            function = self.functions.by_name[definition.name].function
            for logical in definition.consumes:
                source = self.queues.source(logical)
                # The event source grants what consuming takes (receive, delete, change visibility).
                function.add_event_source(
                    event_sources.SqsEventSource(
                        source,
                        # From the function's time budget, as its timeout is (trialgw.budgets).
                        batch_size=definition.batch_size,
                        max_batching_window=CONSUMER_BATCHING_WINDOW,
                        report_batch_item_failures=True,
                        max_concurrency=definition.max_concurrency or config.delivery_max_concurrency,
                    )
                )
                if definition.budget.hand_back_calls:
                    # The records it has no time to start go back onto the queue as new messages, untried
                    # (trialgw.adapters.sqs_batches).
                    source.grant_send_messages(function)
            if definition.schedule_minutes is not None:
                # A run that fails is not retried: the next scheduled run does the same work.
                events.Rule(
                    self,
                    f"{_pascal(definition.name)}Schedule",
                    description=f"Runs the trialgw {definition.name} function",
                    schedule=events.Schedule.rate(Duration.minutes(definition.schedule_minutes)),
                    targets=[targets.LambdaFunction(function, retry_attempts=0)],
                )
        self.operations = Operations(
            self,
            "Operations",
            alarm_email=config.alarm_email,
            queues=self.queues.by_logical,
            functions={name: built.function for name, built in self.functions.by_name.items()},
            failed_runs={
                name: built.failed_runs
                for name, built in self.functions.by_name.items()
                if built.failed_runs is not None
            },
            stage=self.api.stage,
            breaker_services=[BREAKER_SERVICE],
            # The functions that choose providers, and so fail messages on a channel that is not configured.
            channel_services=[d.name for d in topology.FUNCTIONS if d.reads_provider_secrets],
            dead_letters_service=DEAD_LETTERS_SERVICE,
            sweeper_service=SWEEPER_SERVICE,
            removal_policy=config.removal_policy,
        )
        self._grant()
        self._outputs(signup_path=signup_route.path)
        self._remind_credentials()

    def _remind_credentials(self) -> None:
        """A warning per provider credential the chosen providers need: what the deploy cannot check itself."""
        target = f"--stack {self.stack_name}"
        if not Token.is_unresolved(self.region):
            target += f" --region {self.region}"
        reminders = credential_reminders(delivery_settings(self.config.settings_overrides), admin_target=target)
        for key, message in reminders.items():
            Annotations.of(self).add_warning_v2(f"trialgw:providerCredential:{key}", message)

    def _grant(self) -> None:
        """Each function gets exactly the tables, queues, secrets, e-mail and SMS sending its FunctionDef declares.

        Consuming a queue is granted by its event source (see `__init__`).
        """
        for definition in topology.FUNCTIONS:
            built = self.functions.by_name[definition.name]
            for logical, access in definition.tables.items():
                table = self.storage.tables[logical]
                if access is topology.Access.READ:
                    table.grant_read_data(built.function)
                else:
                    table.grant_read_write_data(built.function)
                finding = self.storage.index_finding(logical)
                if finding is not None:
                    acknowledge(built.role, finding, INDEX_WILDCARD_REASON)
            for logical in definition.sends_to:
                self.queues[logical].queue.grant_send_messages(built.function)
            if definition.reads_webhook_secrets:
                self.webhook_secrets.grant_read(built.function)
            if definition.reads_provider_secrets:
                self.provider_secrets.grant_read(built.function)
            if definition.sends_email:
                self.email.grant_send(built.function)
            if definition.sends_sms:
                self.sms.grant_send(built.function)

    def _outputs(self, *, signup_path: str) -> None:
        CfnOutput(self, "SiteUrl", value=self.site.url, description="The signup page (dashboard: /dashboard/)")
        CfnOutput(self, "ApiUrl", value=self.api.url, description="Base URL of the API (no trailing slash)")
        if self.config.site_domain_name is not None:
            CfnOutput(
                self,
                "SiteDomainTarget",
                value=self.site.distribution.distribution_domain_name,
                description=f"Point DNS for {self.config.site_domain_name} here (CNAME, or a Route 53 alias)",
            )
        if self.api.domain is not None:
            CfnOutput(
                self,
                "ApiDomainTarget",
                value=self.api.domain.domain_name_alias_domain_name,
                description=f"Point DNS for {self.config.api_domain_name} here (CNAME, or a Route 53 alias)",
            )
        CfnOutput(self, "SignupUrl", value=f"{self.api.url}{signup_path}", description="POST to sign up")
        CfnOutput(
            self,
            "GatewayUrl",
            value=gateway_url(self.api.url),
            description="The send gateway: POST CM Business Messaging JSON with a trial key",
        )
        for logical, table in self.storage.tables.items():
            CfnOutput(self, f"{logical.capitalize()}TableName", value=table.table_name)
        for logical, topic in self.topics.by_logical.items():
            CfnOutput(
                self,
                f"{logical[:1].upper()}{logical[1:]}TopicArn",
                value=topic.topic_arn,
                description=next(t.purpose for t in names.TOPICS if t.logical == logical),
            )
        CfnOutput(
            self,
            "WebhookSecretsName",
            value=self.webhook_secrets.secret_name,
            description="Secrets Manager secret: cm_webhook_secret (generated), meta_app_secret, meta_verify_token",
        )
        CfnOutput(
            self,
            names.PROVIDER_SECRETS_OUTPUT,
            value=self.provider_secrets.secret_name,
            description=f"Secrets Manager secret: {', '.join(PROVIDER_SECRET_KEYS)} (no value until you set "
            "them: trialgw-admin providers set-credential)",
        )
        cm_route = next(route for route in topology.ROUTES if route.path.startswith("/webhooks/cm/"))
        CfnOutput(
            self,
            "CmWebhookUrlTemplate",
            # A placeholder, never the secret: the operator reads it from the secret.
            value=self.api.url + cm_route.path.replace("{secret}", "<cm_webhook_secret of WebhookSecretsName>"),
            description="CM MO webhook URL; replace the placeholder with the secret's cm_webhook_secret",
        )
        cm_status_route = next(route for route in topology.ROUTES if route.path.startswith("/webhooks/cm-status/"))
        CfnOutput(
            self,
            "CmStatusWebhookUrlTemplate",
            value=self.api.url + cm_status_route.path.replace("{secret}", "<cm_webhook_secret of WebhookSecretsName>"),
            description="CM status report webhook URL; replace the placeholder with the secret's cm_webhook_secret",
        )
        meta_route = next(route for route in topology.ROUTES if route.path == "/webhooks/meta")
        CfnOutput(
            self,
            "MetaWebhookUrl",
            value=f"{self.api.url}{meta_route.path}",
            description="Callback URL of the Meta app (WhatsApp, Messenger, Instagram); verify token in the secret",
        )
        CfnOutput(
            self,
            "OperatorAlertsTopicArn",
            value=self.operations.topic.topic_arn,
            description="Every alarm notifies this topic (subscribe to it; alarmEmail does so by e-mail)",
        )
        CfnOutput(self, "DashboardName", value=self.operations.dashboard.dashboard_name)
        CfnOutput(self, "SenderEmail", value=self.email.sender_email)
        CfnOutput(self, "SesConfigurationSet", value=self.email.configuration_set_name)
        if self.email.domain:
            for index, record in enumerate(self.email.identity.dkim_records, start=1):
                CfnOutput(
                    self,
                    f"DkimRecord{index}",
                    value=f"{record.name} CNAME {record.value}",
                    description=f"Add to the DNS of {self.email.domain} to verify it for SES",
                )
