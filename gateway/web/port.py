"""What the page and the API need of the gateway: one small interface, and nothing else.

The web package depends on this Protocol only; the daemon implements it from its
components (``gateway/daemon/web_view.py``) and tests of the web can build their
own. Views are JSON-ready dicts in the shapes ``/api/openapi.json`` describes.
Reading never changes anything; the actions say what they change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetricFamily:
    """One Prometheus metric family, with its samples as (label values, value)."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    help: str
    label_names: tuple[str, ...] = ()
    samples: Sequence[tuple[tuple[str, ...], float]] = field(default_factory=tuple)
    # A histogram: (upper bound, cumulative count) per bucket, then its count and sum.
    buckets: Sequence[tuple[float, float]] = field(default_factory=tuple)
    sum: float = 0.0


class UnknownAlert(KeyError):
    """No alert with this id (the API answers 404)."""


class UnknownZone(KeyError):
    """No energy zone by this name, or no energy zones at all (the API answers 404)."""


class CounterUnauthorized(Exception):
    """A people counter report with an unknown counter id or a wrong token (401)."""


class ReportInvalid(ValueError):
    """A people counter report that cannot be taken; the message says why (400)."""


class WebPort(Protocol):
    def status(self) -> Json:
        """The overview: identity, devices, adapters and their advert rates, components,
        broker, buffer, alert counts."""
        ...

    def devices(self) -> list[Json]:
        """Every device, sorted by id."""
        ...

    def device_views(self, device_ids: Iterable[str]) -> list[Json]:
        """The devices among ``device_ids`` that exist."""
        ...

    async def device_history(self, device_id: str, hours: float) -> Json | None:
        """The device's readings over the last ``hours`` (mean, lowest, highest per
        bucket) and the alert thresholds that watch them; None: no such device."""
        ...

    def watch_devices(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(device_id)`` whenever a device changes (from the event loop)."""
        ...

    def alerts(self) -> Json:
        """``pending``, ``firing`` and the last ``resolved`` alerts."""
        ...

    async def acknowledge_alert(self, alert_id: str, user: str) -> Json:
        """Acknowledge (recorded with the user's name); :class:`UnknownAlert` if none."""
        ...

    async def silence_alert(self, alert_id: str, user: str, until: float) -> Json:
        """Silence until ``until`` (POSIX seconds); :class:`UnknownAlert` if none."""
        ...

    async def unsilence_alert(self, alert_id: str, user: str) -> Json:
        """Lift a silence now; :class:`UnknownAlert` if no such alert."""
        ...

    def labels(self) -> list[Json]:
        """Every shelf label with its binding and twin (empty when labels are off)."""
        ...

    async def label_preview(
        self, label_id: str, which: Literal["desired", "displayed"]
    ) -> bytes | None:
        """The PNG of the label's desired or displayed content, if it has one."""
        ...

    def repush_label(self, label_id: str) -> bool:
        """Write the label's content again; False if it has none to write."""
        ...

    def repush_sku(self, sku: str) -> list[str] | None:
        """Write every label bound to ``sku`` again: the labels queued; None when no label
        is bound to it."""
        ...

    def prices(self) -> Json:
        """The price guard: the rules in force and every held item with its figures
        (empty when labels are off)."""
        ...

    async def price_preview(self, sku: str, version: int, label_id: str) -> bytes | None:
        """The PNG of a held item as it would look on one of its labels."""
        ...

    async def review_price(
        self,
        sku: str,
        version: int,
        decision: Literal["release", "discard"],
        user: str,
        note: str | None,
    ) -> bool:
        """A person's decision on a held item; False: it is not held (any more)."""
        ...

    async def price_catalogue(self, sku: str | None, held_only: bool) -> list[Json]:
        """Every SKU's current and held price (one SKU: with its history)."""
        ...

    def shelf(self, query: str) -> Json | None:
        """Every label of a SKU (or of a label's SKU) with what it shows, what it should
        show and why; None: no such SKU or label."""
        ...

    def metric_families(self) -> list[MetricFamily]:
        """Everything ``/metrics`` shows, read when scraped."""
        ...

    def health(self) -> tuple[bool, list[str]]:
        """(every critical component running, the problems if not)."""
        ...

    def config(self) -> Json:
        """The configuration with its secrets removed."""
        ...

    def energy(self) -> Json | None:
        """Lighting and air-conditioning zones, today's footfall forecast and its
        accuracy (None: the store has no energy zones)."""
        ...

    def override_zone(
        self,
        zone: str,
        user: str,
        duration_s: float,
        on: bool,
        setpoint: float | None,
        level: int | None,
    ) -> Json:
        """A technician's setting for a zone until it expires. Raises
        :class:`UnknownZone` or ValueError (what is wrong)."""
        ...

    def release_zone(self, zone: str) -> None:
        """The plan takes the zone back now (:class:`UnknownZone`)."""
        ...

    async def footfall_report(self, counter_id: str, token: str, body: bytes) -> Json:
        """A door counter's report: ``{"stored": n, "repeated": m, "too_old": k}``. Raises
        :class:`CounterUnauthorized` or :class:`ReportInvalid` (nothing stored)."""
        ...
