"""The price guard's rules (contract 1.2, "The price guard"), every one in this module.

Each rule is a small pure function from the item (an :class:`Offer`) and what the
gateway knows of its SKU (a :class:`~gateway.prices.history.SkuHistory`) to None (the
rule holds) or a message that carries its own figures::

    max-drop: 12.90 -> 1.29 is a 90.0 % drop (limit 50 %)

:data:`RULES` is the table of rules with their defaults; :func:`judge` asks every rule
whose mode is not ``off`` and returns a :class:`Verdict`. Money is :class:`Decimal`
throughout, never float, and every limit is exact: a drop of exactly 50 % with a limit
of 50 % breaks nothing ("more than").

A SKU's first price (no history in the item's currency) is judged by the absolute
rules only (``non-positive``, ``currency``, ``promo-not-lower``); the others compare
with prices applied before, and prices are compared only within one currency.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from gateway.prices.history import DAY_S, SkuHistory

Mode = Literal["off", "warn", "hold"]
MODES: tuple[Mode, ...] = ("off", "warn", "hold")


@dataclass(frozen=True, slots=True)
class Offer:
    """A price item as the guard judges it (the command's strings made decimals)."""

    sku: str
    version: int
    price: Decimal
    currency: str
    original_price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Setting:
    """One rule's mode and, for the rules that have one, its limit (``pct`` for the
    two percentage rules, ``days`` for ``prior-price``, ``per_day`` for
    ``change-rate``)."""

    mode: Mode
    limit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """What a rule may look at besides the item: the SKU's history, the store's
    currency, the moment of judging and the rule's own setting."""

    history: SkuHistory
    currency: str | None
    now: float
    setting: Setting


Check = Callable[[Offer, Context], str | None]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    default: Setting
    param: str | None  # the limit's key in configuration and in ``price-rules``
    relative: bool  # compares with the SKU's history (not asked for a first price)
    check: Check
    integer: bool = False  # the limit is a whole number


# ---- the rules ---------------------------------------------------------------------------


def _non_positive(offer: Offer, ctx: Context) -> str | None:
    if offer.price > 0:
        return None
    return f"non-positive: the price is {offer.price}"


def _currency(offer: Offer, ctx: Context) -> str | None:
    if ctx.currency is None or offer.currency == ctx.currency:
        return None
    return f"currency: {offer.currency} is not the store's currency ({ctx.currency})"


def _max_drop(offer: Offer, ctx: Context) -> str | None:
    current = ctx.history.current_price(offer.currency)
    pct = _limit(ctx)
    if current is None or current <= 0 or offer.price >= current:
        return None
    # (current - price) / current > pct / 100, without dividing: exact at the limit.
    if (current - offer.price) * 100 <= pct * current:
        return None
    drop = (current - offer.price) * 100 / current
    return f"max-drop: {current} -> {offer.price} is a {_pct(drop)} % drop (limit {_plain(pct)} %)"


def _max_rise(offer: Offer, ctx: Context) -> str | None:
    current = ctx.history.current_price(offer.currency)
    pct = _limit(ctx)
    if current is None or current <= 0 or offer.price <= current:
        return None
    if (offer.price - current) * 100 <= pct * current:
        return None
    rise = (offer.price - current) * 100 / current
    return f"max-rise: {current} -> {offer.price} is a {_pct(rise)} % rise (limit {_plain(pct)} %)"


def _promo_not_lower(offer: Offer, ctx: Context) -> str | None:
    if offer.original_price is None or offer.price < offer.original_price:
        return None
    return (
        f"promo-not-lower: the price {offer.price} is not below "
        f"the original price {offer.original_price}"
    )


def _prior_price(offer: Offer, ctx: Context) -> str | None:
    if offer.original_price is None:
        return None
    days = int(_limit(ctx))
    lowest = ctx.history.lowest_price(offer.currency, ctx.now - days * DAY_S, ctx.now)
    if lowest is None or offer.original_price <= lowest:
        return None
    return (
        f"prior-price: the original price {offer.original_price} is above {lowest}, "
        f"the lowest price of the last {days} days"
    )


def _change_rate(offer: Offer, ctx: Context) -> str | None:
    per_day = int(_limit(ctx))
    changes = ctx.history.changes_since(offer.currency, ctx.now - DAY_S)
    if ctx.history.current_price(offer.currency) != offer.price:
        changes += 1  # this item is a change too
    if changes <= per_day:
        return None
    return f"change-rate: {changes} price changes in 24 h (limit {per_day})"


RULES: tuple[Rule, ...] = (
    Rule("non-positive", Setting("hold"), None, False, _non_positive),
    Rule("currency", Setting("hold"), None, False, _currency),
    Rule("max-drop", Setting("hold", Decimal(50)), "pct", True, _max_drop),
    Rule("max-rise", Setting("warn", Decimal(100)), "pct", True, _max_rise),
    Rule("promo-not-lower", Setting("hold"), None, False, _promo_not_lower),
    Rule("prior-price", Setting("warn", Decimal(30)), "days", True, _prior_price, integer=True),
    Rule("change-rate", Setting("warn", Decimal(10)), "per_day", True, _change_rate, integer=True),
)
BY_NAME: Mapping[str, Rule] = {r.name: r for r in RULES}
# The limits a limit may take (the contract's command schema says the same).
LIMITS: Mapping[str, tuple[Decimal, Decimal, bool]] = {
    # param: (lowest, highest, lowest allowed itself)
    "pct": (Decimal(0), Decimal(1000), False),
    "days": (Decimal(1), Decimal(366), True),
    "per_day": (Decimal(1), Decimal(1000), True),
}


def _limit(ctx: Context) -> Decimal:
    assert ctx.setting.limit is not None  # every rule with a param has a default limit
    return ctx.setting.limit


def _pct(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    """50 -> "50", 12.50 -> "12.5"."""
    text = format(value.normalize(), "f")
    return text


# ---- the set of rules in force ----------------------------------------------------------


class BadRules(ValueError):
    """Price rules that cannot apply; the message names the rule, the key and the fix."""


@dataclass(frozen=True, slots=True)
class PriceRules:
    """The rules in force: each rule's setting, the store's currency (None: the
    ``currency`` rule does not apply) and the version of the ``price-rules`` command
    that set them (0: the configuration's)."""

    settings: Mapping[str, Setting] = field(
        default_factory=lambda: {r.name: r.default for r in RULES}
    )
    currency: str | None = None
    version: int = 0

    @classmethod
    def parse(
        cls, rules: Mapping[str, Mapping[str, Any]], currency: str | None, version: int = 0
    ) -> PriceRules:
        """Rules as configuration or a ``price-rules`` body give them: every rule not
        named keeps its default, every limit not given too. Raises :class:`BadRules`."""
        settings = {r.name: r.default for r in RULES}
        for name, given in rules.items():
            rule = BY_NAME.get(name)
            if rule is None:
                raise BadRules(f"unknown price rule {name!r}; the rules are {', '.join(BY_NAME)}")
            settings[name] = _setting(rule, given)
        return cls(settings, currency, version)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The rules as ``price-rules`` and the page show them."""
        out: dict[str, dict[str, Any]] = {}
        for rule in RULES:
            s = self.settings[rule.name]
            entry: dict[str, Any] = {"mode": s.mode}
            if rule.param is not None and s.limit is not None:
                entry[rule.param] = int(s.limit) if rule.integer else float(s.limit)
            out[rule.name] = entry
        return out

    def window_days(self) -> int:
        """The ``prior-price`` window, whatever its mode (the event's figures use it)."""
        limit = self.settings["prior-price"].limit
        return int(limit if limit is not None else BY_NAME["prior-price"].default.limit or 30)

    def with_currency(self, currency: str | None) -> PriceRules:
        return replace(self, currency=currency)


def _setting(rule: Rule, given: Mapping[str, Any]) -> Setting:
    keys = {"mode"} | ({rule.param} if rule.param else set())
    unknown = sorted(set(given) - keys)
    if unknown:
        raise BadRules(
            f"price rule {rule.name}: unknown key {unknown[0]!r}; "
            f"it takes {', '.join(sorted(keys))}"
        )
    mode = given.get("mode")
    if mode not in MODES:
        raise BadRules(f"price rule {rule.name}: mode {mode!r} is not one of off, warn, hold")
    limit = rule.default.limit
    if rule.param is not None and rule.param in given:
        raw = given[rule.param]
        if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
            raise BadRules(f"price rule {rule.name}: {rule.param} must be a number, not {raw!r}")
        try:
            limit = Decimal(str(raw))
        except ArithmeticError:
            raise BadRules(
                f"price rule {rule.name}: {rule.param} {raw!r} is not a number"
            ) from None
        low, high, low_ok = LIMITS[rule.param]
        if not limit.is_finite() or limit > high or limit < low or (limit == low and not low_ok):
            bound = f"from {low}" if low_ok else f"above {low}"
            raise BadRules(
                f"price rule {rule.name}: {rule.param} {raw} is out of range "
                f"(give a value {bound} up to {high})"
            )
        if rule.integer and limit != limit.to_integral_value():
            raise BadRules(f"price rule {rule.name}: {rule.param} must be a whole number")
    return Setting(mode, limit)


# ---- judging -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broken:
    rule: str
    mode: Literal["warn", "hold"]
    message: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules say of one item, with the figures the events carry."""

    broken: tuple[Broken, ...]
    previous_price: Decimal | None
    lowest_prior_price: Decimal | None
    history_days: float | None

    @property
    def held(self) -> bool:
        return any(b.mode == "hold" for b in self.broken)

    @property
    def flagged(self) -> bool:
        return bool(self.broken) and not self.held

    def error(self) -> str:
        """The broken rules as a label result's ``error``: the holding ones first."""
        ordered = sorted(self.broken, key=lambda b: b.mode != "hold")
        return "; ".join(b.message for b in ordered)


def judge(offer: Offer, history: SkuHistory, rules: PriceRules, now: float) -> Verdict:
    """Ask every rule that is not off; ``now`` is the moment of acceptance (an item
    valid from later is judged against the prices applied when it arrived)."""
    first = history.current_price(offer.currency) is None
    broken = []
    for rule in RULES:
        setting = rules.settings[rule.name]
        if setting.mode == "off" or (first and rule.relative):
            continue
        message = rule.check(offer, Context(history, rules.currency, now, setting))
        if message is not None:
            broken.append(Broken(rule.name, setting.mode, message))
    days = rules.window_days()
    return Verdict(
        tuple(broken),
        history.current_price(offer.currency),
        history.lowest_price(offer.currency, now - days * DAY_S, now),
        history.known_days(now, days),
    )
