"""The label scheduler: which label transfer runs next, on which adapter, when.

Adapters hold only a few connections at once and BlueZ answers ``InProgress``
to a second concurrent connect, so each adapter has a number of slots and a
connect gate (one connect in flight). Jobs are picked by priority (flash >
price > re-sync), then least-tried first, then oldest. A label is served by the
adapter that hears it best (``locate``); a label nobody heard recently waits
until it is seen again.

Outcomes of an attempt decide what happens next:

- ``REQUEUE``: no slot, ``InProgress`` — try again soon, no penalty;
- ``NOT_SEEN``: the label is not around — wait until it is seen again;
- ``RETRY``: timeout or protocol error — exponential backoff with a cap;
- ``DEFER``: the label is busy or its battery is low — wait longer;
- ``DONE`` / ``FAILED``: finished (``SUPERSEDED`` when a newer job took over).

A job that has not succeeded within its attempt or time budget is finished as
``FAILED`` with the last reason. The time budget counts the time something was
wrong with the label: its attempts, its backoffs and deferrals, its waits to be
seen. It does not count the time a job was ready and only waited its turn for a
free slot: in a campaign of thousands of labels most jobs wait for a long time
without anything being wrong with them, and a flaky label's retry, served
least-tried first, waits behind every label not tried yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import structlog

from gateway.labels.jobs import AttemptResult, LabelJob, Outcome, SchedulerOptions
from gateway.tasks import spawn, wait_set

log = structlog.get_logger("gateway.labels")


class ConnectGate:
    """One connect in flight per adapter: hold it only while connecting."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def connecting(self) -> AsyncIterator[None]:
        async with self._lock:
            yield


Runner = Callable[[LabelJob, str, ConnectGate], Awaitable[AttemptResult]]
Locate = Callable[[str], str | None]
Finished = Callable[[LabelJob, AttemptResult], None]


@dataclass
class _Adapter:
    slots: int
    gate: ConnectGate = field(default_factory=ConnectGate)
    busy: int = 0


REBALANCE_S = 5.0  # how often ready jobs are located afresh (RSSI moves, adapters go down)

# Index entries: (sort keys..., sequence, generation, job). An entry whose generation
# differs from its job's (or whose job is no longer queued) is skipped when met.
_Entry = tuple[object, ...]


class LabelScheduler:
    """Dispatch costs O(log n) per started attempt, not O(n): a store has thousands of
    labels and a campaign queues them all at once. Ready jobs sit in a heap per
    adapter (by priority, attempts, age), jobs backing off in a heap by time, budget
    deadlines in a heap by time, jobs waiting to be seen by label. Every few seconds
    the ready jobs are located afresh."""

    def __init__(
        self,
        slots: Mapping[str, int],
        runner: Runner,
        locate: Locate,
        on_finished: Finished,
        options: SchedulerOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._adapters = {name: _Adapter(n) for name, n in slots.items()}
        self._runner = runner
        self._locate = locate
        self._on_finished = on_finished
        self._options = options or SchedulerOptions()
        self._clock = clock
        self._queued: dict[tuple[str, str], LabelJob] = {}
        self._running: dict[tuple[str, str], LabelJob] = {}
        self._ready: dict[str, list[_Entry]] = {}  # adapter -> heap of ready jobs
        self._timers: list[_Entry] = []  # (not_before, ...): backing off, deferred, requeued
        self._deadlines: list[_Entry] = []  # (when the budget runs out, ...)
        self._unseen: dict[str, dict[tuple[str, str], LabelJob]] = {}  # label -> waiting jobs
        self._seq = itertools.count()
        self._rebalanced = clock()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._draining = False
        self.last_progress = clock()

    # ---- queue -----------------------------------------------------------------------

    def submit(self, job: LabelJob) -> LabelJob | None:
        """Queue ``job``; return the queued job it replaces (the caller reports it superseded).

        A job of the same label and kind that is already running is not interrupted;
        it is marked superseded and its result is reported as such when it ends,
        and the new job runs after it.
        """
        now = self._clock()
        job.queued_at = job.queued_at or now
        job.ready_at = job.queued_at
        replaced = self._unqueue(job.key)
        self._queued[job.key] = job
        if job.key not in self._running:
            self._make_ready(job, now)
        # else: queued behind the running attempt; it is indexed when that one settles
        self._wake.set()
        return replaced

    def find(self, label_id: str, kind: str) -> LabelJob | None:
        """The queued or running job for this label and kind, if any."""
        return self._queued.get((label_id, kind)) or self._running.get((label_id, kind))

    def cancel(self, label_id: str, kind: str) -> LabelJob | None:
        return self._unqueue((label_id, kind))

    def label_seen(self, label_id: str) -> None:
        waiting = self._unseen.pop(label_id, None)
        if not waiting:
            return
        now = self._clock()
        for job in waiting.values():
            job.waiting_for_sight = False
            job.not_before = 0.0
            job.ready_at = now
            self._make_ready(job, now)
        self._wake.set()

    def set_slots(self, adapter: str, slots: int) -> None:
        if adapter in self._adapters:
            self._adapters[adapter].slots = slots
        else:
            self._adapters[adapter] = _Adapter(slots)
        self._wake.set()

    def labels(self) -> list[str]:
        """Labels with a job queued (not running)."""
        return list({label_id for label_id, _kind in self._queued})

    @property
    def queued(self) -> int:
        return len(self._queued)

    @property
    def running(self) -> int:
        return len(self._running)

    def is_idle(self) -> bool:
        return not self._queued and not self._running

    async def drain(self, timeout_s: float) -> bool:
        """Start no new attempt; wait up to ``timeout_s`` for the running ones to end.

        Used when stopping: a transfer cut off at its last part may already show on
        the label without the gateway knowing, and would be written again after a
        restart. Returns True when none is left running.
        """
        self._draining = True
        attempts = list(self._tasks)
        if attempts:
            await asyncio.wait(attempts, timeout=timeout_s)
        return not self._running

    # ---- the indexes -------------------------------------------------------------------

    def _unqueue(self, key: tuple[str, str]) -> LabelJob | None:
        job = self._queued.pop(key, None)
        if job is not None:
            job.generation += 1
            waiting = self._unseen.get(job.label_id)
            if waiting is not None:
                waiting.pop(key, None)
                if not waiting:
                    del self._unseen[job.label_id]
        return job

    def _valid(self, entry: _Entry) -> LabelJob | None:
        job = entry[-1]
        assert isinstance(job, LabelJob)
        if entry[-2] != job.generation or self._queued.get(job.key) is not job:
            return None
        return job

    def _push(self, heap: list[_Entry], first: object, job: LabelJob) -> None:
        heapq.heappush(heap, (first, next(self._seq), job.generation, job))

    def _make_ready(self, job: LabelJob, now: float) -> None:
        """Index a queued job by what it waits for: its time, a slot, or to be seen."""
        job.generation += 1
        if job.not_before > now:
            self._push(self._timers, job.not_before, job)
            if not job.ready(now):  # backing off or deferred: the budget clock runs
                self._push_deadline(job, now)
        elif (adapter := self._locate(job.label_id)) is None:
            self._wait_to_be_seen(job, now)
        else:
            key = (job.priority, job.attempts, job.queued_at)
            self._push(self._ready.setdefault(adapter, []), key, job)

    def _wait_to_be_seen(self, job: LabelJob, now: float) -> None:
        job.leave_ready(now)
        job.generation += 1
        job.waiting_for_sight = True
        job.last_reason = job.last_reason or "label not seen recently"
        self._unseen.setdefault(job.label_id, {})[job.key] = job
        self._push_deadline(job, now)

    def _push_deadline(self, job: LabelJob, now: float) -> None:
        self._push(self._deadlines, now + self._options.budget_s - job.charged_s(now), job)

    def _release_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:  # type: ignore[operator]
            entry = heapq.heappop(self._timers)
            if (job := self._valid(entry)) is not None:
                self._make_ready(job, now)

    def _rebalance(self, now: float) -> None:
        """Locate every ready job afresh and drop void entries."""
        self._rebalanced = now
        ready = [job for heap in self._ready.values() for e in heap if (job := self._valid(e))]
        self._ready = {}
        for job in ready:
            self._make_ready(job, now)
        for label_id in [lid for lid in self._unseen if self._locate(lid) is not None]:
            self.label_seen(label_id)
        self._timers = [e for e in self._timers if self._valid(e)]
        heapq.heapify(self._timers)
        self._deadlines = [e for e in self._deadlines if self._valid(e)]
        heapq.heapify(self._deadlines)

    # ---- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                self._expire(now)
                self._release_timers(now)
                if now - self._rebalanced >= REBALANCE_S:
                    self._rebalance(now)
                self._dispatch(now)
                self.last_progress = self._clock()
                timeout = self._next_deadline(now)
                await wait_set(self._wake, timeout)
        finally:
            for task in list(self._tasks):
                task.cancel()

    def _expire(self, now: float) -> None:
        budget = self._options.budget_s
        while self._deadlines and self._deadlines[0][0] <= now:  # type: ignore[operator]
            entry = heapq.heappop(self._deadlines)
            job = self._valid(entry)
            if job is None or job.ready(now):
                continue  # void, or ready: its budget clock is paused
            if job.charged_s(now) < budget - 1e-6:  # not yet (the clock was paused meanwhile)
                self._push_deadline(job, now)
                continue
            self._unqueue(job.key)
            reason = job.last_reason or "no attempt succeeded"
            self._on_finished(
                job, AttemptResult(Outcome.FAILED, f"gave up after {budget:.0f} s: {reason}")
            )

    def _next_deadline(self, now: float) -> float:
        soonest = self._rebalanced + REBALANCE_S - now
        for heap in (self._timers, self._deadlines):
            while heap and self._valid(heap[0]) is None:
                heapq.heappop(heap)
            if heap:
                soonest = min(soonest, heap[0][0] - now)  # type: ignore[operator]
        return max(0.01, soonest)

    def _dispatch(self, now: float) -> None:
        if self._draining:
            return
        for name, adapter in self._adapters.items():
            heap = self._ready.get(name)
            while heap and adapter.busy < adapter.slots:
                job = self._valid(heapq.heappop(heap))
                if job is None:
                    continue
                if job.key in self._running:  # the label's previous attempt still runs
                    continue  # indexed again when that one settles
                where = self._locate(job.label_id)
                if where != name:  # heard better elsewhere now, or not at all
                    self._make_ready(job, now)
                    self._wake.set()
                    continue
                self._start(job, name, adapter, now)

    def _start(self, job: LabelJob, name: str, adapter: _Adapter, now: float) -> None:
        del self._queued[job.key]
        job.generation += 1
        self._running[job.key] = job
        job.leave_ready(now)
        adapter.busy += 1
        spawn(self._attempt(job, name, adapter), name=f"label-{job.label_id}", keep=self._tasks)

    async def _attempt(self, job: LabelJob, adapter_name: str, adapter: _Adapter) -> None:
        job.attempts += 1
        try:
            result = await self._runner(job, adapter_name, adapter.gate)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runner bug must not kill the scheduler
            log.exception("label attempt crashed", label_id=job.label_id)
            result = AttemptResult(Outcome.RETRY, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            adapter.busy -= 1
            self._running.pop(job.key, None)
            self._wake.set()
        self._settle(job, result)

    def _settle(self, job: LabelJob, result: AttemptResult) -> None:
        opts = self._options
        now = self._clock()
        newer = self._queued.get(job.key)
        if newer is not None:
            # Queued behind this attempt (submitted while it ran): index it now.
            self._make_ready(newer, now)
        if result.outcome in (Outcome.DONE, Outcome.FAILED):
            self._on_finished(job, result)
            return
        if newer is not None:
            # A newer job for this label arrived while this one ran: it takes over.
            log.info(
                "label job replaced while it ran",
                label_id=job.label_id,
                outcome=result.outcome.value,
                replaced=str(job.payload),
                by=str(newer.payload),
            )
            self._on_finished(job, AttemptResult(Outcome.SUPERSEDED, "a newer job replaced it"))
            return
        job.last_reason = result.reason or job.last_reason
        if result.outcome is Outcome.REQUEUE:
            job.attempts -= 1  # no penalty
            job.not_before = now + opts.requeue_s
            job.ready_at = now  # waiting for the adapter is not the label's fault
        elif result.outcome is Outcome.NOT_SEEN:
            self._queued[job.key] = job
            self._wait_to_be_seen(job, now)
            return
        elif result.outcome is Outcome.DEFER:
            job.not_before = now + opts.defer_s
            job.ready_at = job.not_before
            log.info(
                "label attempt deferred",
                label_id=job.label_id,
                retry_in_s=round(opts.defer_s, 1),
                reason=result.reason,
            )
        else:  # RETRY
            if job.attempts >= opts.max_attempts:
                self._on_finished(
                    job,
                    AttemptResult(
                        Outcome.FAILED,
                        f"gave up after {job.attempts} attempts: {job.last_reason}",
                    ),
                )
                return
            delay = min(opts.backoff_min_s * 2 ** (job.attempts - 1), opts.backoff_max_s)
            job.not_before = now + delay
            job.ready_at = job.not_before
            log.info(
                "label attempt failed; retrying",
                label_id=job.label_id,
                attempt=job.attempts,
                retry_in_s=round(delay, 1),
                reason=result.reason,
            )
        self._queued[job.key] = job
        self._make_ready(job, now)
