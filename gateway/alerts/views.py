"""An alert as others see it: the JSON view of the API and the page, and the
``alert.firing``/``alert.resolved`` event the cloud hears."""

from __future__ import annotations

from typing import Any

from gateway.alerts.engine import AlertTransition
from gateway.alerts.model import Alert
from gateway.contract.events import Event
from gateway.timeutil import format_epoch


def alert_view(a: Alert) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule": a.rule,
        "device_id": a.device_id,
        "phase": a.phase.value,
        "severity": a.severity,
        "metric": a.metric,
        "value": a.value,
        "threshold": a.threshold,
        "started_at": format_epoch(a.started_at),
        "resolved_at": None if a.resolved_at is None else format_epoch(a.resolved_at),
        "message": a.message,
        "acknowledged_by": a.acknowledged_by,
        "silenced_until": None if a.silenced_until is None else format_epoch(a.silenced_until),
        "silenced_by": a.silenced_by,
    }


def alert_event(transition: AlertTransition) -> Event:
    a = transition.alert
    resolved = transition.kind == "resolved" and a.resolved_at is not None
    return Event(
        f"alert.{transition.kind}",
        a.severity,
        a.message,
        a.resolved_at if resolved and a.resolved_at is not None else a.started_at,
        a.device_id,
        alert={
            "id": a.id,
            "rule": a.rule,
            "metric": a.metric,
            "value": a.value,
            "threshold": a.threshold,
            "started_at": format_epoch(a.started_at),
            "resolved_at": None if a.resolved_at is None else format_epoch(a.resolved_at),
        },
    )
