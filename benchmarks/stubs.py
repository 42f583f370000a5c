"""AWS answered in-process: botocore's `before-call` hook returns the response, as botocore's Stubber does.

Imported by the CPU benchmark and by the cold-start child processes, so it imports nothing but botocore's response
class and `trialgw.names` (which every handler imports anyway): a cold-start child pays for nothing Lambda would not.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from trialgw import names

# Where `before-parameter-build` leaves a call's parameters for `before-call` (botocore's per-call context).
PARAMS_KEY = "trialgw_bench_params"


class AwsStub:
    """Answers the handlers' DynamoDB, SQS, SES and Secrets Manager calls in-process, from one trial held in memory.

    Hooked on the clients' `before-parameter-build` (to keep the call's parameters) and `before-call` (to
    answer it: a response there skips the HTTP request, as botocore's Stubber does). The trial has one
    WhatsApp recipient whitelisted and one message sent, whatever is sent; any other key is no trial. A write to
    any other table succeeds (an update answers the item as its first write would leave it); a query finds
    nothing; a secret is answered from `secrets` (name → its string).
    """

    def __init__(self, key_hash: str, trial_item: Mapping[str, Any] | None = None) -> None:
        self.trial_key = {"S": f"{names.TRIAL_PK_PREFIX}{key_hash}"}
        self.trial_item: dict[str, Any] = dict(trial_item or {})
        self.secrets: dict[str, str] = {}
        self.calls = 0

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register(f"before-parameter-build.{service}", self._keep)
        client.meta.events.register(f"before-call.{service}", self._answer)

    def attach_session(self, session: Any) -> None:
        """Answers the calls of every client `session` (a boto3 or botocore session) creates from now on: clients
        copy their session's hooks when they are made."""
        events = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        events.register("before-parameter-build", self._keep)
        events.register("before-call", self._answer)

    @staticmethod
    def _keep(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[PARAMS_KEY] = params

    def _answer(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        self.calls += 1
        params: Mapping[str, Any] = context[PARAMS_KEY]
        if model.service_model.service_name == "dynamodb":
            return self._dynamodb(model.name, params)
        parsed: dict[str, Any]
        match model.name:
            case "SendMessage":
                digest = hashlib.md5(params["MessageBody"].encode()).hexdigest()
                parsed = {"MessageId": str(uuid.uuid4()), "MD5OfMessageBody": digest}
            case "ChangeMessageVisibility":
                parsed = {}
            case "SendEmail":
                parsed = {"MessageId": str(uuid.uuid4())}
            case "GetSecretValue" if params["SecretId"] in self.secrets:
                name = params["SecretId"]
                parsed = {"Name": name, "SecretString": self.secrets[name], "VersionId": str(uuid.uuid4())}
            case _:
                raise AssertionError(f"the stub does not answer {model.name}")
        return ok_answer(parsed)

    def _dynamodb(self, operation: str, params: Mapping[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
        pk = params.get("Key", {}).get(names.PARTITION_KEY)
        trials = params.get("TableName") == names.TRIALS.local_name
        parsed: dict[str, Any]
        match operation:
            case "PutItem":
                if not self.trial_item and trials:
                    # The first put is the trial's own, written by the real adapter: keep it as the trial.
                    self.trial_item = dict(params["Item"])
                # A sign-up's new trial, a message's record or claim, an idempotency record: written.
                parsed = {}
            case "BatchWriteItem":
                # The webhook log's attempt and event: written, nothing left unprocessed.
                parsed = {"UnprocessedItems": {}}
            case "TransactWriteItems" | "DeleteItem":
                # A sign-up's counts (the first in their windows), the whitelist's transaction: written.
                parsed = {}
            case "GetItem":
                # The trial, or the capacity breaker's flag, never written here: closed.
                parsed = {"Item": self.trial_item} if trials and pk == self.trial_key else {}
            case "Query":
                # The sweeper's stale records, a dashboard's pages: none.
                parsed = {"Items": [], "Count": 0, "ScannedCount": 0}
            case "UpdateItem" if not trials:
                # A message's record (an attempt, sent, failed), an inbound message's claim: written, as asked.
                parsed = {"Attributes": updated(params)} if params.get("ReturnValues", "NONE") != "NONE" else {}
            case "UpdateItem" if pk == self.trial_key:
                parsed = {"Attributes": self.trial_item}
            case "UpdateItem" if pk == {"S": names.CAPACITY_PK}:
                parsed = {"Attributes": {"count": {"N": "1"}}}
            case "UpdateItem" if str((pk or {}).get("S", "")).startswith(names.REPLY_LOG_PK_PREFIX):
                # An inbound message's reply, counted against its sender's limit: within it.
                parsed = {}
            case "UpdateItem":
                # The quota's conditional write for a key that is no trial.
                return error_answer("ConditionalCheckFailedException", "The conditional request failed")
            case _:
                raise AssertionError(f"the stub does not answer {operation}")
        return ok_answer(parsed)


# `#name = :value`, `#name = if_not_exists(#name, :value)`, and ADD's `#name :value`.
_ASSIGNED = re.compile(r"(#\w+)\s*(?:=\s*(?:if_not_exists\(\s*#\w+\s*,\s*)?)?(:\w+)")


def updated(params: Mapping[str, Any]) -> dict[str, Any]:
    """The item an UpdateItem call leaves when it was the item's first write: its key and the values it set."""
    attribute_names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    item = dict(params["Key"])
    for name, value in _ASSIGNED.findall(params.get("UpdateExpression", "")):
        if name in attribute_names and value in values:
            item[attribute_names[name]] = values[value]
    return item


def ok_answer(parsed: dict[str, Any]) -> tuple[AWSResponse, dict[str, Any]]:
    return AWSResponse("", 200, HTTPHeaders(), None), {**parsed, "ResponseMetadata": {"HTTPStatusCode": 200}}


def error_answer(code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return AWSResponse("", 400, HTTPHeaders(), None), parsed
