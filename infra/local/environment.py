"""The process environment of the local stack: boto3 pointed at moto, and every function's settings.

In AWS each function has its own environment; locally all handlers share one process, so the stack
sets the union of their environments before any handler (or `trialgw.settings.load`) runs. Any
`TRIALGW_*` or `POWERTOOLS_*` variable already set overrides the default, so a tester can run
`TRIALGW_TRIAL_LIFETIME_SECONDS=30 make dev`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Mapping, MutableMapping

from infra.local.static import PHONE_PATH
from infra.topology import LEASE_FIELDS, FunctionDef, derived_settings
from trialgw import names
from trialgw.settings import ENV_PREFIX, env_var

REGION = "eu-west-1"
SERVICE_NAME_VAR = "POWERTOOLS_SERVICE_NAME"
# One process serves every function, and Powertools' logger is built once: the functions share a
# service name locally (each log line still names its function through the Lambda context).
LOCAL_SERVICE_NAME = "trialgw-local"
_OVERRIDABLE_PREFIXES = (ENV_PREFIX, "POWERTOOLS_")
# Anything that could steer boto3 away from moto, towards a real account.
_AWS_VARS_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
)


# The webhook secrets a tester may set; any left unset is made up at start (random, per run).
WEBHOOK_SECRET_VARS = tuple(env_var(f) for f in ("cm_webhook_secret", "meta_app_secret", "meta_verify_token"))
# In AWS the secrets come from Secrets Manager under this name; locally they are plain settings.
SECRETS_NAME_VAR = env_var("webhook_secrets_name")


# Settings whose AWS defaults would stop a person, a test suite or the load benchmark on one machine: every request
# here comes from 127.0.0.1 and most tests sign up with example.com addresses. The mailbox limit stays as in AWS.
# A trial's own webhooks may call a receiver on this machine (`http://127.0.0.1:<port>`), so the whole loop runs here.
LOCAL_SETTINGS: dict[str, int | bool] = {
    "signup_limit_per_ip": 10_000,
    "signup_limit_per_domain": 10_000,
    "signup_limit_global": 10_000,
    "webhook_allow_loopback": True,
}


class EnvironmentConflict(ValueError):
    """Two functions need different values of one variable, which one shared process cannot give."""


def webhook_secret_defaults(environ: Mapping[str, str]) -> dict[str, str]:
    """A fresh random value for each webhook secret the tester did not set (an empty one stays empty).

    Raises EnvironmentConflict when the secrets are to be read from Secrets Manager, which the local
    stack does not hold.
    """
    if environ.get(SECRETS_NAME_VAR):
        raise EnvironmentConflict(
            f"{SECRETS_NAME_VAR} names a Secrets Manager secret, which exists only in AWS; locally unset it and "
            f"set {', '.join(WEBHOOK_SECRET_VARS)} instead (or let the stack make them up)"
        )
    return {name: secrets.token_urlsafe(24) for name in WEBHOOK_SECRET_VARS if name not in environ}


def apply_aws_environment(environ: MutableMapping[str, str], endpoint_url: str) -> None:
    """Points every boto3 client at moto, with fake credentials and no shared AWS config."""
    for name in [*_AWS_VARS_TO_CLEAR, *(n for n in environ if n.startswith("AWS_ENDPOINT_URL_"))]:
        environ.pop(name, None)
    environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            # The developer's ~/.aws files must not leak real profiles or endpoints into the stack.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


def overrides(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables a tester set that take precedence over the stack's defaults."""
    return {k: v for k, v in environ.items() if k.startswith(_OVERRIDABLE_PREFIXES)}


def function_environment(
    function: FunctionDef, base_url: str, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """What the function's environment would be in AWS, with this stack's URLs and the overrides.

    Raises pydantic's ValidationError when an override is not a valid setting.
    """
    model = function.settings_model
    local = {name: value for name, value in LOCAL_SETTINGS.items() if name in model.model_fields}
    # The contact points are CM's real ones, which never reach this stack: the pages point to the simulated phone.
    env = model(site_url=base_url, api_url=base_url, local_phone_url=base_url + PHONE_PATH, **local).to_env()
    tables = {t.logical: t for t in names.TABLES}
    env.update({tables[logical].env_var: tables[logical].local_name for logical in function.tables})
    # As the CDK stack sets them (a tester may still override them, e.g. a short inbound lease).
    env.update({env_var(field): value for field, value in derived_settings(function).items()})
    env.update(
        {
            SERVICE_NAME_VAR: f"trialgw-{function.name}",
            "POWERTOOLS_METRICS_NAMESPACE": "trialgw",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
        }
    )
    env.update(overrides(os.environ if environ is None else environ))
    # Fail at start-up, naming the variable, rather than inside the first request.
    model.from_env(env)
    return env


_LEASE_VARIABLES = frozenset(env_var(field) for field in LEASE_FIELDS)


def process_environment(
    functions: Iterable[FunctionDef], base_url: str, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The union of every function's environment; raises EnvironmentConflict when they disagree.

    A lease is the one exception: in AWS each function holding one has its own timeout as its lease; here one process
    runs them all, so the longest serves every one (a lease longer than a timeout only keeps the retry of a dead
    invocation waiting a little longer; a shorter one would let a retry in beside a running invocation).
    """
    source = os.environ if environ is None else environ
    merged: dict[str, str] = {}
    owners: dict[str, str] = {}
    for function in functions:
        for name, value in function_environment(function, base_url, source).items():
            if name == SERVICE_NAME_VAR:
                continue
            if name in _LEASE_VARIABLES and name in merged:
                merged[name] = max(merged[name], value, key=int)
                continue
            if name in merged and merged[name] != value:
                raise EnvironmentConflict(
                    f"{name} is {merged[name]!r} for {owners[name]} but {value!r} for {function.name}"
                )
            merged[name], owners[name] = value, function.name
    merged[SERVICE_NAME_VAR] = source.get(SERVICE_NAME_VAR, LOCAL_SERVICE_NAME)
    # Every table exists locally, so every table's variable is set, used by a function or not.
    for table in names.TABLES:
        merged.setdefault(table.env_var, source.get(table.env_var, table.local_name))
    return merged


def table_names(environ: Mapping[str, str]) -> dict[str, str]:
    """Logical table name → physical name, as the functions will read it."""
    return {t.logical: environ.get(t.env_var, t.local_name) for t in names.TABLES}
