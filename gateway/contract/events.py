"""What a component says when it has something to tell the cloud: one ``event/1``.

Components that own a fact (the registry its devices' lifecycle, the alert
service its alerts, the daemon its own start and stop) describe it as an
:class:`Event`; the bridge is only the transport that turns it into the
contract's payload and puts it in the outbox. Nobody outside a component has to
know how its facts map to events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # the contract's event type, e.g. "device.offline", "alert.firing"
    severity: str  # "info", "warning" or "critical"
    message: str
    at: float  # POSIX seconds: when it happened
    device_id: str | None = None
    alert: Mapping[str, Any] | None = None  # the contract's ``alert`` object


EmitEvent = Callable[[Event], Awaitable[None]]
"""Durably queue one event (returns once it is committed to the outbox)."""

QueueEvent = Callable[[Event], None]
"""Queue one event from synchronous code (the next flush commits it, in order)."""
