"""What every simulated device shares: identity, advertising rhythm, radio, range."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence

from gateway.sim.model import SimDevice, SimError

RSSI_MIN = -100


class RadioDevice(SimDevice):
    def __init__(
        self,
        *,
        address: str,
        name: str | None,
        interval_s: float,
        heard_by: Mapping[str, int],
        rssi_noise: float,
        away: Sequence[tuple[float, float]],
        seed: int,
        address_type: str = "public",
    ) -> None:
        self.address = address.upper()
        self.name = name
        self.advert_interval_s = interval_s
        self.address_type = "random" if address_type == "random" else "public"
        self._heard_by = dict(heard_by)
        self._rssi_noise = rssi_noise
        self._away = list(away)
        self._forced_range: bool | None = None
        self.rng = random.Random(seed)
        self.epoch = 0.0  # simulator start (monotonic); set by the scenario
        self.connects: Counter[str] = Counter()  # adapter name -> connections made

    def in_range(self, now: float) -> bool:
        if self._forced_range is not None:
            return self._forced_range
        t = now - self.epoch
        return not any(start <= t < end for start, end in self._away)

    def rssi(self, adapter: str, now: float) -> int | None:
        base = self._heard_by.get(adapter)
        if base is None:
            return None
        noise = self.rng.gauss(0.0, self._rssi_noise) if self._rssi_noise else 0.0
        return max(RSSI_MIN, min(0, round(base + noise)))

    def connected(self, adapter: str) -> None:
        self.connects[adapter] += 1

    def set_in_range(self, in_range: bool) -> None:
        self._forced_range = in_range

    def set_reading(self, name: str, value: float) -> None:
        raise SimError("org.bluez.Error.NotSupported", f"{self.address} has no reading {name}")
