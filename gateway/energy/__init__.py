"""Energy: lighting and air-conditioning that follow the footfall the store expects.

One way through, one step per minute of store time (the clock is injected, so a
fortnight runs in seconds in a test):

    footfall counts (per 15-minute slot)  ->  forecast (per weekday x slot)
      ->  plan (per zone and slot: pure, from opening hours + forecast + what the
          zone measures)  ->  guard (limits, rate of change, minimum on/off times)
      ->  the zone's controller (written, read back, compared)

- :mod:`gateway.energy.model`: the store's calendar (opening hours, closed days)
  and its zones, as configured;
- :mod:`gateway.energy.footfall`: counts per slot, each counter's period once;
- :mod:`gateway.energy.forecast`: expected footfall per slot for the next day,
  learned on the box, with its own accuracy (MAPE);
- :mod:`gateway.energy.plan`: what each zone should do in a slot, and the fixed
  schedule a store runs without this (the baseline the savings are measured on);
- :mod:`gateway.energy.control`: the bounds every write goes through, and the loop
  that writes a plan to the zones and checks what they report back.
"""

from gateway.energy.forecast import Forecaster, mape
from gateway.energy.model import SLOT_S, SLOTS_PER_DAY, Calendar, HvacZone, LightZone
from gateway.energy.plan import Planner, ZoneSetting

__all__ = [
    "SLOTS_PER_DAY",
    "SLOT_S",
    "Calendar",
    "Forecaster",
    "HvacZone",
    "LightZone",
    "Planner",
    "ZoneSetting",
    "mape",
]
