"""The bad feed through the price guard, item by item in the order a gateway takes it:
every wrong item held or flagged by the rule the feed says, every good one applied."""

from __future__ import annotations

from gateway.bench.rig.badfeed import bad_feed
from gateway.prices.guard import PriceGuard
from gateway.prices.model import PriceItem
from gateway.prices.rules import PriceRules

T = 1_800_000_000.0


def as_item(body: dict[str, object]) -> PriceItem:
    return PriceItem(
        str(body["sku"]),
        int(body["version"]),  # type: ignore[call-overload]
        str(body["price"]),
        str(body["currency"]),
        None if body.get("original_price") is None else str(body["original_price"]),
        name=str(body["name"]),
    )


def test_every_item_of_the_feed_meets_the_verdict_it_is_made_for() -> None:
    skus = [f"sku-{n:05d}" for n in range(2000)]
    feed = bad_feed(skus)
    assert len(feed.base) == 2000 and 2000 < len(feed.items()) < 2100
    assert {i.kind for i in feed.items()} >= {
        "good",
        "decimal-shift",
        "zero",
        "promo-not-lower",
        "wrong-currency",
        "fake-discount",
        "change-rate",
    }
    guard = PriceGuard(PriceRules.parse({}, "CNY"))
    now = T
    for item in feed.base:
        assert not guard.judge(as_item(item.body()), now).broken
        guard.apply(as_item(item.body()), "base", now)
    outcomes: dict[str, int] = {}
    for step in feed.steps:
        now += 60
        for expected in step:
            item = as_item(expected.body())
            verdict = guard.judge(item, now)
            outcome = "held" if verdict.held else "flagged" if verdict.flagged else "displayed"
            assert (outcome, tuple(b.rule for b in verdict.broken)) == (
                expected.outcome,
                expected.rules,
            ), expected
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if verdict.held:
                guard.hold(item, verdict, "feed", now)
            else:
                guard.apply(item, "feed", now)
    assert outcomes == {"held": 100, "flagged": 22, "displayed": len(feed.items()) - 122}
    # A smaller store gets at least one of each.
    small = bad_feed(skus[:100])
    assert {i.kind for i in small.held()} == {
        "decimal-shift",
        "zero",
        "promo-not-lower",
        "wrong-currency",
    }
    assert {i.kind for i in small.flagged()} == {"fake-discount", "change-rate"}
