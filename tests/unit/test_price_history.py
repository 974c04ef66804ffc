"""A SKU's price history: what was shown when, and what may be forgotten."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import sqlite_utils

from gateway.prices import store
from gateway.prices.guard import PriceGuard
from gateway.prices.history import DAY_S, Applied, SkuHistory
from gateway.prices.model import PriceItem
from gateway.prices.rules import PriceRules
from gateway.store import Database

T = 1_800_000_000.0


def point(version: int, price: str, at: float, currency: str = "CNY") -> Applied:
    return Applied(version, Decimal(price), currency, at)


def test_a_version_shown_only_until_a_newer_one_takes_effect() -> None:
    h = SkuHistory([point(1, "10.00", T), point(2, "8.00", T + 100), point(3, "12.00", T + 50)])
    # v3 took effect before v2: v2 was never shown.
    assert h.in_force(T + 10).version == 1  # type: ignore[union-attr]
    assert h.in_force(T + 200).version == 3  # type: ignore[union-attr]
    assert h.lowest_price("CNY", T, T + 1000) == Decimal("10.00")
    assert h.current_price("CNY") == Decimal("12.00")
    assert h.current_price("EUR") is None
    assert h.changes_since("CNY", T - 1) == 1
    assert h.in_force(T - 1) is None


def test_a_scheduled_price_is_not_in_force_before_its_time() -> None:
    h = SkuHistory([point(1, "10.00", T), point(2, "5.00", T + DAY_S)])
    assert h.in_force(T + 10).version == 1  # type: ignore[union-attr]
    assert h.lowest_price("CNY", T - DAY_S, T + 10) == Decimal("10.00")


def test_prune_keeps_what_was_shown_in_the_window_and_the_newest() -> None:
    h = SkuHistory([point(1, "1.00", T), point(2, "2.00", T + 10), point(3, "3.00", T + 100)])
    gone = h.prune(T + 50)  # v1 ended at T+10: gone; v2 shown until T+100: kept
    assert [p.version for p in gone] == [1]
    assert [p.version for p in h] == [2, 3]
    assert [p.version for p in h.prune(T + 10_000)] == [2]
    assert [p.version for p in h] == [3]


def item(version: int, price: str, sku: str = "A") -> PriceItem:
    return PriceItem(sku, version, price, "CNY")


async def test_sql_prune_forgets_what_memory_forgets(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    guard = PriceGuard(PriceRules())
    writes = [
        guard.apply(item(1, "1.00"), "c1", T),
        guard.apply(item(2, "2.00"), "c2", T + 10),
        guard.apply(item(3, "3.00"), "c3", T + 100),
        guard.apply(item(1, "9.00", sku="B"), "c4", T),  # alone: the newest of its SKU
    ]
    for w in writes:
        await db.run(w)
    gone = await db.run(lambda d: store.prune_versions(d, T + 50, max_rows=100))
    assert gone == 1
    rows = {(r.item.sku, r.item.version) for r in await db.read(store.load_versions)}
    assert rows == {("A", 2), ("A", 3), ("B", 1)}
    # Over the row cap the oldest go first, never the newest of a SKU.
    gone = await db.run(lambda d: store.prune_versions(d, T, max_rows=1))
    rows = {(r.item.sku, r.item.version) for r in await db.read(store.load_versions)}
    assert rows == {("A", 3), ("B", 1)}
    await db.close()


async def test_the_guard_restores_everything_it_knew(tmp_path: Path) -> None:
    db = Database(tmp_path / "gw.db")
    await db.open()
    guard = PriceGuard(PriceRules())
    await db.run(guard.apply(item(1, "12.90"), "c1", T))
    verdict = guard.judge(item(2, "1.29"), T + 60)
    assert verdict.held
    await db.run(guard.hold(item(2, "1.29"), verdict, "c2", T + 60))
    rules = PriceRules.parse({"max-rise": {"mode": "hold", "pct": 20}}, "CNY", version=3)
    await db.run(guard.set_rules(rules, "c3", {"max-rise": {"mode": "hold", "pct": 20}}, T))

    again = PriceGuard(PriceRules())
    await again.load(db)
    assert again.items["A"].price == "12.90"
    assert again.held["A"].item.version == 2
    assert again.held["A"].verdict.error() == verdict.error()
    assert again.held["A"].verdict.previous_price == Decimal("12.90")
    assert again.newest_version("A") == 2
    assert again.rules.version == 3 and again.rules.currency == "CNY"
    assert again.rules_command == "c3"
    assert again.judge(item(3, "15.50"), T + 120).held  # max-rise 20 % holds now
    await db.close()


def test_migration_keeps_the_prices_of_before(tmp_path: Path) -> None:
    """A database from before the price guard keeps each SKU's current price as history."""
    import sqlite3

    from gateway.store.migrations import apply_migrations

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, target=16)
    conn.execute(
        "INSERT INTO sku_items (sku, version, item, command_id, valid_from, received_at) "
        "VALUES ('A', 4, ?, 'c', NULL, ?)",
        ['{"sku": "A", "version": 4, "price": "3.50", "currency": "CNY"}', T],
    )
    apply_migrations(conn)
    d = sqlite_utils.Database(conn)
    rows = store.load_versions(d)
    assert [(r.item.sku, r.item.version, r.state, r.effective_at) for r in rows] == [
        ("A", 4, "applied", T)
    ]
