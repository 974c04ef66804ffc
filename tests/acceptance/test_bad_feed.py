"""Acceptance: a price feed with known mistakes on the virtual supermarket's 2,000 labels.

The store and the gateway run as processes, the cloud talks to a real mosquitto. Every
SKU gets a clean first price, then the bad feed (``gateway/bench/rig/badfeed.py``): every
wrong item must be held or flagged by the rule it breaks, every good one displayed; the
held ones are then released or discarded, by the cloud and by an admin on the gateway,
and what each simulated label shows is compared with an independent rendering of the
price it should show.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from gateway.access.passwords import hash_password
from gateway.bench.rig.badfeed import BadFeed, FeedItem, bad_feed, expected_hashes
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.campaigns import SUPERMARKET
from gateway.bench.rig.web import AdminPage
from tests.acceptance.test_supermarket_labels import Run, address, broker, sku

__all__ = ["broker"]  # the fixture this module uses

pytestmark = pytest.mark.timeout(1500)

PASSWORD = "shelf-review-2026"


def decisions_for(feed: BadFeed) -> dict[tuple[str, int], str]:
    """What becomes of each held item: a lost decimal point is seen by a person as such
    (discarded, but one released: a real clearance price), zeros and the wrong currency
    are discarded, promos whose "was" is wrong are released half, discarded half."""
    decided: dict[tuple[str, int], str] = {}
    by_kind: dict[str, list[FeedItem]] = defaultdict(list)
    for item in feed.held():
        by_kind[item.kind].append(item)
    for kind, items in by_kind.items():
        for n, item in enumerate(items):
            release = (kind == "decimal-shift" and n == 1) or (
                kind == "promo-not-lower" and n % 2 == 0
            )
            decided[(item.sku, item.version)] = "release" if release else "discard"
    return decided


async def test_a_bad_feed_is_held_and_flagged_reviewed_and_the_shelf_is_right(
    tmp_path: Path, broker: Mosquitto
) -> None:
    web_port = free_port()
    hashed = hash_password(PASSWORD, log2_n=10)
    extra = (
        '[prices]\ncurrency = "CNY"\n'
        f'[[web.users]]\nname = "ada"\nrole = "admin"\npassword_hash = "{hashed}"\n'
    )
    # The guard is under test here, not the labels' pace: they run twice as fast as in
    # the supermarket's own scenario (whose campaigns test_supermarket_labels runs).
    scenario = tmp_path / "supermarket-fast.toml"
    text = SUPERMARKET.read_text()
    assert "label_speedup = 10" in text
    scenario.write_text(text.replace("label_speedup = 10", "label_speedup = 20", 1))
    run = Run(tmp_path, broker, scenario, extra=extra, web_port=web_port)
    page = AdminPage(tmp_path / "data", web_port)
    await run.start()
    try:
        campaigns, cloud = run.campaigns, run.cloud
        labels = set(run.labels)
        skus = [sku(n) for n in range(len(run.labels))]
        feed = bad_feed(skus)
        await cloud.until(lambda: campaigns.labels_known() >= labels, 180, "labels seen")
        binds = campaigns.bind([(lid, sku(n)) for n, lid in enumerate(run.labels)])
        await cloud.until(lambda: campaigns.stored(binds), 60, "bindings stored")
        first = campaigns.price_items([i.body() for i in feed.base])
        await cloud.until(lambda: campaigns.finished(binds + first), 900, "first prices shown")

        steps = [campaigns.price_items([i.body() for i in step]) for step in feed.steps]
        feed_ids = [c for ids in steps for c in ids]
        await cloud.until(lambda: campaigns.finished(feed_ids), 900, "the bad feed answered")

        # Every wrong item held or flagged by its rule, every good one displayed.
        label_of = {sku(n): lid for n, lid in enumerate(run.labels)}
        results = {(r["label_id"], r["sku"], r["version"]): r for r in campaigns.results(feed_ids)}
        for item in feed.items():
            r = results[(label_of[item.sku], item.sku, item.version)]
            if item.outcome == "held":
                assert r["status"] == "held", (item, r)
                assert [m.split(":")[0] for m in r["error"].split("; ")] == list(item.rules), r
            elif r["status"] != "superseded":  # a newer version of the SKU came before it
                assert r["status"] == "displayed", (item, r)
        statuses = Counter(r["status"] for r in results.values())
        print("the bad feed:", dict(statuses))
        assert statuses["held"] == len(feed.held())
        events = cloud.of("/events")
        held = {
            (e["price"]["sku"], e["price"]["version"]) for e in events if e["type"] == "price.held"
        }
        assert held == {(i.sku, i.version) for i in feed.held()}
        flagged = {
            (e["price"]["sku"], e["price"]["version"]): [x["rule"] for x in e["price"]["rules"]]
            for e in events
            if e["type"] == "price.flagged"
        }
        assert flagged == {(i.sku, i.version): list(i.rules) for i in feed.flagged()}

        # The held ones decided: two on the page, the rest by the cloud.
        decided = decisions_for(feed)
        shifts = [i for i in feed.held() if i.kind == "decimal-shift"]
        promos = [i for i in feed.held() if i.kind == "promo-not-lower"]
        on_page = [shifts[1], promos[1]]  # released and discarded on the page
        by_cloud = [i for i in feed.held() if i not in on_page]
        await page.login("ada", PASSWORD)  # over HTTPS; her second factor set up first
        assert len((await page.get("/api/prices"))["held"]) == len(feed.held())
        for item in on_page:
            decision = decided[(item.sku, item.version)]
            body = {"sku": item.sku, "version": item.version, "note": "checked on the shelf"}
            await page.post(f"/api/prices/{decision}", body)
        reviews = campaigns.review(
            [
                (i.sku, i.version, decided[(i.sku, i.version)], "checked with the buyer")
                for i in by_cloud
            ]
        )
        await cloud.until(lambda: campaigns.finished(reviews), 600, "reviews answered")
        for r in campaigns.results(reviews):
            decision = decided[(r["sku"], r["version"])]
            assert r["status"] == ("displayed" if decision == "release" else "discarded"), r
        assert (await page.get("/api/prices"))["held"] == []
        reviewed = [e["price"] for e in cloud.of("/events") if e["type"] == "price.reviewed"]
        assert {(p["sku"], p["version"], p["by"]) for p in reviewed} == {
            (i.sku, i.version, "ada" if i in on_page else "cloud") for i in feed.held()
        }

        # The final shelf, label by label.
        expected = await asyncio.to_thread(
            expected_hashes, scenario, run.labels, sku, feed.newest(decided)
        )
        stats = await run.refreshed(expected, labels, timeout_s=120)
        wrong = [
            lid
            for lid in labels
            if (stats[address(lid)]["image_sha256"] or "")[:16] != expected[lid]
        ]
        assert wrong == [], f"{len(wrong)} labels do not show what they should, e.g. {wrong[:3]}"

        def shelf() -> dict[str, Any]:
            statuses = [s for s in cloud.of("/status") if s["state"] == "online" and "shelf" in s]
            return statuses[-1]["shelf"] if statuses else {}

        await cloud.until(
            lambda: shelf().get("compliance") == 1.0 and shelf().get("held") == 0,
            120,
            "the shelf compliant",
        )
        assert shelf()["bound"] == 2000 and shelf()["time_to_shelf_s"]["count"] > 2000
    finally:
        await page.close()
        await run.stop()
    assert run.cloud.violations == [], run.cloud.violations[:5]
    assert run.cloud.gaps("acks") == [] and run.cloud.gaps("events") == []
