"""A price feed with known mistakes in it, for the price guard's acceptance runs and its
benchmark: every SKU gets a first, clean price, then a feed in which a known set of
items is wrong, mixed with good ones:

- ``decimal-shift``: the decimal point lost in an export (12.90 -> 1.29): held by
  ``max-drop``;
- ``zero``: a price of 0: held by ``non-positive`` (and ``max-drop``);
- ``promo-not-lower``: a promo whose price is not below its "was": held;
- ``wrong-currency``: USD in a CNY store: held by ``currency``;
- ``fake-discount``: a raise by half, then "was <raised>, now less than before":
  flagged by ``prior-price`` (the lowest price of 30 days is the one before the raise);
- ``change-rate``: one SKU changed twelve times in a day: the eleventh and twelfth
  changes flagged by ``change-rate``;
- ``good``: a rise of 1 to 10 %, displayed.

The feed is made of steps (commands, in order): the main feed, then the discounts
and the change-rate SKU's versions one step each. :meth:`BadFeed.expected` says for
every (sku, version) what the guard must make of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

Outcome = Literal["displayed", "held", "flagged"]

# How many SKUs of each kind, per 2,000 SKUs (at least one each in a smaller feed).
SHARES = {
    "decimal-shift": 40,
    "zero": 20,
    "promo-not-lower": 20,
    "wrong-currency": 20,
    "fake-discount": 20,
}
CHANGES = 12  # versions after the first of the change-rate SKU (the 11th and 12th flagged)


@dataclass(frozen=True, slots=True)
class FeedItem:
    sku: str
    version: int
    price: str
    currency: str = "CNY"
    original_price: str | None = None
    kind: str = "good"
    outcome: Outcome = "displayed"
    rules: tuple[str, ...] = ()  # the rules it breaks

    def body(self) -> dict[str, object]:
        out: dict[str, object] = {
            "sku": self.sku,
            "version": self.version,
            "price": self.price,
            "currency": self.currency,
            "name": f"商品 {self.sku}",
        }
        if self.original_price is not None:
            out["original_price"] = self.original_price
        return out


@dataclass
class BadFeed:
    base: list[FeedItem]  # the first price of every SKU
    steps: list[list[FeedItem]] = field(default_factory=list)  # then these, in order

    def items(self) -> list[FeedItem]:
        return [i for step in self.steps for i in step]

    def expected(self) -> dict[tuple[str, int], FeedItem]:
        return {(i.sku, i.version): i for i in self.items()}

    def of(self, kind: str) -> list[FeedItem]:
        return [i for i in self.items() if i.kind == kind]

    def held(self) -> list[FeedItem]:
        return [i for i in self.items() if i.outcome == "held"]

    def flagged(self) -> list[FeedItem]:
        return [i for i in self.items() if i.outcome == "flagged"]

    def newest(self, decisions: dict[tuple[str, int], str]) -> dict[str, FeedItem]:
        """What each SKU's labels show in the end, once the held items were decided
        (``decisions``: (sku, version) -> release | discard): the newest version applied."""
        shown = {i.sku: i for i in self.base}
        for item in self.items():
            decision = decisions.get((item.sku, item.version))
            if item.outcome != "held" or decision == "release":
                shown[item.sku] = item
        return shown


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def base_price(n: int) -> Decimal:
    """The first price of the n-th SKU: 2.00 to 91.99."""
    return Decimal(f"{n % 90 + 2}.{n * 37 % 100:02d}")


def bad_feed(skus: Sequence[str]) -> BadFeed:
    """The feed for these SKUs: the wrong ones spread over them, in the order of SHARES,
    then one change-rate SKU; the rest good."""
    scale = len(skus) / 2000
    counts = {kind: max(1, round(share * scale)) for kind, share in SHARES.items()}
    # Every 7th SKU (fewer SKUs: spread over all of them), so the wrong ones mix with good.
    stride = max(1, min(7, len(skus) // (sum(counts.values()) + 2)))
    spread = iter(range(0, len(skus), stride))
    kinds: dict[str, str] = {}
    for kind, count in counts.items():
        for _ in range(count):
            kinds[skus[next(spread)]] = kind
    rate_sku = skus[next(spread)]
    kinds[rate_sku] = "change-rate"

    base = [FeedItem(s, 1, _money(base_price(n))) for n, s in enumerate(skus)]
    main: list[FeedItem] = []
    later: list[FeedItem] = []
    for n, sku in enumerate(skus):
        p = base_price(n)
        kind = kinds.get(sku, "good")
        if kind == "decimal-shift":
            main.append(
                FeedItem(sku, 2, _money(p / 10), kind=kind, outcome="held", rules=("max-drop",))
            )
        elif kind == "zero":
            main.append(
                FeedItem(sku, 2, "0", kind=kind, outcome="held", rules=("non-positive", "max-drop"))
            )
        elif kind == "promo-not-lower":
            main.append(
                FeedItem(
                    sku,
                    2,
                    _money(p * Decimal("1.02")),
                    original_price=_money(p),
                    kind=kind,
                    outcome="held",
                    rules=("promo-not-lower",),
                )
            )
        elif kind == "wrong-currency":
            main.append(
                FeedItem(
                    sku,
                    2,
                    _money(p),
                    currency="USD",
                    kind=kind,
                    outcome="held",
                    rules=("currency",),
                )
            )
        elif kind == "fake-discount":
            raised = p * Decimal("1.5")
            main.append(FeedItem(sku, 2, _money(raised), kind="fake-discount-raise"))
            later.append(
                FeedItem(
                    sku,
                    3,
                    _money(p * Decimal("0.95")),
                    original_price=_money(raised),
                    kind=kind,
                    outcome="flagged",
                    rules=("prior-price",),
                )
            )
        elif kind == "good":
            main.append(FeedItem(sku, 2, _money(p * (1 + Decimal(n % 10 + 1) / 100))))
    steps = [main, later]
    rate_base = base_price(skus.index(rate_sku))
    for k in range(1, CHANGES + 1):
        flagged = k > 10
        steps.append(
            [
                FeedItem(
                    rate_sku,
                    1 + k,
                    _money(rate_base + Decimal(k) / 100),
                    kind="change-rate",
                    outcome="flagged" if flagged else "displayed",
                    rules=("change-rate",) if flagged else (),
                )
            ]
        )
    return BadFeed(base, [s for s in steps if s])


def expected_hashes(
    scenario: Path, labels: Sequence[str], sku_of: Callable[[int], str], shown: dict[str, FeedItem]
) -> dict[str, str]:
    """label id -> the content hash of what the label's SKU should show (``shown``),
    rendered here, independently of any gateway; ``labels`` in the scenario's order, the
    n-th bound to ``sku_of(n)``."""
    from drivers.labels.panels import ID_MASK, PANELS
    from gateway.labels.render import LabelContent, render
    from gateway.sim.scenario import read_scenario

    spec = read_scenario(scenario)
    panels = [PANELS[g.hardware & ID_MASK] for g in spec.labels for _ in range(g.count)]
    out = {}
    for n, (label_id, panel) in enumerate(zip(labels, panels, strict=True)):
        item = shown[sku_of(n)]
        content = LabelContent(
            sku=item.sku,
            price=item.price,
            currency=item.currency,
            name=f"商品 {item.sku}",
            original_price=item.original_price,
        )
        out[label_id] = render(content, panel).content_hash
    return out
