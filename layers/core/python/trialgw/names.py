"""Names of tables, their keys and the TTL attribute: the one place the adapters, the CDK
constructs, the local stack and the test fixtures read them from."""

from __future__ import annotations

from dataclasses import dataclass

PARTITION_KEY = "pk"
SORT_KEY = "sk"
# DynamoDB's TTL deletes only eventually (hours to days later): every read checks expiry in code,
# this attribute is the garbage collector, never the gate.
TTL_ATTRIBUTE = "ttl"


@dataclass(frozen=True, slots=True)
class TableDef:
    """A DynamoDB table: `logical` names it in code, `env_var` carries its physical name to functions."""

    logical: str
    env_var: str
    local_name: str


TRIALS = TableDef(logical="trials", env_var="TRIALGW_TRIALS_TABLE", local_name="trialgw-trials")

WHITELIST = TableDef(logical="whitelist", env_var="TRIALGW_WHITELIST_TABLE", local_name="trialgw-whitelist")
MESSAGES = TableDef(logical="messages", env_var="TRIALGW_MESSAGES_TABLE", local_name="trialgw-messages")

# Powertools idempotency records of the delivery function: a redelivered SQS message never reaches a provider twice.
IDEMPOTENCY = TableDef(logical="idempotency", env_var="TRIALGW_IDEMPOTENCY_TABLE", local_name="trialgw-idempotency")

TABLES: tuple[TableDef, ...] = (TRIALS, WHITELIST, MESSAGES, IDEMPOTENCY)


@dataclass(frozen=True, slots=True)
class QueueDef:
    """An SQS queue (with its dead-letter queue); `env_var` carries its URL to functions."""

    logical: str
    env_var: str
    local_name: str


# Replies to end users now, accepted sends later: everything a channel provider must deliver.
OUTBOUND = QueueDef(logical="outbound", env_var="TRIALGW_OUTBOUND_QUEUE_URL", local_name="trialgw-outbound")
QUEUES: tuple[QueueDef, ...] = (OUTBOUND,)


@dataclass(frozen=True, slots=True)
class TopicDef:
    """An SNS topic a function subscribes to; `purpose` tells the operator what to connect to it."""

    logical: str
    local_name: str
    purpose: str
    # What its messages are, in a few words (the local stack's banner).
    carries: str


# AWS End User Messaging publishes two-way SMS (inbound texts) to this topic.
TWO_WAY_SMS = TopicDef(
    logical="twoWaySms",
    local_name="trialgw-two-way-sms",
    purpose="Set as the TwoWayChannelArn of your End User Messaging numbers (see infra/app.py)",
    carries="two-way SMS (texts from end users)",
)
# An End User Messaging configuration set's event destination publishes SMS delivery events (TEXT_DELIVERED, …) here.
SMS_EVENTS = TopicDef(
    logical="smsEvents",
    local_name="trialgw-sms-events",
    purpose="Add as an SNS event destination (TEXT_ events) of the smsConfigurationSet (see infra/app.py)",
    carries="SMS delivery events (status reports)",
)
TOPICS: tuple[TopicDef, ...] = (TWO_WAY_SMS, SMS_EVENTS)

# Item shapes in the trials table (pk / sk prefixes).
TRIAL_PK_PREFIX = "TRIAL#"
TRIAL_SK = "TRIAL"
SIGNUP_COUNTER_PK_PREFIX = "SIGNUPS#"
SIGNUP_COUNTER_SK_PREFIX = "WINDOW#"
# The trial item's set of whitelisted recipients ("<channel>#<address>"), kept by the whitelist's transaction.
MEMBERS_ATTRIBUTE = "members"
# The capacity breaker: its flag, and one counter per fixed window of accepted messages.
CAPACITY_PK = "CAPACITY"
CAPACITY_BREAKER_SK = "BREAKER"
CAPACITY_WINDOW_SK_PREFIX = "WINDOW#"
# A trial item counts its accepted sends per capacity window too (`accepted_in_<window start>`), in the quota's own
# write: what `trialgw-admin capacity status` ranks trials by when the breaker trips. Not `sent_…`: those are the
# channels' quota counters.
WINDOW_SENT_PREFIX = "accepted_in_"


def window_sent_attribute(window_start: int) -> str:
    return f"{WINDOW_SENT_PREFIX}{window_start}"


# Item shapes in the whitelist table: a trial's entries under the trial, and the reverse index (which
# trials an address is on) under the address, written in one transaction with the trial's `members`.
RECIPIENT_SK_PREFIX = "RCPT#"
ADDRESS_PK_PREFIX = "ADDR#"
JOIN_HINT_PK_PREFIX = "HINT#"
# The automatic replies sent to one sender: "REPLIES#<channel>#<sha256 of the address>", one item per limit shape
# ("LOG#<limit>/<window seconds>"), holding the last <limit> replies' times (see adapters/dynamo_replies).
REPLY_LOG_PK_PREFIX = "REPLIES#"
REPLY_LOG_SK_PREFIX = "LOG#"

# Item shapes in the messages table: a trial's messages, and the provider message ids already seen.
MESSAGE_SK_PREFIX = "MSG#"
SEEN_PK_PREFIX = "SEEN#"
# Pointers from the ids status reports carry (ours, as CM's `reference` or the SMS `Context`, and the provider's own
# message id) to a sent message's record; written when the message is sent.
MESSAGE_ID_PK_PREFIX = "MSGID#"
PROVIDER_ID_PK_PREFIX = "PROVIDERID#"
POINTER_SK = "POINTER"
SEEN_SK = "SEEN"

# Every table has the same key shape and billing; only its items differ.
KEY_ATTRIBUTES: tuple[tuple[str, str], ...] = ((PARTITION_KEY, "S"), (SORT_KEY, "S"))

# The JSON keys of the provider credentials secret (AWS): what the delivery function reads (fields of
# `trialgw.settings.DeliverySettings`), what the stack documents and `trialgw-admin providers
# set-credential` accepts. Channel providers issue these credentials; the operator puts them in.
PROVIDER_SECRET_KEYS = ("cm_product_token", "whatsapp_access_token", "messenger_page_token", "instagram_access_token")
# The stack output naming that secret.
PROVIDER_SECRETS_OUTPUT = "ProviderSecretsName"
