"""A store's floor plan: where the gateway boxes and the devices stand, and what a box hears.

Radio follows the log-distance path-loss model, the usual fit for indoor BLE:
the mean RSSI at ``d`` metres is ``rssi_at_1m - 10 * exponent * log10(d)``
(minus what a device's housing takes, such as a fridge's metal walls), and each
advert is heard with Gaussian noise around that mean. An advert below the
receiver's sensitivity is not heard at all. A box never considers a device
whose mean lies more than ``NOISE_MARGIN`` standard deviations below the
sensitivity: such a device is out of its range, and costs it nothing per advert.

Everything here is pure arithmetic, so that placement and hearing can be
checked without a bus, and a scenario plays out the same way every time.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

NOISE_MARGIN = 3.0  # a mean further below the sensitivity is never heard (p < 0.14 %)
MIN_DISTANCE_M = 1.0  # closer than this, the model's 1 m reference holds

Area = tuple[float, float, float, float]  # x0, y0, x1, y1 (metres)


@dataclass(frozen=True, slots=True)
class PathLoss:
    rssi_at_1m: float = -59.0
    exponent: float = 2.5
    noise_db: float = 3.0
    sensitivity_dbm: float = -100.0

    def mean_rssi(self, distance_m: float, attenuation_db: float = 0.0) -> float:
        d = max(distance_m, MIN_DISTANCE_M)
        return self.rssi_at_1m - 10.0 * self.exponent * math.log10(d) - attenuation_db

    def in_reach(self, mean: float) -> bool:
        """Whether adverts at this mean RSSI can ever be heard (within the noise)."""
        return mean >= self.sensitivity_dbm - NOISE_MARGIN * self.noise_db

    def range_m(self) -> float:
        """The distance at which the mean RSSI meets the sensitivity (no attenuation)."""
        return 10 ** ((self.rssi_at_1m - self.sensitivity_dbm) / (10.0 * self.exponent))

    def sample(self, mean: float, rng: random.Random) -> int | None:
        """The RSSI one advert is heard with, or None if it is lost below the sensitivity."""
        rssi = round(mean + rng.gauss(0.0, self.noise_db)) if self.noise_db else round(mean)
        if rssi < self.sensitivity_dbm:
            return None
        return min(0, rssi)


@dataclass(frozen=True, slots=True)
class FloorSpec:
    width_m: float
    height_m: float
    radio: PathLoss

    def contains(self, x: float, y: float) -> bool:
        return 0.0 <= x <= self.width_m and 0.0 <= y <= self.height_m


@dataclass(frozen=True, slots=True)
class Placement:
    x: float
    y: float
    attenuation_db: float = 0.0


def distance(ax: float, ay: float, bx: float, by: float) -> float:
    return math.hypot(ax - bx, ay - by)


def grid(count: int, area: Area, aisles: int | None = None) -> list[tuple[float, float]]:
    """``count`` points evenly over ``area``, one column after the other.

    A column runs along y, as a shelf runs along an aisle: with ``aisles`` the
    area has exactly that many shelf lines (an area of zero width is one shelf);
    without, the columns follow the area's proportions. Points sit at the centres
    of their cells, so they stay inside the area and off its edges.
    """
    x0, y0, x1, y1 = area
    w, h = x1 - x0, y1 - y0
    if aisles is not None:
        cols = min(aisles, count)
    elif w <= 0:
        cols = 1
    elif h <= 0:
        cols = count
    else:
        cols = max(1, min(count, round(math.sqrt(count * w / h))))
    rows = -(-count // cols)
    points = []
    for i in range(count):
        col, row = divmod(i, rows)
        points.append((x0 + w * (col + 0.5) / cols, y0 + h * (row + 0.5) / rows))
    return points


def uniform(area: Area, seed: int, address: str) -> tuple[float, float]:
    """A point drawn uniformly over ``area``, the same for this scenario seed and address."""
    digest = hashlib.sha256(f"storegw-floor:{seed}:{address.upper()}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    x0, y0, x1, y1 = area
    return (x0 + (x1 - x0) * rng.random(), y0 + (y1 - y0) * rng.random())
