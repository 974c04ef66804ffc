"""The page's API in a store with several gateways: who owns each device, who else hears
it, how many devices each gateway owns."""

from __future__ import annotations

from gateway.ownership import Claim
from tests.helpers.web import FRIDGE_ID, WebHarness

OTHER = "c4d912ab0f32"


def share(h: WebHarness) -> None:
    """gw-1 owns the fridge (epoch 3); gw-2 owns another sensor and hears the fridge too."""
    o = h.ownership
    assert o is not None
    o.restore(
        [Claim(store_id="store-0042", gateway_id="gw-1", device_id=FRIDGE_ID, epoch=3, rssi=-70)]
    )
    o.status_seen("gw-2", online=True)
    o.claim_seen(
        "gw-2",
        OTHER,
        Claim(store_id="store-0042", gateway_id="gw-2", device_id=OTHER, epoch=1, rssi=-60),
    )
    o.hearing_seen("gw-2", FRIDGE_ID[-1], {FRIDGE_ID: -81})
    h.feed(3.0)
    h.feed(3.0, address="C4:D9:12:AB:0F:32")


async def test_devices_say_who_owns_them_and_who_else_hears_them(
    shared_web_harness: WebHarness,
) -> None:
    h = shared_web_harness
    share(h)
    await h.login("vera")
    devices = {
        d["device_id"]: d for d in (await (await h.client.get("/api/devices")).json())["devices"]
    }
    assert devices[FRIDGE_ID]["owner"] == "gw-1" and devices[FRIDGE_ID]["owner_epoch"] == 3
    assert devices[FRIDGE_ID]["heard_by"] == {"gw-2": -81}
    assert devices[OTHER]["owner"] == "gw-2" and devices[OTHER]["owner_epoch"] is None
    status = await (await h.client.get("/api/status")).json()
    assert status["ownership"] == {"owned": {"gw-1": 1, "gw-2": 1}, "offline": []}
    # gw-2 goes offline (its Will): it owns nothing any more, nobody hears through it.
    assert h.ownership is not None
    h.ownership.status_seen("gw-2", online=False)
    status = await (await h.client.get("/api/status")).json()
    assert status["ownership"]["offline"] == ["gw-2"]
    devices = {
        d["device_id"]: d for d in (await (await h.client.get("/api/devices")).json())["devices"]
    }
    assert devices[OTHER]["owner"] is None and devices[FRIDGE_ID]["heard_by"] == {}


async def test_a_store_with_one_gateway_shows_no_ownership(web_harness: WebHarness) -> None:
    h = web_harness
    h.feed(3.0)
    await h.login("vera")
    device = (await (await h.client.get("/api/devices")).json())["devices"][0]
    assert "owner" not in device and "heard_by" not in device
    assert (await (await h.client.get("/api/status")).json())["ownership"] is None
