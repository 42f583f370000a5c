"""The time budgets (`trialgw.budgets`): every function's arithmetic, and everything that must agree with it.

A function's timeout is derived from its calls' limits and its batch; the clients, the providers, the queues, the
local event source mapping and the settings all take their figures from the same place. The CDK template's figures
are checked in tests/infra/test_budgets.py.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from pydantic import ValidationError

from infra import topology
from infra.local.pump import pumps_for
from tests.unit.test_local_pump import unreachable_queues
from trialgw import budgets, names
from trialgw.adapters import aws
from trialgw.budgets import AWS_CALL, SMS_CALL, CallLimits, FunctionBudget
from trialgw.settings import DeliverySettings

# Each function's figures, stated: a change of a limit, a call or a batch shows here as a deliberate edit.
# (timeout s, batch size, one item's worst case s, the reserve s)
EXPECTED = {
    "send": (26, None, 24.0, 2.0),
    "signup": (17, None, 15.0, 2.0),
    # Four calls (issue 18: a test event or replay reads the trial and its webhooks, counts it, queues it), and a PUT of
    # the webhooks' two URL checks: 2 name lookups of at most 1 s.
    "dashboard": (16, None, 14.0, 2.0),
    "mo_webhook": (47, None, 21.0, 5.0),
    "sms_inbound": (50, 10, 21.0, 8.0),
    "delivery": (51, 10, 20.0, 11.0),
    # Issue 18: each record marked failed may make its status event (a SendMessage), in the same timeouts as before.
    "dead_letters": (32, 10, 6.0, 2.0),
    # Issue 18: five calls, and the POST with its 3 redirects at their worst (4 × (3 s + 5 s), 4 name lookups of 1 s).
    "webhook_delivery": (110, 10, 51.0, 8.0),
    "sweeper": (65, None, 6.0, 5.0),
}
ROUTED = {route.function for route in topology.ROUTES}


def test_one_aws_call_at_its_worst_is_two_tries_of_connect_and_read_and_botocores_longest_back_off() -> None:
    # 2 × (0.25 + 0.75) + 1: the back-off before the retry is at most 1 s (botocore's throttling scale).
    assert AWS_CALL.worst_seconds == 3.0
    # No retry, no back-off: a retried SendTextMessage after a lost answer would text the phone twice.
    assert (SMS_CALL.attempts, SMS_CALL.worst_seconds) == (1, 5.0)


@pytest.mark.parametrize(
    ("attempts", "backoff"),
    [(1, 0.0), (2, 1.0), (3, 3.0), (4, 7.0), (5, 15.0), (6, 31.0), (7, 51.0)],
)
def test_botocores_back_off_doubles_up_to_20_seconds_a_wait(attempts: int, backoff: float) -> None:
    limits = CallLimits(connect_seconds=1, read_seconds=1, attempts=attempts)
    assert limits.backoff_seconds == backoff
    assert limits.worst_seconds == attempts * 2 + backoff


def test_a_provider_request_at_its_worst_is_metas_failed_connection_and_then_the_whole_timeout() -> None:
    # cm: 5 s in total; meta: 3 s of a failed connection, then 5 s; aws-sms: one SMS_CALL (5 s).
    assert budgets.provider_worst_seconds() == 8.0
    assert budgets.provider_worst_seconds(2.0) == max(2.0 + 2.0, SMS_CALL.worst_seconds)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_functions_timeout_is_derived_from_its_calls_its_batch_and_its_margin(name: str) -> None:
    budget = budgets.BUDGETS[name]
    timeout, batch, item, reserve = EXPECTED[name]
    calls = (
        len(budget.item_calls) * AWS_CALL.worst_seconds
        + budget.provider_seconds
        + budget.dns_lookups * budgets.DNS_LOOKUP_SECONDS
    )
    once = (len(budget.invocation_calls) + len(budget.hand_back_calls)) * AWS_CALL.worst_seconds
    assert (budget.item_seconds, budget.reserve_seconds) == (item, reserve) == (calls, once + budgets.MARGIN_SECONDS)
    assert budget.timeout_seconds == timeout == math.ceil(budget.sure_items * item + reserve)
    assert budget.batch_size == batch
    assert timeout <= budgets.LAMBDA_MAX_TIMEOUT_SECONDS


def test_every_function_of_the_topology_has_a_budget_of_its_own_and_every_budget_a_function() -> None:
    # A FunctionDef without one would silently get budgets.DEFAULT: this is what makes that impossible to miss.
    assert {f.name for f in topology.FUNCTIONS} == set(budgets.BUDGETS) == set(EXPECTED)
    for definition in topology.FUNCTIONS:
        assert definition.budget is budgets.BUDGETS[definition.name]
        assert definition.timeout_seconds == definition.budget.timeout_seconds


def test_a_function_without_a_budget_gets_the_default_which_also_adds_up() -> None:
    definition = topology.FunctionDef(name="not-a-function", description="", settings_model=DeliverySettings)
    assert definition.budget is budgets.DEFAULT
    assert definition.timeout_seconds == math.ceil(2 * AWS_CALL.worst_seconds + budgets.MARGIN_SECONDS) == 8
    with pytest.raises(ValueError, match="no batch size"):
        _ = definition.batch_size


def test_every_function_shares_the_clients_limits() -> None:
    # trialgw.adapters.aws keeps one client per service for every function of a process: a function that needs other
    # limits needs clients of its own first.
    assert {budget.aws for budget in budgets.BUDGETS.values()} == {AWS_CALL}


def test_every_consumer_has_a_batch_and_can_finish_more_than_one_record() -> None:
    for definition in topology.FUNCTIONS:
        budget = definition.budget
        if not definition.consumes:
            assert budget.batch_size is None, definition.name
            continue
        assert 1 <= definition.batch_size <= budgets.SQS_MAX_BATCH
        # With one sure item the second would never start: every batch but its first record would be handed back.
        assert budget.sure_items >= 2 or definition.batch_size == 1
        # The first record of every invocation starts.
        assert budget.admits(budget.timeout_seconds * 1000)


def test_a_consumer_that_hands_records_back_is_allowed_to_and_knows_where() -> None:
    for definition in topology.FUNCTIONS:
        if not definition.budget.hand_back_calls:
            continue
        assert definition.budget.hand_back_calls == budgets.HAND_BACK_CALLS
        for logical in definition.consumes:
            queue, dead_letters = names.queue_source(logical)
            assert not dead_letters, "a dead-letter queue's consumer gets no queue URL to hand records back to"
            assert queue.env_var.removeprefix("TRIALGW_").lower() in definition.settings_model.model_fields


def test_every_consumed_queue_hides_a_message_for_six_of_its_consumers_timeouts() -> None:
    for definition in topology.FUNCTIONS:
        for logical in definition.consumes:
            queue, _ = names.queue_source(logical)
            assert queue.visibility_timeout_seconds >= 6 * definition.timeout_seconds, (definition.name, logical)
    assert names.OUTBOUND.visibility_timeout_seconds == 6 * budgets.DELIVERY.timeout_seconds


def test_an_api_request_at_its_worst_is_answered_within_api_gateways_29_seconds() -> None:
    for definition in topology.FUNCTIONS:
        budget = definition.budget
        assert budget.serves_api == (definition.name in ROUTED), definition.name
        if budget.serves_api:
            # One request and the once-per-invocation calls (a secret read), the margin: API Gateway still waits.
            assert budget.request_seconds <= budgets.API_GATEWAY_TIMEOUT_SECONDS, definition.name


def test_a_function_reading_a_secret_counts_the_read() -> None:
    for definition in topology.FUNCTIONS:
        reads = definition.reads_webhook_secrets or definition.reads_provider_secrets
        assert (budgets.CREDENTIAL_READ in definition.budget.invocation_calls) == reads, definition.name


def test_send_and_signup_give_back_within_their_timeout() -> None:
    # The give-back after the last forward call fails is part of the longest path, so it always has time to run.
    for budget in (budgets.SEND, budgets.SIGNUP):
        give_backs = [call for call in budget.item_calls if "give-back" in call]
        assert give_backs
        assert len(budget.item_calls) * AWS_CALL.worst_seconds + budget.margin_seconds <= budget.timeout_seconds


def test_an_item_starts_only_while_the_remaining_time_covers_it_at_its_worst_and_the_reserve() -> None:
    budget = budgets.DELIVERY
    needed_ms = (budget.item_seconds + budget.reserve_seconds) * 1000
    assert needed_ms == 31_000
    assert budget.admits(int(needed_ms))
    assert not budget.admits(int(needed_ms) - 1)
    # A fresh invocation starts items during its first item_seconds: two at their worst, or a whole batch of fast ones.
    assert budget.timeout_seconds * 1000 - needed_ms == 20_000


def test_items_within_counts_whole_items_besides_the_reserve() -> None:
    sweeper = budgets.SWEEPER
    assert sweeper.items_within(sweeper.timeout_seconds * 1000) == 10
    assert sweeper.items_within(int(sweeper.reserve_seconds * 1000)) == 0
    assert sweeper.items_within(0) == 0


def test_a_scaled_budget_keeps_the_arithmetic() -> None:
    scaled = budgets.DELIVERY.scaled(0.1)
    assert scaled.item_seconds == pytest.approx(budgets.DELIVERY.item_seconds * 0.1)
    assert scaled.reserve_seconds == pytest.approx(budgets.DELIVERY.reserve_seconds * 0.1)
    assert scaled.timeout_seconds == math.ceil(budgets.DELIVERY.timeout_seconds * 0.1)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 11}, "1 to 10 records"),
        ({"batch_size": 2, "sure_items": 3}, "sure_items"),
        ({"item_calls": ("a call",) * 400}, "over Lambda's 900 s"),
    ],
)
def test_a_budget_that_cannot_add_up_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FunctionBudget(**{"function": "x", "item_calls": ("a call",), **changes})


# --- what takes its figures from the budget ---------------------------------------------------------------------


@pytest.fixture
def region(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    factories = (aws.dynamodb, aws.sqs, aws.sesv2, aws.secretsmanager, aws.sms_voice)
    for factory in factories:
        factory.cache_clear()
    yield
    for factory in factories:
        factory.cache_clear()


def _limits(client: Any) -> tuple[float, float, int, str]:
    config = client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"], config.retries["mode"]


def test_the_clients_make_their_calls_within_the_budgets_limits(region: Any) -> None:
    for client in (aws.dynamodb(), aws.sqs(), aws.sesv2(), aws.secretsmanager()):
        assert _limits(client) == (AWS_CALL.connect_seconds, AWS_CALL.read_seconds, AWS_CALL.attempts, "standard")
    assert _limits(aws.sms_voice()) == (SMS_CALL.connect_seconds, SMS_CALL.read_seconds, 1, "standard")


def _sleeps_before_the_retry(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits botocore makes when the first answer is a 500 asking for a 10-second wait (`x-amz-retry-after`)."""
    import botocore.endpoint

    sleeps: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=sleeps.append, time=lambda: 0.0))
    answers = iter([500, 200])

    def answer(request: Any, **_kwargs: Any) -> AWSResponse:
        status = next(answers)
        headers = {"x-amz-retry-after": "10000"} if status == 500 else {}
        body = b'{"__type": "InternalServerError"}' if status == 500 else b"{}"
        raw = SimpleNamespace(stream=lambda **_k: iter([body]))
        http_headers = HTTPHeaders()
        for name, value in {**headers, "Content-Type": "application/x-amz-json-1.0"}.items():
            http_headers[name] = value
        return AWSResponse(request.url, status, http_headers, raw)

    client.meta.events.register_first("before-send", answer)
    client.describe_limits()
    return sleeps


def test_a_server_cannot_stretch_a_retrys_wait_beyond_the_budgets_back_off(
    region: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    # botocore alone waits 5 s more when told to; the budget counts only its own back-off.
    plain = boto3.client("dynamodb", config=aws.client_config(AWS_CALL))
    (told,) = _sleeps_before_the_retry(plain, monkeypatch)
    assert told >= 5
    (ours,) = _sleeps_before_the_retry(aws.dynamodb(), monkeypatch)
    assert ours <= AWS_CALL.backoff_seconds


def test_the_provider_timeout_setting_cannot_exceed_what_the_budget_counts_on() -> None:
    assert DeliverySettings().provider_timeout_seconds == budgets.PROVIDER_TIMEOUT_SECONDS
    DeliverySettings(provider_timeout_seconds=budgets.PROVIDER_TIMEOUT_SECONDS)
    with pytest.raises(ValidationError):
        DeliverySettings(provider_timeout_seconds=budgets.PROVIDER_TIMEOUT_SECONDS + 0.5)


def test_the_http_providers_requests_take_what_the_budget_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from trialgw.providers.meta.delivery import MetaProvider

    seen: list[Any] = []

    class Pool:
        def request(self, *_args: Any, **kwargs: Any) -> Any:
            seen.append(kwargs)
            return SimpleNamespace(status=200, data=b'{"messages": [{"id": "wamid.1"}]}')

    from trialgw.models import Channel
    from trialgw.ports import OutboundMessage

    meta = MetaProvider("https://graph", "1", None, None, lambda _c: "token", 5.0, http=Pool())  # type: ignore[arg-type]
    meta.deliver(OutboundMessage(Channel.WHATSAPP, "+31612345678", "hi", "send", "m1"))
    ((kwargs),) = seen
    timeout, retries = kwargs["timeout"], kwargs["retries"]
    # Each try within the timeout in total; one retry, of a connection only: META_CONNECT_SECONDS + 5 s at most.
    assert (timeout.total, timeout.connect_timeout) == (5.0, budgets.META_CONNECT_SECONDS)
    assert (retries.total, retries.connect, retries.read) == (1, 1, 0)


def test_the_local_event_source_mapping_takes_each_consumers_batch_size() -> None:
    resources = unreachable_queues()
    pumps = pumps_for(topology.FUNCTIONS, resources, lambda _name, _event: None, sqs=object())
    sizes = {pump.function: pump._batch_size for pump in pumps}
    assert sizes == {f.name: f.batch_size for f in topology.FUNCTIONS if f.consumes}


def test_the_docs_time_budgets_table_says_what_the_budgets_say() -> None:
    readme = (topology.ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = readme.split("### Time budgets", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0].strip("` "): cells[1:]
        for line in section.splitlines()
        if line.startswith("| `") and (cells := [cell.strip() for cell in line.strip("|").split("|")])
    }
    for name, budget in budgets.BUDGETS.items():
        timeout, batch, item, reserve, _calls = rows[name]
        assert timeout == f"{budget.timeout_seconds} s", name
        assert batch.startswith(str(budget.batch_size) if budget.batch_size else "—"), name
        assert (item, reserve) == (f"{budget.item_seconds:g} s", f"{budget.reserve_seconds:g} s"), name
