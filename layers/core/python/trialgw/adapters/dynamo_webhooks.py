"""A trial's own webhooks (issue 18), kept on its trial item in the trials table.

Attributes: `webhook_inbound_url`, `webhook_status_url`, `webhook_secret` and `webhook_secret_at` (when it was
made). `config` reads the URLs and `webhook_secret_at` only (a projection: `hasSecret`); `signing_secret` and
`targets` (the webhook worker's: URLs, secret and the trial's expiry and status in one read) are the only methods
meant to hand the secret out. The table is encrypted at rest (AWS-managed KMS);
the secret is never logged, traced or returned by any read of the dashboard.
Writes are conditional on the trial item existing and not being revoked, so a revoked key cannot reconfigure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from trialgw import names
from trialgw.adapters.dynamo_conditions import condition_failed
from trialgw.errors import StoreError
from trialgw.models import TrialStatus
from trialgw.ports import WebhookConfig, WebhookTargets

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.literals import ReturnValueType

INBOUND_URL = "webhook_inbound_url"
STATUS_URL = "webhook_status_url"
SECRET = "webhook_secret"  # noqa: S105  # an attribute's name
SECRET_AT = "webhook_secret_at"  # noqa: S105  # an attribute's name
# The trial item's own attributes the webhook worker reads (trialgw.adapters.dynamo_trials writes them).
EXPIRES_AT = "expires_at"
STATUS = "status"


def _key(key_hash: str) -> dict[str, Any]:
    return {
        names.PARTITION_KEY: {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"},
        names.SORT_KEY: {"S": names.TRIAL_SK},
    }


def _text(item: dict[str, Any], attribute: str) -> str | None:
    value = item.get(attribute, {}).get("S")
    return value if isinstance(value, str) and value else None


class DynamoWebhookConfigStore:
    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def _read(self, key_hash: str, *attributes: str) -> dict[str, Any] | None:
        aliases = {f"#a{index}": attribute for index, attribute in enumerate((names.PARTITION_KEY, *attributes))}
        try:
            answer = self._client.get_item(
                TableName=self._table,
                Key=_key(key_hash),
                ConsistentRead=True,
                ProjectionExpression=", ".join(aliases),
                ExpressionAttributeNames=aliases,
            )
        except (ClientError, BotoCoreError) as error:
            raise StoreError(f"could not read the trial's webhooks: {type(error).__name__}") from error
        return answer.get("Item")

    def config(self, key_hash: str) -> WebhookConfig | None:
        item = self._read(key_hash, INBOUND_URL, STATUS_URL, SECRET_AT)
        if item is None:
            return None
        return WebhookConfig(
            inbound_url=_text(item, INBOUND_URL), status_url=_text(item, STATUS_URL), has_secret=SECRET_AT in item
        )

    def _update(
        self,
        key_hash: str,
        expression: str,
        aliases: dict[str, str],
        values: dict[str, Any],
        *,
        returned: ReturnValueType = "NONE",
    ) -> dict[str, Any] | None:
        """The item's attributes as `returned` says (`{}` for NONE) after the write; None when its condition failed."""
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(key_hash),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(#pk) AND #status = :active",
                ExpressionAttributeNames={**aliases, "#pk": names.PARTITION_KEY, "#status": "status"},
                ExpressionAttributeValues={**values, ":active": {"S": TrialStatus.ACTIVE.value}},
                ReturnValues=returned,
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise StoreError(f"could not store the trial's webhooks: {type(error).__name__}") from error
        except BotoCoreError as error:
            raise StoreError(f"could not store the trial's webhooks: {type(error).__name__}") from error
        return dict(answer.get("Attributes", {}))

    def save_urls(self, key_hash: str, *, inbound_url: str | None, status_url: str | None) -> WebhookConfig | None:
        sets: list[str] = []
        removes: list[str] = []
        values: dict[str, Any] = {}
        aliases = {"#in": INBOUND_URL, "#st": STATUS_URL}
        for alias, url in (("#in", inbound_url), ("#st", status_url)):
            if url is None:
                removes.append(alias)
            else:
                sets.append(f"{alias} = :{alias[1:]}")
                values[f":{alias[1:]}"] = {"S": url}
        expression = " ".join(
            part
            for part in (f"SET {', '.join(sets)}" if sets else "", f"REMOVE {', '.join(removes)}" if removes else "")
            if part
        )
        # The item as written, for `hasSecret` without a second read (one UpdateItem: the dashboard's budget).
        item = self._update(key_hash, expression, aliases, values, returned="ALL_NEW")
        if item is None:
            return None
        return WebhookConfig(
            inbound_url=_text(item, INBOUND_URL), status_url=_text(item, STATUS_URL), has_secret=SECRET_AT in item
        )

    def save_secret(self, key_hash: str, secret: str, *, now: int) -> bool:
        written = self._update(
            key_hash,
            "SET #secret = :secret, #secret_at = :now",
            {"#secret": SECRET, "#secret_at": SECRET_AT},
            {":secret": {"S": secret}, ":now": {"N": str(now)}},
        )
        return written is not None

    def signing_secret(self, key_hash: str) -> str | None:
        item = self._read(key_hash, SECRET)
        return None if item is None else _text(item, SECRET)

    def targets(self, key_hash: str) -> WebhookTargets | None:
        """The webhook worker's read (issue 18): URLs, secret, expiry and status in one GetItem."""
        item = self._read(key_hash, INBOUND_URL, STATUS_URL, SECRET, EXPIRES_AT, STATUS)
        if item is None:
            return None
        try:
            expires_at = int(item[EXPIRES_AT]["N"])
        except (KeyError, TypeError, ValueError):
            # A trial item always has its expiry; one without is taken for ended rather than sent to forever.
            expires_at = 0
        return WebhookTargets(
            inbound_url=_text(item, INBOUND_URL),
            status_url=_text(item, STATUS_URL),
            secret=_text(item, SECRET),
            expires_at=expires_at,
            revoked=_text(item, STATUS) != TrialStatus.ACTIVE.value,
        )


__all__ = ["INBOUND_URL", "SECRET", "SECRET_AT", "STATUS_URL", "DynamoWebhookConfigStore"]
