"""The price guard's rules (contract 1.2), rule by rule and mode by mode, at their limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.prices.history import DAY_S, Applied, SkuHistory
from gateway.prices.rules import RULES, BadRules, Offer, PriceRules, judge

NOW = 1_800_000_000.0


def offer(price: str, original: str | None = None, currency: str = "CNY") -> Offer:
    return Offer(
        "sku-1", 9, Decimal(price), currency, None if original is None else Decimal(original)
    )


def history(*points: tuple[str, float], currency: str = "CNY") -> SkuHistory:
    """Prices applied ``days`` before NOW, oldest first."""
    return SkuHistory(
        Applied(v, Decimal(p), currency, NOW - days * DAY_S)
        for v, (p, days) in enumerate(points, start=1)
    )


def messages(o: Offer, h: SkuHistory, rules: PriceRules | None = None) -> dict[str, str]:
    verdict = judge(o, h, rules or PriceRules(), NOW)
    return {b.rule: f"{b.mode}: {b.message}" for b in verdict.broken}


# (rule, offer, history, broken?, the message when broken)
CASES = [
    ("non-positive", offer("0"), history(), "hold: non-positive: the price is 0"),
    ("non-positive", offer("0.00"), history(("5.00", 3)), "hold: non-positive: the price is 0.00"),
    ("non-positive", offer("0.01"), history(), None),
    (
        "max-drop",
        offer("1.29"),
        history(("12.90", 3)),
        "hold: max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)",
    ),
    ("max-drop", offer("6.45"), history(("12.90", 3)), None),  # exactly 50 %: at the limit
    (
        "max-drop",
        offer("6.44"),
        history(("12.90", 3)),
        "hold: max-drop: 12.90 -> 6.44 is a 50.1 % drop (limit 50 %)",
    ),
    ("max-drop", offer("1.29"), history(), None),  # a first price: absolute rules only
    ("max-rise", offer("20.00"), history(("10.00", 3)), None),  # exactly 100 %
    (
        "max-rise",
        offer("20.01"),
        history(("10.00", 3)),
        "warn: max-rise: 10.00 -> 20.01 is a 100.1 % rise (limit 100 %)",
    ),
    ("max-rise", offer("99.00"), history(("10.00", 3), currency="EUR"), None),  # other currency
    (
        "promo-not-lower",
        offer("16.00", original="15.00"),
        history(("15.00", 40)),
        "hold: promo-not-lower: the price 16.00 is not below the original price 15.00",
    ),
    (
        "promo-not-lower",
        offer("15.00", original="15.00"),
        history(),
        "hold: promo-not-lower: the price 15.00 is not below the original price 15.00",
    ),
    ("promo-not-lower", offer("14.99", original="15.00"), history(("15.00", 40)), None),
    # "was 15.00, now 9.90" right after a raise from 10.00: the lowest of 30 days is 10.00.
    (
        "prior-price",
        offer("9.90", original="15.00"),
        history(("10.00", 60), ("15.00", 2)),
        "warn: prior-price: the original price 15.00 is above 10.00, "
        "the lowest price of the last 30 days",
    ),
    # 10.00 was replaced 31 days ago: out of the window.
    ("prior-price", offer("9.90", original="15.00"), history(("10.00", 60), ("15.00", 31)), None),
    # 10.00 was still shown 30 days ago (replaced 29 days ago): in the window.
    (
        "prior-price",
        offer("9.90", original="15.00"),
        history(("10.00", 60), ("15.00", 29)),
        "warn: prior-price: the original price 15.00 is above 10.00, "
        "the lowest price of the last 30 days",
    ),
    ("prior-price", offer("9.90", original="15.00"), history(("15.00", 60)), None),
    ("prior-price", offer("9.90"), history(("10.00", 60), ("15.00", 2)), None),  # no reduction
    (
        "currency",
        offer("12.90", currency="USD"),
        history(),
        "hold: currency: USD is not the store's currency (CNY)",
    ),
    ("currency", offer("12.90", currency="CNY"), history(), None),
]


@pytest.mark.parametrize(("rule", "o", "h", "expected"), CASES)
def test_each_rule_at_its_limits(rule: str, o: Offer, h: SkuHistory, expected: str | None) -> None:
    rules = PriceRules.parse({}, "CNY")
    assert messages(o, h, rules).get(rule) == expected


def test_change_rate_counts_changes_in_the_last_24_hours() -> None:
    # Ten changes within the day: the item is the eleventh, over the default of 10.
    points = [("10.00", 3)] + [(f"{10 + n}.00", 0.9 - n * 0.05) for n in range(1, 11)]
    h = history(*points)
    assert messages(offer("30.00"), h)["change-rate"] == (
        "warn: change-rate: 11 price changes in 24 h (limit 10)"
    )
    # The same price again is no change; nor is a change older than a day.
    assert "change-rate" not in messages(offer("20.00"), h)
    older = history(*[("10.00", 3)] + [(f"{10 + n}.00", 1.5 - n * 0.05) for n in range(1, 11)])
    assert "change-rate" not in messages(offer("30.00"), older)


@pytest.mark.parametrize("mode", ["off", "warn", "hold"])
@pytest.mark.parametrize("rule", [r.name for r in RULES])
def test_every_rule_obeys_its_mode(rule: str, mode: str) -> None:
    """Each rule broken on purpose: off says nothing, warn flags, hold holds."""
    breaking = {
        "non-positive": (offer("0"), history(("5.00", 3))),
        "currency": (offer("5.00", currency="USD"), history(("5.00", 3), currency="USD")),
        "max-drop": (offer("1.00"), history(("5.00", 3))),
        "max-rise": (offer("50.00"), history(("5.00", 3))),
        "promo-not-lower": (offer("6.00", original="5.00"), history(("5.00", 3))),
        "prior-price": (offer("4.00", original="9.00"), history(("5.00", 60), ("9.00", 1))),
        "change-rate": (
            offer("4.00"),
            history(*[("5.00", 3)] + [(f"{5 + n}.00", 0.5 - n * 0.01) for n in range(1, 12)]),
        ),
    }
    o, h = breaking[rule]
    others = {r.name: {"mode": "off"} for r in RULES if r.name != rule}
    rules = PriceRules.parse({**others, rule: {"mode": mode}}, "CNY")
    verdict = judge(o, h, rules, NOW)
    assert [b.rule for b in verdict.broken] == ([] if mode == "off" else [rule])
    assert verdict.held is (mode == "hold")
    assert verdict.flagged is (mode == "warn")


def test_verdict_carries_the_figures_of_the_event() -> None:
    h = history(("11.90", 40), ("12.90", 10))
    verdict = judge(offer("0.99"), h, PriceRules(), NOW)
    assert verdict.held
    assert verdict.previous_price == Decimal("12.90")
    assert verdict.lowest_prior_price == Decimal("11.90")
    assert verdict.history_days == 30.0
    assert verdict.error() == "max-drop: 12.90 -> 0.99 is a 92.3 % drop (limit 50 %)"
    # With only 10 days of history, it says so.
    assert judge(offer("12.00"), history(("12.90", 10)), PriceRules(), NOW).history_days == 10.0


def test_holding_rules_come_first_in_the_error() -> None:
    h = history(("10.00", 60), ("20.00", 1))
    verdict = judge(offer("9.00", original="25.00"), h, PriceRules(), NOW)
    assert [b.rule for b in verdict.broken] == ["max-drop", "prior-price"]
    verdict = judge(offer("30.00", original="25.00"), history(("10.00", 60)), PriceRules(), NOW)
    assert verdict.error().startswith("promo-not-lower:")
    assert "max-rise:" in verdict.error()


def test_limits_set_by_configuration_or_command() -> None:
    rules = PriceRules.parse({"max-drop": {"mode": "warn", "pct": 12.5}}, None)
    assert messages(offer("8.74"), history(("10.00", 3)), rules) == {
        "max-drop": "warn: max-drop: 10.00 -> 8.74 is a 12.6 % drop (limit 12.5 %)"
    }
    assert messages(offer("8.75"), history(("10.00", 3)), rules) == {}
    assert rules.as_dict()["max-drop"] == {"mode": "warn", "pct": 12.5}
    assert rules.as_dict()["max-rise"] == {"mode": "warn", "pct": 100.0}
    assert rules.as_dict()["change-rate"] == {"mode": "warn", "per_day": 10}


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"max-dorp": {"mode": "hold"}}, "unknown price rule 'max-dorp'"),
        ({"max-drop": {"mode": "stop"}}, "max-drop: mode 'stop' is not one of off, warn, hold"),
        ({"max-drop": {"mode": "hold", "days": 3}}, "max-drop: unknown key 'days'"),
        ({"max-drop": {"mode": "hold", "pct": 0}}, "max-drop: pct 0 is out of range"),
        ({"prior-price": {"mode": "warn", "days": 400}}, "prior-price: days 400 is out of range"),
        ({"change-rate": {"mode": "warn", "per_day": 2.5}}, "per_day must be a whole number"),
    ],
)
def test_bad_rules_are_named(given: dict[str, dict[str, object]], message: str) -> None:
    with pytest.raises(BadRules, match=message):
        PriceRules.parse(given, None)


prices = st.decimals(min_value=0, max_value=10_000, places=2, allow_nan=False)


@given(
    price=prices,
    original=st.none() | prices,
    past=st.lists(st.tuples(prices, st.floats(0, 90)), max_size=8),
    modes=st.lists(st.sampled_from(["off", "warn", "hold"]), min_size=7, max_size=7),
)
def test_an_item_is_held_or_flagged_or_clean_never_both(
    price: Decimal,
    original: Decimal | None,
    past: list[tuple[Decimal, float]],
    modes: list[str],
) -> None:
    h = SkuHistory(
        Applied(v, p, "CNY", NOW - days * DAY_S)
        for v, (p, days) in enumerate(sorted(past, key=lambda x: -x[1]), start=1)
    )
    rules = PriceRules.parse(
        {r.name: {"mode": m} for r, m in zip(RULES, modes, strict=True)}, "CNY"
    )
    verdict = judge(Offer("s", 99, price, "CNY", original), h, rules, NOW)
    assert not (verdict.held and verdict.flagged)
    assert verdict.held == any(b.mode == "hold" for b in verdict.broken)
    assert all(rules.settings[b.rule].mode == b.mode for b in verdict.broken)
    if price == 0 and rules.settings["non-positive"].mode == "hold":
        assert verdict.held
