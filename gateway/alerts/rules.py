"""Alert rules: which subjects, which metric, when it fires and when it clears."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gateway.registry import DeviceRecord

Severity = Literal["info", "warning", "critical"]

# Rules about the gateway itself (buffer, broker, adapters) have this subject.
GATEWAY_SUBJECT = "gateway"


@dataclass(frozen=True)
class Selector:
    """Which devices a rule applies to. Empty fields match everything; all given must match."""

    kinds: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()  # a device matches if it has any of them
    device_ids: frozenset[str] = frozenset()
    gateway: bool = False  # the rule is about the gateway, not devices

    def matches(self, device: DeviceRecord) -> bool:
        if self.gateway:
            return False
        return (
            (not self.kinds or device.kind.value in self.kinds)
            and (not self.models or device.model in self.models)
            and (not self.tags or not self.tags.isdisjoint(device.tags))
            and (not self.device_ids or device.device_id in self.device_ids)
        )


@dataclass(frozen=True)
class Rule:
    """``metric`` ``op`` ``threshold`` for ``for_s`` fires; crossing ``clear`` back resolves.

    With ``op="above"``: the condition starts when the value exceeds ``threshold``
    and ends only when it falls below ``clear`` (hysteresis; ``clear`` defaults
    to ``threshold``). Values inside the band keep the current phase.
    ``keep_firing_for_s`` keeps a firing alert up for that long after it cleared
    (a flapping value does not resolve and re-fire).
    """

    name: str
    metric: str  # a reading name, battery_pct, rssi, seconds_since_seen, or a gateway metric
    op: Literal["above", "below"]
    threshold: float
    clear: float | None = None
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    severity: Severity = "warning"
    message: str = "{rule}: {metric} {value} {op} {threshold}"
    selector: Selector = field(default_factory=Selector)

    @property
    def clear_at(self) -> float:
        return self.threshold if self.clear is None else self.clear

    def triggered(self, value: float) -> bool:
        return value > self.threshold if self.op == "above" else value < self.threshold

    def cleared(self, value: float) -> bool:
        c = self.clear_at
        return value < c if self.op == "above" else value > c

    def render(self, value: float | None, subject: str, name: str | None) -> str:
        values = {
            "rule": self.name,
            "metric": self.metric,
            "value": "n/a" if value is None else f"{value:g}",
            "op": self.op,
            "threshold": f"{self.threshold:g}",
            "clear": f"{self.clear_at:g}",
            "for": _human(self.for_s),
            "device": subject,
            "name": name or subject,
        }
        try:
            return self.message.format(**values)
        except (KeyError, IndexError, ValueError):
            return f"{self.name}: {self.metric} {values['value']} {self.op} {values['threshold']}"


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
