"""One alert: a (rule, subject) episode from pending to resolved."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AlertPhase(StrEnum):
    PENDING = "pending"  # condition holds, waiting for ``for``
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(slots=True)
class Alert:
    rule: str
    subject: str  # device id, or "gateway"
    phase: AlertPhase
    since_mono: float  # when the condition started (monotonic)
    started_at: float  # wall clock of the same moment
    severity: str
    metric: str
    threshold: float
    value: float | None
    id: str | None = None  # assigned when it fires
    resolved_at: float | None = None
    cleared_since_mono: float | None = None  # for keep_firing_for
    message: str = ""
    acknowledged_by: str | None = None
    silenced_until: float | None = None  # wall clock
    silenced_by: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)

    @property
    def device_id(self) -> str | None:
        return None if self.subject == "gateway" else self.subject
