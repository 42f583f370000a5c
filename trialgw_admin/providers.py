"""`trialgw-admin providers set-credential KEY`: puts one channel provider credential into a deployed stack's
provider secret (the `ProviderSecretsName` output), which the stack creates with no value.

The value comes from stdin (piped) or a prompt that does not echo, never from the command line (shell
history, `ps`); it is merged into the secret's current JSON (`{}` while the secret has no value), and only
key names are ever printed. The local stack has no Secrets Manager: there, credentials are settings
(`LOCAL_HAS_NO_SECRETS`, refused with the options).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from trialgw import names
from trialgw.providers.registry import PROVIDER_SECRET_KEYS
from trialgw_admin.errors import AdminError, error_detail
from trialgw_admin.output import Output
from trialgw_admin.target import Target, boto_config, stack_outputs

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

LOCAL_HAS_NO_SECRETS = (
    "the local stack has no Secrets Manager: there, provider credentials are settings "
    "(TRIALGW_CM_PRODUCT_TOKEN, TRIALGW_WHATSAPP_ACCESS_TOKEN, ... in the environment of `make dev`)"
)
# The delivery function caches the secret this long (trialgw.providers.registry.SECRET_CACHE_SECONDS).
PICKED_UP = "the delivery function uses it within five minutes"


def read_credential(key: str, stream: TextIO) -> str:
    """The value from `stream` (stdin) when it is piped, else from a prompt that does not echo it."""
    piped = not stream.isatty()
    value = (stream.read() if piped else getpass.getpass(f"{key} (not shown): ")).strip()
    if not value:
        raise AdminError(f"no value for {key} (from stdin or the prompt): nothing was set")
    if any(character.isspace() for character in value):
        # A token is one word; a space or line break means something else was pasted or piped (a JSON file?).
        raise AdminError(f"the value for {key} has spaces or line breaks; a credential is one word: nothing was set")
    return value


def _session_clients(target: Target) -> tuple[CloudFormationClient, SecretsManagerClient]:
    import boto3

    session = boto3.session.Session(region_name=target.region)
    return (
        session.client("cloudformation", config=boto_config()),
        session.client("secretsmanager", config=boto_config()),
    )


def provider_secret_name(target: Target, cloudformation: CloudFormationClient) -> str:
    """The secret the stack's `ProviderSecretsName` output names."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=target.name)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise AdminError(f"could not read {target.description}: {error_detail(error)}") from None
    name = stack_outputs(stacks[0]).get(names.PROVIDER_SECRETS_OUTPUT) if stacks else None
    if not name:
        output = names.PROVIDER_SECRETS_OUTPUT
        raise AdminError(f"{target.description} has no output {output}: is it a trialgw stack, fully deployed?")
    return name


def current_credentials(secrets: SecretsManagerClient, secret_name: str) -> dict[str, Any]:
    """The secret's JSON object; `{}` while it has no value (Secrets Manager then answers
    ResourceNotFoundException for its AWSCURRENT version)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        text = secrets.get_secret_value(SecretId=secret_name).get("SecretString", "")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            # No value yet, or no such secret: writing tells them apart.
            return {}
        raise AdminError(f"could not read secret {secret_name}: {error_detail(error)}") from None
    except BotoCoreError as error:
        raise AdminError(f"could not read secret {secret_name}: {error_detail(error)}") from None
    try:
        current = json.loads(text) if text.strip() else {}
    except ValueError:
        current = None
    if not isinstance(current, dict):
        # Never overwrite what someone put there by hand: it may hold the only copy of a token.
        raise AdminError(
            f"secret {secret_name} does not hold a JSON object; fix it first (aws secretsmanager put-secret-value "
            "--secret-string file://provider-secrets.json): nothing was set"
        )
    return current


def providers_set_credential(target: Target, args: argparse.Namespace) -> Output:
    """Merges KEY's value into the provider secret; prints key names only."""
    from botocore.exceptions import BotoCoreError, ClientError

    key: str = args.key
    value = read_credential(key, sys.stdin)
    cloudformation, secrets = _session_clients(target)
    secret_name = provider_secret_name(target, cloudformation)
    credentials = current_credentials(secrets, secret_name)
    credentials[key] = value
    try:
        secrets.put_secret_value(SecretId=secret_name, SecretString=json.dumps(credentials))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise AdminError(f"secret {secret_name} of {target.description} does not exist") from None
        raise AdminError(f"could not write secret {secret_name}: {error_detail(error)}") from None
    except BotoCoreError as error:
        raise AdminError(f"could not write secret {secret_name}: {error_detail(error)}") from None
    with_value = [k for k in PROVIDER_SECRET_KEYS if credentials.get(k)]
    empty = [k for k in PROVIDER_SECRET_KEYS if not credentials.get(k)]
    data = {"target": target.description, "secret": secret_name, "set": key, "withValue": with_value, "empty": empty}
    text = "\n".join(
        (
            f"Set {key} in secret {secret_name} of {target.description}; {PICKED_UP}.",
            f"  with a value  {', '.join(with_value)}",
            f"  empty         {', '.join(empty) or '-'}",
        )
    )
    return Output(data=data, text=text)


def credential_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "key",
        metavar="KEY",
        choices=PROVIDER_SECRET_KEYS,
        help=f"the credential: {', '.join(PROVIDER_SECRET_KEYS)}; its value is read from stdin or a "
        "prompt that does not show it, never from the command line",
    )
    # Checked with the other options, before anything is resolved (see cli._check_options).
    parser.set_defaults(deployed_only=LOCAL_HAS_NO_SECRETS)
