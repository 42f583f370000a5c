"""In-memory fakes of the ports. They record what they were asked, and can be told to fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from trialgw.errors import MailError, QueueError, StoreError
from trialgw.models import Channel, Trial
from trialgw.ports import LoggedMessage, Membership, OutboundMessage, OutgoingEmail, WhitelistOutcome


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTrialStore:
    trials: dict[str, Trial] = field(default_factory=dict)
    ttls: dict[str, int] = field(default_factory=dict)
    fail_create: bool = False
    fail_delete: bool = False
    deleted: list[str] = field(default_factory=list)

    def create(self, trial: Trial, *, ttl: int) -> None:
        if self.fail_create or trial.key_hash in self.trials:
            raise StoreError("create failed")
        self.trials[trial.key_hash] = trial
        self.ttls[trial.key_hash] = ttl

    def get(self, key_hash: str) -> Trial | None:
        return self.trials.get(key_hash)

    def delete(self, key_hash: str) -> None:
        if self.fail_delete:
            raise StoreError("delete failed")
        self.deleted.append(key_hash)
        self.trials.pop(key_hash, None)


@dataclass
class FakeSignupCounter:
    counts: dict[tuple[str, int], int] = field(default_factory=dict)
    fail: bool = False

    def acquire(self, subject_hash: str, *, window_start: int, window_seconds: int, limit: int) -> bool:
        if self.fail:
            raise StoreError("counter failed")
        current = self.counts.get((subject_hash, window_start), 0)
        if current >= limit:
            return False
        self.counts[(subject_hash, window_start)] = current + 1
        return True

    def release(self, subject_hash: str, *, window_start: int) -> None:
        key = (subject_hash, window_start)
        if self.counts.get(key, 0) > 0:
            self.counts[key] -= 1


@dataclass
class FakeMailer:
    sent: list[OutgoingEmail] = field(default_factory=list)
    fail: bool = False

    def send(self, email: OutgoingEmail) -> None:
        if self.fail:
            raise MailError("mail failed")
        self.sent.append(email)


@dataclass
class FakeWhitelistStore:
    entries: dict[str, set[tuple[Channel, str]]] = field(default_factory=dict)
    expiry: dict[str, int] = field(default_factory=dict)
    hints: set[tuple[Channel, str, str]] = field(default_factory=set)
    fail: bool = False

    def add(self, trial: Trial, channel: Channel, address: str, *, now: int, limit: int, ttl: int) -> WhitelistOutcome:
        if self.fail:
            raise StoreError("whitelist failed")
        entries = self.entries.setdefault(trial.key_hash, set())
        if (channel, address) in entries:
            return WhitelistOutcome.ALREADY
        if len(entries) >= limit:
            return WhitelistOutcome.FULL
        entries.add((channel, address))
        self.expiry[trial.key_hash] = trial.expires_at
        return WhitelistOutcome.ADDED

    def memberships(self, channel: Channel, address: str) -> list[Membership]:
        if self.fail:
            raise StoreError("whitelist failed")
        return [
            Membership(key_hash=key_hash, expires_at=self.expiry[key_hash])
            for key_hash, entries in self.entries.items()
            if (channel, address) in entries
        ]

    def remove(self, key_hash: str, channel: Channel, address: str) -> None:
        self.entries.get(key_hash, set()).discard((channel, address))

    def claim_join_hint(self, channel: Channel, address: str, *, day: str, ttl: int) -> bool:
        if (channel, address, day) in self.hints:
            return False
        self.hints.add((channel, address, day))
        return True


@dataclass
class FakeMessageLog:
    seen: set[tuple[str, str]] = field(default_factory=set)
    recorded: list[LoggedMessage] = field(default_factory=list)
    released: list[tuple[str, str]] = field(default_factory=list)

    def claim(self, provider: str, provider_message_id: str, *, ttl: int) -> bool:
        if (provider, provider_message_id) in self.seen:
            return False
        self.seen.add((provider, provider_message_id))
        return True

    def release(self, provider: str, provider_message_id: str) -> None:
        self.released.append((provider, provider_message_id))
        self.seen.discard((provider, provider_message_id))

    def record(self, message: LoggedMessage) -> None:
        self.recorded.append(message)


@dataclass
class FakeOutboundQueue:
    queued: list[OutboundMessage] = field(default_factory=list)
    fail: bool = False

    def enqueue(self, message: OutboundMessage) -> None:
        if self.fail:
            raise QueueError("queue failed")
        self.queued.append(message)
