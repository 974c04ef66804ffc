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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import structlog

log = structlog.get_logger("gateway.labels")


class Priority(IntEnum):
    FLASH = 0
    PRICE = 1
    RESYNC = 2


class Outcome(StrEnum):
    DONE = "done"
    REQUEUE = "requeue"
    NOT_SEEN = "not-seen"
    RETRY = "retry"
    DEFER = "defer"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # a newer job for the label replaced this one


@dataclass(frozen=True, slots=True)
class AttemptResult:
    outcome: Outcome
    reason: str | None = None


@dataclass(eq=False)
class LabelJob:
    """One piece of work for one label. ``key`` identifies what it replaces."""

    label_id: str
    priority: Priority
    kind: str  # "content" or "flash": a newer job of the same kind supersedes
    payload: object  # what the runner needs (content bytes, flash parameters)
    queued_at: float = 0.0
    attempts: int = 0
    not_before: float = 0.0
    waiting_for_sight: bool = False
    last_reason: str | None = None
    started_at: float | None = None  # first attempt, or first wait to be seen: budget start
    ready_at: float | None = None  # when it becomes ready to run (None: running, or not seen)
    excused_s: float = 0.0  # time since started_at spent ready, waiting for a slot

    def ready(self, now: float) -> bool:
        """Ready to run: only waiting for a free slot."""
        return self._paused_since(now) is not None

    def _paused_since(self, now: float) -> float | None:
        """When the budget clock stopped because the job became ready (None: it runs)."""
        if self.waiting_for_sight or self.ready_at is None or self.ready_at > now:
            return None
        return self.ready_at if self.started_at is None else max(self.ready_at, self.started_at)

    def charged_s(self, now: float) -> float:
        """Time counted against the budget: since the start, minus waits for a slot."""
        if self.started_at is None:
            return 0.0
        paused = self._paused_since(now)
        return (now if paused is None else paused) - self.started_at - self.excused_s

    def leave_ready(self, now: float) -> None:
        """It stops waiting for a slot (it runs, or must wait to be seen): bank the wait."""
        paused = self._paused_since(now)
        if self.started_at is None:
            self.started_at = now
        elif paused is not None:
            self.excused_s += now - paused
        self.ready_at = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.label_id, self.kind)


@dataclass(frozen=True)
class SchedulerOptions:
    max_attempts: int = 8
    budget_s: float = 1800.0
    backoff_min_s: float = 5.0
    backoff_max_s: float = 300.0
    defer_s: float = 600.0
    requeue_s: float = 0.5


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


class LabelScheduler:
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
        job.queued_at = job.queued_at or self._clock()
        job.ready_at = job.queued_at
        replaced = self._queued.pop(job.key, None)
        self._queued[job.key] = job
        self._wake.set()
        return replaced

    def find(self, label_id: str, kind: str) -> LabelJob | None:
        """The queued or running job for this label and kind, if any."""
        return self._queued.get((label_id, kind)) or self._running.get((label_id, kind))

    def cancel(self, label_id: str, kind: str) -> LabelJob | None:
        return self._queued.pop((label_id, kind), None)

    def label_seen(self, label_id: str) -> None:
        woke = False
        for job in self._queued.values():
            if job.label_id == label_id and job.waiting_for_sight:
                job.waiting_for_sight = False
                job.not_before = 0.0
                job.ready_at = self._clock()
                woke = True
        if woke:
            self._wake.set()

    def set_slots(self, adapter: str, slots: int) -> None:
        if adapter in self._adapters:
            self._adapters[adapter].slots = slots
        else:
            self._adapters[adapter] = _Adapter(slots)
        self._wake.set()

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

    # ---- the loop ----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                now = self._clock()
                self._expire(now)
                self._dispatch(now)
                self.last_progress = self._clock()
                timeout = self._next_deadline(now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        finally:
            for task in list(self._tasks):
                task.cancel()

    def _expire(self, now: float) -> None:
        budget = self._options.budget_s
        for key, job in list(self._queued.items()):
            if job.charged_s(now) > budget:
                del self._queued[key]
                reason = job.last_reason or "no attempt succeeded"
                self._on_finished(
                    job, AttemptResult(Outcome.FAILED, f"gave up after {budget:.0f} s: {reason}")
                )

    def _next_deadline(self, now: float) -> float:
        soonest = 60.0
        budget = self._options.budget_s
        for job in self._queued.values():
            # Budgets run out even for jobs waiting to be seen; a ready job's is paused.
            if job.started_at is not None and not job.ready(now):
                soonest = min(soonest, budget - job.charged_s(now))
            if not job.waiting_for_sight and job.not_before > now:
                soonest = min(soonest, job.not_before - now)
        return max(0.01, soonest)

    def _dispatch(self, now: float) -> None:
        free = {name: a for name, a in self._adapters.items() if a.busy < a.slots}
        if not free or not self._queued or self._draining:
            return
        candidates: dict[str, list[LabelJob]] = {name: [] for name in free}
        for job in self._queued.values():
            if job.key in self._running or job.not_before > now or job.waiting_for_sight:
                continue
            adapter = self._locate(job.label_id)
            if adapter is None:
                job.leave_ready(now)
                self._wait_for_sight(job)
                job.last_reason = job.last_reason or "label not seen recently"
                continue
            if adapter in candidates:
                candidates[adapter].append(job)
        for name, jobs in candidates.items():
            adapter_state = free[name]
            jobs.sort(key=lambda j: (j.priority, j.attempts, j.queued_at))
            for job in jobs[: adapter_state.slots - adapter_state.busy]:
                del self._queued[job.key]
                self._running[job.key] = job
                job.leave_ready(now)
                adapter_state.busy += 1
                task = asyncio.create_task(self._attempt(job, name, adapter_state))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

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

    @staticmethod
    def _wait_for_sight(job: LabelJob) -> None:
        job.waiting_for_sight = True
        job.ready_at = None

    def _settle(self, job: LabelJob, result: AttemptResult) -> None:
        opts = self._options
        now = self._clock()
        newer = self._queued.get(job.key)
        if result.outcome in (Outcome.DONE, Outcome.FAILED):
            self._on_finished(job, result)
            return
        if newer is not None:
            # A newer job for this label arrived while this one ran: it takes over.
            self._on_finished(job, AttemptResult(Outcome.SUPERSEDED, "a newer job replaced it"))
            return
        job.last_reason = result.reason or job.last_reason
        if result.outcome is Outcome.REQUEUE:
            job.attempts -= 1  # no penalty
            job.not_before = now + opts.requeue_s
            job.ready_at = now  # waiting for the adapter is not the label's fault
        elif result.outcome is Outcome.NOT_SEEN:
            self._wait_for_sight(job)
        elif result.outcome is Outcome.DEFER:
            job.not_before = now + opts.defer_s
            job.ready_at = job.not_before
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
        self._queued[job.key] = job
