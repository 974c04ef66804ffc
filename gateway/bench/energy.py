"""Energy: two weeks of the virtual store (``gateway/sim/energy_weeks.py``) run with the
forecast-driven plan beside the same two weeks under the fixed schedule the store ran
before (the baseline of the run): electricity for air-conditioning and lights, the
zones in their band at opening, writes made, and the forecast's own accuracy (MAPE on
the last four weeks of counts). ``--smoke``: three days.

    ./scripts/bench energy
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from gateway.bench.harness import Run, Table, run_bench
from gateway.sim.energy_weeks import WeeksResult, run_weeks

SAVING_GOAL = 0.15
IN_BAND_GOAL = 0.95


async def body(run: Run) -> list[Table]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    days = 3 if run.smoke else 14
    run.at(f"{days} days with the forecast-driven plan")
    smart = await run_weeks(days)
    run.at(f"the same {days} days under the fixed schedule")
    fixed = await run_weeks(days, baseline=True)
    rows = _rows(smart, fixed, days)
    if not run.smoke:
        saving = 1 - smart.kwh / fixed.kwh
        if saving < SAVING_GOAL or smart.worst_in_band < IN_BAND_GOAL:
            raise RuntimeError(
                f"saving {saving:.1%} (goal {SAVING_GOAL:.0%}), worst zone in band at opening "
                f"on {smart.worst_in_band:.0%} of days (goal {IN_BAND_GOAL:.0%})"
            )
    return [("energy", rows)]


def _rows(smart: WeeksResult, fixed: WeeksResult, days: int) -> list[dict[str, Any]]:
    def against(figure: str, value: float, base: float, unit: str) -> dict[str, Any]:
        return {
            "figure": figure,
            "value": value,
            "unit": unit,
            "baseline": "fixed schedule, same days",
            "baseline_value": base,
            "ratio": value / base if base else 0.0,
        }

    return [
        {"figure": "days simulated", "value": days, "unit": "days"},
        against("electricity, air-conditioning + lights", smart.kwh, fixed.kwh, "kWh"),
        against("electricity, air-conditioning", smart.hvac_kwh, fixed.hvac_kwh, "kWh"),
        against("electricity, lights", smart.light_kwh, fixed.light_kwh, "kWh"),
        {
            "figure": "worst zone in band at opening",
            "value": 100 * smart.worst_in_band,
            "unit": f"% of {smart.open_days} open days",
        },
        {
            "figure": "the same under the fixed schedule",
            "value": 100 * fixed.worst_in_band,
            "unit": f"% of {fixed.open_days} open days",
        },
        {"figure": "writes to the zones' controllers", "value": smart.writes, "unit": "writes"},
        against(
            "the fixed schedule as the gateway estimates it from its meters",
            sum(smart.day_estimated_baseline_kwh),
            sum(fixed.day_kwh),
            "kWh",
        ),
        {
            "figure": "the estimate's worst day against the simulated schedule",
            "value": 100 * _worst_day(smart, fixed),
            "unit": "% off",
        },
        {
            "figure": "footfall forecast MAPE, last four weeks",
            "value": smart.mape if smart.mape is not None else 0.0,
            "unit": f"% over {smart.mape_slots} slots with 5+ people",
        },
    ]


def _worst_day(smart: WeeksResult, fixed: WeeksResult) -> float:
    pairs = zip(smart.day_estimated_baseline_kwh, fixed.day_kwh, strict=True)
    return max((abs(e / b - 1) for e, b in pairs if b > 0), default=0.0)


def main(argv: list[str]) -> int:
    return run_bench("energy", body, argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
