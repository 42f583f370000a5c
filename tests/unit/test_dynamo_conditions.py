"""A conditional write's answer, read in one place: its condition held, did not, or the store failed."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from trialgw.adapters.dynamo_conditions import ConditionalWrite, cancellation_codes, first_condition_failed
from trialgw.errors import StoreError


def client_error(code: str, **response: Any) -> ClientError:
    answer: Any = {"Error": {"Code": code, "Message": "no"}, **response}
    return ClientError(answer, "UpdateItem")


def test_a_write_that_went_through_held() -> None:
    with ConditionalWrite("revoke the trial") as write:
        pass
    assert write.held


def test_a_failed_condition_is_an_answer_not_an_error() -> None:
    with ConditionalWrite("revoke the trial") as write:
        raise client_error("ConditionalCheckFailedException")
    assert not write.held


@pytest.mark.parametrize(
    "error",
    [client_error("ProvisionedThroughputExceededException"), EndpointConnectionError(endpoint_url="http://x")],
    ids=["throttled", "no connection"],
)
def test_any_other_aws_failure_is_a_store_error_saying_what_could_not_be_done(error: Exception) -> None:
    expected = f"^could not revoke the trial: {type(error).__name__}$"
    with pytest.raises(StoreError, match=expected), ConditionalWrite("revoke the trial"):
        raise error


def test_a_bug_inside_the_block_is_not_hidden() -> None:
    with pytest.raises(KeyError), ConditionalWrite("revoke the trial"):
        raise KeyError("answer")


def test_a_cancelled_transaction_gives_its_reasons_in_request_order() -> None:
    error = client_error(
        "TransactionCanceledException", CancellationReasons=[{"Code": "ConditionalCheckFailed"}, {"Code": "None"}]
    )
    assert cancellation_codes(error) == ["ConditionalCheckFailed", "None"]
    assert first_condition_failed(error)
    assert not first_condition_failed(client_error("ConditionalCheckFailedException"))
