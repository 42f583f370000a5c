"""The sandbox provider: records what the end user would get, with the trial company's sender; fails and waits on
command, so retries and the dead-letter queue can be exercised locally."""

from __future__ import annotations

import threading

import pytest

from tests.fakes import FakeClock
from trialgw.models import Channel
from trialgw.ports import OutboundMessage
from trialgw.providers.port import Delivered, DeliveryFailed, Provider, ProviderName, SmsSenders
from trialgw.providers.sandbox import delivery as sandbox
from trialgw.providers.sandbox.delivery import (
    DELIVERIES,
    SandboxCrash,
    SandboxDelivery,
    SandboxFault,
    SandboxLog,
    SandboxProvider,
    read_report,
    sandbox_message_id,
)
from trialgw.providers.status import StatusReport
from trialgw.settings import DeliverySettings

TRIAL_SMS = SmsSenders("CMTrial")
SENDERS = {"SMS": "CMTrial", "WhatsApp": "+31850876714", "Facebook Messenger": "104857600", "Instagram": "17841400"}


def message(
    channel: Channel = Channel.WHATSAPP, *, sender: str | None = "DevCo", kind: str = "send"
) -> OutboundMessage:
    to = "+31612345678" if channel in {Channel.SMS, Channel.WHATSAPP} else "6543210987654321"
    return OutboundMessage(channel=channel, to=to, text="Hello there", kind=kind, message_id="m1", sender=sender)


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make(log: SandboxLog, **kwargs: object) -> SandboxProvider:
    kwargs.setdefault("senders", SENDERS)
    kwargs.setdefault("sms_senders", TRIAL_SMS)
    kwargs.setdefault("clock", FakeClock(1_800_000_000.7))
    return SandboxProvider(log.append, **kwargs)  # type: ignore[arg-type]


def test_records_the_delivery_with_the_trial_companys_sender():
    log = SandboxLog()
    provider: Provider = make(log)
    delivered = provider.deliver(message(Channel.WHATSAPP, sender="DevCo"))
    assert delivered.provider is ProviderName.SANDBOX
    assert delivered.provider_message_id == "sandbox-m1"
    [entry] = log.entries()
    # The developer's `from` never becomes the sender on an OTT channel.
    assert entry.sender == "+31850876714"
    assert entry.to_json() == {
        "channel": "WhatsApp",
        "to": "+31612345678",
        "from": "+31850876714",
        "text": "Hello there",
        "at": 1_800_000_000,
        "message_id": "m1",
        "kind": "send",
    }


@pytest.mark.parametrize(
    ("channel", "sender", "developer_allowed", "expected"),
    [
        (Channel.SMS, "MyBank", False, "CMTrial"),  # the trial company's sender, never the developer's `from`
        (Channel.SMS, "DevCo", True, "DevCo"),  # unless the operator allows developer senders
        (Channel.SMS, None, True, "CMTrial"),  # a reply to an end user: the trial company's SMS sender
        (Channel.MESSENGER, "DevCo", True, "104857600"),
        (Channel.INSTAGRAM, "DevCo", True, "17841400"),  # developer senders are for SMS only
    ],
)
def test_sender_per_channel(channel, sender, developer_allowed, expected):
    log = SandboxLog()
    make(log, sms_senders=SmsSenders("CMTrial", developer_allowed)).deliver(message(channel, sender=sender))
    assert log.entries()[0].sender == expected


def test_a_channel_without_a_configured_sender_records_none():
    log = SandboxLog()
    make(log, senders={}).deliver(message(Channel.WHATSAPP))
    assert log.entries()[0].to_json()["from"] is None


def test_rich_content_is_kept():
    log = SandboxLog()
    rich: dict[str, object] = {"conversation": [{"text": "Hi"}]}
    msg = OutboundMessage(Channel.WHATSAPP, "+31612345678", "Hi", "send", "m2", rich_content=rich)
    make(log).deliver(msg)
    assert log.entries()[0].to_json()["richContent"] == rich


@pytest.mark.parametrize(("fault", "transient"), [("transient", True), ("permanent", False)])
def test_fault_fails_every_message_and_records_nothing(fault, transient):
    log = SandboxLog()
    with pytest.raises(DeliveryFailed) as failure:
        make(log, fault=fault).deliver(message())
    assert failure.value.transient is transient
    assert failure.value.code == f"sandbox-{fault}"
    assert fault in failure.value.reason
    assert log.entries() == []


def test_the_crash_fault_raises_an_unexpected_error_not_a_provider_answer():
    log = SandboxLog()
    with pytest.raises(SandboxCrash) as crash:
        make(log, fault="crash").deliver(message())
    # Nothing a provider said: the delivery function treats it as a bug or a timeout, not a refusal.
    assert not isinstance(crash.value, DeliveryFailed)
    assert "TRIALGW_SANDBOX_FAULT=crash" in str(crash.value)
    assert log.entries() == []


def test_delay_sleeps_before_answering_even_when_failing():
    sleeps = Sleeps()
    log = SandboxLog()
    make(log, delay_seconds=2.5, sleep=sleeps).deliver(message())
    with pytest.raises(DeliveryFailed):
        make(log, delay_seconds=1.0, sleep=sleeps, fault=SandboxFault.TRANSIENT).deliver(message())
    assert sleeps.calls == [2.5, 1.0]


def test_no_delay_never_sleeps():
    sleeps = Sleeps()
    make(SandboxLog(), sleep=sleeps).deliver(message())
    assert sleeps.calls == []


def test_the_time_is_taken_after_the_delay():
    clock = FakeClock(100.0)

    def sleep(seconds: float) -> None:
        clock.now += seconds

    log = SandboxLog()
    make(log, delay_seconds=3.0, sleep=sleep, clock=clock).deliver(message())
    assert log.entries()[0].at == 103


def test_bad_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="flaky"):
        SandboxProvider(fault="flaky", sms_senders=TRIAL_SMS)
    with pytest.raises(ValueError, match="delay_seconds"):
        SandboxProvider(delay_seconds=-1, sms_senders=TRIAL_SMS)
    with pytest.raises(ValueError, match="limit"):
        SandboxLog(limit=0)


def test_default_settings_build_a_working_provider():
    settings = DeliverySettings()
    provider = SandboxProvider(
        SandboxLog().append,
        fault=settings.sandbox_fault,
        delay_seconds=settings.sandbox_delay_seconds,
        sms_senders=SmsSenders(settings.trial_sms_sender),
    )
    # The brand's letters and digits: "CM.COM" is no valid sender ID.
    assert settings.trial_sms_sender == "CMCOM"
    assert provider.deliver(message()).provider is ProviderName.SANDBOX
    assert repr(provider) == "SandboxProvider(fault='none', delay_seconds=0.0)"


def test_without_a_recorder_deliveries_go_to_the_module_log():
    # The local stack's `/_local/deliveries` reads this one object from the same process.
    assert sandbox.DELIVERIES is DELIVERIES
    DELIVERIES.clear()
    try:
        SandboxProvider(sms_senders=TRIAL_SMS).deliver(message(Channel.SMS, sender="DevCo"))
        [entry] = DELIVERIES.entries()
        assert (entry.channel, entry.to, entry.sender) == (Channel.SMS, "+31612345678", "CMTrial")
    finally:
        DELIVERIES.clear()


def test_log_keeps_the_latest_entries_and_returns_snapshots():
    log = SandboxLog(limit=3)
    for index in range(5):
        log.append(SandboxDelivery(Channel.SMS, "+31612345678", None, f"t{index}", index, f"m{index}", "send"))
    snapshot = log.entries()
    assert [entry.text for entry in snapshot] == ["t2", "t3", "t4"]
    log.append(SandboxDelivery(Channel.SMS, "+31612345678", None, "t5", 5, "m5", "send"))
    assert [entry.text for entry in snapshot] == ["t2", "t3", "t4"]
    assert len(log) == 3
    log.clear()
    assert log.entries() == []


def test_log_is_safe_across_threads():
    log = SandboxLog(limit=10_000)
    provider = SandboxProvider(log.append, sms_senders=TRIAL_SMS)
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(250):
            provider.deliver(message())
            log.entries()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log) == 2000


def test_a_send_is_reported_delivered_by_the_sandboxs_id_as_a_providers_webhook_would():
    delivered = make(SandboxLog()).deliver(message(kind="send"))
    # By the provider's id only (never ours): `apply_reports` locates it by provider and that id, as a webhook's.
    assert delivered.reports == (
        StatusReport(
            message_id="", status="delivered", reason=None, at=1_800_000_000, provider_message_id="sandbox-m1"
        ),
    )
    assert delivered == Delivered(ProviderName.SANDBOX, sandbox_message_id("m1"), delivered.reports)


def test_a_reply_has_no_record_so_no_report():
    assert make(SandboxLog()).deliver(message(kind="reply")).reports == ()


def test_the_phone_showing_a_send_reports_it_read_and_a_reply_not_at_all():
    log = SandboxLog()
    provider = make(log)
    provider.deliver(message(kind="send"))
    provider.deliver(message(kind="reply"))
    send, reply = log.entries()
    assert read_report(send, at=1_800_000_050) == StatusReport(
        message_id="", status="read", reason=None, at=1_800_000_050, provider_message_id="sandbox-m1"
    )
    assert read_report(reply, at=1_800_000_050) is None
