"""A real Gateway object (database, registry, alerts) behind the real web app, on loopback.

BLE is not started: these tests are about the web layer; the gateway's data is
fed through its own registry as the scanner would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from drivers.types import Advertisement, DeviceKind, Observation
from gateway.alerts import Rule, Selector
from gateway.daemon.app import Gateway, GatewaySettings
from gateway.registry import RegistryOptions
from gateway.web.passwords import hash_password
from gateway.web.security import WebUser
from gateway.web.server import WebOptions, build_app

PASSWORD = "correct-horse-battery"
FRIDGE_ID = "c4d912ab0f31"


@dataclass
class WebHarness:
    gateway: Gateway
    client: TestClient  # type: ignore[type-arg]

    def feed(self, temp: float, address: str = "C4:D9:12:AB:0F:31") -> None:
        adv = Advertisement(address=address, rssi=-70, name="Fridge 1")
        obs = Observation(
            kind=DeviceKind.SENSOR,
            model="ruuvi-rawv2",
            readings={"temperature_c": temp},
            battery_pct=80.0,
        )
        self.gateway.registry.observe(adv, obs, time.monotonic(), time.time())

    async def login(self, user: str) -> str:
        resp = await self.client.post("/api/login", json={"user": user, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return str(body["csrf"])


@pytest.fixture
async def web_harness(tmp_path: Path) -> AsyncIterator[WebHarness]:
    hashed = hash_password(PASSWORD, log2_n=10)
    users = {
        name: WebUser(name, role, hashed)  # type: ignore[arg-type]
        for name, role in (("vera", "viewer"), ("tom", "technician"), ("ada", "admin"))
    }
    settings = GatewaySettings(
        store_id="store-0042",
        gateway_id="gw-1",
        data_dir=tmp_path,
        registry=RegistryOptions(tags={FRIDGE_ID: ("fridge",)}),
        alert_rules=(
            Rule(
                name="fridge-too-warm",
                metric="temperature_c",
                op="above",
                threshold=5.0,
                clear=4.5,
                severity="critical",
                selector=Selector(tags=frozenset({"fridge"})),
            ),
        ),
        web=WebOptions(bind="127.0.0.1", port=0),
        web_users=users,
        redacted_config={"store_id": "store-0042", "mqtt": {"password_file": "<redacted>"}},
    )
    gateway = Gateway(settings)
    await gateway.db.open()
    app: web.Application = build_app(gateway, gateway.auth, settings.web)  # type: ignore[arg-type]
    gateway.supervisor.add("alerts", gateway.alerts.run)
    from gateway.web.keys import LIVE_KEY

    gateway.supervisor.add("web-live", app[LIVE_KEY].run, critical=False)
    gateway.supervisor.start()
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield WebHarness(gateway, client)
    finally:
        await client.close()
        await gateway.supervisor.stop(budget_s=2)
        await gateway.db.close()
