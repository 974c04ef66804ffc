"""The doors' people counters on the local API: who may report, what is kept, what goes
to the cloud.

Each counter is configured with its id, its report format, the SHA-256 of its token
(the token itself is never stored: a counter's token is a long random secret, so a
plain hash suffices and is compared in constant time) and the 12-hex device id its
telemetry carries (e.g. its MAC address). A report is refused whole with 401 (an
unknown counter, a wrong token: nothing stored) or 400 (what is wrong with it, e.g. a
period ending in the future). Periods older than the ten weeks kept are counted as
``too_old`` and not stored (one could not be told from a period counted and pruned
since). Its new periods are stored and their telemetry (``people_in``, ``people_out`` at the
period's end) produced in one transaction: a period is counted, and sent, once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlite_utils
import structlog

from gateway.bridge import payloads
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.energy import footfall
from gateway.energy.footfall import CountPeriod, FootfallError
from gateway.store import Database

log = structlog.get_logger("gateway.energy")

READINGS_PER_MESSAGE = 400  # ~110 bytes each: far below the contract's 128 KiB
KEEP_S = 10 * 7 * 86400  # periods kept: the forecast's history and its accuracy need 8 weeks
PRUNE_EVERY_S = 86400.0
FUTURE_S = 3600.0  # a period ending later than this ahead: the counter's clock is wrong


class CounterRefused(Exception):
    """Unknown counter or wrong token."""


@dataclass(frozen=True, slots=True)
class Counter:
    counter_id: str
    token_sha256: str
    format: str
    device_id: str


def token_hash(token: str) -> str:
    """What the configuration stores for a counter's token."""
    return hashlib.sha256(token.encode()).hexdigest()


class CounterReports:
    def __init__(
        self,
        db: Database,
        counters: Mapping[str, Counter],
        ident: payloads.Identity,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        for c in counters.values():
            if c.format not in footfall.FORMATS:
                raise ValueError(f"counter {c.counter_id}: unknown format {c.format!r}")
        self._db = db
        self._counters = dict(counters)
        self._ident = ident
        self._outbox = outbox
        self._clock = clock
        self.reports = 0
        self.refused = 0
        self.periods = 0
        self._pruned_at = float("-inf")

    async def report(self, counter_id: str, token: str, body: bytes) -> dict[str, Any]:
        """Take one counter's report. Raises :class:`CounterRefused` (nothing stored) or
        :class:`FootfallError` (nothing stored; the message says what is wrong)."""
        counter = self._counters.get(counter_id)
        if counter is None or not hmac.compare_digest(
            token_hash(token).encode(), counter.token_sha256.encode()
        ):
            self.refused += 1
            log.warning("counter report refused", counter_id=counter_id[:64])
            raise CounterRefused(counter_id)
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FootfallError("the report must be JSON") from exc
        periods = footfall.parse(counter.format, parsed)
        now = self._clock()
        for p in periods:
            if p.end > now + FUTURE_S:
                raise FootfallError(
                    f"a period ends {p.end - now:.0f} s in the future: check the counter's clock"
                )
        # Older than what is kept: it could not be told from one counted and pruned.
        recent = [p for p in periods if p.end >= now - KEEP_S]
        recorded = await self._db.run(
            partial(self._store, counter=counter, periods=recent, now=now)
        )
        if self._outbox is not None and recorded.new:
            self._outbox.produced()
        self.reports += 1
        self.periods += len(recorded.new)
        return {
            "stored": len(recorded.new),
            "repeated": recorded.repeated,
            "too_old": len(periods) - len(recent),
        }

    def _store(
        self,
        d: sqlite_utils.Database,
        counter: Counter,
        periods: list[CountPeriod],
        now: float,
    ) -> footfall.Recorded:
        recorded = footfall.record(d, counter.counter_id, periods, now)
        if now - self._pruned_at >= PRUNE_EVERY_S:  # years of reports: weeks kept
            footfall.prune(d, now - KEEP_S)
            self._pruned_at = now
        if self._outbox is not None and recorded.new:
            readings = [
                (counter.device_id, p.end, name, float(value))
                for p in recorded.new
                for name, value in (("people_in", p.entered), ("people_out", p.left))
            ]
            topic = self._outbox.topics.telemetry
            self._outbox.produce_in(
                d,
                [
                    Outgoing(
                        "telemetry",
                        topic,
                        payloads.telemetry(
                            self._ident, readings[i : i + READINGS_PER_MESSAGE], now
                        ),
                    )
                    for i in range(0, len(readings), READINGS_PER_MESSAGE)
                ],
            )
        return recorded

    async def slots(self, since: float, until: float) -> dict[float, float]:
        """People entering per 15-minute slot (all counters)."""
        return await self._db.read(partial(footfall.slot_counts, since=since, until=until))
