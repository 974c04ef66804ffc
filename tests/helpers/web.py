"""The real web app on loopback, behind a port built from real components (a database, a
registry, the alert service), not from a whole Gateway.

BLE is not started: these tests are about the web layer; the port's data is fed
through its registry as the scanner would.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from drivers.adverts.gicisky import decode_gicisky
from drivers.types import Advertisement, DeviceKind, Observation
from gateway.alerts import Rule, Selector
from gateway.alerts.service import AlertService
from gateway.ble.ingest import IngestCounters
from gateway.ble.manager import BleManager
from gateway.ble.scanner import ScannerOptions
from gateway.bridge.payloads import Identity
from gateway.daemon.supervisor import Supervisor
from gateway.daemon.web_view import Components, GatewayView
from gateway.energy.counters import Counter, CounterReports, token_hash
from gateway.energy.model import Calendar, HvacZone, LightZone, Zones
from gateway.energy.service import EnergyService
from gateway.labels.jobs import AttemptResult, LabelJob, Outcome
from gateway.labels.pipeline import LabelOptions, LabelPipeline
from gateway.labels.scheduler import ConnectGate
from gateway.ownership import Ownership, OwnershipOptions
from gateway.registry import Registry, RegistryOptions
from gateway.registry.history import ReadingHistory
from gateway.sim.building import LightingZone, ThermalZone
from gateway.store import Database
from gateway.web.keys import LIVE_KEY
from gateway.web.passwords import hash_password
from gateway.web.security import Auth, LoginLimiter, WebUser
from gateway.web.server import WebOptions, build_app

PASSWORD = "correct-horse-battery"
FRIDGE_ID = "c4d912ab0f31"
COUNTER_TOKEN = "door-north-token-5b1d0c"
DOOR = "aabbcc001122"
LABEL_ADDRESS = "FF:00:12:A3:B4:C5"


async def _no_acks(acks: list[dict[str, object]]) -> None:
    return None


async def _written(job: LabelJob, adapter: str, gate: ConnectGate) -> AttemptResult:
    """A label transfer that succeeds at once (the web tests need no radio)."""
    return AttemptResult(Outcome.DONE)


class Clock:
    """The energy loop's clock, moved by the tests (an override expiring in seconds)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Building:
    """The energy zones behind the port: the virtual building's, in-process."""

    service: EnergyService
    room: ThermalZone
    lamp: LightingZone
    clock: Clock


@dataclass
class WebHarness:
    registry: Registry
    alerts: AlertService
    client: TestClient  # type: ignore[type-arg]
    ownership: Ownership | None = None
    building: Building | None = None
    history: ReadingHistory | None = None
    labels: LabelPipeline | None = None

    def see_label(self, address: str = LABEL_ADDRESS, advert: str = "0b1d810141") -> str:
        """A shelf label advertises (by default a 2.1" black/white/red Gicisky label)."""
        adv = Advertisement(address=address, rssi=-60, name="NEMR" + address[-5:])
        self.registry.observe(
            adv, decode_gicisky(bytes.fromhex(advert)), time.monotonic(), time.time()
        )
        return address.replace(":", "").lower()

    def feed(self, temp: float, address: str = "C4:D9:12:AB:0F:31") -> None:
        adv = Advertisement(address=address, rssi=-70, name="Fridge 1")
        obs = Observation(
            kind=DeviceKind.SENSOR,
            model="ruuvi-rawv2",
            readings={"temperature_c": temp},
            battery_pct=80.0,
        )
        self.registry.observe(adv, obs, time.monotonic(), time.time())

    async def login(self, user: str) -> str:
        resp = await self.client.post("/api/login", json={"user": user, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return str(body["csrf"])


@pytest.fixture
async def web_harness(tmp_path: Path) -> AsyncIterator[WebHarness]:
    async with _harness(tmp_path, None) as harness:
        yield harness


@pytest.fixture
async def shared_web_harness(tmp_path: Path) -> AsyncIterator[WebHarness]:
    """The same, for a gateway sharing its store with others (contract 1.1)."""
    ownership = Ownership("store-0042", "gw-1", OwnershipOptions())
    async with _harness(tmp_path, ownership) as harness:
        yield harness


@contextlib.asynccontextmanager
async def _harness(tmp_path: Path, ownership: Ownership | None) -> AsyncIterator[WebHarness]:
    hashed = hash_password(PASSWORD, log2_n=10)
    users = {
        name: WebUser(name, role, hashed)  # type: ignore[arg-type]
        for name, role in (("vera", "viewer"), ("tom", "technician"), ("ada", "admin"))
    }
    db = Database(tmp_path / "gateway.db")
    await db.open()
    registry = Registry(RegistryOptions(tags={FRIDGE_ID: ("fridge",)}))
    rule = Rule(
        name="fridge-too-warm",
        metric="temperature_c",
        op="above",
        threshold=5.0,
        clear=4.5,
        severity="critical",
        selector=Selector(tags=frozenset({"fridge"})),
    )
    alerts = AlertService(db, registry, (rule,), dict)
    supervisor = Supervisor()
    counters = CounterReports(
        db,
        {"door-north": Counter("door-north", token_hash(COUNTER_TOKEN), "generic", DOOR)},
        Identity("store-0042", "gw-1"),
    )
    clock = Clock()
    room, lamp = ThermalZone("sales", temperature=21.0), LightingZone("lights-sales")
    energy = EnergyService(
        Calendar.weekly({d: ("00:00", "23:59") for d in range(7)}),
        Zones(hvac=[HvacZone("sales")], lights=[LightZone("lights-sales", floor=40)]),
        {"sales": room, "lights-sales": lamp},
        counters,
        lambda: None,
        clock=clock,
    )
    history = ReadingHistory(db, registry)
    labels = LabelPipeline(
        db,
        registry,
        LabelOptions(),
        lambda: ["hci0"],
        lambda **kw: dict(kw),
        _no_acks,
        transfer=_written,
        ownership=ownership,
    )
    await labels.start()
    port = GatewayView(
        Components(
            store_id="store-0042",
            gateway_id="gw-1",
            started_at=time.time(),
            registry=registry,
            ingest=IngestCounters(),
            ble=BleManager(("hci0",), lambda _: None, ScannerOptions()),
            supervisor=supervisor,
            alerts=alerts,
            ownership=ownership,
            counters=counters,
            energy=energy,
            history=history,
            labels=labels,
            redacted_config={"store_id": "store-0042", "mqtt": {"password_file": "<redacted>"}},
        )
    )
    auth = Auth(users, 3600.0, LoginLimiter(5, 300.0), False)
    app: web.Application = build_app(port, auth, WebOptions(bind="127.0.0.1", port=0))
    supervisor.add("alerts", alerts.run)
    supervisor.add("web-live", app[LIVE_KEY].run, critical=False)
    for name, task in labels.tasks().items():
        supervisor.add(name, task)
    supervisor.start()
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield WebHarness(
            registry,
            alerts,
            client,
            ownership,
            Building(energy, room, lamp, clock),
            history,
            labels,
        )
    finally:
        await client.close()
        await supervisor.stop(budget_s=2)
        await db.close()
