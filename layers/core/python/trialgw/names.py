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

TABLES: tuple[TableDef, ...] = (TRIALS,)

# Item shapes in the trials table (pk / sk prefixes).
TRIAL_PK_PREFIX = "TRIAL#"
TRIAL_SK = "TRIAL"
SIGNUP_COUNTER_PK_PREFIX = "SIGNUPS#"
SIGNUP_COUNTER_SK_PREFIX = "WINDOW#"

# Every table has the same key shape and billing; only its items differ.
KEY_ATTRIBUTES: tuple[tuple[str, str], ...] = ((PARTITION_KEY, "S"), (SORT_KEY, "S"))
