"""The real web app on loopback, behind a port built from real components (a database, a
registry, the alert service), not from a whole Gateway.

BLE is not started: these tests are about the web layer; the port's data is fed
through its registry as the scanner would.
"""

from __future__ import annotations

import contextlib
import json
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from drivers.adverts.gicisky import decode_gicisky
from drivers.types import Advertisement, DeviceKind, Observation
from gateway.access import totp
from gateway.access.audit import AuditLog
from gateway.access.passwords import hash_password
from gateway.access.users import Seed, UserStore
from gateway.alerts import Rule, Selector
from gateway.alerts.service import AlertService
from gateway.ble.ingest import IngestCounters
from gateway.ble.manager import BleManager
from gateway.ble.scanner import ScannerOptions
from gateway.bridge.outbox import Outbox
from gateway.bridge.payloads import Identity
from gateway.contract.topics import Topics
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
from gateway.web.security import Auth, LoginGuard
from gateway.web.server import WebOptions, build_app
from gateway.web.tls import TlsOptions, context, describe

PASSWORD = "correct-horse-battery"
FRIDGE_ID = "c4d912ab0f31"
COUNTER_TOKEN = "door-north-token-5b1d0c"
DOOR = "aabbcc001122"
LABEL_ADDRESS = "FF:00:12:A3:B4:C5"
# name -> role. Those in ENROLLED have a second factor set up (their secrets in the
# harness); "newt", an admin without one, may only sign in to set it up; "tim", a
# technician without one, cannot take a sensitive action.
USERS = {
    "vera": "viewer",
    "tom": "technician",
    "ada": "admin",
    "newt": "admin",
    "tim": "technician",
}
ENROLLED = ("vera", "tom", "ada")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path  # the server's chain
    key: Path
    ca: Path


class TotpClock:
    """The users' clock for second-factor codes: each code the tests make is for a later
    time step (the gateway takes a step once only), so sign-ins need not wait 30 s."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def next_step(self) -> float:
        self.offset += totp.STEP_S
        return self()


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
    users: UserStore | None = None
    audit: AuditLog | None = None
    secrets: dict[str, str] | None = None
    totp_clock: TotpClock | None = None
    auth: Auth | None = None
    db: Database | None = None

    async def events(self, type_: str) -> list[dict[str, Any]]:
        """The events of ``type_`` the gateway produced (in its outbox), oldest first."""
        assert self.db is not None
        rows = await self.db.read(
            lambda d: d.execute(
                "SELECT payload FROM outbox WHERE stream = 'events' ORDER BY id"
            ).fetchall()
        )
        return [e for e in (json.loads(r[0]) for r in rows) if e["type"] == type_]

    def code(self, user: str) -> str:
        """A second-factor code of ``user`` for a time step not used yet."""
        assert self.secrets is not None and self.totp_clock is not None
        return totp.code_at(self.secrets[user], self.totp_clock.next_step())

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
        """Signed in (with the second factor when the user has one): the CSRF token."""
        body: dict[str, str] = {"user": user, "password": PASSWORD}
        if self.secrets is not None and user in self.secrets:
            body["code"] = self.code(user)
        resp = await self.client.post("/api/login", json=body)
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["csrf"])

    async def step_up(self, user: str, csrf: str) -> None:
        resp = await self.client.post(
            "/api/me/step-up", json={"code": self.code(user)}, headers={"X-CSRF-Token": csrf}
        )
        assert resp.status == 200, await resp.text()


@pytest.fixture
async def web_harness(tmp_path: Path) -> AsyncIterator[WebHarness]:
    async with harness(tmp_path, None) as h:
        yield h


@pytest.fixture
async def shared_web_harness(tmp_path: Path) -> AsyncIterator[WebHarness]:
    """The same, for a gateway sharing its store with others (contract 1.1)."""
    ownership = Ownership("store-0042", "gw-1", OwnershipOptions())
    async with harness(tmp_path, ownership) as h:
        yield h


@contextlib.asynccontextmanager
async def harness(
    tmp_path: Path, ownership: Ownership | None, tls: TlsFiles | None = None
) -> AsyncIterator[WebHarness]:
    """``tls``: served over HTTPS with that certificate (its CA trusted by the client)."""
    hashed = hash_password(PASSWORD, log2_n=10)
    db = Database(tmp_path / "gateway.db")
    await db.open()
    totp_clock = TotpClock()
    users = UserStore(db, [Seed(n, r, hashed) for n, r in USERS.items()], clock=totp_clock)
    await users.load()
    secrets = {}
    for name in ENROLLED:
        secrets[name] = users.enrol(name).secret
        await users.confirm_enrolment(name, totp.code_at(secrets[name], totp_clock.next_step()))
    outbox = Outbox(
        db,
        Identity("store-0042", "gw-1"),
        Topics("retail/v1", "store-0042", "gw-1"),
        max_bytes=10_000_000,
        ttl={},
    )
    await outbox.open()
    audit = AuditLog(db, outbox)  # the audit's events into a real outbox (nothing sends it)
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
    auth = Auth(users, 3600.0, 1800.0, LoginGuard(5, 20), secure=tls is not None)
    users.listeners.append(auth.user_changed)
    tls_options = None if tls is None else TlsOptions(tls.cert, tls.key)
    app: web.Application = build_app(
        port,
        auth,
        users,
        audit,
        WebOptions(bind="127.0.0.1", port=0, tls=tls_options),
        None if tls_options is None else describe(tls.cert, tls.key),  # type: ignore[union-attr]
    )
    supervisor.add("alerts", alerts.run)
    supervisor.add("web-live", app[LIVE_KEY].run, critical=False)
    for name, task in labels.tasks().items():
        supervisor.add(name, task)
    supervisor.start()
    if tls is None:
        client = TestClient(TestServer(app, host="127.0.0.1"))
    else:
        assert tls_options is not None
        trust = ssl.create_default_context(cafile=str(tls.ca))
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=context(tls_options))
        client = TestClient(server, connector=aiohttp.TCPConnector(ssl=trust))
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
            users,
            audit,
            secrets,
            totp_clock,
            auth,
            db,
        )
    finally:
        await client.close()
        await supervisor.stop(budget_s=2)
        await db.close()
