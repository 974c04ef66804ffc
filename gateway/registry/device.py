"""One device as the registry knows it, and the changes it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from drivers.types import BeaconInfo, DeviceKind, LabelAdvert


class ChangeKind(StrEnum):
    NEW = "new"  # first time this device was ever seen
    ONLINE = "online"  # was offline (or unknown after a restart), now heard again
    OFFLINE = "offline"  # silent beyond its margin
    READINGS = "readings"  # a reading moved beyond its dead-band
    BATTERY = "battery"
    INFO = "info"  # kind, model, name, beacon identity or label advert changed
    REBOOTED = "rebooted"  # the device's advert says it restarted (label boot marker)
    LABEL = "label"  # what the label shows or should show changed (from the label pipeline)


@dataclass(slots=True)
class DeviceRecord:
    """Mutable state of one device. Owned by the registry; read, don't write, elsewhere."""

    device_id: str
    address: str
    kind: DeviceKind
    model: str
    first_seen: float  # wall clock, POSIX seconds
    last_seen: float  # wall clock, POSIX seconds
    last_seen_mono: float  # monotonic seconds (timers)
    name: str | None = None
    rssi: float | None = None  # smoothed
    battery_pct: float | None = None
    battery_mv: int | None = None
    readings: dict[str, float] = field(default_factory=dict)
    readings_at: float | None = None  # wall clock of the newest readings
    reported: dict[str, float] = field(default_factory=dict)  # values last reported as a change
    beacon: BeaconInfo | None = None
    label: LabelAdvert | None = None
    tags: tuple[str, ...] = ()
    online: bool = True
    interval_s: float | None = None  # learned advertising interval (EWMA of gaps)
    adverts: int = 0  # adverts heard since start (not persisted)
    # Which adapters hear it (not persisted). While one adapter alone has heard it,
    # ``adapter`` names it (its smoothed RSSI is ``rssi``, it last heard it at
    # ``last_seen_mono``); once another does, ``heard_by`` holds every one of them:
    # adapter -> (smoothed RSSI, monotonic time last heard). Most devices in a store
    # are heard by one adapter: no dictionary for them.
    adapter: str | None = None
    heard_by: dict[str, tuple[float, float]] | None = None
    saved_seen: float = 0.0  # the last_seen its persisted row has (not persisted itself)

    @property
    def rssi_int(self) -> int | None:
        return None if self.rssi is None else round(self.rssi)

    def best_adapter(self, among: list[str], since_mono: float) -> str | None:
        """The adapter among ``among`` that heard this device loudest since ``since_mono``."""
        if self.heard_by is None:
            alone = self.adapter in among and self.last_seen_mono >= since_mono
            return self.adapter if alone else None
        best: tuple[float, str] | None = None
        for name in among:
            heard = self.heard_by.get(name)
            if heard is None or heard[1] < since_mono:
                continue
            if best is None or heard[0] > best[0]:
                best = (heard[0], name)
        return None if best is None else best[1]


@dataclass(frozen=True, slots=True)
class DeviceChange:
    device: DeviceRecord
    kinds: frozenset[ChangeKind]
    readings: tuple[str, ...] = ()  # names of readings beyond their dead-band
