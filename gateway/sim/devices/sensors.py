"""Sensor tags (RuuviTag RAWv2 and BTHome v2) with values that live over time.

Temperature follows a base value with a slow wave and noise, plus door-open
excursions (a jump that decays back) at random moments; humidity follows with
its own noise; the battery drains slowly. ``set_reading`` pins a value from
then on (tests and drills drive alerts with it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from drivers.types import uuid16
from gateway.sim.devices import encoders
from gateway.sim.devices.base import RadioDevice
from gateway.sim.model import AdvertFrame

BTHOME = uuid16(0xFCD2)
SensorFormat = Literal["ruuvi", "bthome", "bthome-encrypted"]


# Measurement noise per advert (one standard deviation) of the humidity and temperature
# sensors in BLE tags (BME280, SHT3x/SHT4x class): hundredths of a degree, a tenth of a
# percent of humidity. What moves a reading beyond the gateway's dead-bands is the room:
# the slow wave and the door openings.
TEMPERATURE_NOISE_C = 0.02
HUMIDITY_NOISE_PCT = 0.1


@dataclass(frozen=True)
class Climate:
    temperature_c: float
    temperature_noise: float = TEMPERATURE_NOISE_C
    wave_amplitude: float = 0.3
    wave_period_s: float = 1800.0
    humidity_pct: float = 60.0
    humidity_noise: float = HUMIDITY_NOISE_PCT
    door_opens_per_hour: float = 0.0
    door_rise_c: float = 3.0
    door_decay_s: float = 300.0


class SensorDevice(RadioDevice):
    def __init__(
        self,
        *,
        fmt: SensorFormat,
        climate: Climate,
        battery_mv: int = 3000,
        drain_mv_per_day: float = 2.0,
        tx_power: int = 4,
        bind_key: bytes | None = None,
        **radio: Any,
    ) -> None:
        super().__init__(**radio)
        self.fmt = fmt
        self.climate = climate
        self.battery_mv = float(battery_mv)
        self._drain_per_s = drain_mv_per_day / 86400.0
        self.tx_power = tx_power
        self.bind_key = bind_key
        self._pinned: dict[str, float] = {}
        self._sequence = 0
        self._last_now: float | None = None
        self._door_until = -1.0
        self._door_started = -1.0

    def set_reading(self, name: str, value: float) -> None:
        if name not in ("temperature_c", "humidity_pct", "battery_pct"):
            super().set_reading(name, value)
        self._pinned[name] = value

    def readings(self, now: float) -> dict[str, float]:
        c = self.climate
        t = now - self.epoch
        if self._last_now is not None:
            dt = max(0.0, now - self._last_now)
            self.battery_mv = max(2000.0, self.battery_mv - self._drain_per_s * dt)
            # A door opens with the configured rate (a Poisson process).
            if c.door_opens_per_hour and self.rng.random() < c.door_opens_per_hour * dt / 3600:
                self._door_started = now
        self._last_now = now
        temp = c.temperature_c + c.wave_amplitude * math.sin(2 * math.pi * t / c.wave_period_s)
        temp += self.rng.gauss(0.0, c.temperature_noise)
        if self._door_started >= 0:
            temp += c.door_rise_c * math.exp(-(now - self._door_started) / c.door_decay_s)
        humidity = c.humidity_pct + self.rng.gauss(0.0, c.humidity_noise)
        values = {
            "temperature_c": round(temp, 2),
            "humidity_pct": round(min(100.0, max(0.0, humidity)), 2),
        }
        for name, pinned in self._pinned.items():
            if name in values:
                values[name] = pinned
        return values

    def door_open(self, now: float) -> bool:
        return self._door_started >= 0 and now - self._door_started < 60

    def battery_pct(self) -> int:
        if "battery_pct" in self._pinned:
            return round(self._pinned["battery_pct"])
        return max(0, min(100, round((self.battery_mv - 2500) / 5)))

    def advert(self, now: float) -> AdvertFrame:
        values = self.readings(now)
        self._sequence += 1
        mv = round(self.battery_mv)
        if "battery_pct" in self._pinned:
            mv = 2500 + round(self._pinned["battery_pct"] * 5)
        if self.fmt == "ruuvi":
            data = encoders.ruuvi_rawv2(
                temperature_c=values["temperature_c"],
                humidity_pct=values["humidity_pct"],
                pressure_hpa=1013.25,
                acceleration_g=(0.0, 0.0, 1.0),
                battery_mv=mv,
                tx_power_dbm=self.tx_power,
                movement=0,
                sequence=self._sequence,
                mac=self.address,
            )
            return AdvertFrame(manufacturer_data={0x0499: data}, name=self.name)
        objects = encoders.bthome_objects(
            packet_id=self._sequence,
            battery_pct=self.battery_pct(),
            temperature_c=values["temperature_c"],
            humidity_pct=values["humidity_pct"],
            door_open=self.door_open(now) if self.climate.door_opens_per_hour else None,
        )
        key = self.bind_key if self.fmt == "bthome-encrypted" else None
        frame = encoders.bthome_frame(objects, mac=self.address, key=key, counter=self._sequence)
        return AdvertFrame(service_data={BTHOME: frame}, service_uuids=(BTHOME,), name=self.name)
