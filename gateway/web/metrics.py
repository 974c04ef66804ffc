"""Prometheus metrics at /metrics, from the port's metric families when scraped."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gateway.web.keys import PORT_KEY
from gateway.web.port import WebPort

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class PortCollector(Collector):
    """Reads the live values at scrape time: nothing is counted twice or kept twice."""

    def __init__(self, port: WebPort) -> None:
        self._port = port

    def collect(self) -> Iterable[Metric]:
        for f in self._port.metric_families():
            family: Metric
            if f.kind == "histogram":
                buckets = [(f"{bound:g}", count) for bound, count in f.buckets]
                total = f.samples[0][1] if f.samples else 0.0
                yield HistogramMetricFamily(
                    f.name, f.help, buckets=[*buckets, ("+Inf", total)], sum_value=f.sum
                )
                continue
            if f.kind == "counter":
                family = CounterMetricFamily(f.name, f.help, labels=list(f.label_names))
            else:
                family = GaugeMetricFamily(f.name, f.help, labels=list(f.label_names))
            for labels, value in f.samples:
                family.add_metric(list(labels), value)
            yield family


def render(port: WebPort) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortCollector(port))
    # The process's own: CPU seconds, resident memory, open files, start time.
    ProcessCollector(registry=registry)
    return generate_latest(registry)


async def metrics_handler(request: web.Request) -> web.Response:
    return web.Response(body=render(request.app[PORT_KEY]), headers={"Content-Type": CONTENT_TYPE})
