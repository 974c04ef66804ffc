"""Printing a benchmark table and writing its JSON to the results folder."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("STORE_GATEWAY_BENCH_RESULTS", "bench-results"))


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


def report(name: str, rows: list[dict[str, Any]], *, write: bool = True) -> None:
    """Rows: {figure, value (a number, or text), unit, baseline?, baseline_value?, ratio?};
    printed, and written as JSON unless ``write`` is False (a run that found problems)."""
    print(f"\n== {name}")
    width = max(len(r["figure"]) for r in rows)
    for r in rows:
        value = r["value"]
        shown = f"{value:>12,.2f}" if isinstance(value, int | float) else f"{value:>12}"
        line = f"  {r['figure']:<{width}}  {shown} {r['unit']}"
        if r.get("baseline"):
            line += (
                f"   baseline {r['baseline']}: {r['baseline_value']:,.2f}   ratio {r['ratio']:.2f}"
            )
        print(line)
    if not write:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(
        json.dumps({"name": name, "at": time.time(), "machine": machine(), "rows": rows}, indent=2)
    )
    print(f"  (written to {out})")
