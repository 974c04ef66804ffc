"""What the label scheduler works on: jobs, their outcomes, and their time budget.

A job's time budget counts the time something was wrong with the label: its
attempts, its backoffs and deferrals, its waits to be seen. It does not count
the time the job was ready and only waited its turn for a free slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Priority(IntEnum):
    FLASH = 0
    PRICE = 1
    RESYNC = 2


class Outcome(StrEnum):
    DONE = "done"
    REQUEUE = "requeue"
    NOT_SEEN = "not-seen"
    RETRY = "retry"
    DEFER = "defer"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a newer job for the label replaced this one


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    reason: str | None = None


@dataclass(eq=False)
class LabelJob:
    """One piece of work for one label. ``key`` identifies what it replaces."""

    label_id: str
    priority: Priority
    kind: str  # "content" or "flash": a newer job of the same kind supersedes
    payload: object  # what the runner needs (content bytes, flash parameters)
    queued_at: float = 0.0
    attempts: int = 0
    not_before: float = 0.0
    waiting_for_sight: bool = False
    last_reason: str | None = None
    started_at: float | None = None  # first attempt, or first wait to be seen: budget start
    ready_at: float | None = None  # when it becomes ready to run (None: running, or not seen)
    excused_s: float = 0.0  # time since started_at spent ready, waiting for a slot
    generation: int = 0  # bumped on every change of state: older index entries are void

    def ready(self, now: float) -> bool:
        """Ready to run: only waiting for a free slot."""
        return self._paused_since(now) is not None

    def _paused_since(self, now: float) -> float | None:
        """When the budget clock stopped because the job became ready (None: it runs)."""
        if self.waiting_for_sight or self.ready_at is None or self.ready_at > now:
            return None
        return self.ready_at if self.started_at is None else max(self.ready_at, self.started_at)

    def charged_s(self, now: float) -> float:
        """Time counted against the budget: since the start, minus waits for a slot."""
        if self.started_at is None:
            return 0.0
        paused = self._paused_since(now)
        return (now if paused is None else paused) - self.started_at - self.excused_s

    def leave_ready(self, now: float) -> None:
        """It stops waiting for a slot (it runs, or must wait to be seen): bank the wait."""
        paused = self._paused_since(now)
        if self.started_at is None:
            self.started_at = now
        elif paused is not None:
            self.excused_s += now - paused
        self.ready_at = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.label_id, self.kind)


@dataclass(frozen=True)
class SchedulerOptions:
    max_attempts: int = 8
    budget_s: float = 1800.0
    backoff_min_s: float = 5.0
    backoff_max_s: float = 300.0
    defer_s: float = 600.0
    requeue_s: float = 0.5
