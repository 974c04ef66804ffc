"""The alert service: the engine fed by the registry and a clock, its results made durable.

Device changes are evaluated as they happen (a reading beyond its dead-band,
online/offline); a tick every ``TICK_S`` advances time-based phases and the
gateway's own metrics. Each transition is first handed to ``emit`` (which makes
it an event in the durable outbox) and then saved: a crash in between can at
worst announce an alert twice, never lose one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import structlog

from gateway.alerts.engine import AlertEngine, AlertTransition, DeviceMetric
from gateway.alerts.model import Alert, AlertPhase
from gateway.alerts.persistence import forget_alerts, load_alerts, save_alerts
from gateway.alerts.rules import Rule
from gateway.alerts.views import alert_event
from gateway.contract.events import EmitEvent
from gateway.registry import ChangeKind, DeviceChange, Registry
from gateway.store import Database
from gateway.tasks import wait_set

log = structlog.get_logger("gateway.alerts")

TICK_S = 0.5
_EVALUATE_ON = frozenset(
    {ChangeKind.READINGS, ChangeKind.BATTERY, ChangeKind.ONLINE, ChangeKind.OFFLINE, ChangeKind.NEW}
)

GatewayMetrics = Callable[[], Mapping[str, float | None]]


class AlertService:
    def __init__(
        self,
        db: Database,
        registry: Registry,
        rules: Sequence[Rule],
        gateway_metrics: GatewayMetrics,
        *,
        emit: EmitEvent | None = None,
        device_metrics: Mapping[str, DeviceMetric] | None = None,
        owns: Callable[[str], bool] = lambda _device_id: True,
    ) -> None:
        self._db = db
        self._registry = registry
        self.engine = AlertEngine(rules, device_metrics)
        self._gateway_metrics = gateway_metrics
        self._emit = emit
        self._owns = owns  # in a store with several gateways, only the owner evaluates
        self._pending: list[AlertTransition] = []
        self.listeners: list[Callable[[AlertTransition], None]] = []
        self._wake = asyncio.Event()
        self.last_progress = time.monotonic()
        registry.subscribe(self._on_change)

    async def restore(self) -> None:
        self.engine.restore(await load_alerts(self._db, AlertPhase.FIRING))
        for alert in reversed(await load_alerts(self._db, AlertPhase.RESOLVED, limit=50)):
            self.engine.recent_resolved.appendleft(alert)

    def set_rules(self, rules: Sequence[Rule]) -> None:
        orphans = self.engine.set_rules(rules)
        if orphans:
            log.warning("alerts of removed rules stay firing until resolved", alerts=orphans)

    def _on_change(self, change: DeviceChange) -> None:
        if _EVALUATE_ON.isdisjoint(change.kinds) or not self._owns(change.device.device_id):
            return
        out = self.engine.evaluate_device(change.device, time.monotonic(), time.time())
        if out:
            self._pending.extend(out)
            self._wake.set()

    async def run(self) -> None:
        while True:
            await wait_set(self._wake, TICK_S)
            self._wake.clear()
            self._pending.extend(
                self.engine.tick(
                    (d for d in self._registry if self._owns(d.device_id)),
                    self._gateway_metrics(),
                    time.monotonic(),
                    time.time(),
                )
            )
            await self._flush()
            self.last_progress = time.monotonic()

    async def _flush(self) -> None:
        while self._pending:
            transition = self._pending[0]
            if self._emit is not None:
                await self._emit(alert_event(transition))
            await self._db.run(partial(save_alerts, alerts=[transition.alert]))
            self._pending.pop(0)
            for listener in self.listeners:
                listener(transition)
            log.info(
                f"alert {transition.kind}",
                alert_id=transition.alert.id,
                severity=transition.alert.severity,
                message=transition.alert.message,
            )

    # ---- a device changing owner (stores with several gateways) ---------------------------

    async def adopt(self, alerts: Sequence[Alert]) -> None:
        """Alerts firing on a device taken over from another gateway go on here."""
        adopted = self.engine.adopt(alerts)
        if adopted:
            await self._db.run(partial(save_alerts, alerts=adopted))
            log.info("alerts continued from the previous owner", ids=[a.id for a in adopted])

    async def release(self, device_id: str) -> None:
        """The device's alerts are another gateway's now."""
        gone = self.engine.release(device_id)
        ids = [a.id for a in gone if a.id is not None]
        if ids:
            await self._db.run(partial(forget_alerts, alert_ids=ids))
            log.info("alerts handed over with their device", ids=ids)

    def firing_on(self, device_id: str) -> list[Alert]:
        return [a for a in self.engine.firing() if a.subject == device_id]

    async def acknowledge(self, alert_id: str, who: str) -> Alert:
        alert = self.engine.acknowledge(alert_id, who)
        await self._db.run(lambda d: save_alerts(d, [alert]))
        return alert

    async def unsilence(self, alert_id: str) -> Alert:
        alert = self.engine.unsilence(alert_id)
        await self._db.run(lambda d: save_alerts(d, [alert]))
        return alert

    async def silence(self, alert_id: str, who: str, until_wall: float) -> Alert:
        alert = self.engine.silence(alert_id, who, until_wall)
        await self._db.run(lambda d: save_alerts(d, [alert]))
        return alert
