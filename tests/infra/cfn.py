"""Reading a synthesized template by what resources are and do, never by their logical IDs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from trialgw import names

Template = dict[str, Any]

# Plausible deploy-time values for CloudFormation's pseudo parameters.
PSEUDO_PARAMETERS = {
    "AWS::Region": "eu-west-1",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "trialgw",
}


def resources(template: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) pairs of one type; the ids only serve to follow references."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == resource_type:
            yield logical_id, resource


def props(resource: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = resource.get("Properties", {})
    return properties


def referenced_id(value: Any) -> str:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference: {value!r}")


def references(value: Any, logical_id: str) -> bool:
    """Whether `value` (any nesting of intrinsics) refers to `logical_id`."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and getatt[0] == logical_id:
            return True
        return any(references(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(references(v, logical_id) for v in value)
    return False


def render(value: Any) -> str:
    """A string value as it could look after deploy: intrinsics replaced by plausible stand-ins."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return PSEUDO_PARAMETERS.get(name, f"ref-{name.lower()}")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "DomainName":
            return f"d{logical_id.lower()[:12]}.cloudfront.net"
        return f"{logical_id.lower()}-{attribute.lower()}"
    if isinstance(value, dict) and ("Fn::Join" in value or "Fn::Select" in value):
        return _render_join_or_select(value)
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        text: str = value["Fn::Sub"]
        for name, stand_in in PSEUDO_PARAMETERS.items():
            text = text.replace(f"${{{name}}}", stand_in)
        return text
    raise AssertionError(f"cannot render {value!r}")


def _render_join_or_select(value: dict[str, Any]) -> str:
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    index, items = value["Fn::Select"]
    return _render_list(items)[int(index)]


def _render_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [render(item) for item in value]
    if isinstance(value, dict) and "Fn::Split" in value:
        separator, source = value["Fn::Split"]
        text = render(source)
        if separator == ":" and isinstance(source, dict) and "Ref" in source and not text.startswith("arn:"):
            # CDK splits a Ref on ":" only when the Ref is an ARN (a secret's, say): render one.
            text = f"arn:aws:service:eu-west-1:123456789012:resource:{text}-AbCdEf"
        return text.split(separator)
    raise AssertionError(f"cannot render a list from {value!r}")


def functions(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """Lambda functions of the topology by name (their POWERTOOLS_SERVICE_NAME)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for logical_id, resource in resources(template, "AWS::Lambda::Function"):
        variables = props(resource).get("Environment", {}).get("Variables", {})
        if "POWERTOOLS_SERVICE_NAME" in variables:
            found[variables["POWERTOOLS_SERVICE_NAME"]] = (logical_id, resource)
    return found


def environment(resource: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = props(resource)["Environment"]["Variables"]
    return variables


def role_statements(template: Template, role_logical_id: str) -> list[dict[str, Any]]:
    """Every statement of the identity policies attached to a role (inline and AWS::IAM::Policy)."""
    statements: list[dict[str, Any]] = []
    role = template["Resources"][role_logical_id]
    for policy in props(role).get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    for _, policy in resources(template, "AWS::IAM::Policy"):
        if any(referenced_id(r) == role_logical_id for r in props(policy).get("Roles", [])):
            statements.extend(props(policy)["PolicyDocument"]["Statement"])
    return statements


def identity_statements(template: Template) -> Iterator[dict[str, Any]]:
    """Every statement of every identity policy in the template."""
    for _, role in resources(template, "AWS::IAM::Role"):
        for policy in props(role).get("Policies", []):
            yield from policy["PolicyDocument"]["Statement"]
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for _, policy in resources(template, policy_type):
            yield from props(policy)["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def outputs(template: Template) -> dict[str, Any]:
    return {name: output["Value"] for name, output in template.get("Outputs", {}).items()}


def output_resource(template: Template, output_name: str) -> tuple[str, dict[str, Any]]:
    """The (logical id, resource) a stack output refers to, e.g. the secret `WebhookSecretsName` names."""
    value = outputs(template)[output_name]
    (found,) = [(i, r) for i, r in template["Resources"].items() if references(value, i)]
    return found


def topic_ids(template: Template) -> dict[str, str]:
    """The SNS topics of `trialgw.names.TOPICS` by logical name (their display name is `trialgw <logical>`)."""
    by_name = {render(props(t).get("DisplayName", "")): t_id for t_id, t in resources(template, "AWS::SNS::Topic")}
    return {topic.logical: by_name[f"trialgw {topic.logical}"] for topic in names.TOPICS}


def queue_ids(template: Template) -> dict[str, str]:
    """Every queue a function may consume, by the name `FunctionDef.consumes` uses: each queue of `trialgw.names.QUEUES`
    (found by what feeds it: its SNS topics' subscriptions, or the functions whose environment names its URL) and its
    dead-letter queue (`QueueDef.dead_letters`, found by the queue's redrive policy)."""
    topics = topic_ids(template)
    subscriptions = [props(s) for _, s in resources(template, "AWS::SNS::Subscription")]
    found: dict[str, str] = {}
    for queue in names.QUEUES:
        if queue.topics:
            fed = {
                referenced_id(s["Endpoint"])
                for s in subscriptions
                if s["Protocol"] == "sqs" and any(references(s["TopicArn"], topics[t]) for t in queue.topics)
            }
        else:
            fed = {
                referenced_id(environment(f)[queue.env_var])
                for _, f in functions(template).values()
                if queue.env_var in environment(f)
            }
        (queue_id,) = fed
        found[queue.logical] = queue_id
        redrive = props(template["Resources"][queue_id])["RedrivePolicy"]
        found[queue.dead_letters] = referenced_id(redrive["deadLetterTargetArn"])
    return found
