"""The send use case and the status endpoint as the send function answers them: each outcome in CM's answer
(`trialgw.gateway.respond`), a failed dependency as the 503 its exception handler gives. For tests that assert
the answers users get while driving the use cases with fakes or their own clients."""

from __future__ import annotations

from collections.abc import Callable

from trialgw.errors import DependencyUnavailable
from trialgw.gateway.respond import GatewayAnswer, send_answer, status_answer, unavailable_answer
from trialgw.logic import send as use_case
from trialgw.logic.send import SendDeps
from trialgw.logic.send_outcomes import Refused, SendRequest
from trialgw.ports import Clock, TrialStore
from trialgw.settings import SendSettings


def _answered(run: Callable[[], GatewayAnswer]) -> GatewayAnswer:
    try:
        return run()
    except DependencyUnavailable as error:
        return unavailable_answer(error)


def send(
    parsed: SendRequest | Refused, settings: SendSettings, deps: SendDeps, *, idempotency_key: str | None = None
) -> GatewayAnswer:
    return _answered(
        lambda: send_answer(use_case.send(parsed, settings, deps, idempotency_key=idempotency_key), settings)
    )


def trial_status(token: str | None, settings: SendSettings, trials: TrialStore, clock: Clock) -> GatewayAnswer:
    return _answered(lambda: status_answer(use_case.trial_status(token, settings, trials, clock), settings))
