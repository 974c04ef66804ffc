"""Telemetry: readings sampled per device, batched into messages by count, size and age."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.registry import DeviceRecord

READING_BYTES = 110  # one reading in the JSON, with its device id and timestamp


@dataclass(frozen=True)
class TelemetryOptions:
    sample_interval_s: float = 60.0
    max_readings: int = 500
    max_bytes: int = 65536
    max_delay_s: float = 10.0


class TelemetryBatcher:
    """Collects (device, time, name, value) and says when a batch must go out."""

    def __init__(self, options: TelemetryOptions, clock: Callable[[], float] = time.monotonic):
        self._o = options
        self._clock = clock
        self._readings: list[tuple[str, float, str, float]] = []
        self._first_at: float | None = None
        self._sampled: dict[str, float] = {}  # device id -> monotonic time of last sample
        self._limit = max(1, min(options.max_readings, (options.max_bytes - 400) // READING_BYTES))

    def sample(self, device: DeviceRecord, names: tuple[str, ...] = (), slack: float = 0.0) -> None:
        """Take the device's readings: the changed ``names`` now, all of them per interval
        (``slack``: that much early counts as due, for a caller that samples on a tick)."""
        if device.readings_at is None or not device.readings:
            return
        now = self._clock()
        last = self._sampled.get(device.device_id, -1e18)
        due = now - last >= self._o.sample_interval_s - slack
        take = device.readings.keys() if due else names
        if not take:
            return
        if due:
            self._sampled[device.device_id] = now
        for name in take:
            self._readings.append(
                (device.device_id, device.readings_at, name, device.readings[name])
            )
        if self._first_at is None:
            self._first_at = now

    def due_batches(self, force: bool = False) -> list[list[tuple[str, float, str, float]]]:
        if not self._readings:
            return []
        now = self._clock()
        old = self._first_at is not None and now - self._first_at >= self._o.max_delay_s
        if not (force or old or len(self._readings) >= self._limit):
            return []
        out = [
            self._readings[i : i + self._limit] for i in range(0, len(self._readings), self._limit)
        ]
        self._readings = []
        self._first_at = None
        return out

    def pending(self) -> int:
        return len(self._readings)
