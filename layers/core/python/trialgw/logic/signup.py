"""Sign-up: rate-limit the address, create the trial, e-mail its key; leave nothing usable behind on failure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from trialgw.errors import DependencyUnavailable, MailError, RateLimited, StoreError
from trialgw.keys import hash_key, new_key
from trialgw.logic.trial_email import render_trial_email
from trialgw.models import SignupRequest, Trial
from trialgw.observability import logger, mask_email
from trialgw.ports import Clock, Mailer, SignupCounter, TrialStore
from trialgw.settings import SignupSettings


@dataclass(frozen=True, slots=True)
class SignupDeps:
    trials: TrialStore
    counter: SignupCounter
    mailer: Mailer
    clock: Clock


@dataclass(frozen=True, slots=True)
class SignupResult:
    masked_email: str
    expires_at: datetime


def _address_hash(email: str) -> str:
    # The counter is keyed by a hash so the rate-limit items hold no address.
    return hashlib.sha256(email.lower().encode()).hexdigest()


def sign_up(request: SignupRequest, settings: SignupSettings, deps: SignupDeps) -> SignupResult:
    """Creates a trial and e-mails its key. Raises RateLimited or DependencyUnavailable."""
    now = int(deps.clock())
    window_seconds = settings.signup_window_seconds
    window_start = now - now % window_seconds
    subject = _address_hash(request.email)
    masked = mask_email(request.email)

    try:
        admitted = deps.counter.acquire(
            subject,
            window_start=window_start,
            window_seconds=window_seconds,
            limit=settings.signup_limit_per_window,
        )
    except StoreError as error:
        raise DependencyUnavailable("Sign-up is temporarily unavailable. Please try again shortly.") from error
    if not admitted:
        retry_after = window_start + window_seconds - now
        logger.info("signup rate-limited", extra={"email": masked, "retry_after": retry_after})
        minutes = max(1, -(-retry_after // 60))
        raise RateLimited(
            f"Too many sign-ups for this e-mail address. Please try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}, or use the key we already sent you.",
            retry_after_seconds=retry_after,
        )

    key = new_key()
    trial = Trial(
        key_hash=hash_key(key),
        name=request.name,
        email=request.email,
        company=request.company,
        created_at=now,
        expires_at=now + settings.trial_lifetime_seconds,
    )
    try:
        deps.trials.create(trial, ttl=trial.expires_at + settings.expired_retention_seconds)
    except StoreError as error:
        _give_back(deps, subject, window_start)
        raise DependencyUnavailable("Sign-up is temporarily unavailable. Please try again shortly.") from error

    try:
        deps.mailer.send(render_trial_email(trial, key, settings))
    except MailError as error:
        _discard_trial(deps, trial)
        _give_back(deps, subject, window_start)
        raise DependencyUnavailable(
            "We could not send your e-mail right now, so no trial was created. Please try again shortly."
        ) from error

    logger.info("trial created", extra={"email": masked, "expires_at": trial.expires_at})
    return SignupResult(masked_email=masked, expires_at=trial.expires_at_utc)


def _discard_trial(deps: SignupDeps, trial: Trial) -> None:
    try:
        deps.trials.delete(trial.key_hash)
    except StoreError:
        # Harmless: the key exists nowhere but in the e-mail that was never sent, so nobody can use
        # this trial, and TTL removes it.
        logger.warning("could not discard an unsent trial; TTL will remove it")


def _give_back(deps: SignupDeps, subject: str, window_start: int) -> None:
    try:
        deps.counter.release(subject, window_start=window_start)
    except StoreError:
        logger.warning("could not give back a signup count; it expires with its window")


__all__ = ["SignupDeps", "SignupResult", "sign_up"]
