"""How DynamoDB says that a condition did not hold, read in one place.

A single-item write whose condition fails raises `ConditionalCheckFailedException`; a transaction is cancelled as a
whole (`TransactionCanceledException`) and gives one reason per item, in request order, where a failed condition is
`ConditionalCheckFailed` (no `Exception`) and an item that was fine is `None`.
"""

from __future__ import annotations

from types import TracebackType

from botocore.exceptions import BotoCoreError, ClientError

from trialgw.errors import StoreError

CONDITION_FAILED = "ConditionalCheckFailedException"
CONDITION_FAILED_REASON = "ConditionalCheckFailed"
TRANSACTION_CANCELED = "TransactionCanceledException"


def error_code(error: ClientError) -> str:
    """The error's code (`""` when the answer had none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def condition_failed(error: ClientError) -> bool:
    """A single-item write refused by its condition."""
    return error_code(error) == CONDITION_FAILED


def cancellation_codes(error: ClientError) -> list[str]:
    """A cancelled transaction's reason codes, one per item in request order (empty for any other error)."""
    reasons = error.response.get("CancellationReasons") or []
    return [str(reason.get("Code", "")) for reason in reasons]


def first_condition_failed(error: ClientError) -> bool:
    """A cancelled transaction whose first item's condition failed."""
    codes = cancellation_codes(error)
    return bool(codes) and codes[0] == CONDITION_FAILED_REASON


class ConditionalWrite:
    """One conditional write, as a `with` block: a failed condition is an answer (`held` is False afterwards), any
    other failure a StoreError saying what could not be done ("could not <what>: <error type>")."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.held = True

    def __enter__(self) -> ConditionalWrite:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        if isinstance(error, ClientError) and condition_failed(error):
            self.held = False
            return True
        if isinstance(error, ClientError | BotoCoreError):
            raise StoreError(f"could not {self.what}: {type(error).__name__}") from error
        return False


__all__ = [
    "CONDITION_FAILED",
    "CONDITION_FAILED_REASON",
    "TRANSACTION_CANCELED",
    "ConditionalWrite",
    "cancellation_codes",
    "condition_failed",
    "error_code",
    "first_condition_failed",
]
