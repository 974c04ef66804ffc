"""Durations in the config: a number of seconds, or text such as "90s", "5m", "1h", "1d"."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration (seconds, or text like 90s, 5m, 1h)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        m = _PATTERN.match(value)
        if not m:
            raise ValueError(f'{value!r} is not a duration; expected e.g. 30, "90s", "5m", "1h"')
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ValueError("expected a duration (seconds, or text like 90s, 5m, 1h)")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
