"""Acknowledging label commands per contract: progress, then completed or partial.

Every ``PROGRESS_S`` (and whenever a label finishes) the reporter looks at
commands with unreported results: while targets are open it sends a
``progress`` ack with counts (at most once per ``PROGRESS_S`` per command, and
only when something changed); once every target has a
result it sends the final ``completed`` (nothing failed) or ``partial`` ack,
with the results spread over several acks if needed so that each stays far
below the contract's 128 KiB. A result is marked reported only after its ack was
accepted by the outbox, so after a crash it is reported again, never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import sqlite_utils
import structlog

from gateway.labels import store
from gateway.labels.model import LabelResult, ResultStatus
from gateway.store import Database
from gateway.tasks import wait_set

log = structlog.get_logger("gateway.labels")

PROGRESS_S = 10.0
RESULTS_PER_ACK = 400  # ~160 bytes each: ~64 KiB per ack


@dataclass(frozen=True, slots=True)
class CampaignAck:
    command_id: str
    command_type: str | None
    status: str  # progress | completed | partial
    counts: Mapping[str, int]
    results: Sequence[LabelResult]


AckSink = Callable[[CampaignAck], Awaitable[None]]


class CampaignReporter:
    def __init__(
        self,
        db: Database,
        emit: AckSink,
        period_s: float = PROGRESS_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._emit = emit
        self._period = period_s
        self._clock = clock
        self._last_counts: dict[str, dict[str, int]] = {}
        self._last_progress: dict[str, float] = {}
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Something finished: report soon (final acks need not wait for the period)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            await wait_set(self._wake, self._period)
            self._wake.clear()
            await self.report()

    async def report(self, *, progress: bool = True) -> None:
        for command_id in await self._db.read(store.open_commands):
            await self._report_one(command_id, progress)

    async def _report_one(self, command_id: str, progress: bool) -> None:
        def read(d: sqlite_utils.Database) -> tuple[int, dict[str, int], str | None, bool]:
            return (
                store.open_targets(d, command_id),
                store.command_counts(d, command_id),
                store.command_type(d, command_id),
                store.command_finished(d, command_id),
            )

        open_targets, counts, type_, finished = await self._db.read(read)
        if open_targets:
            now = self._clock()
            due = now - self._last_progress.get(command_id, -self._period) >= self._period
            if progress and due and counts != self._last_counts.get(command_id):
                self._last_counts[command_id] = counts
                self._last_progress[command_id] = now
                await self._emit(CampaignAck(command_id, type_, "progress", counts, ()))
            return
        final = "partial" if counts.get(ResultStatus.FAILED.value) else "completed"
        sent = False
        while True:
            batch = await self._db.read(
                lambda d: store.unacked_results(d, command_id, RESULTS_PER_ACK)
            )
            if not batch and (sent or finished):
                break
            results = [r for _, r in batch]  # none: every target another gateway's
            await self._emit(CampaignAck(command_id, type_, final, counts, results))
            seqs = [s for s, _ in batch]
            await self._db.run(partial(store.mark_acked, command_id=command_id, seqs=seqs))
            sent = True

        def forget(d: sqlite_utils.Database) -> int:
            store.finish_command(d, command_id)
            return store.forget_command(d, command_id)

        reopened = await self._db.run(forget)
        self._last_counts.pop(command_id, None)
        self._last_progress.pop(command_id, None)
        log.info("label command finished", command_id=command_id, status=final, counts=counts)
        if reopened:
            # Targets taken back (a label come back from another gateway) while the final
            # ack went out: kept, and reported in a final ack of their own.
            log.info("label command targets reopened", command_id=command_id, targets=reopened)
