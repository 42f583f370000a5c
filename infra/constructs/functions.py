"""Lambda functions: the one place that gives every function the same runtime, layers, logs and tracing.

Every function of `topology.FUNCTIONS` is built by `PythonFunction`, so a new capability gets the same
defaults by adding a `FunctionDef`, never by copying CDK code.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import build
from infra.constructs import acknowledge
from infra.topology import PYTHON_VERSION, FunctionDef, derived_settings
from trialgw import names
from trialgw.settings import ENV_PREFIX, TrialSettings, env_var

# The project's Python (.python-version): what the tests, the bytecode and the deps layer's wheels are built for.
RUNTIME: lambda_.Runtime = getattr(lambda_.Runtime, f"PYTHON_{PYTHON_VERSION.replace('.', '_')}")
ARCHITECTURE = lambda_.Architecture.ARM_64
# The public Powertools layer is pinned to the version the tests run with, so what is tested is
# what runs. AWS publishes each release's layer ARN per region as a public SSM parameter.
POWERTOOLS_VERSION = importlib.metadata.version("aws-lambda-powertools")
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/{ARCHITECTURE.name}/{RUNTIME.name}/{POWERTOOLS_VERSION}"
# Every asset is built by `make layers` into build/ (infra/build.py): the deps layer by pip for Lambda's platform (no
# Docker), the core layer and each function copied from their sources; all of them with the runtime's bytecode.
DEPS_LAYER_DIR = build.DEPS_LAYER_DIR
CORE_LAYER_DIR = build.CORE_LAYER_BUILD_DIR
# Packaging metadata and build stamps only change the asset hash, never the behaviour. The bytecode ships: a cold
# start imports it instead of compiling every module.
ASSET_EXCLUDES = ("**/*.egg-info", "**/.installed")
POWERTOOLS_METRICS_NAMESPACE = "trialgw"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# The settings fields naming the secrets (Secrets Manager) a function with `reads_webhook_secrets` or
# `reads_provider_secrets` reads; the values themselves never enter an environment.
WEBHOOK_SECRETS_FIELD = "webhook_secrets_name"
PROVIDER_SECRETS_FIELD = "provider_secrets_name"


def settings_field(variable: str) -> str:
    """The settings field an environment variable carries (inverse of `trialgw.settings.env_var`)."""
    field = variable.removeprefix(ENV_PREFIX).lower()
    if env_var(field) != variable:
        raise ValueError(f"{variable} is not a {ENV_PREFIX}* settings variable")
    return field


def settings_environment(
    model: type[TrialSettings],
    *,
    deployed: Mapping[str, str],
    overrides: Mapping[str, Any],
) -> dict[str, str]:
    """The `TRIALGW_*` environment of a function whose settings model is `model`.

    `deployed` holds values only the deployment knows (table names, URLs): CDK tokens until deploy
    time, so they bypass the model's validators (a test checks them with plausible stand-ins).
    `overrides` are operator knobs from the CDK context; the model validates them here, so a bad
    value fails `cdk synth` instead of the function's first cold start. Each model takes only the
    fields it declares; everything else keeps the model's default.
    """
    fields = model.model_fields
    picked = {field: value for field, value in overrides.items() if field in fields}
    validated = model.model_validate(picked).to_env()
    environment = {env_var(field): validated[env_var(field)] for field in picked}
    environment.update({env_var(field): value for field, value in deployed.items() if field in fields})
    return environment


class SharedLayers(Construct):
    """The layers every function carries: public Powertools, our `core` package, third-party `deps`."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        if not (DEPS_LAYER_DIR / "python").is_dir():
            raise FileNotFoundError(
                f"{DEPS_LAYER_DIR / 'python'} is missing: run `make layers` to bundle the deps layer"
            )
        # What build/ holds is what deploys: a handler edited since `make layers` must not ship its old copy.
        stale = build.stale()
        if stale:
            shown = "\n  ".join(stale[:10]) + ("\n  …" if len(stale) > 10 else "")
            raise RuntimeError(f"build/ is not what the sources build: run `make layers`\n  {shown}")
        # A CloudFormation parameter of type AWS::SSM::Parameter::Value<String>: resolved at deploy
        # time in the target region, so the template stays region-agnostic.
        powertools_arn = ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER)
        self.powertools = lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_arn)
        self.core = lambda_.LayerVersion(
            self,
            "Core",
            description="trialgw core package (settings, logic, ports, adapters)",
            code=lambda_.Code.from_asset(str(CORE_LAYER_DIR), exclude=list(ASSET_EXCLUDES)),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )
        self.deps = lambda_.LayerVersion(
            self,
            "Deps",
            description="trialgw third-party runtime dependencies (layers/deps/requirements.txt)",
            code=lambda_.Code.from_asset(str(DEPS_LAYER_DIR), exclude=[*ASSET_EXCLUDES, "python/bin"]),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
        )

    @property
    def all(self) -> tuple[lambda_.ILayerVersion, ...]:
        return (self.powertools, self.core, self.deps)


class PythonFunction(Construct):
    """One Lambda function with the defaults every function shares.

    arm64, the project's Python runtime (the tested interpreter), its code from build/ with bytecode, the shared
    layers, JSON logs into its own log group with a retention, X-Ray tracing when the operator turns it on (`tracing`),
    and a role that starts empty: the stack grants each function exactly what topology says it may touch.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: FunctionDef,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        log_level: str,
        tracing: bool,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        if log_level not in LOG_LEVELS:
            raise ValueError(f"log level {log_level!r} is not one of {LOG_LEVELS}")
        self.definition = definition
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy)
        # Our own role instead of CDK's default: that one carries the AWS managed
        # AWSLambdaBasicExecutionRole (logs:* on every log group); this one may write only its own.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"trialgw {definition.name} function",
        )
        self.log_group.grant_write(self.role)
        # Invoked asynchronously (its schedule): a run that fails is not retried (the next scheduled run does the
        # same work) and its event is kept in a dead-letter queue, the trace of a run that failed for good beside
        # its Errors alarm. Every other function is invoked synchronously or by an SQS event source, whose failures
        # go back to the caller or the queue.
        self.failed_runs: sqs.Queue | None = None
        if definition.schedule_minutes is not None:
            self.failed_runs = sqs.Queue(
                self,
                "FailedRuns",
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                enforce_ssl=True,
                retention_period=Duration.days(14),
                removal_policy=removal_policy,
            )
            acknowledge(
                self.failed_runs,
                "AwsSolutions-SQS3",
                f"This queue is the {definition.name} function's dead-letter queue (its failed scheduled runs); "
                "a dead-letter queue needs none of its own.",
            )
        self.function = lambda_.Function(
            self,
            "Function",
            description=definition.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=definition.handler,
            code=lambda_.Code.from_asset(str(build.function_dir(definition.name)), exclude=list(ASSET_EXCLUDES)),
            layers=list(layers),
            memory_size=definition.memory_mb,
            timeout=Duration.seconds(definition.timeout_seconds),
            role=self.role,
            reserved_concurrent_executions=reserved_concurrency,
            dead_letter_queue=self.failed_runs,
            retry_attempts=0 if self.failed_runs is not None else None,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": definition.name,
                "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": log_level,
                # Off, Powertools builds no Tracer and the X-Ray SDK is never imported (observability.lambda_entry).
                "POWERTOOLS_TRACE_DISABLED": "false" if tracing else "true",
            },
            tracing=lambda_.Tracing.ACTIVE if tracing else lambda_.Tracing.DISABLED,
            logging_format=lambda_.LoggingFormat.JSON,
            # Lambda's own filter must let through what Powertools logs (it names WARNING "WARN").
            application_log_level_v2=lambda_.ApplicationLogLevel[log_level.replace("WARNING", "WARN")],
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"The runtime is the project's one Python ({RUNTIME.name}, .python-version): the interpreter the tests, "
            "mypy and the shipped bytecode use; moving to a newer one is that one change (docs/deploy.md).",
        )
        if tracing:
            acknowledge(
                self.role,
                "AwsSolutions-IAM5[Resource::*]",
                "Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which "
                "support no resource-level permissions; every other statement names its resources.",
            )


class Functions(Construct):
    """Every function of the topology, built by `PythonFunction` around one set of shared layers."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definitions: Sequence[FunctionDef],
        deployed_settings: Mapping[str, str],
        table_names: Mapping[str, str],
        queue_urls: Mapping[str, str],
        webhook_secrets_name: str,
        provider_secrets_name: str,
        settings_overrides: Mapping[str, Any],
        reserved_concurrency: Mapping[str, int | None],
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        log_level: str,
        tracing: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        unknown = set(reserved_concurrency) - {definition.name for definition in definitions}
        if unknown:
            raise ValueError(f"reserved concurrency for unknown functions {sorted(unknown)}")
        self.layers = SharedLayers(self, "Layers")
        # Table names reach a function through its settings field (`trials_table` for
        # TRIALGW_TRIALS_TABLE), so a model that declares a table never falls back to its local name.
        deployed = {
            **deployed_settings,
            **{settings_field(table.env_var): table_names[table.logical] for table in names.TABLES},
        }
        self.by_name: dict[str, PythonFunction] = {}
        for definition in definitions:
            environment = settings_environment(
                definition.settings_model,
                deployed={
                    **deployed,
                    **derived_settings(definition),
                    **_granted_settings(
                        definition,
                        queue_urls=queue_urls,
                        secret_names={
                            WEBHOOK_SECRETS_FIELD: webhook_secrets_name,
                            PROVIDER_SECRETS_FIELD: provider_secrets_name,
                        },
                    ),
                },
                overrides=settings_overrides,
            )
            self.by_name[definition.name] = PythonFunction(
                self,
                _pascal(definition.name),
                definition=definition,
                layers=self.layers.all,
                environment=environment,
                log_retention=log_retention,
                removal_policy=removal_policy,
                log_level=log_level,
                tracing=tracing,
                reserved_concurrency=reserved_concurrency.get(definition.name),
            )


def _granted_settings(
    definition: FunctionDef, *, queue_urls: Mapping[str, str], secret_names: Mapping[str, str]
) -> dict[str, str]:
    """Queue URLs and the secrets' names, only for a function topology lets use them.

    A function sending to a queue gets its URL; one reading a secret gets its name. A function declaring either
    must have the settings field that carries it, or it would silently fall back to a local default in AWS. A
    function consuming a queue needs its URL only to change a message's visibility (a back-off): it gets it when its
    settings take it; a dead-letter queue's consumer never does.
    """
    queues = {queue.logical: queue for queue in names.QUEUES}
    wanted = {settings_field(queues[logical].env_var): queue_urls[logical] for logical in definition.sends_to}
    for logical in definition.consumes:
        queue, dead_letters = names.queue_source(logical)
        field = settings_field(queue.env_var)
        if not dead_letters and field in definition.settings_model.model_fields:
            wanted[field] = queue_urls[queue.logical]
    if definition.reads_webhook_secrets:
        wanted[WEBHOOK_SECRETS_FIELD] = secret_names[WEBHOOK_SECRETS_FIELD]
    if definition.reads_provider_secrets:
        wanted[PROVIDER_SECRETS_FIELD] = secret_names[PROVIDER_SECRETS_FIELD]
    missing = set(wanted) - set(definition.settings_model.model_fields)
    if missing:
        raise ValueError(f"{definition.name}'s settings model lacks {sorted(missing)}")
    return wanted


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
