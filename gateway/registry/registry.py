"""The registry: decode results in, device table and meaningful changes out.

The hot path (:meth:`Registry.observe`, :meth:`Registry.heard`) is a dictionary
update and a few comparisons: no I/O, no logging, no allocation beyond the
change it returns. Persistence and publishing happen elsewhere, in batches,
from the changes and the ``dirty`` set.

Online/offline: each device's advertising interval is learned as an
exponentially weighted mean of the gaps between adverts. A device is offline
once it has been silent for ``offline_factor`` x that interval, clamped between
``offline_floor_s`` and ``offline_ceiling_s``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from drivers.types import Advertisement, BeaconFormat, DeviceKind, Observation, address_to_device_id
from gateway.registry.device import ChangeKind, DeviceChange, DeviceRecord

Listener = Callable[[DeviceChange], None]

_INTERVAL_WEIGHT = 0.2  # EWMA weight of a new gap
_RSSI_WEIGHT = 0.25  # EWMA weight of a new RSSI sample
_BATTERY_DEADBAND_PCT = 1.0
LAST_SEEN_SAVE_S = 300.0  # a device's persisted last seen is at most this old (disk writes bounded)


@dataclass(frozen=True)
class RegistryOptions:
    offline_factor: float = 5.0
    offline_floor_s: float = 30.0
    offline_ceiling_s: float = 900.0
    default_deadband: float = 0.0
    deadbands: Mapping[str, float] = field(default_factory=dict)
    tags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


class Registry:
    def __init__(self, options: RegistryOptions) -> None:
        self._options = options
        self._devices: dict[str, DeviceRecord] = {}
        self._listeners: list[Listener] = []
        self.dirty: set[str] = set()  # device ids whose persisted row is stale
        self.adverts_total = 0

    # ---- configuration -----------------------------------------------------------------

    @property
    def options(self) -> RegistryOptions:
        return self._options

    def reconfigure(self, options: RegistryOptions) -> None:
        """Apply new options (SIGHUP): tags and dead-bands take effect at once."""
        self._options = options
        for device in self._devices.values():
            tags = options.tags.get(device.device_id, ())
            if tags != device.tags:
                device.tags = tags
                self.dirty.add(device.device_id)

    def subscribe(self, listener: Listener) -> None:
        """``listener`` is called synchronously with every change; keep it cheap."""
        self._listeners.append(listener)

    # ---- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[DeviceRecord]:
        return iter(self._devices.values())

    def get(self, device_id: str) -> DeviceRecord | None:
        return self._devices.get(device_id)

    def online_count(self) -> int:
        return sum(1 for d in self._devices.values() if d.online)

    # ---- loading -----------------------------------------------------------------------

    def load(self, records: Iterable[DeviceRecord], now_mono: float) -> None:
        """Restore persisted devices. They start offline until heard again."""
        for record in records:
            record.online = False
            record.last_seen_mono = now_mono
            record.tags = self._options.tags.get(record.device_id, ())
            self._devices[record.device_id] = record

    # ---- the hot path ------------------------------------------------------------------

    def heard(
        self,
        address: str,
        rssi: int | None,
        now_mono: float,
        now_wall: float,
        adapter: str | None = None,
    ) -> bool:
        """A device repeated its last payload: track presence without decoding.

        Returns False when the device is unknown or offline: then the advert must be
        decoded and passed to :meth:`observe`, which reports the device (back) online.
        """
        device = self._devices.get(_device_id(address))
        if device is None or not device.online:
            return False
        self._touch(device, rssi, now_mono, now_wall, adapter)
        return True

    def observe(
        self, adv: Advertisement, obs: Observation, now_mono: float, now_wall: float
    ) -> DeviceChange | None:
        """Fold one decoded advertisement in; return what changed meaningfully, if anything."""
        self.adverts_total += 1
        device_id = _device_id(adv.address)
        device = self._devices.get(device_id)
        kinds: set[ChangeKind] = set()
        if device is None:
            device = DeviceRecord(
                device_id=device_id,
                address=_upper(adv.address),
                kind=obs.kind,
                model=obs.model,
                first_seen=now_wall,
                last_seen=now_wall,
                last_seen_mono=now_mono,
                name=adv.name,
                rssi=None if adv.rssi is None else float(adv.rssi),
                tags=self._options.tags.get(device_id, ()),
            )
            if adv.rssi is not None:
                device.adapter = adv.adapter
            self._devices[device_id] = device
            kinds.add(ChangeKind.NEW)
        else:
            if not device.online:
                kinds.add(ChangeKind.ONLINE)
            self._touch(device, adv.rssi, now_mono, now_wall, adv.adapter)
        device.adverts += 1
        device.online = True

        if device.kind is not obs.kind and obs.kind is not DeviceKind.UNKNOWN:
            device.kind = obs.kind
            kinds.add(ChangeKind.INFO)
        if device.model != obs.model:
            device.model = obs.model
            kinds.add(ChangeKind.INFO)
        if adv.name and adv.name != device.name:
            device.name = adv.name
            kinds.add(ChangeKind.INFO)
        # Eddystone TLM frames carry no identity: keep the UID/URL identity we have.
        if (
            obs.beacon is not None
            and obs.beacon != device.beacon
            and (device.beacon is None or obs.beacon.format is not BeaconFormat.EDDYSTONE_TLM)
        ):
            device.beacon = obs.beacon
            kinds.add(ChangeKind.INFO)
        if obs.label is not None and obs.label != device.label:
            before = device.label
            if (
                before is not None
                and before.boot_marker is not None
                and obs.label.boot_marker != before.boot_marker
            ):
                kinds.add(ChangeKind.REBOOTED)
            device.label = obs.label
            kinds.add(ChangeKind.INFO)
        if obs.battery_pct is not None or obs.battery_mv is not None:
            if _battery_changed(device, obs):
                kinds.add(ChangeKind.BATTERY)
            device.battery_pct = (
                obs.battery_pct if obs.battery_pct is not None else device.battery_pct
            )
            device.battery_mv = obs.battery_mv if obs.battery_mv is not None else device.battery_mv

        changed_readings: tuple[str, ...] = ()
        if obs.readings:
            device.readings_at = now_wall
            changed_readings = self._fold_readings(device, obs.readings)
            if changed_readings:
                kinds.add(ChangeKind.READINGS)

        if not kinds:
            return None
        self.dirty.add(device_id)
        change = DeviceChange(device, frozenset(kinds), changed_readings)
        for listener in self._listeners:
            listener(change)
        return change

    def _touch(
        self,
        device: DeviceRecord,
        rssi: int | None,
        now_mono: float,
        now_wall: float,
        adapter: str | None,
    ) -> None:
        before_rssi, before_mono = device.rssi, device.last_seen_mono
        gap = now_mono - device.last_seen_mono
        if gap > 0:
            if device.interval_s is None:
                device.interval_s = gap
            elif device.online:
                # A gap spanning an offline period says nothing about the interval.
                device.interval_s += _INTERVAL_WEIGHT * (gap - device.interval_s)
        device.last_seen_mono = now_mono
        device.last_seen = now_wall
        if rssi is not None:
            device.rssi = (
                float(rssi)
                if device.rssi is None
                else device.rssi + _RSSI_WEIGHT * (rssi - device.rssi)
            )
            if adapter is None:
                return
            heard_by = device.heard_by
            if heard_by is None:
                if device.adapter is None or device.adapter == adapter:
                    device.adapter = adapter  # the one adapter: rssi, last_seen_mono
                    return
                # A second adapter: from now on each has its own.
                first = float(rssi) if before_rssi is None else before_rssi
                heard_by = device.heard_by = {device.adapter: (first, before_mono)}
            heard = heard_by.get(adapter)
            smoothed = float(rssi)
            if heard is not None:
                smoothed = heard[0] + _RSSI_WEIGHT * (rssi - heard[0])
            heard_by[adapter] = (smoothed, now_mono)

    def _fold_readings(
        self, device: DeviceRecord, readings: Mapping[str, float]
    ) -> tuple[str, ...]:
        deadbands = self._options.deadbands
        default = self._options.default_deadband
        changed: list[str] = []
        for name, value in readings.items():
            device.readings[name] = value
            last = device.reported.get(name)
            if last is None or abs(value - last) > deadbands.get(name, default):
                device.reported[name] = value
                changed.append(name)
        return tuple(changed)

    # ---- periodic ----------------------------------------------------------------------

    def offline_after(self, device: DeviceRecord) -> float:
        """Seconds of silence after which ``device`` counts as offline."""
        o = self._options
        learned = o.offline_factor * device.interval_s if device.interval_s else o.offline_ceiling_s
        return min(max(learned, o.offline_floor_s), o.offline_ceiling_s)

    def sweep(self, now_mono: float) -> list[DeviceChange]:
        """Mark devices silent beyond their margin offline, and those whose persisted last
        seen is ``LAST_SEEN_SAVE_S`` old dirty; call about once a second."""
        changes: list[DeviceChange] = []
        dirty = self.dirty
        for device in self._devices.values():
            # Last seen is kept fresh on disk at a bounded rate (a beacon's readings never
            # change, so nothing else would save it): `devices` without the daemon.
            if device.last_seen - device.saved_seen >= LAST_SEEN_SAVE_S:
                dirty.add(device.device_id)
            if device.online and now_mono - device.last_seen_mono > self.offline_after(device):
                device.online = False
                self.dirty.add(device.device_id)
                change = DeviceChange(device, frozenset({ChangeKind.OFFLINE}))
                changes.append(change)
                for listener in self._listeners:
                    listener(change)
        return changes

    def label_changed(self, device_id: str) -> None:
        """What a label shows or should show changed (the label pipeline says so): the
        listeners hear it like any other change of the device (its state goes out again)."""
        device = self._devices.get(device_id)
        if device is None:
            return
        change = DeviceChange(device, frozenset({ChangeKind.LABEL}))
        for listener in self._listeners:
            listener(change)


_id_cache: dict[str, str] = {}


def _upper(address: str) -> str:
    """The address in capitals: the one received when it already is (no copy kept)."""
    upper = address.upper()
    return address if upper == address else upper


def _device_id(address: str) -> str:
    device_id = _id_cache.get(address)
    if device_id is None:
        device_id = address_to_device_id(address)
        if len(_id_cache) < 100_000:
            _id_cache[address] = device_id
    return device_id


def _battery_changed(device: DeviceRecord, obs: Observation) -> bool:
    if obs.battery_pct is not None:
        if device.battery_pct is None:
            return True
        return abs(obs.battery_pct - device.battery_pct) >= _BATTERY_DEADBAND_PCT
    return device.battery_mv is None and obs.battery_mv is not None
