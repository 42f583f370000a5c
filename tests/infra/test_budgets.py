"""The template says what the time budgets (`trialgw.budgets`) say: each function's timeout, each event source's batch
size, each consumed queue's visibility timeout, and a consumer's right to put untried records back on its queue."""

from __future__ import annotations

from typing import Any

from infra import topology
from tests.infra.cfn import as_list, functions, props, queue_ids, referenced_id, references, resources, role_statements
from trialgw import budgets, names


def test_every_functions_timeout_is_its_budgets(template_json: dict[str, Any]) -> None:
    deployed = {name: props(function)["Timeout"] for name, (_, function) in functions(template_json).items()}
    assert deployed == {name: budget.timeout_seconds for name, budget in budgets.BUDGETS.items()}


def test_every_event_source_takes_its_functions_batch_size_and_hides_messages_for_six_timeouts(
    template_json: dict[str, Any],
) -> None:
    sources = queue_ids(template_json)
    queues = dict(resources(template_json, "AWS::SQS::Queue"))
    mappings = [props(m) for _, m in resources(template_json, "AWS::Lambda::EventSourceMapping")]
    checked = 0
    for definition in topology.FUNCTIONS:
        function_id, _ = functions(template_json)[definition.name]
        for logical in definition.consumes:
            (mapping,) = [
                m
                for m in mappings
                if references(m["FunctionName"], function_id) and referenced_id(m["EventSourceArn"]) == sources[logical]
            ]
            assert mapping["BatchSize"] == definition.budget.batch_size
            visibility = props(queues[sources[logical]])["VisibilityTimeout"]
            assert visibility == names.queue_source(logical)[0].visibility_timeout_seconds
            assert visibility >= budgets.VISIBILITY_TIMEOUT_FACTOR * definition.timeout_seconds
            checked += 1
    assert checked == len(mappings) > 0


def test_a_consumer_that_hands_records_back_may_send_to_its_queue_and_no_other_may(
    template_json: dict[str, Any],
) -> None:
    sources = queue_ids(template_json)
    for definition in topology.FUNCTIONS:
        _, function = functions(template_json)[definition.name]
        statements = role_statements(template_json, referenced_id(props(function)["Role"]))
        sendable = {
            referenced_id(resource)
            for statement in statements
            if "sqs:SendMessage" in as_list(statement["Action"])
            for resource in as_list(statement["Resource"])
        }
        consumed = {sources[logical] for logical in definition.consumes}
        sent_to = {sources[logical] for logical in definition.sends_to}
        # (webhook_delivery sends to the queue it consumes by topology too: its retries, issue 18.)
        expected = (consumed if definition.budget.hand_back_calls else set()) - sent_to
        # Lambda itself sends a failed asynchronous event to the function's dead-letter queue, as its role.
        if (dead_letter_config := props(function).get("DeadLetterConfig")) is not None:
            expected |= {referenced_id(dead_letter_config["TargetArn"])}
        assert sendable - sent_to == expected, definition.name
