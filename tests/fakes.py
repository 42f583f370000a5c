"""In-memory fakes of the ports. They record what they were asked, and can be told to fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from trialgw.errors import MailError, StoreError
from trialgw.models import Trial
from trialgw.ports import OutgoingEmail


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
