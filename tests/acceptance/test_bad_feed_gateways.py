"""Acceptance: the bad feed in a store with three gateways (contract 1.1 and 1.2).

Three ``store-gateway run`` processes on the three-box floor, one broker, the cloud
checker. Every gateway judges every item alike and reports its own events; the labels'
owners answer the labels, each once across the store. A release and a discard taken on
one gateway's page reach the labels the other gateways own: the released price is on
every shelf of its SKU, the discarded one on none.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.access.passwords import hash_password
from gateway.bench.rig.badfeed import bad_feed, expected_hashes
from gateway.bench.rig.broker import Mosquitto, free_port
from gateway.bench.rig.campaigns import LabelCloud, label_ids
from gateway.bench.rig.cloud import Cloud
from gateway.bench.rig.processes import GatewayProcess
from gateway.bench.rig.signing import public_x
from gateway.bench.rig.web import AdminPage
from gateway.sim.control import VirtualStoreClient
from gateway.sim.runner import virtual_floor
from tests.acceptance.test_bad_feed import PASSWORD, decisions_for

pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parents[2]
FLOOR = ROOT / "config" / "scenarios" / "three-box-floor.toml"
STORE = "three-box"
BOXES = ("box-a", "box-b", "box-c")
LABELS = label_ids(FLOOR)
PAGE_BOX = "box-b"  # the gateway whose page an admin uses


def config(tmp_path: Path, box: str, port: int, web_port: int) -> Path:
    web = "enabled = false"
    if box == PAGE_BOX:
        web = (
            f'bind = "127.0.0.1"\nport = {web_port}\n[[web.users]]\nname = "ada"\n'
            f'role = "admin"\npassword_hash = "{hash_password(PASSWORD, log2_n=10)}"'
        )
    path = tmp_path / f"{box}.toml"
    path.write_text(f"""
store_id = "{STORE}"
gateway_id = "{box}"
data_dir = "{tmp_path / box}"
[ble]
adapters = ["hci0"]
[registry]
offline_floor = "5s"
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[device_state]
min_interval = "0.5s"
status_heartbeat = "5s"
[multi_gateway]
enabled = true
hold = "5s"
[security]
[[security.trusted_keys]]
kid = "cloud-1"
x = "{public_x()}"
[labels]
budget = "120s"
notify_settle = "0.1s"
[prices]
currency = "CNY"
[logging]
level = "info"
[web]
{web}
""")
    return path


def address(label_id: str) -> str:
    return ":".join(label_id[i : i + 2] for i in range(0, 12, 2)).upper()


def sku(n: int) -> str:
    return f"sku-{n:03d}"


async def test_a_bad_feed_in_a_store_with_three_gateways(tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    cloud = Cloud(broker.port, prefix=f"retail/v1/{STORE}/#")
    cloud.start()
    campaigns = LabelCloud(cloud, store_id=STORE)
    web_port = free_port()
    page = AdminPage(tmp_path / PAGE_BOX, web_port)
    async with virtual_floor(FLOOR, device_timeout_s=60) as floor:
        control = await VirtualStoreClient.connect(floor.bus_address("box-a"))
        gws = {
            box: GatewayProcess(
                config(tmp_path, box, broker.port, web_port),
                floor.bus_address(box),
                tmp_path / f"{box}.log",
            )
            for box in BOXES
        }
        try:
            for g in gws.values():
                g.start()
            await cloud.until(
                lambda: all(cloud.owners().owner_of(i) is not None for i in LABELS),
                90,
                "labels owned",
            )
            feed = bad_feed([sku(n) for n in range(len(LABELS))])
            gateways = set(BOXES)
            binds = campaigns.bind([(lid, sku(n)) for n, lid in enumerate(LABELS)])
            await cloud.until(lambda: campaigns.stored(binds, gateways), 60, "bindings stored")
            first = campaigns.price_items([i.body() for i in feed.base])
            await cloud.until(
                lambda: campaigns.finished_by(binds + first, gateways), 240, "first prices"
            )
            steps = [
                c for step in feed.steps for c in campaigns.price_items([i.body() for i in step])
            ]
            await cloud.until(
                lambda: campaigns.finished_by(steps, gateways), 240, "the feed answered"
            )

            # Each target answered once across the store, by the label's owner; every wrong
            # item held or flagged by its rule on every gateway.
            answers = campaigns.answers(steps)
            label_of = {sku(n): lid for n, lid in enumerate(LABELS)}
            for item in feed.items():
                got = [
                    (gw, r) for gw, r in answers[label_of[item.sku]] if r["version"] == item.version
                ]
                assert len(got) == 1, (item, got)
                status = got[0][1]["status"]
                if item.outcome == "held":
                    assert status == "held", (item, got)
                else:
                    assert status in ("displayed", "superseded"), (item, got)
            events = cloud.of("/events")
            for box in BOXES:
                held = {
                    (e["price"]["sku"], e["price"]["version"])
                    for e in events
                    if e["type"] == "price.held" and e["gateway_id"] == box
                }
                assert held == {(i.sku, i.version) for i in feed.held()}, box
                flagged = {
                    (e["price"]["sku"], e["price"]["version"])
                    for e in events
                    if e["type"] == "price.flagged" and e["gateway_id"] == box
                }
                assert flagged == {(i.sku, i.version) for i in feed.flagged()}, box

            # One release and one discard on box-b's page, of labels the other boxes own;
            # the rest decided by the cloud.
            decided = decisions_for(feed)
            owners = cloud.owners()
            elsewhere = [i for i in feed.held() if owners.owner_of(label_of[i.sku]) != PAGE_BOX]
            released = next(i for i in elsewhere if decided[(i.sku, i.version)] == "release")
            discarded = next(i for i in elsewhere if decided[(i.sku, i.version)] == "discard")
            await page.login("ada", PASSWORD)
            for item, decision, note in (
                (released, "release", "a real clearance price"),
                (discarded, "discard", "decimal point lost"),
            ):
                body = {"sku": item.sku, "version": item.version, "note": note}
                await page.post(f"/api/prices/{decision}", body)
            rest = [i for i in feed.held() if i not in (released, discarded)]
            reviews = campaigns.review(
                [(i.sku, i.version, decided[(i.sku, i.version)], "by the buyer") for i in rest]
            )
            await cloud.until(lambda: campaigns.finished_by(reviews, gateways), 240, "reviews")
            answered = campaigns.answers(reviews)
            assert all(len(v) == 1 for v in answered.values()), answered
            assert set(answered) == {label_of[i.sku] for i in rest}
            for i in rest:
                [(_, r)] = answered[label_of[i.sku]]
                want = "displayed" if decided[(i.sku, i.version)] == "release" else "discarded"
                assert r["status"] == want, (i, r)
            reviewed = Counter(
                (e["gateway_id"], e["price"]["by"])
                for e in cloud.of("/events")
                if e["type"] == "price.reviewed"
                and (e["price"]["sku"], e["price"]["version"])
                in {(released.sku, released.version), (discarded.sku, discarded.version)}
            )
            assert reviewed == Counter({(box, "ada"): 2 for box in BOXES}), reviewed

            # The final shelf, label by label: each written by its owner, none twice for
            # the same price.
            decided[(released.sku, released.version)] = "release"
            decided[(discarded.sku, discarded.version)] = "discard"
            expected = await asyncio.to_thread(
                expected_hashes, FLOOR, LABELS, sku, feed.newest(decided)
            )

            async def shelf_right() -> list[str]:
                stats = await control.label_stats()
                return [
                    lid
                    for lid in LABELS
                    if (stats[address(lid)]["image_sha256"] or "")[:16] != expected[lid]
                ]

            deadline = asyncio.get_running_loop().time() + 120
            while (wrong := await shelf_right()) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(1)
            assert wrong == [], f"{len(wrong)} labels do not show what they should: {wrong[:3]}"

            def shelf() -> dict[str, dict[str, Any]]:
                out = {}
                for box in BOXES:
                    statuses = [
                        s for s in cloud.of("/status") if s["gateway_id"] == box and "shelf" in s
                    ]
                    out[box] = statuses[-1]["shelf"] if statuses else {}
                return out

            def compliant() -> bool:
                return all(s.get("compliance") == 1.0 and s["held"] == 0 for s in shelf().values())

            await cloud.until(compliant, 60, "every gateway's shelf compliant, nothing held")
            assert sum(s["bound"] for s in shelf().values()) == len(LABELS), shelf()
        finally:
            await page.close()
            await control.close()
            for g in gws.values():
                g.ensure_stopped()
            cloud.stop()
            broker.stop()
    assert cloud.violations == [], cloud.violations[:5]
