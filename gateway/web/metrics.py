"""Prometheus metrics at /metrics, computed from the gateway's state when scraped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.web.keys import GATEWAY_KEY

if TYPE_CHECKING:
    from gateway.daemon.app import Gateway

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayCollector(Collector):
    """Reads the live objects at scrape time: nothing is counted twice or kept twice."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def collect(self) -> Iterable[Metric]:
        g = self._gateway
        adverts = CounterMetricFamily(
            "storegw_adverts", "Advertisements received per adapter", labels=["adapter"]
        )
        for status in g.ble.statuses():
            adverts.add_metric([status.name], status.adverts)
        yield adverts
        devices = GaugeMetricFamily("storegw_devices", "Known devices by state", labels=["state"])
        online = g.registry.online_count()
        devices.add_metric(["online"], online)
        devices.add_metric(["offline"], len(g.registry) - online)
        yield devices
        alerts = GaugeMetricFamily("storegw_alerts", "Alerts by phase", labels=["phase"])
        active = g.alerts.engine.alerts()
        for phase in ("pending", "firing"):
            alerts.add_metric([phase], sum(1 for a in active if a.phase.value == phase))
        yield alerts
        ingest = g.ingest.counters
        outcome = CounterMetricFamily(
            "storegw_ingest_adverts", "Advertisements by ingest outcome", labels=["outcome"]
        )
        for name in ("repeated", "decoded", "ignored", "errors"):
            outcome.add_metric([name], getattr(ingest, name))
        yield outcome
        if g.labels is not None:
            timings = g.labels.timings
            attempts = CounterMetricFamily("storegw_label_attempts", "Label transfer attempts")
            attempts.add_metric([], timings.attempts)
            yield attempts
            phases = CounterMetricFamily(
                "storegw_label_attempt_phase_seconds",
                "Time label attempts spent per phase (gate wait, connect, notify, "
                "transfer, disconnect)",
                labels=["phase"],
            )
            for phase, seconds in timings.seconds.items():
                phases.add_metric([phase], seconds)
            yield phases
            counts = g.labels.transfers
            transfers = CounterMetricFamily(
                "storegw_label_transfers",
                "Completed label transfers by image container (raw, lines, quicklz)",
                labels=["container"],
            )
            parts = CounterMetricFamily(
                "storegw_label_transfer_parts",
                "Image writes of the completed label transfers, by container",
                labels=["container"],
            )
            for container, n in counts.transfers.items():
                transfers.add_metric([container.value], n)
                parts.add_metric([container.value], counts.parts[container])
            yield transfers
            yield parts
        for name, value, help_text in g.extra_metrics():
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family


async def metrics_handler(request: web.Request) -> web.Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(request.app[GATEWAY_KEY]))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE})
