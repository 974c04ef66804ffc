"""The daemon's side of the web port: what the page and the API see, from the components.

Implements :class:`gateway.web.port.WebPort`. Reading changes nothing: the
adapters' advert rates are sampled by :meth:`GatewayView.sample_rates`, which the
daemon calls on its own rhythm, not by whoever reads the status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway import __version__
from gateway.alerts.service import AlertService
from gateway.alerts.views import alert_view
from gateway.ble.ingest import IngestCounters
from gateway.ble.manager import BleManager
from gateway.bridge.bridge import Bridge
from gateway.daemon.supervisor import Supervisor
from gateway.energy.counters import CounterRefused, CounterReports
from gateway.energy.footfall import FootfallError
from gateway.energy.service import EnergyService
from gateway.labels.pipeline import LabelPipeline
from gateway.labels.shelf import BUCKETS
from gateway.ownership import Ownership
from gateway.registry import DeviceChange, DeviceRecord, Registry
from gateway.registry.history import ReadingHistory
from gateway.registry.views import device_view
from gateway.timeutil import format_epoch
from gateway.web.port import (
    CounterUnauthorized,
    Json,
    MetricFamily,
    ReportInvalid,
    UnknownAlert,
    UnknownZone,
)

RESOLVED_SHOWN = 50


@dataclass
class Components:
    """What the view reads: the daemon's components (the bridge and labels may be off)."""

    store_id: str
    gateway_id: str
    started_at: float
    registry: Registry
    ingest: IngestCounters
    ble: BleManager
    supervisor: Supervisor
    alerts: AlertService
    bridge: Bridge | None = None
    labels: LabelPipeline | None = None
    ownership: Ownership | None = None  # several gateways share the store
    counters: CounterReports | None = None  # the doors' people counters
    energy: EnergyService | None = None  # lighting and air-conditioning zones
    history: ReadingHistory | None = None  # sensor readings kept for the charts
    redacted_config: Mapping[str, Any] = field(default_factory=dict)
    database_replaced: Callable[[], str | None] = lambda: None


class GatewayView:
    def __init__(self, components: Components) -> None:
        self._g = components
        # adapter -> (monotonic time, adverts then, adverts/s over the last window)
        self._rates: dict[str, tuple[float, int, float]] = {}

    # ---- sampling (the daemon's rhythm, not the reader's) ---------------------------------

    def sample_rates(self) -> None:
        now = time.monotonic()
        for s in self._g.ble.statuses():
            previous = self._rates.get(s.name)
            rate = 0.0 if previous is None else (s.adverts - previous[1]) / (now - previous[0])
            self._rates[s.name] = (now, s.adverts, rate)

    # ---- views ------------------------------------------------------------------------------

    def status(self) -> Json:
        g = self._g
        engine = g.alerts.engine
        return {
            "store_id": g.store_id,
            "gateway_id": g.gateway_id,
            "version": __version__,
            "started_at": format_epoch(g.started_at),
            "now": format_epoch(time.time()),
            "devices": {"total": len(g.registry), "online": g.registry.online_count()},
            "adapters": [
                {
                    "name": s.name,
                    "address": s.address,
                    "state": s.state,
                    "mode": s.mode,
                    "adverts": s.adverts,
                    "adverts_per_s": round(self._rates.get(s.name, (0, 0, 0.0))[2], 2),
                    "restarts": s.restarts,
                    "last_error": s.last_error,
                }
                for s in g.ble.statuses()
            ],
            "components": [
                {
                    "name": c.name,
                    "state": c.state.value,
                    "restarts": c.restarts,
                    "last_error": c.last_error,
                    "critical": c.critical,
                }
                for c in g.supervisor.statuses()
            ],
            "broker": None if g.bridge is None else g.bridge.view(),
            "buffer": None if g.bridge is None else g.bridge.outbox.view(),
            "database_replaced": g.database_replaced(),
            "alerts": {
                "firing": len(engine.firing()),
                "pending": sum(1 for a in engine.alerts() if a.phase.value == "pending"),
            },
            "ownership": self._ownership(),
            "shelf": None if g.labels is None else g.labels.shelf.status(),
            "prices_held": 0 if g.labels is None else len(g.labels.planner.guard.held),
            "energy": g.energy is not None,
        }

    def _ownership(self) -> Json | None:
        """Several gateways: how many devices each one owns, which are offline."""
        o = self._g.ownership
        if o is None:
            return None
        owned = o.owners()
        owned[self._g.gateway_id] = len(o.owned())
        return {
            "owned": dict(sorted(owned.items())),
            "offline": sorted(o.offline_gateways()),
        }

    def devices(self) -> list[Json]:
        return sorted((self._device(d) for d in self._g.registry), key=lambda r: r["device_id"])

    def device_views(self, device_ids: Iterable[str]) -> list[Json]:
        registry = self._g.registry
        return [self._device(d) for i in device_ids if (d := registry.get(i)) is not None]

    def _device(self, d: DeviceRecord) -> Json:
        """The registry's view, and in a store with several gateways who owns the device
        (in which epoch) and which other gateways hear it (RSSI)."""
        view = device_view(d)
        o = self._g.ownership
        if o is not None:
            mine = o.owns(d.device_id)
            view["owner"] = self._g.gateway_id if mine else o.owner(d.device_id)
            view["owner_epoch"] = o.epoch(d.device_id) if mine else None
            view["heard_by"] = o.heard_by(d.device_id)
        return view

    async def device_history(self, device_id: str, hours: float) -> Json | None:
        device = self._g.registry.get(device_id)
        if device is None:
            return None
        h = self._g.history
        series = {} if h is None else await h.series(device_id, hours)
        return {
            "device_id": device_id,
            "hours": hours,
            "bucket_s": None if h is None else h.options.bucket_s,
            "series": {
                name: [
                    {"start": format_epoch(start), "mean": round(mean, 3), "min": lo, "max": hi}
                    for start, mean, lo, hi in points
                ]
                for name, points in series.items()
            },
            "thresholds": [
                {
                    "rule": r.name,
                    "metric": r.metric,
                    "op": r.op,
                    "threshold": r.threshold,
                    "clear": r.clear,
                    "severity": r.severity,
                }
                for r in self._g.alerts.engine.rules_for(device)
                if r.metric in series or r.metric in device.readings
            ],
        }

    def watch_devices(self, listener: Callable[[str], None]) -> None:
        def on_change(change: DeviceChange) -> None:
            listener(change.device.device_id)

        self._g.registry.subscribe(on_change)

    def alerts(self) -> Json:
        engine = self._g.alerts.engine
        active = engine.alerts()
        return {
            "pending": [alert_view(a) for a in active if a.phase.value == "pending"],
            "firing": [alert_view(a) for a in active if a.phase.value == "firing"],
            "resolved": [alert_view(a) for a in list(engine.recent_resolved)[:RESOLVED_SHOWN]],
        }

    async def acknowledge_alert(self, alert_id: str, user: str) -> Json:
        try:
            return alert_view(await self._g.alerts.acknowledge(alert_id, user))
        except KeyError as exc:
            raise UnknownAlert(*exc.args) from exc

    async def silence_alert(self, alert_id: str, user: str, until: float) -> Json:
        try:
            return alert_view(await self._g.alerts.silence(alert_id, user, until))
        except KeyError as exc:
            raise UnknownAlert(*exc.args) from exc

    async def unsilence_alert(self, alert_id: str, user: str) -> Json:
        try:
            return alert_view(await self._g.alerts.unsilence(alert_id))
        except KeyError as exc:
            raise UnknownAlert(*exc.args) from exc

    def labels(self) -> list[Json]:
        pipeline = self._g.labels
        rows: list[Json] = []
        for device in self._g.registry:
            if device.kind.value != "label":
                continue
            view = pipeline.label_view(device.device_id) if pipeline else None
            advert = device.label
            rows.append(
                {
                    "label_id": device.device_id,
                    "model": device.model,
                    "online": device.online,
                    "battery_pct": device.battery_pct,
                    "last_seen": format_epoch(device.last_seen),
                    "width": None if advert is None or not advert.width else advert.width,
                    "height": None if advert is None or not advert.height else advert.height,
                    "label": dict(view) if view else None,
                    # Actions offered only where they can work: these labels have no LED.
                    "can_flash": False,
                    "can_repush": bool(view and view.get("desired")),
                }
            )
        rows.sort(key=lambda r: str(r["label_id"]))
        return rows

    async def label_preview(
        self, label_id: str, which: Literal["desired", "displayed"]
    ) -> bytes | None:
        pipeline = self._g.labels
        view = pipeline.label_view(label_id) if pipeline else None
        ref = (view or {}).get(which)
        if pipeline is None or not ref:
            return None
        return await pipeline.preview(ref["content_hash"])

    def repush_label(self, label_id: str) -> bool:
        pipeline = self._g.labels
        return pipeline is not None and pipeline.repush(label_id)

    def repush_sku(self, sku: str) -> list[str] | None:
        pipeline = self._g.labels
        return None if pipeline is None else pipeline.repush_sku(sku)

    def prices(self) -> Json:
        pipeline = self._g.labels
        return {"held": [], "rules": {}} if pipeline is None else pipeline.prices.view()

    async def price_preview(self, sku: str, version: int, label_id: str) -> bytes | None:
        pipeline = self._g.labels
        return None if pipeline is None else await pipeline.price_preview(sku, version, label_id)

    async def review_price(
        self,
        sku: str,
        version: int,
        decision: Literal["release", "discard"],
        user: str,
        note: str | None,
    ) -> bool:
        pipeline = self._g.labels
        return pipeline is not None and await pipeline.review_on_page(
            sku, version, decision, user, note
        )

    async def price_catalogue(self, sku: str | None, held_only: bool) -> list[Json]:
        pipeline = self._g.labels
        return [] if pipeline is None else await pipeline.price_catalogue(sku, held_only)

    def shelf(self, query: str) -> Json | None:
        pipeline = self._g.labels
        return None if pipeline is None else pipeline.shelf_search(query)

    def health(self) -> tuple[bool, list[str]]:
        problems = [
            f"{c.name}: {c.state.value} ({c.last_error})"
            for c in self._g.supervisor.statuses()
            if c.critical and c.state.value != "running"
        ]
        return (not problems, problems)

    def config(self) -> Json:
        return dict(self._g.redacted_config)

    def energy(self) -> Json | None:
        return None if self._g.energy is None else self._g.energy.view()

    def override_zone(
        self,
        zone: str,
        user: str,
        duration_s: float,
        on: bool,
        setpoint: float | None,
        level: int | None,
    ) -> Json:
        energy = self._g.energy
        if energy is None or zone not in energy.controller.status:
            raise UnknownZone(zone)
        o = energy.controller.override(
            zone, user, duration_s, on=on, setpoint=setpoint, level=level
        )
        return {"zone": zone, "user": o.user, "until": format_epoch(o.until)}

    def release_zone(self, zone: str) -> None:
        energy = self._g.energy
        if energy is None or zone not in energy.controller.status:
            raise UnknownZone(zone)
        energy.controller.release(zone)

    async def footfall_report(self, counter_id: str, token: str, body: bytes) -> Json:
        counters = self._g.counters
        if counters is None:
            raise CounterUnauthorized(counter_id)
        try:
            return await counters.report(counter_id, token, body)
        except CounterRefused as exc:
            raise CounterUnauthorized(counter_id) from exc
        except FootfallError as exc:
            raise ReportInvalid(str(exc)) from exc

    # ---- metrics ------------------------------------------------------------------------------

    def metric_families(self) -> list[MetricFamily]:
        g = self._g
        online = g.registry.online_count()
        active = g.alerts.engine.alerts()
        ingest = g.ingest
        out = [
            MetricFamily(
                "storegw_adverts",
                "counter",
                "Advertisements received per adapter",
                ("adapter",),
                [((s.name,), s.adverts) for s in g.ble.statuses()],
            ),
            MetricFamily(
                "storegw_devices",
                "gauge",
                "Known devices by state",
                ("state",),
                [(("online",), online), (("offline",), len(g.registry) - online)],
            ),
            MetricFamily(
                "storegw_alerts",
                "gauge",
                "Alerts by phase",
                ("phase",),
                [
                    ((phase,), sum(1 for a in active if a.phase.value == phase))
                    for phase in ("pending", "firing")
                ],
            ),
            MetricFamily(
                "storegw_ingest_adverts",
                "counter",
                "Advertisements by ingest outcome",
                ("outcome",),
                [
                    ((name,), getattr(ingest, name))
                    for name in ("repeated", "decoded", "ignored", "errors")
                ],
            ),
            MetricFamily(
                "storegw_uptime_seconds",
                "gauge",
                "Seconds since start",
                (),
                [((), time.time() - g.started_at)],
            ),
        ]
        if g.bridge is not None:
            status = g.bridge.outbox.status
            out += [
                MetricFamily(
                    "storegw_outbox_messages",
                    "gauge",
                    "Messages buffered for the broker",
                    (),
                    [((), status.pending)],
                ),
                MetricFamily(
                    "storegw_outbox_bytes",
                    "gauge",
                    "Bytes buffered for the broker",
                    (),
                    [((), status.bytes)],
                ),
            ]
        out += _component_families(g)
        if g.bridge is not None:
            out += _broker_families(g.bridge)
        if g.energy is not None:
            out += _energy_families(g.energy)
        if g.labels is not None:
            out += _label_families(g)
        return out


def _component_families(g: Components) -> list[MetricFamily]:
    statuses = g.supervisor.statuses()
    return [
        MetricFamily(
            "storegw_component_up",
            "gauge",
            "Whether each supervised component is running (1) or not (0)",
            ("component", "critical"),
            [
                ((c.name, str(c.critical).lower()), float(c.state.value == "running"))
                for c in statuses
            ],
        ),
        MetricFamily(
            "storegw_component_restarts",
            "counter",
            "Restarts of each supervised component since start",
            ("component",),
            [((c.name,), c.restarts) for c in statuses],
        ),
    ]


def _broker_families(bridge: Bridge) -> list[MetricFamily]:
    view = bridge.view()
    latency = view["publish_latency_s"]
    return [
        MetricFamily(
            "storegw_broker_connected",
            "gauge",
            "Whether the gateway is connected to the cloud's broker",
            (),
            [((), float(view["connected"]))],
        ),
        MetricFamily(
            "storegw_broker_session",
            "gauge",
            "The broker session counter of the contract's status (one higher per connect)",
            (),
            [((), view["session"])],
        ),
        MetricFamily(
            "storegw_broker_published",
            "counter",
            "Messages published to the broker",
            (),
            [((), view["published"])],
        ),
        MetricFamily(
            "storegw_broker_delivered",
            "counter",
            "Messages the broker acknowledged (PUBACK)",
            (),
            [((), view["delivered"])],
        ),
        MetricFamily(
            "storegw_broker_down_seconds",
            "gauge",
            "Seconds since the broker was lost (0 while connected)",
            (),
            [((), bridge.broker_down_s())],
        ),
        MetricFamily(
            "storegw_broker_publish_latency_seconds",
            "gauge",
            "Recent time from a publish to its PUBACK",
            (),
            [] if latency is None else [((), latency)],
        ),
    ]


def _energy_families(energy: EnergyService) -> list[MetricFamily]:
    zones = energy.view()["zones"]

    def gauge(name: str, help_: str, key: str) -> MetricFamily:
        samples = [((z["zone"],), float(z[key])) for z in zones if z.get(key) is not None]
        return MetricFamily(name, "gauge", help_, ("zone",), samples)

    return [
        gauge(
            "storegw_energy_zone_reachable", "Whether the zone's controller answers", "reachable"
        ),
        gauge("storegw_energy_zone_on", "Whether the zone is on, as its controller reports", "on"),
        gauge(
            "storegw_energy_zone_setpoint_celsius", "An air-conditioned zone's setpoint", "setpoint"
        ),
        gauge(
            "storegw_energy_zone_temperature_celsius",
            "A zone's measured temperature",
            "temperature",
        ),
        gauge("storegw_energy_zone_level_percent", "A lighting zone's level", "level"),
        gauge("storegw_energy_zone_meter_kwh", "The zone's energy meter", "energy_kwh"),
        gauge(
            "storegw_energy_zone_writes", "Writes the plan made to the zone since start", "writes"
        ),
    ]


def _label_families(g: Components) -> list[MetricFamily]:
    assert g.labels is not None
    timings, counts, scheduler = g.labels.timings, g.labels.transfers, g.labels.scheduler
    return [
        MetricFamily(
            "storegw_label_attempts",
            "counter",
            "Label transfer attempts",
            (),
            [((), timings.attempts)],
        ),
        MetricFamily(
            "storegw_label_attempt_phase_seconds",
            "counter",
            "Time label attempts spent per phase (gate wait, connect, notify, transfer, "
            "disconnect)",
            ("phase",),
            [((phase,), seconds) for phase, seconds in timings.seconds.items()],
        ),
        MetricFamily(
            "storegw_label_transfers",
            "counter",
            "Completed label transfers by image container (raw, lines, quicklz)",
            ("container",),
            [((c.value,), n) for c, n in counts.transfers.items()],
        ),
        MetricFamily(
            "storegw_label_transfer_parts",
            "counter",
            "Image writes of the completed label transfers, by container",
            ("container",),
            [((c.value,), n) for c, n in counts.parts.items()],
        ),
        MetricFamily(
            "storegw_label_jobs_queued",
            "gauge",
            "Label transfers waiting",
            (),
            [((), scheduler.queued)],
        ),
        MetricFamily(
            "storegw_label_jobs_running",
            "gauge",
            "Label transfers under way",
            (),
            [((), scheduler.running)],
        ),
        MetricFamily(
            "storegw_label_results",
            "counter",
            "Label command results answered here since start, by status",
            ("status",),
            [((status,), n) for status, n in sorted(g.labels.planner.results.items())],
        ),
        *_shelf_families(g.labels),
    ]


def _shelf_families(labels: LabelPipeline) -> list[MetricFamily]:
    """The shelf's status (contract 1.2) and the price guard's held items."""
    shelf = labels.shelf.status()
    states = ("current", "pending", "held", "failed")
    return [
        MetricFamily(
            "storegw_shelf_labels",
            "gauge",
            "Bound labels this gateway answers for, by what they show (held: their SKU's "
            "newest price is held; it may be current too)",
            ("state",),
            [(("bound",), shelf["bound"]), *[((s,), shelf[s]) for s in states]],
        ),
        MetricFamily(
            "storegw_shelf_compliance",
            "gauge",
            "Share of the bound labels showing their SKU's price in force",
            (),
            [] if shelf["compliance"] is None else [((), shelf["compliance"])],
        ),
        MetricFamily(
            "storegw_prices_held",
            "gauge",
            "Price items held for a person's review",
            (),
            [((), len(labels.planner.guard.held))],
        ),
        MetricFamily(
            "storegw_price_items_judged",
            "counter",
            "Price items the price guard judged",
            (),
            [((), labels.prices.judged)],
        ),
        MetricFamily(
            "storegw_price_guard_cpu_seconds",
            "counter",
            "CPU seconds the price guard spent judging price items",
            (),
            [((), labels.prices.judge_cpu_s)],
        ),
        MetricFamily(
            "storegw_time_to_shelf_seconds",
            "histogram",
            "From a price taking effect to each label confirming it",
            (),
            [((), labels.shelf.count)],
            buckets=list(zip(BUCKETS, labels.shelf.buckets, strict=True)),
            sum=labels.shelf.total_s,
        ),
    ]
