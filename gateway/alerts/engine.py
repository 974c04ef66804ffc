"""The alert engine: rules evaluated on new values and on a clock tick.

Pure and synchronous: callers pass the clock (monotonic for timers, wall for
the times reported) and get back the transitions to announce. Lifecycle per
(rule, subject): inactive -> pending -> firing -> resolved, one alert id per
episode. A device that goes silent keeps its alerts as they are (no data is not
healthy); the offline rule speaks for it.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.alerts.model import Alert, AlertPhase
from gateway.alerts.rules import GATEWAY_SUBJECT, Rule
from gateway.registry import DeviceRecord

DeviceMetric = Callable[[DeviceRecord], float | None]

# Metrics that mean something while a device is silent; every other metric of a
# silent device keeps its alert phase unchanged.
_SILENCE_METRICS = frozenset({"offline", "seconds_since_seen"})
RECENT_RESOLVED = 200


@dataclass(frozen=True, slots=True)
class AlertTransition:
    kind: Literal["firing", "resolved"]
    alert: Alert  # a snapshot taken at the transition


def device_metric(metric: str, device: DeviceRecord, now_wall: float) -> float | None:
    if metric == "offline":
        return 0.0 if device.online else 1.0
    if metric == "seconds_since_seen":
        return max(0.0, now_wall - device.last_seen)
    if metric == "battery_pct":
        return device.battery_pct
    if metric == "rssi":
        return device.rssi
    return device.readings.get(metric)


class AlertEngine:
    def __init__(
        self, rules: Sequence[Rule], extra_metrics: Mapping[str, DeviceMetric] | None = None
    ) -> None:
        self._rules: dict[str, Rule] = {}
        self._device_rules: list[Rule] = []
        self._gateway_rules: list[Rule] = []
        self._extra = dict(extra_metrics or {})
        self._active: dict[tuple[str, str], Alert] = {}
        self.recent_resolved: deque[Alert] = deque(maxlen=RECENT_RESOLVED)
        self.set_rules(rules)

    # ---- configuration -----------------------------------------------------------------

    def rules_for(self, device: DeviceRecord) -> list[Rule]:
        """The device rules that watch this device (what the page draws on its charts)."""
        return [r for r in self._device_rules if r.selector.matches(device)]

    def set_rules(self, rules: Sequence[Rule]) -> list[str]:
        """Replace the rules (SIGHUP). Alerts of rules that no longer exist are dropped
        silently if pending; firing ones are kept until their rule returns or they are
        resolved by hand, and their names are returned so the caller can say so."""
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise ValueError("alert rule names must be unique")
        self._rules = {r.name: r for r in rules}
        self._device_rules = [r for r in rules if not r.selector.gateway]
        self._gateway_rules = [r for r in rules if r.selector.gateway]
        orphans = []
        for key, alert in list(self._active.items()):
            if alert.rule not in self._rules:
                if alert.phase is AlertPhase.PENDING:
                    del self._active[key]
                else:
                    orphans.append(alert.id or alert.rule)
        return orphans

    def restore(self, firing: Iterable[Alert]) -> None:
        """Alerts that were firing before a restart: they are not announced again."""
        for alert in firing:
            if alert.phase is AlertPhase.FIRING:
                self._active[alert.key] = alert

    def adopt(self, alerts: Iterable[Alert]) -> list[Alert]:
        """Alerts firing on a device this gateway has just taken over from another: they go
        on under the same id (not announced again); resolved here when they clear.
        Returns those adopted (an alert of a rule this gateway does not have is not)."""
        adopted = []
        for alert in alerts:
            if alert.phase is AlertPhase.FIRING and alert.rule in self._rules:
                current = self._active.get(alert.key)
                if current is None or current.phase is AlertPhase.PENDING:
                    self._active[alert.key] = alert
                    adopted.append(alert)
        return adopted

    def release(self, subject: str) -> list[Alert]:
        """A device another gateway has taken over: its alerts are that gateway's now
        (neither resolved nor announced here). Returns the firing ones let go."""
        keys = [k for k in self._active if k[1] == subject]
        gone = [self._active.pop(k) for k in keys]
        return [a for a in gone if a.phase is AlertPhase.FIRING]

    # ---- reading -------------------------------------------------------------------------

    def alerts(self) -> list[Alert]:
        return list(self._active.values())

    def firing(self) -> list[Alert]:
        return [a for a in self._active.values() if a.phase is AlertPhase.FIRING]

    def find(self, alert_id: str) -> Alert | None:
        for alert in self._active.values():
            if alert.id == alert_id:
                return alert
        return None

    # ---- evaluation ------------------------------------------------------------------------

    def evaluate_device(
        self, device: DeviceRecord, now_mono: float, now_wall: float
    ) -> list[AlertTransition]:
        return self._evaluate(self._device_rules, device, now_mono, now_wall)

    def _evaluate(
        self, rules: Sequence[Rule], device: DeviceRecord, now_mono: float, now_wall: float
    ) -> list[AlertTransition]:
        out: list[AlertTransition] = []
        for rule in rules:
            if not rule.selector.matches(device):
                continue
            if not device.online and rule.metric not in _SILENCE_METRICS:
                continue
            extra = self._extra.get(rule.metric)
            value = extra(device) if extra else device_metric(rule.metric, device, now_wall)
            if value is not None:
                self._step(rule, device.device_id, device.name, value, now_mono, now_wall, out)
        return out

    def evaluate_gateway(
        self, metrics: Mapping[str, float | None], now_mono: float, now_wall: float
    ) -> list[AlertTransition]:
        out: list[AlertTransition] = []
        for rule in self._gateway_rules:
            value = metrics.get(rule.metric)
            if value is not None:
                self._step(rule, GATEWAY_SUBJECT, None, value, now_mono, now_wall, out)
        return out

    def tick(
        self,
        devices: Iterable[DeviceRecord],
        gateway_metrics: Mapping[str, float | None],
        now_mono: float,
        now_wall: float,
    ) -> list[AlertTransition]:
        """Periodic evaluation (about once a second): timers and time-based metrics.

        Only devices with a pending or firing alert are evaluated in full (their
        phases advance with time); other devices only for rules on
        ``seconds_since_seen``. Value changes arrive through :meth:`evaluate_device`.
        """
        out = self.evaluate_gateway(gateway_metrics, now_mono, now_wall)
        subjects = {a.subject for a in self._active.values()}
        timed = [r for r in self._device_rules if r.metric == "seconds_since_seen"]
        for device in devices:
            if device.device_id in subjects:
                out.extend(self.evaluate_device(device, now_mono, now_wall))
            elif timed:
                out.extend(self._evaluate(timed, device, now_mono, now_wall))
        return out

    def _step(
        self,
        rule: Rule,
        subject: str,
        name: str | None,
        value: float,
        now_mono: float,
        now_wall: float,
        out: list[AlertTransition],
    ) -> None:
        key = (rule.name, subject)
        alert = self._active.get(key)
        if alert is None:
            if not rule.triggered(value):
                return
            alert = Alert(
                rule=rule.name,
                subject=subject,
                phase=AlertPhase.PENDING,
                since_mono=now_mono,
                started_at=now_wall,
                severity=rule.severity,
                metric=rule.metric,
                threshold=rule.threshold,
                value=value,
            )
            self._active[key] = alert
        alert.value = value
        if alert.phase is AlertPhase.PENDING:
            if rule.cleared(value):
                del self._active[key]
            elif now_mono - alert.since_mono >= rule.for_s:
                alert.phase = AlertPhase.FIRING
                alert.id = f"{rule.name}/{subject}/{int(alert.started_at)}"
                alert.message = rule.render(value, subject, name)
                out.append(AlertTransition("firing", dataclasses.replace(alert)))
            return
        # firing
        if not rule.cleared(value):
            alert.cleared_since_mono = None
            return
        if alert.cleared_since_mono is None:
            alert.cleared_since_mono = now_mono
        if now_mono - alert.cleared_since_mono >= rule.keep_firing_for_s:
            del self._active[key]
            alert.phase = AlertPhase.RESOLVED
            alert.resolved_at = now_wall
            alert.message = f"{rule.name} resolved: {rule.metric} {value:g}"
            self.recent_resolved.appendleft(alert)
            out.append(AlertTransition("resolved", dataclasses.replace(alert)))

    # ---- people -------------------------------------------------------------------------

    def acknowledge(self, alert_id: str, who: str) -> Alert:
        alert = self._require(alert_id)
        alert.acknowledged_by = who
        return alert

    def silence(self, alert_id: str, who: str, until_wall: float) -> Alert:
        alert = self._require(alert_id)
        alert.silenced_by = who
        alert.silenced_until = until_wall
        return alert

    def unsilence(self, alert_id: str) -> Alert:
        """The silence is lifted now (the alert is posted again while it fires)."""
        alert = self._require(alert_id)
        alert.silenced_by, alert.silenced_until = None, None
        return alert

    def _require(self, alert_id: str) -> Alert:
        alert = self.find(alert_id)
        if alert is None:
            raise KeyError(f"no active alert with id {alert_id!r}")
        return alert
