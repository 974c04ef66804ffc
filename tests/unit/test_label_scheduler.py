import asyncio
from collections import defaultdict

import pytest

from gateway.labels import scheduler
from gateway.labels.jobs import AttemptResult, LabelJob, Outcome, Priority, SchedulerOptions
from gateway.labels.scheduler import ConnectGate, LabelScheduler

FAST = SchedulerOptions(
    max_attempts=3,
    budget_s=30,
    backoff_min_s=0.01,
    backoff_max_s=0.02,
    defer_s=0.05,
    requeue_s=0.01,
)


class Harness:
    def __init__(self, outcomes=None, where=None):  # type: ignore[no-untyped-def]
        self.outcomes = outcomes or {}
        self.where = where or {}
        self.finished: dict[str, AttemptResult] = {}
        self.ran_on: dict[str, str] = {}
        self.order: list[str] = []
        self.concurrent = defaultdict(int)
        self.max_concurrent = defaultdict(int)
        self.connecting = defaultdict(int)
        self.max_connecting = defaultdict(int)
        self.done = asyncio.Event()
        self.expected = 0

    async def runner(self, job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        self.order.append(job.label_id)
        self.ran_on[job.label_id] = adapter
        self.concurrent[adapter] += 1
        self.max_concurrent[adapter] = max(self.max_concurrent[adapter], self.concurrent[adapter])
        try:
            async with gate.connecting():
                self.connecting[adapter] += 1
                self.max_connecting[adapter] = max(
                    self.max_connecting[adapter], self.connecting[adapter]
                )
                await asyncio.sleep(0.002)
                self.connecting[adapter] -= 1
            await asyncio.sleep(0.01)
            script = self.outcomes.get(job.label_id)
            if script:
                return script.pop(0)
            return AttemptResult(Outcome.DONE)
        finally:
            self.concurrent[adapter] -= 1

    def locate(self, label_id: str) -> str | None:
        return self.where.get(label_id, "hci0")

    def on_finished(self, job: LabelJob, result: AttemptResult) -> None:
        self.finished[job.label_id] = result
        if len(self.finished) >= self.expected:
            self.done.set()


async def run_until_done(h: Harness, sched: LabelScheduler, expected: int) -> None:
    h.expected = expected
    task = asyncio.create_task(sched.run())
    try:
        await asyncio.wait_for(h.done.wait(), timeout=10)
    finally:
        task.cancel()


def job(label: str, prio: Priority = Priority.PRICE, kind: str = "content") -> LabelJob:
    return LabelJob(label_id=label, priority=prio, kind=kind, payload=None)


async def test_slots_and_one_connect_per_adapter() -> None:
    h = Harness(where={f"l{i}": ("hci0" if i % 2 else "hci1") for i in range(40)})
    sched = LabelScheduler({"hci0": 3, "hci1": 2}, h.runner, h.locate, h.on_finished, FAST)
    for i in range(40):
        sched.submit(job(f"l{i}"))
    await run_until_done(h, sched, 40)
    assert all(r.outcome is Outcome.DONE for r in h.finished.values())
    assert h.max_concurrent["hci0"] == 3 and h.max_concurrent["hci1"] == 2
    assert h.max_connecting["hci0"] == 1 and h.max_connecting["hci1"] == 1


async def test_flash_goes_first() -> None:
    h = Harness()
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, FAST)
    for i in range(5):
        sched.submit(job(f"p{i}"))
    sched.submit(job("f0", Priority.FLASH, kind="flash"))
    await run_until_done(h, sched, 6)
    assert h.order[0] == "f0"


async def test_retries_then_gives_up_with_reason() -> None:
    bad = [AttemptResult(Outcome.RETRY, "timeout waiting for part request")] * 5
    h = Harness(outcomes={"flaky": [AttemptResult(Outcome.RETRY, "x")], "dead": list(bad)})
    sched = LabelScheduler({"hci0": 2}, h.runner, h.locate, h.on_finished, FAST)
    sched.submit(job("flaky"))
    sched.submit(job("dead"))
    await run_until_done(h, sched, 2)
    assert h.finished["flaky"].outcome is Outcome.DONE
    assert h.finished["dead"].outcome is Outcome.FAILED
    assert h.finished["dead"].reason == "gave up after 3 attempts: timeout waiting for part request"
    assert h.order.count("dead") == 3


async def test_requeue_costs_no_attempt() -> None:
    busy = [AttemptResult(Outcome.REQUEUE, "InProgress")] * 6
    h = Harness(outcomes={"a": busy})
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, FAST)
    sched.submit(job("a"))
    await run_until_done(h, sched, 1)
    assert h.finished["a"].outcome is Outcome.DONE  # 6 requeues > max_attempts, still fine


async def test_unseen_label_waits_until_seen() -> None:
    h = Harness(where={"away": None})
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, FAST)
    sched.submit(job("away"))
    h.expected = 1
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(0.1)
    assert h.order == [] and sched.queued == 1
    h.where["away"] = "hci0"
    sched.label_seen("away")
    await asyncio.wait_for(h.done.wait(), timeout=5)
    task.cancel()
    assert h.finished["away"].outcome is Outcome.DONE


async def test_budget_expiry_fails_unseen_label() -> None:
    h = Harness(where={"gone": None})
    opts = SchedulerOptions(budget_s=0.1, backoff_min_s=0.01)
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, opts)
    sched.submit(job("gone"))
    await run_until_done(h, sched, 1)
    assert h.finished["gone"].outcome is Outcome.FAILED
    assert "label not seen recently" in (h.finished["gone"].reason or "")


async def test_budget_starts_with_the_first_attempt_not_in_the_queue() -> None:
    """A long campaign: jobs waiting their turn for longer than the budget still run."""
    h = Harness()
    opts = SchedulerOptions(budget_s=0.05, backoff_min_s=0.01)
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, opts)
    for n in range(12):  # ~12 ms each, one slot: the last waits well beyond 50 ms
        sched.submit(job(f"l{n}"))
    await run_until_done(h, sched, 12)
    assert {r.outcome for r in h.finished.values()} == {Outcome.DONE}


async def test_a_retry_waiting_its_turn_behind_untried_labels_is_not_charged() -> None:
    """Least-tried first puts a flaky label's retry behind every untried label; that
    wait for a slot is the gateway's capacity, not the label's fault."""
    h = Harness(outcomes={"flaky": [AttemptResult(Outcome.RETRY, "timed out")]})
    opts = SchedulerOptions(budget_s=0.08, backoff_min_s=0.001, backoff_max_s=0.001)
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, opts)
    sched.submit(job("flaky"))
    for n in range(25):  # ~12 ms each, one slot: the retry waits ~300 ms for its turn
        sched.submit(job(f"l{n}"))
    await run_until_done(h, sched, 26)
    assert h.order[0] == "flaky" and h.order[-1] == "flaky"
    assert h.finished["flaky"].outcome is Outcome.DONE


async def test_backoffs_count_against_the_budget() -> None:
    h = Harness(outcomes={"bad": [AttemptResult(Outcome.RETRY, "timed out")] * 1000})
    opts = SchedulerOptions(
        max_attempts=1000, budget_s=0.15, backoff_min_s=0.02, backoff_max_s=0.02
    )
    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, h.on_finished, opts)
    sched.submit(job("bad"))
    await run_until_done(h, sched, 1)
    result = h.finished["bad"]
    assert result.outcome is Outcome.FAILED
    assert (result.reason or "").startswith("gave up after 0 s: timed out")
    assert 3 <= h.order.count("bad") <= 12  # ~30 ms per try: the budget, not the attempts


def test_budget_clock_pauses_while_ready_and_runs_otherwise() -> None:
    j = job("x")
    j.ready_at = 0.0
    j.leave_ready(10.0)  # first attempt at t=10: the budget starts
    assert j.started_at == 10.0 and j.charged_s(12.0) == 2.0
    j.ready_at = 15.0  # retry after a backoff until t=15
    assert j.charged_s(14.0) == 4.0 and j.charged_s(40.0) == 5.0  # ready from 15: paused
    j.leave_ready(40.0)  # runs at t=40 after 25 s in the queue
    assert j.excused_s == 25.0 and j.charged_s(41.0) == 6.0
    j.waiting_for_sight, j.ready_at = True, None  # not seen: the clock runs
    assert j.charged_s(50.0) == 15.0


async def test_newer_job_replaces_queued_and_supersedes_running() -> None:
    h = Harness(outcomes={"a": [AttemptResult(Outcome.RETRY, "timeout")]})
    results: list[tuple[LabelJob, Outcome]] = []
    two = asyncio.Event()

    def record(j: LabelJob, r: AttemptResult) -> None:
        results.append((j, r.outcome))
        if len(results) == 2:
            two.set()

    sched = LabelScheduler({"hci0": 1}, h.runner, h.locate, record, FAST)
    first = job("a")
    assert sched.submit(first) is None
    second = job("a")
    assert sched.submit(second) is first  # replaced while queued
    task = asyncio.create_task(sched.run())
    while sched.running == 0:
        await asyncio.sleep(0.001)
    third = job("a")
    assert sched.submit(third) is None  # second is running, not queued
    await asyncio.wait_for(two.wait(), timeout=5)
    task.cancel()
    assert results == [(second, Outcome.SUPERSEDED), (third, Outcome.DONE)]


async def test_a_label_heard_better_elsewhere_meanwhile_runs_there() -> None:
    h = Harness(where={"a": "hci0", "b": "hci0"})
    sched = LabelScheduler({"hci0": 1, "hci1": 1}, h.runner, h.locate, h.on_finished, FAST)
    sched.submit(job("a"))
    sched.submit(job("b"))  # queued for hci0, behind "a"
    h.where["b"] = "hci1"  # then heard louder by the other adapter
    await run_until_done(h, sched, 2)
    assert h.ran_on == {"a": "hci0", "b": "hci1"}


async def test_dispatch_does_not_walk_the_whole_queue() -> None:
    """2,000 labels queued at once: each start costs a few lookups, not one per queued
    job (which made a store's campaign spend its time in the scheduler)."""
    lookups = 0
    finished: list[str] = []
    done = asyncio.Event()

    def locate(label_id: str) -> str:
        nonlocal lookups
        lookups += 1
        return "hci0"

    async def runner(job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        await asyncio.sleep(0)
        return AttemptResult(Outcome.DONE)

    def on_finished(job: LabelJob, result: AttemptResult) -> None:
        finished.append(job.label_id)
        if len(finished) == 2000:
            done.set()

    sched = LabelScheduler({"hci0": 2}, runner, locate, on_finished, FAST)
    for n in range(2000):
        sched.submit(job(f"l{n}"))
    task = asyncio.create_task(sched.run())
    await asyncio.wait_for(done.wait(), timeout=30)
    task.cancel()
    assert finished == [f"l{n}" for n in range(2000)]  # oldest first, each once
    assert lookups <= 3 * 2000


async def test_ready_jobs_are_located_afresh_while_their_adapter_stays_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An adapter held by a long transfer (or gone): its queued labels move to the
    adapter that hears them now at the next rebalance, not when it frees up."""
    monkeypatch.setattr(scheduler, "REBALANCE_S", 0.05)
    release = asyncio.Event()
    ran_on: dict[str, str] = {}
    where = {"long": "hci0", "b": "hci0"}
    finished: list[str] = []

    async def runner(job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
        ran_on[job.label_id] = adapter
        if job.label_id == "long":
            await release.wait()
        return AttemptResult(Outcome.DONE)

    sched = LabelScheduler(
        {"hci0": 1, "hci1": 1},
        runner,
        where.get,
        lambda j, r: finished.append(j.label_id),
        FAST,
    )
    sched.submit(job("long"))
    task = asyncio.create_task(sched.run())
    while "long" not in ran_on:
        await asyncio.sleep(0.001)
    sched.submit(job("b"))  # waits for hci0
    where["b"] = "hci1"
    for _ in range(200):
        if "b" in finished:
            break
        await asyncio.sleep(0.01)
    release.set()
    task.cancel()
    assert ran_on["b"] == "hci1" and finished[0] == "b"
