"""The price guard in the label pipeline: held items, flagged ones, reviews, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlite_utils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.contract.events import Event
from gateway.labels.model import Binding, ResultStatus
from gateway.labels.planner import Rendered
from gateway.prices.model import PriceItem
from gateway.prices.store import Decision
from gateway.store import Database
from tests.unit.test_label_planner import L1, L2, L3, Rig, item, results


class Events:
    """The events the pipeline commits, as the outbox would take them."""

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.committed: list[Event] = []

    def write_in(self, d: sqlite_utils.Database, events: Sequence[Event]) -> None:
        self.pending.extend(events)

    def written(self) -> None:
        self.committed.extend(self.pending)
        self.pending = []

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.committed if e.type == type_]


async def started(tmp_path: Path, events: Events) -> tuple[Database, Rig, asyncio.Task[None]]:
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db, events=events)
    await rig.planner.load()
    return db, rig, asyncio.create_task(rig.scheduler.run())


def errors(db_path: Path, command_id: str) -> dict[str | None, str | None]:
    d = sqlite_utils.Database(db_path)
    return {
        r[0]: r[1]
        for r in d.execute(
            "SELECT label_id, error FROM label_results WHERE command_id = ?", [command_id]
        ).fetchall()
    }


def status(rig: Rig, label_id: str) -> str:
    view = rig.pipeline.label_view(label_id)
    assert view is not None
    return str(view["status"])


def review(sku: str, version: int, decision: str, by: str = "cloud") -> Decision:
    return Decision(sku, version, decision, by, "checked with the buyer", 0.0)


async def test_a_lost_decimal_point_is_held_and_nothing_is_written(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A"), Binding(L3, "B")])
    await rig.price_update("v1", [item("A", 1, "12.90"), item("B", 1, "5.00")])
    await rig.settle()
    written = len(rig.written)

    await rig.price_update("v2", [item("A", 2, "1.29"), item("B", 2, "0")])
    await rig.settle()
    assert len(rig.written) == written  # nothing rendered or written
    assert results(tmp_path / "gw.db", "v2") == [
        (L1, "A", "held"),
        (L2, "A", "held"),
        (L3, "B", "held"),
    ]
    assert errors(tmp_path / "gw.db", "v2")[L1] == (
        "max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)"
    )
    assert errors(tmp_path / "gw.db", "v2")[L3] == (
        "non-positive: the price is 0; max-drop: 5.00 -> 0 is a 100.0 % drop (limit 50 %)"
    )
    assert status(rig, L1) == "held" and status(rig, L3) == "held"
    assert rig.planner.items["A"].version == 1  # the current price stays as it was
    held = events.of("price.held")
    assert [(e.price or {}).get("sku") for e in held] == ["A", "B"]
    price = held[0].price or {}
    assert price["previous_price"] == "12.90" and price["labels"] == 2
    assert price["rules"] == [
        {
            "rule": "max-drop",
            "mode": "hold",
            "message": "max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)",
        }
    ]
    assert held[0].severity == "warning"
    # The same version again is stale: held counts as received.
    await rig.price_update("again", [item("A", 2, "12.90")])
    assert results(tmp_path / "gw.db", "again") == [(None, "A", "skipped-stale")]
    run.cancel()
    await db.close()


async def test_release_and_discard_by_the_cloud_answer_each_label(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A"), Binding(L3, "B")])
    await rig.price_update("v1", [item("A", 1, "12.90"), item("B", 1, "5.00")])
    await rig.settle()
    await rig.price_update("v2", [item("A", 2, "1.29"), item("B", 2, "0.50")])
    await rig.settle()
    written = len(rig.written)

    reviews = [review("A", 2, "release"), review("B", 2, "discard"), review("C", 1, "release")]
    await rig.pipeline.plan(await rig.pipeline.prices.review("rev", reviews))
    await rig.settle()
    assert results(tmp_path / "gw.db", "rev") == [
        (None, "C", "failed"),
        (L1, "A", "displayed"),
        (L2, "A", "displayed"),
        (L3, "B", "discarded"),
    ]
    assert errors(tmp_path / "gw.db", "rev")[None] == "not held"
    assert len(rig.written) == written + 2
    assert rig.planner.items["A"].version == 2 and rig.planner.items["B"].version == 1
    assert {status(rig, label) for label in (L1, L2, L3)} == {"in-sync"}
    decided = {(e.price or {})["sku"]: e.price or {} for e in events.of("price.reviewed")}
    assert decided["A"]["decision"] == "release" and decided["A"]["by"] == "cloud"
    assert (
        decided["B"]["decision"] == "discard" and decided["B"]["note"] == "checked with the buyer"
    )
    # Decided: a second review of the same item is not held any more.
    await rig.pipeline.plan(await rig.pipeline.prices.review("rev-2", [review("A", 2, "discard")]))
    assert results(tmp_path / "gw.db", "rev-2") == [(None, "A", "failed")]
    # The released price is history now: judged against it, 1.30 is no drop at all.
    await rig.price_update("v3", [item("A", 3, "1.30")])
    await rig.settle()
    assert results(tmp_path / "gw.db", "v3") == [(L1, "A", "displayed"), (L2, "A", "displayed")]
    run.cancel()
    await db.close()


async def test_a_newer_version_supersedes_a_held_one(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.price_update("v2", [item("A", 2, "1.29")])
    await rig.price_update("v3", [item("A", 3, "12.50")])
    await rig.settle()
    assert results(tmp_path / "gw.db", "v3") == [(L1, "A", "displayed")]
    superseded = events.of("price.reviewed")
    assert [(e.price or {}).get("decision") for e in superseded] == ["superseded"]
    assert (superseded[0].price or {})["by"] == "gateway"
    assert (superseded[0].price or {})["version"] == 2
    assert rig.pipeline.prices.held_items() == []
    run.cancel()
    await db.close()


async def test_warn_rules_flag_and_the_price_goes_on(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "10.00")])
    await rig.price_update("v2", [item("A", 2, "25.00")])  # +150 %: max-rise warns
    await rig.settle()
    assert results(tmp_path / "gw.db", "v2") == [(L1, "A", "displayed")]
    flagged = events.of("price.flagged")
    assert [(e.price or {}).get("version") for e in flagged] == [2]
    assert (flagged[0].price or {})["rules"][0]["rule"] == "max-rise"
    assert events.of("price.held") == []
    run.cancel()
    await db.close()


async def test_a_held_item_of_a_sku_without_labels_is_answered_once(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.price_update("v1", [PriceItem("A", 1, "12.90", "CNY", original_price="9.90")])
    assert results(tmp_path / "gw.db", "v1") == [(None, "A", "held")]
    assert errors(tmp_path / "gw.db", "v1")[None] == (
        "promo-not-lower: the price 12.90 is not below the original price 9.90"
    )
    run.cancel()
    await db.close()


async def test_a_decision_on_the_page_has_no_acks_and_reaches_the_labels(tmp_path: Path) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.price_update("v2", [item("A", 2, "1.29")])
    await rig.settle()
    await rig.pipeline.plan(
        await rig.pipeline.prices.review(None, [review("A", 2, "release", by="li.wei")])
    )
    await rig.settle()
    twin = rig.planner.twins[L1]
    assert twin.displayed is not None and twin.displayed.version == 2
    d = sqlite_utils.Database(tmp_path / "gw.db")
    assert (
        d.execute("SELECT COUNT(*) FROM label_results WHERE command_id IS NULL").fetchone()[0] == 0
    )
    assert [(e.price or {}).get("by") for e in events.of("price.reviewed")] == ["li.wei"]
    run.cancel()
    await db.close()


async def test_a_decision_told_before_its_item_is_taken_when_it_is_held(tmp_path: Path) -> None:
    """Another gateway's page was quicker than this gateway's price-update."""
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.pipeline.plan(
        await rig.pipeline.prices.review(None, [review("A", 2, "release", by="li.wei")])
    )
    await rig.price_update("v2", [item("A", 2, "1.29")])
    await rig.settle()
    assert results(tmp_path / "gw.db", "v2") == [(L1, "A", "held")]
    twin = rig.planner.twins[L1]
    assert twin.displayed is not None and twin.displayed.version == 2
    assert [e.type for e in events.committed if e.type.startswith("price.")] == [
        "price.held",
        "price.reviewed",
    ]
    run.cancel()
    await db.close()


async def test_a_restart_changes_no_verdict_and_a_release_after_it_writes_once(
    tmp_path: Path,
) -> None:
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.settle()
    await rig.price_update("v2", [item("A", 2, "1.29")])
    await rig.settle()
    run.cancel()
    await db.close()

    db, rig, run = await started(tmp_path, Events())
    assert [h.item.version for h in rig.pipeline.prices.held_items()] == [2]
    assert status(rig, L1) == "held"
    assert await rig.reconcile() == 0  # nothing to write: the labels show v1
    # A new item is judged against v1 still (the held one was never applied).
    assert rig.planner.guard.judge(item("A", 3, "1.30"), 0).held
    written = len(rig.written)
    await rig.pipeline.plan(await rig.pipeline.prices.review("rev", [review("A", 2, "release")]))
    await rig.settle()
    assert len(rig.written) == written + 2
    assert results(tmp_path / "gw.db", "rev") == [(L1, "A", "displayed"), (L2, "A", "displayed")]
    assert ResultStatus.HELD.value == "held"
    run.cancel()
    await db.close()


async def test_a_stop_in_the_middle_of_a_release_loses_nothing(tmp_path: Path) -> None:
    """The release committed, its labels not yet written: after the restart they are,
    once each, and the review's targets are answered."""
    events = Events()
    db, rig, run = await started(tmp_path, events)
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "A")])
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.settle()
    await rig.price_update("v2", [item("A", 2, "1.29")])
    rig.hold.clear()  # the transfers never end: the stop comes first
    await rig.pipeline.prices.review("rev", [review("A", 2, "release")])  # planned: never
    run.cancel()
    await db.close()

    db, rig, run = await started(tmp_path, Events())
    assert rig.pipeline.prices.held_items() == []
    assert await rig.reconcile() == 2
    await rig.settle()
    assert sorted(rig.written) == sorted(set(rig.written)) and len(rig.written) == 2
    assert results(tmp_path / "gw.db", "rev") == [(L1, "A", "displayed"), (L2, "A", "displayed")]
    assert await rig.reconcile() == 0
    run.cancel()
    await db.close()


async def test_a_price_held_too_long_is_overdue_until_decided(tmp_path: Path) -> None:
    from gateway.config.load import load_config
    from gateway.daemon.settings import alert_rules

    config = tmp_path / "gw.toml"
    config.write_text(
        'store_id = "s1"\ngateway_id = "gw-1"\ndata_dir = "d"\n[prices]\nheld_alert_after = "10m"\n'
    )
    [rule] = [r for r in alert_rules(load_config(config, environ={})) if r.name == "price-held"]
    assert (rule.metric, rule.op, rule.threshold) == ("prices_held_overdue", "above", 0.5)
    assert rule.render(1, "gateway", None) == "1 price(s) held for review longer than 10 min"

    now = [1000.0]
    db = Database(tmp_path / "gw.db")
    await db.open()
    rig = Rig(db, clock=lambda: now[0])
    await rig.planner.load()
    desk = rig.pipeline.prices
    await rig.price_update("v1", [item("A", 1, "12.90")])
    await rig.price_update("v2", [item("A", 2, "1.29")])
    assert desk.overdue(now[0] + 899) == 0 and desk.overdue(now[0] + 901) == 1
    await desk.review(None, [review("A", 2, "discard", by="ada")])
    assert desk.overdue(now[0] + 901) == 0
    await db.close()


async def test_a_future_price_is_judged_when_it_arrives_and_shown_from_its_time(
    tmp_path: Path,
) -> None:
    """Judged at acceptance against the price current then; it takes effect later."""
    now = [1000.0]
    db = Database(tmp_path / "gw.db")
    await db.open()
    events = Events()
    rig = Rig(db, clock=lambda: now[0], events=events)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind", [Binding(L1, "A")])
    await rig.price_update("v1", [item("A", 1, "10.00")])
    await rig.settle()
    later = PriceItem("A", 2, "4.00", "CNY", valid_from=now[0] + 3600)
    await rig.price_update("v2", [later])  # -60 % against 10.00, the price current now
    assert results(tmp_path / "gw.db", "v2") == [(L1, "A", "held")]
    await rig.pipeline.prices.review("rev", [review("A", 2, "release")])
    guard = rig.planner.guard
    assert guard.in_force("A", now[0]).version == 1  # type: ignore[union-attr]
    assert guard.effective_at("A", 2) == now[0] + 3600
    await rig.due()
    await rig.settle()
    assert rig.planner.twins[L1].displayed.version == 1  # type: ignore[union-attr]
    now[0] += 3601
    await rig.due()
    await rig.settle()
    assert rig.planner.twins[L1].displayed.version == 2  # type: ignore[union-attr]
    assert results(tmp_path / "gw.db", "rev") == [(L1, "A", "displayed")]
    run.cancel()
    await db.close()


_prices = st.decimals(min_value=0, max_value=200, places=2, allow_nan=False)
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("price"), st.sampled_from("AB"), _prices, st.none() | _prices),
        st.tuples(
            st.just("review"), st.sampled_from("AB"), st.sampled_from(["release", "discard"])
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_steps)
def test_no_item_is_ever_both_written_and_held(
    tmp_path: Path, steps: list[tuple[Any, ...]]
) -> None:
    """Any sequence of price items and reviews: a version reaches a label only if it was
    applied (never held, or released), and every held version is answered held."""
    asyncio.run(_no_item_both_written_and_held(tmp_path / f"h{abs(hash(str(steps)))}", steps))


async def _no_item_both_written_and_held(path: Path, steps: list[tuple[Any, ...]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    db = Database(path / "gw.db")
    await db.open()
    rig = Rig(db, renderer=_versioned)
    await rig.planner.load()
    run = asyncio.create_task(rig.scheduler.run())
    await rig.bind("bind", [Binding(L1, "A"), Binding(L2, "B")])
    version = {"A": 0, "B": 0}
    held: set[tuple[str, int]] = set()
    released: set[tuple[str, int]] = set()
    for n, step in enumerate(steps):
        if step[0] == "price":
            _, sku, price, original = step
            version[sku] += 1
            offer = PriceItem(
                sku, version[sku], str(price), "CNY", None if original is None else str(original)
            )
            await rig.price_update(f"c{n}", [offer])
            if (
                rig.planner.guard.held.get(sku) is not None
                and rig.planner.guard.held[sku].item == offer
            ):
                held.add((sku, version[sku]))
        else:
            _, sku, decision = step
            waiting = rig.planner.guard.held.get(sku)
            await rig.pipeline.plan(
                await rig.pipeline.prices.review(f"r{n}", [review(sku, version[sku], decision)])
            )
            if (
                waiting is not None
                and waiting.item.version == version[sku]
                and decision == "release"
            ):
                released.add((sku, version[sku]))
    await rig.settle()
    run.cancel()
    written = {(h.split("|")[0], int(h.split("|")[1])) for _, h in rig.written}
    assert not (written & (held - released)), (written, held, released)
    d = sqlite_utils.Database(path / "gw.db")
    for sku, v in held:
        statuses = {
            r[0]
            for r in d.execute(
                "SELECT status FROM label_results "
                "WHERE sku = ? AND version = ? AND command_id LIKE 'c%'",
                [sku, v],
            ).fetchall()
        }
        assert statuses <= {"held"}, (sku, v, statuses)
    await db.close()


async def _versioned(label_id: str, item: PriceItem, template: str | None) -> Rendered:
    """A rendering whose hash names the SKU and version it shows."""
    tag = f"{item.sku}|{item.version}"
    return Rendered(tag, "test", tag.encode(), b"png")
