"""Operations: every alarm reaches the operator alerts topic; the dashboard exists."""

from __future__ import annotations

from typing import Any

import pytest

from infra import topology
from infra.constructs.operations import API_5XX_THRESHOLD, SES_COMPLAINT_RATE_THRESHOLD
from infra.constructs.queues import DEAD_LETTER_MAX_AGE_SECONDS, MAX_AGE_SECONDS
from tests.infra.cfn import (
    functions,
    output_resource,
    props,
    queue_ids,
    referenced_id,
    references,
    render,
    resources,
)
from tests.infra.conftest import VARIANT_ALARM_EMAIL, Synthesized
from trialgw import names
from trialgw.logic.delivery import CHANNEL_NOT_CONFIGURED_METRIC
from trialgw.providers.registry import PROVIDER_SECRET_KEYS


def _alerts_topic_id(template_json: dict[str, Any]) -> str:
    topic_id, _ = output_resource(template_json, "OperatorAlertsTopicArn")
    return topic_id


def _alarms(template_json: dict[str, Any]) -> list[dict[str, Any]]:
    return [props(alarm) for _, alarm in resources(template_json, "AWS::CloudWatch::Alarm")]


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return next(d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name)


def test_the_alerts_topic_is_encrypted_with_a_key_cloudwatch_may_use(template_json: dict[str, Any]) -> None:
    topic_id = _alerts_topic_id(template_json)
    topic = template_json["Resources"][topic_id]
    key_id = referenced_id(props(topic)["KmsMasterKeyId"])
    key = template_json["Resources"][key_id]
    assert props(key)["EnableKeyRotation"] is True
    statements = props(key)["KeyPolicy"]["Statement"]
    assert any(s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com" for s in statements)
    topic_statements = [
        statement
        for _, policy in resources(template_json, "AWS::SNS::TopicPolicy")
        if any(references(t, topic_id) for t in props(policy)["Topics"])
        for statement in props(policy)["PolicyDocument"]["Statement"]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in topic_statements
    )
    (publish,) = [s for s in topic_statements if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (
        render(publish["Condition"]["ArnLike"]["aws:SourceArn"]) == "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"
    )


def test_every_alarm_notifies_the_operator_and_ignores_missing_data(template_json: dict[str, Any]) -> None:
    topic_id = _alerts_topic_id(template_json)
    alarms = _alarms(template_json)
    assert alarms
    for alarm in alarms:
        assert [referenced_id(action) for action in alarm["AlarmActions"]] == [topic_id], alarm["AlarmDescription"]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_a_dead_letter_alarm_per_dead_letter_queue_and_an_age_alarm_per_queue(template_json: dict[str, Any]) -> None:
    queues = dict(resources(template_json, "AWS::SQS::Queue"))
    dead = {qid for qid, q in queues.items() if "RedrivePolicy" not in props(q)}
    main = set(queues) - dead
    sources = queue_ids(template_json)
    consumed = {sources[logical] for d in topology.FUNCTIONS for logical in d.consumes} & dead
    assert consumed == {sources[names.OUTBOUND.dead_letters]}
    alarms = _alarms(template_json)
    # A dead-letter queue nothing consumes: any message in it waits for an operator.
    depth = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert sorted(referenced_id(_dimension(a, "QueueName")) for a in depth) == sorted(dead - consumed)
    assert all(a["Threshold"] == 0 and a["ComparisonOperator"] == "GreaterThanThreshold" for a in depth)
    age = [a for a in alarms if a.get("MetricName") == "ApproximateAgeOfOldestMessage"]
    by_queue = {referenced_id(_dimension(a, "QueueName")): a for a in age}
    assert sorted(by_queue) == sorted(main | consumed)
    assert MAX_AGE_SECONDS == 300
    # A queue whose messages may be delayed (the webhook worker's retries) waits out the longest delay too.
    delayed = {sources[q.logical]: q.longest_delay_seconds for q in names.QUEUES if q.longest_delay_seconds}
    assert delayed == {sources[names.WEBHOOK_EVENTS.logical]: 900}
    assert all(by_queue[q]["Threshold"] == MAX_AGE_SECONDS + delayed.get(q, 0) for q in main)
    # A consumed one: its consumer empties it within seconds; a dead letter that stays means the consumer fails.
    assert DEAD_LETTER_MAX_AGE_SECONDS == 900
    assert all(by_queue[q]["Threshold"] == DEAD_LETTER_MAX_AGE_SECONDS for q in consumed)


@pytest.mark.parametrize(
    ("metric", "service", "statistic"),
    [("DeadLettered", "dead_letters", "Sum"), ("StaleQueued", "sweeper", "Maximum")],
)
def test_dead_lettered_and_stale_queued_sends_raise_alarms_on_their_functions_metrics(
    template_json: dict[str, Any], metric: str, service: str, statistic: str
) -> None:
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == metric]
    environment = props(functions(template_json)[service][1])["Environment"]["Variables"]
    assert alarm["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"] == "trialgw"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": environment["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Statistic"], alarm["Period"]) == (statistic, 300)
    # The first one is worth hearing of: the invariant is that there are none.
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_an_errors_and_a_throttles_alarm_per_function(template_json: dict[str, Any]) -> None:
    alarms = _alarms(template_json)
    built = functions(template_json)
    for metric in ("Errors", "Throttles"):
        watched = [
            referenced_id(_dimension(a, "FunctionName"))
            for a in alarms
            if a.get("Namespace") == "AWS/Lambda" and a.get("MetricName") == metric
        ]
        assert sorted(watched) == sorted(built[d.name][0] for d in topology.FUNCTIONS), metric
    for alarm in alarms:
        if alarm.get("Namespace") == "AWS/Lambda":
            assert alarm["Threshold"] == 0
            assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_api_server_errors_raise_an_alarm_on_the_stage(template_json: dict[str, Any]) -> None:
    ((stage_id, stage),) = resources(template_json, "AWS::ApiGateway::Stage")
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == "5XXError"]
    assert alarm["Namespace"] == "AWS/ApiGateway"
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 300
    assert _dimension(alarm, "Stage") == props(stage)["StageName"] or references(_dimension(alarm, "Stage"), stage_id)
    assert alarm["Threshold"] == API_5XX_THRESHOLD


def test_the_capacity_breaker_alarm_watches_the_send_functions_emf_metric(template_json: dict[str, Any]) -> None:
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == "CapacityBreakerTripped"]
    assert alarm["Namespace"] == "trialgw"
    send_environment = props(functions(template_json)["send"][1])["Environment"]["Variables"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": send_environment["POWERTOOLS_SERVICE_NAME"]}]
    assert send_environment["POWERTOOLS_METRICS_NAMESPACE"] == alarm["Namespace"]
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


@pytest.mark.parametrize("which", ["stack", "variant"])
def test_the_breaker_alarm_tells_the_operator_how_to_look_and_how_to_revoke(
    synthesized: Synthesized, which: str
) -> None:
    built = synthesized.stack if which == "stack" else synthesized.variant
    template_json = synthesized.template_json if which == "stack" else synthesized.variant_json
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == "CapacityBreakerTripped"]
    # CloudWatch puts the description in the notification the operator reads.
    text = render(alarm["AlarmDescription"])
    where = f"--stack {built.stack_name} --region eu-west-1"
    assert f"trialgw-admin capacity status {where}" in text
    assert f"trialgw-admin trials revoke <trial id> {where}" in text
    assert f"trialgw-admin capacity reset {where}" in text
    assert text.index("capacity status") < text.index("trials revoke") < text.index("capacity reset")
    assert len(text) <= 1024  # CloudWatch's limit for a description


def test_a_channel_not_configured_alarm_watches_the_delivery_functions_emf_metric(synthesized: Synthesized) -> None:
    template_json = synthesized.template_json
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == CHANNEL_NOT_CONFIGURED_METRIC]
    assert alarm["Namespace"] == "trialgw"
    readers = [d.name for d in topology.FUNCTIONS if d.reads_provider_secrets]
    assert readers == ["delivery"]
    delivery_environment = props(functions(template_json)["delivery"][1])["Environment"]["Variables"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": delivery_environment["POWERTOOLS_SERVICE_NAME"]}]
    # The first message that fails closed is worth hearing of.
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    text = render(alarm["AlarmDescription"])
    where = f"--stack {synthesized.stack.stack_name} --region eu-west-1"
    assert f"trialgw-admin providers set-credential <key> {where}" in text
    assert all(key in text for key in PROVIDER_SECRET_KEYS)
    assert len(text) <= 1024  # CloudWatch's limit for a description


def test_the_ses_bounce_rate_alarm(template_json: dict[str, Any]) -> None:
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == "Reputation.BounceRate"]
    assert alarm["Namespace"] == "AWS/SES"
    assert alarm["Threshold"] == 0.05
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_the_ses_complaint_rate_alarm_beside_the_bounce_one(template_json: dict[str, Any]) -> None:
    (alarm,) = [a for a in _alarms(template_json) if a.get("MetricName") == "Reputation.ComplaintRate"]
    (bounce,) = [a for a in _alarms(template_json) if a.get("MetricName") == "Reputation.BounceRate"]
    assert alarm["Namespace"] == "AWS/SES"
    # AWS asks senders to stay under 0.1% complaints.
    assert alarm["Threshold"] == SES_COMPLAINT_RATE_THRESHOLD == 0.001
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert (alarm["Statistic"], alarm["Period"]) == (bounce["Statistic"], bounce["Period"]) == ("Maximum", 3600)
    assert "0.1%" in alarm["AlarmDescription"]


def test_the_dashboard_shows_the_api_functions_queues_and_messages(template_json: dict[str, Any]) -> None:
    ((dashboard_id, dashboard),) = resources(template_json, "AWS::CloudWatch::Dashboard")
    assert referenced_id(template_json["Outputs"]["DashboardName"]["Value"]) == dashboard_id
    body = json_text(props(dashboard)["DashboardBody"])
    for needle in ("AWS/ApiGateway", "5XXError", "Latency", "Invocations", "Duration", "AWS/Lambda"):
        assert needle in body, needle
    for needle in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"):
        assert needle in body, needle
    for metric in ("SendAccepted", "SendRefused", "MessageSent", "MessageFailed"):
        assert metric in body, metric


def test_alarms_are_e_mailed_only_when_alarm_email_is_set(synthesized: Synthesized) -> None:
    def emails(template_json: dict[str, Any]) -> list[dict[str, Any]]:
        subscriptions = resources(template_json, "AWS::SNS::Subscription")
        return [props(s) for _, s in subscriptions if props(s)["Protocol"] == "email"]

    assert synthesized.stack.config.alarm_email is None
    assert emails(synthesized.template_json) == []
    (email,) = emails(synthesized.variant_json)
    assert email["Endpoint"] == VARIANT_ALARM_EMAIL
    assert referenced_id(email["TopicArn"]) == _alerts_topic_id(synthesized.variant_json)


def json_text(value: Any) -> str:
    """A DashboardBody (a string or an Fn::Join of parts) as one text, references left as their JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(json_text(part) for part in value["Fn::Join"][1])
    return str(value)


def test_each_scheduled_function_runs_on_its_own_rule_without_retries(template_json: dict[str, Any]) -> None:
    rules = [props(rule) for _, rule in resources(template_json, "AWS::Events::Rule")]
    scheduled = [d for d in topology.FUNCTIONS if d.schedule_minutes is not None]
    assert [d.name for d in scheduled] == ["sweeper"]
    assert len(rules) == len(scheduled)
    for definition in scheduled:
        function_id, _ = functions(template_json)[definition.name]
        (rule,) = [r for r in rules if [referenced_id(t["Arn"]) for t in r["Targets"]] == [function_id]]
        assert rule["ScheduleExpression"] == f"rate({definition.schedule_minutes} minutes)"
        assert rule.get("State", "ENABLED") == "ENABLED"
        # The next run repeats the work: a failed one is not retried hours later.
        assert rule["Targets"][0]["RetryPolicy"] == {"MaximumRetryAttempts": 0}
