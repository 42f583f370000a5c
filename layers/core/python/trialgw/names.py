"""Names of tables, their keys and the TTL attribute: the one place the adapters, the CDK
constructs, the local stack and the test fixtures read them from."""

from __future__ import annotations

import re
from typing import NamedTuple

from trialgw import budgets

PARTITION_KEY = "pk"
SORT_KEY = "sk"
# DynamoDB's TTL deletes only eventually (hours to days later): every read checks expiry in code,
# this attribute is the garbage collector, never the gate.
TTL_ATTRIBUTE = "ttl"


class IndexDef(NamedTuple):
    """A global secondary index: its key attributes as (name, DynamoDB type), projecting the table's keys only."""

    name: str
    partition_key: tuple[str, str]
    sort_key: tuple[str, str]


class TableDef(NamedTuple):
    """A DynamoDB table: `logical` names it in code, `env_var` carries its physical name to functions."""

    logical: str
    env_var: str
    local_name: str
    indexes: tuple[IndexDef, ...] = ()


# A trial's outbound messages by status and time (`status`, `at`: attributes every outbound record has; inbound ones
# have no status, so they are not in it). The stale-message sweeper's one query: the `queued` records older than the
# longest a delivery can take, without reading any other record. DynamoDB keeps the index in step with every status
# change.
STATUS_INDEX = IndexDef(name="status-at", partition_key=("status", "S"), sort_key=("at", "N"))

TRIALS = TableDef(logical="trials", env_var="TRIALGW_TRIALS_TABLE", local_name="trialgw-trials")

WHITELIST = TableDef(logical="whitelist", env_var="TRIALGW_WHITELIST_TABLE", local_name="trialgw-whitelist")
MESSAGES = TableDef(
    logical="messages", env_var="TRIALGW_MESSAGES_TABLE", local_name="trialgw-messages", indexes=(STATUS_INDEX,)
)

# Powertools idempotency records of the delivery function's replies (a send's record is its own claim): a redelivered
# SQS reply never reaches a provider twice.
IDEMPOTENCY = TableDef(logical="idempotency", env_var="TRIALGW_IDEMPOTENCY_TABLE", local_name="trialgw-idempotency")

TABLES: tuple[TableDef, ...] = (TRIALS, WHITELIST, MESSAGES, IDEMPOTENCY)


# A function `consumes` a queue by its logical name, and a queue's dead-letter queue by this suffix after it.
DEAD_LETTERS_SUFFIX = "DeadLetters"


class QueueDef(NamedTuple):
    """An SQS queue (with its dead-letter queue); `env_var` carries its URL to functions.

    `topics` are the SNS topics (logical names) subscribed to it: their notifications arrive as SQS messages whose
    body is SNS's JSON envelope (`Type`, `MessageId`, `TopicArn`, `Message`, ...), not raw.
    """

    logical: str
    env_var: str
    local_name: str
    # Longer than its consumer's timeout: a message in flight stays hidden for a whole invocation.
    visibility_timeout_seconds: int = 60
    topics: tuple[str, ...] = ()
    # The longest delay its producers put on a message (SendMessage's DelaySeconds): its age alarm waits this much
    # longer, since SQS may count a delayed message's age from when it was sent.
    longest_delay_seconds: int = 0

    @property
    def dead_letters(self) -> str:
        """The logical name of its dead-letter queue, for a function that consumes what failed for good."""
        return f"{self.logical}{DEAD_LETTERS_SUFFIX}"


# Replies to end users now, accepted sends later: everything a channel provider must deliver.
OUTBOUND = QueueDef(
    logical="outbound",
    env_var="TRIALGW_OUTBOUND_QUEUE_URL",
    local_name="trialgw-outbound",
    # Its consumer's time budget decides (the delivery function's; its dead letters' consumer needs less).
    visibility_timeout_seconds=budgets.DELIVERY.visibility_timeout_seconds,
)


class TopicDef(NamedTuple):
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

# Both SMS topics feed one queue: SNS invokes nothing directly, so a notification whose processing fails is retried
# and then kept in the queue's dead-letter queue instead of being dropped after SNS's asynchronous invocation.
SMS_INBOUND = QueueDef(
    logical="smsInbound",
    env_var="TRIALGW_SMS_INBOUND_QUEUE_URL",
    local_name="trialgw-sms-inbound",
    topics=(TWO_WAY_SMS.logical, SMS_EVENTS.logical),
    visibility_timeout_seconds=budgets.SMS_INBOUND.visibility_timeout_seconds,
)
# A trial's own webhook events (issue 18: inbound messages, status reports, test events and replays), between where
# they happen and the worker that POSTs them to the trial's URLs; retries are re-queued with a delay by the worker.
WEBHOOK_EVENTS = QueueDef(
    logical="webhookEvents",
    env_var="TRIALGW_WEBHOOK_EVENTS_QUEUE_URL",
    local_name="trialgw-webhook-events",
    # The worker's retries wait up to SQS's longest delay (trialgw.adapters.sqs_webhook_events.MAX_DELAY_SECONDS).
    longest_delay_seconds=900,
    visibility_timeout_seconds=budgets.WEBHOOK_DELIVERY.visibility_timeout_seconds,
)
QUEUES: tuple[QueueDef, ...] = (OUTBOUND, SMS_INBOUND, WEBHOOK_EVENTS)


def queue_source(logical: str) -> tuple[QueueDef, bool]:
    """What a function consuming `logical` reads: the queue, and whether it is that queue's dead-letter queue."""
    for queue in QUEUES:
        if logical == queue.logical:
            return queue, False
        if logical == queue.dead_letters:
            return queue, True
    raise KeyError(f"no queue or dead-letter queue is named {logical!r}")


# Item shapes in the trials table (pk / sk prefixes).
TRIAL_PK_PREFIX = "TRIAL#"
TRIAL_SK = "TRIAL"
# A join code's lookup item (`JOIN#<SHA-256 of the code>` / `JOIN`): the key hash of the trial it whitelists for.
JOIN_PK_PREFIX = "JOIN#"
JOIN_SK = "JOIN"
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


def message_sort_key(at: int, message_id: str, *, at_ms: int | None = None) -> str:
    """A message's sort key: `MSG#<at, 11 digits of seconds>.<3 digits of milliseconds>#<id>`, or, for a record
    written before times had milliseconds (`at_ms` None), `MSG#<at, 11 digits>#<id>`. The seconds come first in
    both, and `#` sorts before `.`, so old and new records of one trial sort together by time."""
    if at_ms is None:
        return f"{MESSAGE_SK_PREFIX}{at:011d}#{message_id}"
    return f"{MESSAGE_SK_PREFIX}{at_ms // 1000:011d}.{at_ms % 1000:03d}#{message_id}"


def parse_message_sort_key(sort_key: str) -> tuple[int, int | None, str]:
    """(at, at_ms or None, message id) of a key `message_sort_key` made; ValueError for any other."""
    found = _MESSAGE_SORT_KEY.fullmatch(sort_key)
    if found is None:
        raise ValueError("not a message's sort key")
    seconds, millis, message_id = found.groups()
    at = int(seconds)
    return at, (None if millis is None else at * 1000 + int(millis)), message_id


_MESSAGE_SORT_KEY = re.compile(rf"{re.escape(MESSAGE_SK_PREFIX)}([0-9]{{11}})(?:\.([0-9]{{3}}))?#(\S{{1,300}})")
# The trial's webhook log, under the trial in the messages table (issue 18): an attempt
# (`HOOK#<at ms, 13 digits>#<attempt id>`, newest first by key) and the event it was for (`HOOKEVT#<event id>`, what a
# replay sends again). Neither has a `status` attribute (an attempt's HTTP status is `http_status`): they stay out of
# the status index, whose key is text.
WEBHOOK_ATTEMPT_SK_PREFIX = "HOOK#"
WEBHOOK_EVENT_SK_PREFIX = "HOOKEVT#"


def webhook_attempt_sort_key(at_ms: int, attempt_id: str) -> str:
    return f"{WEBHOOK_ATTEMPT_SK_PREFIX}{at_ms:013d}#{attempt_id}"


def webhook_event_sort_key(event_id: str) -> str:
    return f"{WEBHOOK_EVENT_SK_PREFIX}{event_id}"


# A send's Idempotency-Key under its trial (a hash of the key): the first answer, or the claim of the send in progress.
SEND_KEY_SK_PREFIX = "IDEMKEY#"
SEEN_PK_PREFIX = "SEEN#"
# Pointers from the ids status reports carry (ours, as CM's `reference` or the SMS `Context`, and the provider's own
# message id) to a sent message's record; written when the message is sent.
MESSAGE_ID_PK_PREFIX = "MSGID#"
PROVIDER_ID_PK_PREFIX = "PROVIDERID#"
POINTER_SK = "POINTER"
SEEN_SK = "SEEN"

# Every table has the same key shape and billing; only its items differ.
KEY_ATTRIBUTES: tuple[tuple[str, str], ...] = ((PARTITION_KEY, "S"), (SORT_KEY, "S"))

# The JSON keys of the provider credentials secret are declared by the provider packages
# (`trialgw.providers.registry.PROVIDER_SECRET_KEYS`). The stack output naming that secret:
PROVIDER_SECRETS_OUTPUT = "ProviderSecretsName"
