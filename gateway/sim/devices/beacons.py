"""Navigation beacons: iBeacon, AltBeacon, Eddystone (UID or URL, with TLM frames)."""

from __future__ import annotations

import time
from typing import Any, Literal

from drivers.types import uuid16
from gateway.sim.devices import encoders
from gateway.sim.devices.base import RadioDevice
from gateway.sim.model import AdvertFrame

EDDYSTONE = uuid16(0xFEAA)
TLM_EVERY = 10  # every tenth Eddystone advert is a TLM frame

BeaconKind = Literal["ibeacon", "altbeacon", "eddystone-uid", "eddystone-url"]


class BeaconDevice(RadioDevice):
    def __init__(
        self,
        *,
        kind: BeaconKind,
        tx_power: int,
        beacon_uuid: str = "",
        major: int = 0,
        minor: int = 0,
        namespace: str = "",
        instance: str = "",
        url: str = "",
        battery_mv: int = 3000,
        **radio: Any,
    ) -> None:
        super().__init__(**radio)
        self.kind = kind
        self.tx_power = tx_power
        self.battery_mv = battery_mv
        self._count = 0
        self._started = time.monotonic()
        if kind == "ibeacon":
            self._frame = AdvertFrame(
                manufacturer_data={0x004C: encoders.ibeacon(beacon_uuid, major, minor, tx_power)},
                name=self.name,
            )
        elif kind == "altbeacon":
            self._frame = AdvertFrame(
                manufacturer_data={0x0118: encoders.altbeacon(beacon_uuid, major, minor, tx_power)},
                name=self.name,
            )
        elif kind == "eddystone-uid":
            self._frame = self._eddystone(encoders.eddystone_uid(namespace, instance, tx_power))
        else:
            self._frame = self._eddystone(encoders.eddystone_url(url, tx_power))

    def _eddystone(self, data: bytes) -> AdvertFrame:
        return AdvertFrame(
            service_data={EDDYSTONE: data}, service_uuids=(EDDYSTONE,), name=self.name
        )

    def advert(self, now: float) -> AdvertFrame:
        self._count += 1
        if self.kind.startswith("eddystone") and self._count % TLM_EVERY == 0:
            tlm = encoders.eddystone_tlm(self.battery_mv, 21.5, self._count, now - self._started)
            return self._eddystone(tlm)
        return self._frame
