"""What a component says when it has something to tell the cloud: one ``event/1``.

Components that own a fact (the registry its devices' lifecycle, the alert
service its alerts, the daemon its own start and stop) describe it as an
:class:`Event`; the bridge is only the transport that turns it into the
contract's payload and puts it in the outbox. Nobody outside a component has to
know how its facts map to events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite_utils


@dataclass(frozen=True, slots=True)
class Event:
    type: str  # the contract's event type, e.g. "device.offline", "alert.firing"
    severity: str  # "info", "warning" or "critical"
    message: str
    at: float  # POSIX seconds: when it happened
    device_id: str | None = None
    alert: Mapping[str, Any] | None = None  # the contract's ``alert`` object
    price: Mapping[str, Any] | None = None  # v1.2: the ``price`` object (price.*)
    audit: Mapping[str, Any] | None = None  # v1.2: the ``audit`` object (audit.action)


EmitEvent = Callable[[Event], Awaitable[None]]
"""Durably queue one event (returns once it is committed to the outbox)."""

QueueEvent = Callable[[Event], None]
"""Queue one event from synchronous code (the next flush commits it, in order)."""


class EventsIn(Protocol):
    """Events that must commit together with the caller's own rows (a held price and the
    label results it causes): ``write_in`` inside the caller's transaction, on the
    writer thread; ``written()`` once it committed (the publisher wakes)."""

    def write_in(self, d: sqlite_utils.Database, events: Sequence[Event]) -> None: ...

    def written(self) -> None: ...
