"""Two simulated weeks of a store's energy, minute by minute with an injected clock
(seconds, not weeks): the forecast-driven plan against the fixed schedule on the same
weather and the same shoppers. Printed side by side; ``./scripts/bench energy`` is
the same run as a benchmark."""

from __future__ import annotations

import logging

import structlog

from gateway.sim.energy_weeks import run_weeks


async def test_two_weeks_in_band_at_opening_and_at_least_15_percent_below_the_schedule() -> None:
    before = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        smart = await run_weeks(14)
        fixed = await run_weeks(14, baseline=True)
    finally:
        structlog.configure(**before)
    saving = 1 - smart.kwh / fixed.kwh
    print(
        f"\nforecast MAPE {smart.mape:.1f} % over {smart.mape_slots} slots; "
        f"kWh {smart.kwh:,.0f} vs {fixed.kwh:,.0f} under the schedule ({saving:.1%} less); "
        f"in band at opening (days of {smart.open_days}): {smart.in_band_days}"
    )
    assert smart.mape is not None and smart.mape < 30.0
    for zone, days in smart.in_band_days.items():
        assert days >= 0.95 * smart.open_days, (zone, days, smart.open_days)
    assert saving >= 0.15, saving
    assert smart.alerts == []
    # The gateway's estimate of the fixed schedule, from its meters and the schedule's
    # load, against the fixed schedule actually simulated on the same days.
    estimated, simulated = sum(smart.day_estimated_baseline_kwh), sum(fixed.day_kwh)
    print(f"fixed schedule: estimated {estimated:,.0f} kWh, simulated {simulated:,.0f} kWh")
    assert abs(estimated / simulated - 1) < 0.05
    for day, (e, b) in enumerate(zip(smart.day_estimated_baseline_kwh, fixed.day_kwh, strict=True)):
        assert abs(e / b - 1) < 0.15, (day, e, b)
    # Bounded writes: about one a quarter hour per zone, not one a minute.
    assert smart.writes < 6 * 14 * 96 * 1.5
