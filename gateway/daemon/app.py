"""The gateway daemon: its components, wired and supervised.

``Gateway`` owns the database and every long-running component. Each component
runs as a supervised task (restarted with backoff if it fails; see
``supervisor``). The daemon stops on request within a bounded time, flushing
what must not be lost.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import ssl
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import structlog
from aiohttp import web

from gateway import __version__
from gateway.access.audit import AuditLog
from gateway.access.options import AccessOptions
from gateway.access.users import UserStore
from gateway.alerts import Rule
from gateway.alerts.service import AlertService
from gateway.alerts.webhook import Webhook, WebhookOptions
from gateway.ble.ingest import AdvertIngest, IngestOptions
from gateway.ble.manager import BleManager
from gateway.ble.scanner import ScannerOptions
from gateway.bridge import payloads
from gateway.bridge.bridge import Bridge, BridgeOptions
from gateway.bridge.mqtt import Inbound
from gateway.bridge.outbox import Outbox, Outgoing
from gateway.commands.inbox import Inbox, InboxOptions
from gateway.commands.model import Command, EnergySettingsUpdate, Resync
from gateway.contract.events import Event
from gateway.contract.topics import Topics
from gateway.daemon.links import BridgeLink
from gateway.daemon.sdnotify import Notifier
from gateway.daemon.supervisor import Supervisor
from gateway.daemon.watchdog import Watchdog
from gateway.daemon.web_view import Components, GatewayView
from gateway.energy.ble_counters import BleCounters
from gateway.energy.counters import Counter, CounterReports
from gateway.energy.service import EnergyService, EnergySettings
from gateway.labels.pipeline import LabelOptions, LabelPipeline
from gateway.ownership import Ownership, OwnershipOptions
from gateway.ownership.coordinator import Coordinator
from gateway.prices import relay
from gateway.prices import store as price_store
from gateway.registry import DeviceChange, Registry, RegistryOptions
from gateway.registry.events import lifecycle_event
from gateway.registry.history import HistoryOptions, ReadingHistory
from gateway.registry.persistence import flush_dirty, load_devices
from gateway.store import Database
from gateway.store.database import Synchronous
from gateway.tasks import spawn
from gateway.web import tls
from gateway.web.keys import LIVE_KEY, WEB_INFO_KEY
from gateway.web.local_api import SOCKET_NAME, serve_local_api
from gateway.web.security import Auth, LoginGuard
from gateway.web.server import WebOptions, build_app, serve
from gateway.web.tls import CertInfo

log = structlog.get_logger("gateway.daemon")

REGISTRY_FLUSH_S = 5.0
DB_PROBE_S = 2.0
READY_WAIT_S = 10.0
# How long each critical component may go without progress before the
# watchdog stops pinging systemd.
WATCHDOG_LIMITS = {"ble": 60.0, "database": 30.0, "publisher": 30.0}
SWEEP_S = 1.0
RATE_WINDOW_S = 10.0


class AlreadyRunning(RuntimeError):
    """Another gateway process holds this data directory."""


@dataclass(frozen=True)
class GatewaySettings:
    """Everything the daemon needs, as the components' own option values."""

    store_id: str
    gateway_id: str
    data_dir: Path
    adapters: tuple[str, ...] | Literal["auto"] = "auto"
    scanner: ScannerOptions = field(default_factory=ScannerOptions)
    ingest: IngestOptions = field(default_factory=IngestOptions)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    alert_rules: tuple[Rule, ...] = ()
    synchronous: Synchronous = "full"
    web: WebOptions | None = None
    access: AccessOptions = field(default_factory=AccessOptions)
    stop_budget_s: float = 10.0
    watchdog_limits: Mapping[str, float] = field(default_factory=lambda: dict(WATCHDOG_LIMITS))
    bridge: BridgeOptions | None = None
    ownership: OwnershipOptions | None = None  # several gateways share the store
    inbox: InboxOptions | None = None
    webhook: WebhookOptions | None = None
    labels: LabelOptions = field(default_factory=LabelOptions)
    counters: Mapping[str, Counter] = field(default_factory=dict)  # people counters
    ble_counters: Mapping[str, str] = field(default_factory=dict)  # device id -> reading
    energy: EnergySettings | None = None  # lighting and air-conditioning zones
    history: HistoryOptions | None = None  # sensor readings kept for the charts
    redacted_config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def database_path(self) -> Path:
        return self.data_dir / "gateway.db"


class Gateway:
    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.db = Database(settings.database_path, synchronous=settings.synchronous)
        self.registry = Registry(settings.registry)
        self.ingest = AdvertIngest(self.registry, settings.ingest)
        self.ble = BleManager(settings.adapters, self.ingest.handle, settings.scanner)
        self.supervisor = Supervisor()
        self.bridge: Bridge | None = None
        self.inbox: Inbox | None = None
        self.labels: LabelPipeline | None = None
        self.ownership: Ownership | None = None
        self.coordinator: Coordinator | None = None
        outbox: Outbox | None = None
        if settings.bridge is not None and settings.inbox is not None:
            # Built in the order they need each other: the outbox (the durable streams),
            # the label pipeline (acks into the outbox, label changes told to the
            # registry), the bridge (sends the outbox, asks the pipeline what a label's
            # state says), the inbox (commands in, acks out).
            ident = payloads.Identity(settings.store_id, settings.gateway_id)
            options = settings.bridge
            topics = Topics(options.topic_prefix, ident.store_id, ident.gateway_id)
            if settings.ownership is not None:
                self.ownership = Ownership(ident.store_id, ident.gateway_id, settings.ownership)
            outbox = Outbox(self.db, ident, topics, max_bytes=options.max_bytes, ttl=options.ttl)
            self.labels = LabelPipeline(
                self.db,
                self.registry,
                settings.labels,
                self._up_adapters,
                partial(payloads.ack, ident),
                outbox.produce_acks,
                ownership=self.ownership,
                events_in=outbox,
            )
            self.bridge = Bridge(
                self.db,
                self.registry,
                outbox,
                options,
                __version__,
                self.started_at,
                status_view=self._bridge_status,
                device_label=self.labels.device_label,
                on_command=self._on_command,
                ownership=self.ownership,
                signals=()
                if self.ownership is None
                else (topics.claims, topics.statuses, topics.hearings, topics.all_reviews),
                on_signal=self._on_signal,
            )
            self.inbox = Inbox(self.db, ident, settings.inbox, outbox, outbox.topics)
            # The one table of command types and who carries them out.
            self.inbox.route(
                {
                    "price-update": self._label_command,
                    "label-bind": self._label_command,
                    "label-unbind": self._label_command,
                    "label-flash": self._label_command,
                    "resync": self._resync,
                    "energy-settings": self._energy_settings,
                    "price-rules": self._label_command,
                    "price-review": self._label_command,
                }
            )
            self.registry.subscribe(self._device_event)
        labels = self.labels
        self.counters = CounterReports(
            self.db,
            settings.counters,
            payloads.Identity(settings.store_id, settings.gateway_id),
            outbox,
        )
        self.ble_counters = (
            BleCounters(self.db, self.registry, settings.ble_counters)
            if settings.ble_counters
            else None
        )
        self.history = (
            None
            if settings.history is None
            else ReadingHistory(self.db, self.registry, settings.history)
        )
        self.energy: EnergyService | None = None
        if settings.energy is not None:
            e = settings.energy
            self.energy = EnergyService(
                e.calendar,
                e.zones,
                e.controllers(),
                self.counters,
                partial(_reading, self.registry, e.outside_sensor, "temperature_c"),
                step_s=e.step_s,
                device_ids=e.device_ids,
                emit=None if outbox is None else partial(_telemetry, outbox),
                db=self.db,
            )
        self.alerts = AlertService(
            self.db,
            self.registry,
            settings.alert_rules,
            self.gateway_metrics,
            emit=None if self.bridge is None else self.bridge.emit,
            device_metrics=None
            if labels is None
            else {"label_failed": lambda d: _label_failed(labels, d.device_id)},
            owns=self._owns,
        )
        if self.ownership is not None and self.bridge is not None:
            self.coordinator = Coordinator(
                self.db,
                self.registry,
                self.ownership,
                BridgeLink(self.bridge),
                self.alerts,
                None if self.labels is None else self.labels.handover,
            )
        access = settings.access
        self.users = UserStore(
            self.db,
            access.seeds,
            access.second_factor_roles,
            issuer=f"store-gateway {settings.gateway_id}",
        )
        self.audit = AuditLog(self.db, outbox, keep_s=access.audit_keep_s)
        self.auth = Auth(
            self.users,
            access.session_lifetime_s,
            access.session_idle_s,
            LoginGuard(access.user_limit, access.address_limit, access.window_s),
            secure=access.secure_cookies
            or (settings.web is not None and settings.web.tls is not None),
        )
        self.users.listeners.append(self.auth.user_changed)
        self.cert: CertInfo | None = None
        self._tls: ssl.SSLContext | None = None
        self._web_app: web.Application | None = None
        self.notifier = Notifier()
        self.watchdog = Watchdog(self.notifier)
        self._db_alive = time.monotonic()
        self.database_replaced: str | None = None
        self._runners: list[web.AppRunner] = []
        self._tasks: set[asyncio.Task[object]] = set()
        if self.labels is not None and self.ownership is not None:
            self.labels.prices.on_page_decision = lambda: self._spawn(self._tell_reviews())
        self._lock_fd: int | None = None
        # What the web page and the local API see.
        self.view = GatewayView(
            Components(
                store_id=settings.store_id,
                gateway_id=settings.gateway_id,
                started_at=self.started_at,
                registry=self.registry,
                ingest=self.ingest.counters,
                ble=self.ble,
                supervisor=self.supervisor,
                alerts=self.alerts,
                bridge=self.bridge,
                labels=self.labels,
                ownership=self.ownership,
                counters=self.counters,
                energy=self.energy,
                history=self.history,
                redacted_config=settings.redacted_config,
                database_replaced=lambda: self.database_replaced,
            )
        )

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._lock_data_dir()
        await self._open_database()
        self.registry.load(await load_devices(self.db), now_mono=time.monotonic())
        await self.alerts.restore()
        seeded = await self.users.load()
        if seeded:
            log.info("web users taken from the configuration", users=seeded)
        if self.bridge is not None:
            await self.bridge.open()
        told = await self.audit.tell_untold()
        if told:
            log.info("audit of changes made while stopped told to the cloud", entries=told)
        if self.coordinator is not None:
            await self.coordinator.open()
        if self.labels is not None:
            await self.labels.start()
        if self.inbox is not None:
            # Accepted (and acknowledged) before a stop, not yet carried out: do it now.
            # A label command that was carried out already is recognised and not run twice.
            for command in await self.inbox.pending():
                log.info("carrying out a command accepted before the restart", id=command.id)
                await self.inbox.execute(command)
        log.info(
            "starting",
            version=__version__,
            store_id=self.settings.store_id,
            gateway_id=self.settings.gateway_id,
            devices_known=len(self.registry),
            schema=self.db.schema_version,
        )
        self.supervisor.add("ble", self.ble.run)
        self.supervisor.add("registry-sweep", self._sweep_loop)
        self.supervisor.add("registry-flush", self._flush_loop)
        self.supervisor.add("alerts", self.alerts.run)
        if self.history is not None:
            self.supervisor.add("reading-history", self.history.run, critical=False)
        if self.ble_counters is not None:
            self.supervisor.add("ble-counters", self.ble_counters.run, critical=False)
        if self.energy is not None:
            self.supervisor.add("energy", self.energy.run, critical=False)
        if self.coordinator is not None:
            self.supervisor.add("ownership", self.coordinator.run)
        if self.settings.webhook is not None:
            hook = Webhook(self.settings.webhook, self.settings.store_id, self.settings.gateway_id)
            self.alerts.listeners.append(hook.notify)
            self.supervisor.add("alert-webhook", hook.run, critical=False)
        if self.bridge is not None:
            for name, task in self.bridge.tasks().items():
                self.supervisor.add(name, task)
            await self.bridge.emit(
                Event(
                    "gateway.started", "info", f"store-gateway {__version__} started", time.time()
                )
            )
        if self.labels is not None:
            for name, task in self.labels.tasks().items():
                self.supervisor.add(name, task)
        self._runners.append(
            await serve_local_api(
                self.view, self.settings.data_dir / SOCKET_NAME, self.users, self.audit
            )
        )
        if self.settings.web is not None:
            await self._serve_web(self.settings.web)
        self.supervisor.add("database-probe", self._db_probe_loop)
        limits = self.settings.watchdog_limits
        self.watchdog.watch("ble", self._ble_progress, limits["ble"])
        self.watchdog.watch("database", lambda: self._db_alive, limits["database"])
        if self.bridge is not None:
            publisher = self.bridge.publisher
            self.watchdog.watch("publisher", lambda: publisher.last_progress, limits["publisher"])
        self.watchdog.status_line(self.status_line)
        self.supervisor.add("watchdog", self.watchdog.run, critical=False)
        self.supervisor.start()
        # READY once scanning runs (or after a short wait: a missing adapter must not
        # keep the service from starting; the status line says what is down).
        deadline = time.monotonic() + READY_WAIT_S
        while time.monotonic() < deadline and not any(  # noqa: ASYNC110 - a bounded poll
            s.state == "up" for s in self.ble.statuses()
        ):
            await asyncio.sleep(0.05)
        self.notifier.ready(self.status_line())
        log.info("ready", status=self.status_line())

    async def _open_database(self) -> None:
        self.database_replaced = await self.db.open_or_replace()
        if self.database_replaced is not None:
            log.critical(
                "database unusable; moved aside, started with a fresh one",
                detail=self.database_replaced,
            )

    def status_line(self) -> str:
        parts = [f"{self.registry.online_count()}/{len(self.registry)} devices online"]
        up = sum(1 for s in self.ble.statuses() if s.state == "up")
        parts.append(f"{up}/{len(self.ble.statuses())} adapters scanning")
        if self.bridge is not None:
            view = self.bridge.outbox.view()
            parts.append(f"broker {self.bridge.connection.state.value}")
            parts.append(f"buffer {view['pending']} msgs")
        return ", ".join(parts)

    def _ble_progress(self) -> float:
        scanners = self.ble.scanners().values()
        return min((s.last_progress for s in scanners), default=time.monotonic())

    async def _db_probe_loop(self) -> None:
        """The writer thread must keep answering: a trivial read every few seconds."""
        while True:
            await self.db.read(lambda d: None)
            self._db_alive = time.monotonic()
            await asyncio.sleep(min(DB_PROBE_S, self.settings.watchdog_limits["database"] / 3))

    async def stop(self) -> None:
        log.info("stopping")
        self.notifier.stopping()
        self.notifier.extend_timeout(2 * self.settings.stop_budget_s + 5)
        for runner in self._runners:
            await runner.cleanup()
        if self.labels is not None:
            await self.labels.drain(self.settings.stop_budget_s)
        if self.bridge is not None:
            try:
                await self.bridge.emit(Event("gateway.stopping", "info", "stopping", time.time()))
                await asyncio.wait_for(self.bridge.shutdown(), self.settings.stop_budget_s / 2)
            except (TimeoutError, Exception) as exc:  # never block the stop
                log.warning("could not say goodbye to the broker", error=repr(exc))
        await self.supervisor.stop(budget_s=self.settings.stop_budget_s / 2)
        try:
            await flush_dirty(self.db, self.registry)
        finally:
            await self.db.close()
            self._unlock_data_dir()
        log.info("stopped")

    def reconfigure(self, settings: GatewaySettings) -> None:
        """Apply what can change at run time (SIGHUP): tags, dead-bands, filters, rules, users."""
        self.settings = settings
        self.registry.reconfigure(settings.registry)
        self.ingest.reconfigure(settings.ingest)
        self.alerts.set_rules(settings.alert_rules)
        self.users.required = settings.access.second_factor_roles
        self._reload_certificate()

    async def _serve_web(self, options: WebOptions) -> None:
        if options.tls is not None:
            self.cert = await asyncio.to_thread(
                tls.ensure,
                options.tls,
                self.settings.data_dir,
                self.settings.gateway_id,
                options.bind,
            )
            self._tls = tls.context(options.tls, self.cert)
            log.info(
                "web page",
                url=options.url(),
                certificate=str(self.cert.cert),
                made=self.cert.made,
                sha256=self.cert.fingerprint,
            )
        else:
            log.warning(
                "THE WEB PAGE IS SERVED OVER PLAIN HTTP: passwords and sessions cross the "
                "network readable (web.tls.enabled = false); serve HTTPS unless a TLS proxy "
                "on this box fronts it",
                url=options.url(),
            )
        app = build_app(self.view, self.auth, self.users, self.audit, options, self.cert)
        self._web_app = app
        self.supervisor.add("web-live", app[LIVE_KEY].run, critical=False)
        self._runners.append(await serve(app, options, self._tls))

    def _reload_certificate(self) -> None:
        """SIGHUP: a renewed certificate (``store-gateway web-cert --renew``) is served to
        new connections; a problem keeps the one served."""
        web_options = self.settings.web
        if self._tls is None or web_options is None or web_options.tls is None:
            return
        try:
            info = tls.ensure(
                web_options.tls,
                self.settings.data_dir,
                self.settings.gateway_id,
                web_options.bind,
            )
            tls.load(self._tls, info.cert, info.key)
        except tls.TlsError as exc:
            log.warning("certificate not reloaded; serving the one before", problem=str(exc))
            return
        if self.cert is None or info.fingerprint != self.cert.fingerprint:
            log.info("web certificate reloaded", sha256=info.fingerprint)
        self.cert = info
        if self._web_app is not None:
            self._web_app[WEB_INFO_KEY]["tls"] = info.view()

    def _lock_data_dir(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.settings.data_dir / "gateway.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            os.close(fd)
            raise AlreadyRunning(
                f"another store-gateway is running with data directory {self.settings.data_dir}"
            ) from exc
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---- periodic work ----------------------------------------------------------------

    async def _sweep_loop(self) -> None:
        rates_at = time.monotonic()
        self.view.sample_rates()  # the first rates are known one window after start
        while True:
            await asyncio.sleep(SWEEP_S)
            self.registry.sweep(time.monotonic())
            if time.monotonic() - rates_at >= RATE_WINDOW_S:
                rates_at = time.monotonic()
                self.view.sample_rates()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(REGISTRY_FLUSH_S)
            await flush_dirty(self.db, self.registry)

    # ---- views --------------------------------------------------------------------------

    def gateway_metrics(self) -> dict[str, float | None]:
        """Values of the gateway itself that alert rules can watch."""
        statuses = self.ble.statuses()
        metrics: dict[str, float | None] = {
            "adapters_down": float(sum(1 for s in statuses if s.state != "up")),
            "database_replaced": 0.0 if self.database_replaced is None else 1.0,
            "failed_sign_ins_10m": float(self.auth.guard.recent(time.time())),
        }
        if self.energy is not None:
            metrics.update(self.energy.metrics())
        if self.labels is not None:
            metrics["prices_held_overdue"] = float(self.labels.prices.overdue(time.time()))
        if self.bridge is not None:
            outbox = self.bridge.outbox
            metrics["buffer_share"] = outbox.status.bytes / max(1, outbox.max_bytes)
            metrics["broker_down_s"] = self.bridge.broker_down_s()
        return metrics

    # ---- commands and the bridge ------------------------------------------------------------

    def _on_signal(self, inbound: Inbound) -> None:
        assert self.bridge is not None
        parsed = self.bridge.topics.parse_gateway_topic(inbound.topic)
        if parsed is not None and parsed[1] == "reviews":
            if self.labels is not None and parsed[0] != self.settings.gateway_id:
                self._spawn(self.labels.peer_reviews(parsed[0], inbound.payload))
            return
        if self.coordinator is not None:
            self.coordinator.on_message(inbound)

    def _spawn(self, work: Coroutine[Any, Any, object]) -> None:
        spawn(work, name="daemon-work", keep=self._tasks)

    async def _tell_reviews(self) -> None:
        """The decisions taken on this page, retained for the store's other gateways."""
        assert self.labels is not None and self.bridge is not None
        now = time.time()
        decisions = await self.db.read(
            partial(
                price_store.decided_on_page,
                since=now - relay.KEEP_DAYS * 86400,
                limit=relay.KEEP,
            )
        )
        body = relay.dump(self.settings.gateway_id, decisions, now)
        outbox = self.bridge.outbox
        await outbox.produce(
            [Outgoing("status", outbox.topics.reviews, body, retain=True, conflate="reviews")]
        )

    async def _on_command(self, inbound: Inbound) -> None:
        assert self.inbox is not None
        await self.inbox.receive(inbound.payload)

    def _owns(self, device_id: str) -> bool:
        return self.ownership is None or self.ownership.owns(device_id)

    async def _label_command(self, command: Command) -> None:
        assert self.labels is not None and self.inbox is not None
        assert not isinstance(command, Resync | EnergySettingsUpdate)
        await self.labels.execute(command)
        await self.inbox.mark(command.id, "done")  # its targets are persisted by now

    def _up_adapters(self) -> list[str]:
        return [s.name for s in self.ble.statuses() if s.state == "up"]

    async def _resync(self, command: Command) -> None:
        assert self.bridge is not None and self.inbox is not None
        if self.labels is not None:
            await self.labels.reconcile()
        await self.bridge.resync(command.id)
        await self.inbox.mark(command.id, "done")

    async def _energy_settings(self, command: Command) -> None:
        """Opening hours, closed dates and zone bounds from the cloud: applied (and
        kept) by the energy loop; answered with one final ack."""
        assert isinstance(command, EnergySettingsUpdate)
        assert self.bridge is not None and self.inbox is not None
        outcome: str | None
        if self.energy is not None:
            outcome, why = await self.energy.update(
                command.id, command.body.model_dump(mode="json")
            )
        elif self.ownership is not None:
            outcome, why = None, None  # the store's zones are another gateway's
        else:
            outcome = "failed"
            why = "this gateway has no energy zones ([[energy.hvac]] or [[energy.lights]])"
        ack = payloads.outcome_ack(
            self.bridge.outbox.identity,
            command_id=command.id,
            command_type=command.type,
            version=command.body.version,
            outcome=outcome,
            error=why,
            now=time.time(),
        )
        await self.bridge.outbox.produce_acks([ack])
        await self.inbox.mark(command.id, "done")

    def _device_event(self, change: DeviceChange) -> None:
        assert self.bridge is not None
        if not self._owns(change.device.device_id):
            return
        event = lifecycle_event(change, time.time())
        if event is not None:
            self.bridge.queue_event(event)

    def _bridge_status(
        self,
    ) -> tuple[list[dict[str, Any]], tuple[int, int], Mapping[str, Any] | None]:
        adapters = [
            {"name": s.name, "address": s.address, "state": s.state} for s in self.ble.statuses()
        ]
        shelf = None if self.labels is None else self.labels.shelf.status()
        return adapters, (len(self.registry), self.registry.online_count()), shelf


def _label_failed(labels: LabelPipeline, device_id: str) -> float | None:
    twin = labels.planner.twins.get(device_id)
    return None if twin is None else (1.0 if twin.status.value == "failed" else 0.0)


def _reading(registry: Registry, device_id: str | None, name: str) -> float | None:
    """A device's latest reading (None: no such device or reading)."""
    device = None if device_id is None else registry.get(device_id)
    return None if device is None else device.readings.get(name)


async def _telemetry(outbox: Outbox, readings: list[tuple[str, float, str, float]]) -> None:
    """Readings of the gateway's own making (energy zones) as one telemetry message."""
    body = payloads.telemetry(outbox.identity, readings, time.time())
    await outbox.produce([Outgoing("telemetry", outbox.topics.telemetry, body)])
