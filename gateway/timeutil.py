"""Time in the gateway: wall-clock timestamps for the wire, monotonic clocks for timers.

Timers, timeouts and intervals use :func:`time.monotonic` so that a wall clock
jumping forward or back never fires or stalls them. Timestamps that leave the
process use the contract's format: RFC 3339, UTC, millisecond precision, ``Z``.

Ages that must survive a restart (how long a buffered message has waited) are
kept on two clocks: the wall clock, and the time since boot (``CLOCK_BOOTTIME``,
which counts suspend and which no time sync ever steps) with the kernel's boot
id. Within one boot the age comes from the time since boot, so a box without a
real-time clock that boots with a stale wall clock and is stepped forward days
later by NTP does not see its buffer age by days; across a reboot only the
wall clock can tell.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")

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


@cache
def boot_id() -> str:
    """The kernel's id of this boot; without one (not Linux), one per process, so that
    ages across processes fall back to the wall clock."""
    try:
        return BOOT_ID_FILE.read_text().strip() or uuid.uuid4().hex
    except OSError:
        return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Instant:
    """A moment on the wall clock and on this boot's clock (see the module's notes)."""

    wall: float
    boot: str
    since_boot: float

    def age_of(self, wall: float, boot: str | None, since_boot: float | None) -> float:
        """Seconds since a moment recorded as (wall, boot, since_boot); old records
        without the boot clock (``None``) are aged on the wall clock."""
        if boot == self.boot and since_boot is not None:
            return self.since_boot - since_boot
        return self.wall - wall


def now_instant() -> Instant:
    return Instant(time.time(), boot_id(), time.clock_gettime(time.CLOCK_BOOTTIME))
