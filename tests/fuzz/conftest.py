"""The fuzz suite runs against a local stack of its own, started with known webhook secrets and room in the quotas
and the capacity breaker (`properties.stack_environment`); the SNS entry point, which has no HTTP route, is fuzzed
in-process on moto with the integration tests' fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import start_local_stack
from tests.fuzz.properties import FuzzTarget, configure_hypothesis, stack_environment
from tests.integration.conftest import aws_env

__all__ = ["aws_env", "fuzz_target"]

# Room for the accepted sends of `make test`'s examples on every channel, and still reached now and then (row 13).
TEST_QUOTA = 40

configure_hypothesis()


# Package scope: the stack stops when the fuzz suite is done, not at the end of `make test`.
@pytest.fixture(scope="package")
def fuzz_target() -> Iterator[FuzzTarget]:
    with start_local_stack(stack_environment(quota=TEST_QUOTA)) as stack:
        yield FuzzTarget(stack, strict=True)
