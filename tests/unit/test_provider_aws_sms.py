"""The `aws-sms` provider with botocore's Stubber on a real `pinpoint-sms-voice-v2` client (moto has no model of it),
and the configuration-set delivery events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.aws_sms.delivery import AwsSmsProvider
from trialgw.providers.aws_sms.status import parse_sms_delivery_event
from trialgw.providers.port import Delivered, DeliveryFailed, Provider, ProviderName, SmsSenders
from trialgw.providers.status import StatusReport

EVENTS = Path(__file__).resolve().parent.parent / "events"
POOL = "pool-0123456789abcdef0123456789abcdef"
CONFIG_SET = "trialgw-sms"
AWS_ID = "862a8790-60c0-4430-9b2b-658bdexample"


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2",
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def stub(client) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


# Most tests here are about the call, not the sender: the developer's `from` goes out (the operator allowed it).
DEVELOPER_SENDERS = SmsSenders("TrialCo", developer_allowed=True)


def _provider(
    client,
    *,
    identity: str | None = POOL,
    config_set: str | None = CONFIG_SET,
    senders: SmsSenders = DEVELOPER_SENDERS,
):
    return AwsSmsProvider(lambda: client, identity, config_set, senders)


def _message(**overrides: Any) -> OutboundMessage:
    fields: dict[str, Any] = {
        "channel": Channel.SMS,
        "to": "+31687654321",
        "text": "Hello from the trial",
        "kind": "send",
        "message_id": "msg-0001",
        "sender": "DevCo",
    }
    fields.update(overrides)
    return OutboundMessage(**fields)


def _expected(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "DestinationPhoneNumber": "+31687654321",
        "OriginationIdentity": POOL,
        "MessageBody": "Hello from the trial",
        "MessageType": "TRANSACTIONAL",
        "ConfigurationSetName": CONFIG_SET,
        "Context": {"message_id": "msg-0001", "sender": "DevCo"},
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def _fail(provider: AwsSmsProvider, message: OutboundMessage | None = None) -> DeliveryFailed:
    with pytest.raises(DeliveryFailed) as caught:
        provider.deliver(message or _message())
    return caught.value


# --- sending --------------------------------------------------------------------------------------------------


def test_is_a_provider(client):
    provider: Provider = _provider(client)
    assert provider.name is ProviderName.AWS_SMS


def test_send_text_message_with_identity_configuration_set_and_context(client, stub):
    stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected())

    assert _provider(client).deliver(_message()) == Delivered(ProviderName.AWS_SMS, AWS_ID)


def test_without_an_identity_the_trial_sender_replaces_the_developers_from(client, stub):
    stub.add_response(
        "send_text_message",
        {"MessageId": AWS_ID},
        _expected(OriginationIdentity="TrialCo", Context={"message_id": "msg-0001", "sender": "TrialCo"}),
    )

    _provider(client, identity=None, senders=SmsSenders("TrialCo")).deliver(_message())


def test_the_pool_is_the_identity_and_the_trial_sender_is_recorded(client, stub):
    stub.add_response(
        "send_text_message", {"MessageId": AWS_ID}, _expected(Context={"message_id": "msg-0001", "sender": "TrialCo"})
    )

    _provider(client, senders=SmsSenders("TrialCo")).deliver(_message())


def test_without_an_identity_an_allowed_developer_from_is_the_sender_id(client, stub):
    stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected(OriginationIdentity="DevCo"))

    _provider(client, identity=None).deliver(_message())


def test_a_reply_without_an_identity_comes_from_the_trial_sender(client, stub):
    stub.add_response(
        "send_text_message",
        {"MessageId": AWS_ID},
        _expected(
            OriginationIdentity="TrialCo",
            ConfigurationSetName=None,
            Context={"message_id": "msg-0001", "sender": "TrialCo"},
        ),
    )

    _provider(client, identity=None, config_set=None).deliver(_message(sender=None))


def test_a_00_destination_becomes_e164(client, stub):
    stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected())

    _provider(client).deliver(_message(to="0031687654321"))


def test_rich_content_and_reference_are_not_sent(client, stub):
    stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected())

    _provider(client).deliver(_message(rich_content={"media": {"mediaUri": "x"}}, reference="ref-9"))


def test_the_client_is_built_once_and_lazily(client, stub):
    built: list[int] = []

    def factory() -> Any:
        built.append(1)
        return client

    provider = AwsSmsProvider(factory, POOL, CONFIG_SET, DEVELOPER_SENDERS)
    assert built == []  # nothing built before the first send (cold start)
    for _ in range(2):
        stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected())
        provider.deliver(_message())

    assert built == [1]


# --- our own checks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"channel": Channel.WHATSAPP}, "channel"),
        ({"to": "+0123"}, "destination"),
        ({"to": "not a number"}, "destination"),
        ({"text": ""}, "message_body"),
        ({"text": "x" * 1601}, "message_body"),
    ],
)
def test_unsendable_messages_fail_permanently_without_a_call(client, stub, overrides, code):
    failure = _fail(_provider(client), _message(**overrides))

    assert (failure.transient, failure.code) == (False, code)


def test_1600_characters_is_allowed(client, stub):
    stub.add_response("send_text_message", {"MessageId": AWS_ID}, _expected(MessageBody="x" * 1600))

    _provider(client).deliver(_message(text="x" * 1600))


# --- AWS errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "transient"),
    [
        ("ThrottlingException", 400, True),
        ("InternalServerException", 500, True),
        ("ServiceUnavailable", 503, True),
        ("SomethingNew", 502, True),
        ("ValidationException", 400, False),
        ("ConflictException", 400, False),
        ("ResourceNotFoundException", 404, False),
        ("AccessDeniedException", 403, False),
        ("ServiceQuotaExceededException", 402, False),
        ("SomethingElse", 400, False),
    ],
)
def test_client_errors_are_mapped(client, stub, error, status, transient):
    stub.add_client_error(
        "send_text_message", service_error_code=error, service_message="nope", http_status_code=status
    )

    failure = _fail(_provider(client))

    assert failure.transient is transient
    assert failure.code == error
    assert error in failure.reason


def test_the_aws_reason_is_part_of_the_code(client, stub):
    stub.add_client_error(
        "send_text_message",
        service_error_code="ConflictException",
        service_message="The destination phone number +31687654321 is opted out",
        http_status_code=400,
        modeled_fields={"Message": "opted out", "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"},
    )

    failure = _fail(_provider(client))

    assert failure.code == "ConflictException:DESTINATION_PHONE_NUMBER_OPTED_OUT"
    assert not failure.transient
    assert "31687654321" not in failure.reason  # numbers never reach logs unmasked


def test_spend_limit_is_permanent(client, stub):
    stub.add_client_error(
        "send_text_message",
        service_error_code="ServiceQuotaExceededException",
        service_message="Monthly spend limit reached",
        http_status_code=402,
        modeled_fields={"Message": "limit", "Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
    )

    failure = _fail(_provider(client))

    assert failure.code == "ServiceQuotaExceededException:MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"
    assert not failure.transient


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="https://sms-voice.eu-west-1.amazonaws.com/"),
        ReadTimeoutError(endpoint_url="https://sms-voice.eu-west-1.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://sms-voice.eu-west-1.amazonaws.com/"),
    ],
)
def test_network_errors_are_transient_and_quote_nothing(exc):
    class Broken:
        def send_text_message(self, **_params: Any) -> dict[str, Any]:
            raise exc

    failure = _fail(AwsSmsProvider(Broken, POOL, CONFIG_SET, DEVELOPER_SENDERS))

    assert failure.transient
    assert failure.code == type(exc).__name__
    assert "amazonaws.com" not in failure.reason
    assert failure.__suppress_context__


def test_a_failing_client_factory_is_transient():
    from botocore.exceptions import NoRegionError

    def factory() -> Any:
        raise NoRegionError()

    failure = _fail(AwsSmsProvider(factory, POOL, CONFIG_SET, DEVELOPER_SENDERS))

    assert (failure.transient, failure.code) == (True, "NoRegionError")


def test_param_validation_is_permanent():
    from botocore.exceptions import ParamValidationError

    class Refusing:
        def send_text_message(self, **_params: Any) -> dict[str, Any]:
            raise ParamValidationError(report="Invalid type for parameter MessageBody")

    failure = _fail(AwsSmsProvider(Refusing, POOL, CONFIG_SET, DEVELOPER_SENDERS))

    assert (failure.transient, failure.code) == (False, "ParamValidationError")


def test_a_response_without_message_id_is_still_delivered(client, stub):
    stub.add_response("send_text_message", {}, _expected())

    assert _provider(client).deliver(_message()) == Delivered(ProviderName.AWS_SMS, None)


# --- delivery events ------------------------------------------------------------------------------------------


def _event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def test_delivered_event_maps_to_delivered():
    report = parse_sms_delivery_event(_event("sms_delivery_event_delivered.json"))

    assert report == StatusReport(
        message_id="msg-fixture-0001",
        status="delivered",
        reason=None,
        at=1772443203,
        provider_message_id="862a8790-60c0-4430-9b2b-658bdfixture",
    )


def test_failed_event_inside_an_sns_envelope_as_sqs_delivers_it():
    envelope = _event("sms_delivery_event_failed_sns.json")

    report = parse_sms_delivery_event(json.dumps(envelope))

    assert report is not None
    assert (report.message_id, report.status, report.at) == ("msg-fixture-0002", "failed", 1772443260)
    assert report.reason == "CARRIER_UNREACHABLE: Phone carrier is currently unreachable/unavailable."
    assert report.provider_message_id == "9f3b1c20-1111-2222-3333-444455fixture"


def test_a_lambda_sns_record_is_unwrapped():
    envelope = _event("sms_delivery_event_failed_sns.json")
    record = {"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": envelope["Message"]}}

    report = parse_sms_delivery_event(record)

    assert report is not None
    assert report.status == "failed"


def test_the_event_as_a_json_string():
    raw = (EVENTS / "sms_delivery_event_delivered.json").read_text(encoding="utf-8")

    report = parse_sms_delivery_event(raw)

    assert report is not None
    assert report.status == "delivered"


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        ("TEXT_SUCCESSFUL", "sent"),
        ("TEXT_DELIVERED", "delivered"),
        ("TEXT_INVALID", "failed"),
        ("TEXT_INVALID_MESSAGE", "failed"),
        ("TEXT_UNREACHABLE", "failed"),
        ("TEXT_CARRIER_UNREACHABLE", "failed"),
        ("TEXT_BLOCKED", "failed"),
        ("TEXT_CARRIER_BLOCKED", "failed"),
        ("TEXT_SPAM", "failed"),
        ("TEXT_TTL_EXPIRED", "failed"),
        ("TEXT_PROTECT_BLOCKED", "failed"),
        ("TEXT_PENDING", None),
        ("TEXT_QUEUED", None),
        ("TEXT_UNKNOWN", None),
        ("VOICE_COMPLETED", None),
    ],
)
def test_event_types(event_type, status):
    event = _event("sms_delivery_event_delivered.json") | {"eventType": event_type}

    report = parse_sms_delivery_event(event)

    assert (report.status if report else None) == status


def test_failure_reasons_mask_numbers():
    event = _event("sms_delivery_event_delivered.json") | {
        "eventType": "TEXT_BLOCKED",
        "messageStatus": "BLOCKED",
        "messageStatusDescription": "Destination +31687654321 is blocked",
    }

    report = parse_sms_delivery_event(event)

    assert report is not None
    assert report.reason == "BLOCKED: Destination *** is blocked"


@pytest.mark.parametrize(
    "message",
    [
        "",
        "not json",
        "[]",
        {},
        {"Message": "not json"},
        {"Type": "Notification", "Message": "{}"},
        {"eventType": "TEXT_DELIVERED"},
        {"eventType": "TEXT_DELIVERED", "context": {"gw_msg_id": "x"}},
        {"eventType": "TEXT_DELIVERED", "context": {"message_id": ""}},
        {"eventType": "TEXT_DELIVERED", "context": "msg-1"},
        {"eventType": 5, "context": {"message_id": "m"}},
    ],
)
def test_events_without_anything_for_us_yield_none(message):
    assert parse_sms_delivery_event(message) is None


def test_odd_timestamp_gives_no_time():
    event = _event("sms_delivery_event_delivered.json") | {"eventTimestamp": "yesterday"}

    report = parse_sms_delivery_event(event)

    assert report is not None
    assert report.at is None
