"""The `aws-sms` provider's delivery: AWS End User Messaging SMS (`pinpoint-sms-voice-v2` `SendTextMessage`).

Each send names the configuration set (so delivery events reach its SNS destination) and carries our message id in
`Context` (`{"message_id": …}`, echoed into every event), so `trialgw.providers.aws_sms.status.parse_sms_delivery_event`
maps events back to our messages without a lookup.

Sender: `SendTextMessage` has no free-form sender field; the sender is the `OriginationIdentity` (a phone number, a
registered sender ID, a pool, or their ARNs). The identity used is the configured `origination_identity` (normally a
pool of the trial company's, which picks a number or sender ID valid for the destination), else the sender
`SmsSenders` decides as a sender ID: the trial company's, or the developer's validated `from` only where the operator
allows developer senders (either works only where that sender ID exists in the account; otherwise AWS refuses it
and the failure is permanent). That sender always goes into `Context` as `sender`, so the event records show it.

Errors → `DeliveryFailed`:

- transient (it passes; SQS retries with back-off): `ThrottlingException`, `InternalServerException`, the generic
  `ServiceUnavailable` / `RequestTimeout` / `Throttling` family, any other HTTP 429 or 5xx; and no answer at all:
  `EndpointConnectionError`, `ConnectTimeoutError`, `ReadTimeoutError` and every other `BotoCoreError`.
- permanent (a retry would fail the same way): `ValidationException` (bad number, destination country blocked, …),
  `ConflictException` (e.g. the destination opted out), `ResourceNotFoundException` (origination identity or
  configuration set missing: operator configuration), `AccessDeniedException` (IAM, `ACCOUNT_DISABLED`, account
  reputation: needs a human), `ServiceQuotaExceededException` (e.g. `MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT`, which
  lasts until raised or the month ends), any other 4xx, `ParamValidationError`, and our own checks (a body of 0 or
  more than 1600 characters, a destination that is not E.164, a channel other than SMS).

A read timeout is ambiguous (AWS may have sent it) but stays transient, as the port says: a rare duplicate beats a
lost message.

The `code` is the AWS error code, with its `Reason` when AWS gives one (`ValidationException:INVALID_PARAMETER`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.aws_sms import AWS_SMS_MASKING
from trialgw.providers.masking import mask_reason
from trialgw.providers.port import Delivered, DeliveryFailed, ProviderName, SmsSenders

# The service model's pattern and limits (Stubber does not check them, so we do).
_DESTINATION = re.compile(r"\+?[1-9][0-9]{1,18}")
_MAX_BODY = 1600
_MAX_CONTEXT_VALUE = 800
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)


class AwsSmsProvider:
    """Sends SMS through AWS End User Messaging; `client_factory` builds the `pinpoint-sms-voice-v2` client once."""

    name = ProviderName.AWS_SMS

    def __init__(
        self,
        client_factory: Callable[[], Any],
        origination_identity: str | None,
        configuration_set: str | None,
        sms_senders: SmsSenders,
    ) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._origination_identity = origination_identity
        self._configuration_set = configuration_set
        self._sms_senders = sms_senders

    def request(self, message: OutboundMessage) -> dict[str, Any]:
        """The `SendTextMessage` parameters for `message`; raises a permanent DeliveryFailed when it can't be sent."""
        if message.channel is not Channel.SMS:
            raise DeliveryFailed(
                f"the aws-sms provider does not carry {message.channel.value}", transient=False, code="channel"
            )
        destination = message.to if message.to.startswith("+") else f"+{message.to.removeprefix('00')}"
        if not _DESTINATION.fullmatch(destination):
            raise DeliveryFailed("the destination is not an E.164 phone number", transient=False, code="destination")
        if not message.text or len(message.text) > _MAX_BODY:
            raise DeliveryFailed(
                f"the SMS body must be 1 to {_MAX_BODY} characters", transient=False, code="message_body"
            )
        sender = self._sms_senders.sender(message)
        identity = self._origination_identity or sender
        context = {"message_id": message.message_id, "sender": sender}
        params: dict[str, Any] = {
            "DestinationPhoneNumber": destination,
            "MessageBody": message.text,
            "MessageType": "TRANSACTIONAL",
            # Context values must be 1–800 characters without outer whitespace (the service's pattern).
            "Context": {k: v.strip()[:_MAX_CONTEXT_VALUE] for k, v in context.items() if v.strip()},
        }
        if identity:
            params["OriginationIdentity"] = identity
        if self._configuration_set:
            params["ConfigurationSetName"] = self._configuration_set
        return params

    def deliver(self, message: OutboundMessage) -> Delivered:
        """Sends the SMS; `Delivered.provider_message_id` is AWS's `MessageId` (the delivery events' `messageId`)."""
        params = self.request(message)
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        try:
            if self._client is None:
                # Built once per provider (and so per warm Lambda): connections are reused across invocations.
                self._client = self._client_factory()
            response = self._client.send_text_message(**params)
        except ClientError as exc:
            raise _client_failure(exc) from None
        except ParamValidationError:
            raise DeliveryFailed(
                "AWS rejected the SMS parameters", transient=False, code="ParamValidationError"
            ) from None
        except BotoCoreError as exc:
            # Connection errors and timeouts; botocore's text may carry the endpoint URL, so give the kind only.
            raise DeliveryFailed(
                f"AWS End User Messaging could not be reached ({type(exc).__name__})",
                transient=True,
                code=type(exc).__name__,
            ) from None
        message_id = response.get("MessageId") if isinstance(response, Mapping) else None
        return Delivered(ProviderName.AWS_SMS, message_id if isinstance(message_id, str) and message_id else None)


def _client_failure(exc: Any) -> DeliveryFailed:
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    code = str(error.get("Code") or "Unknown")
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    aws_reason = response.get("Reason") or error.get("Reason")
    message = error.get("Message")
    transient = code in _TRANSIENT_CODES or (isinstance(status, int) and (status == 429 or status >= 500))
    full_code = f"{code}:{aws_reason}" if isinstance(aws_reason, str) and aws_reason else code
    text = f"AWS End User Messaging refused the SMS ({full_code})"
    if isinstance(message, str) and message.strip():
        text += f": {_scrub(message)}"
    return DeliveryFailed(text, transient=transient, code=full_code)


def _scrub(text: str) -> str:
    # AWS messages can quote the destination number; the reason reaches logs, where numbers must not appear.
    return mask_reason(text, AWS_SMS_MASKING)
