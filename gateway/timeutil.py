"""Time in the gateway: wall-clock timestamps for the wire, monotonic clocks for timers.

Timers, timeouts and intervals use :func:`time.monotonic` so that a wall clock
jumping forward or back never fires or stalls them. Timestamps that leave the
process use the contract's format: RFC 3339, UTC, millisecond precision, ``Z``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """``2026-11-24T18:05:01.123Z`` for an aware datetime (converted to UTC)."""
    if moment.tzinfo is None:
        raise ValueError("format_ts needs an aware datetime; naive times are ambiguous")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def format_epoch(seconds: float) -> str:
    """Contract timestamp for a POSIX time in seconds."""
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def now_ts() -> str:
    return format_ts(utc_now())


def parse_ts(text: str) -> datetime:
    """Parse a contract timestamp; raises ValueError naming the expected form."""
    if not _RFC3339_MS.match(text):
        raise ValueError(
            f"timestamp {text!r} is not RFC 3339 UTC with milliseconds "
            "(expected e.g. 2026-11-24T18:05:01.123Z)"
        )
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
