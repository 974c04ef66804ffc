"""Alerts: threshold rules with hysteresis and debounce over devices and the gateway itself."""

from gateway.alerts.engine import AlertEngine, AlertTransition
from gateway.alerts.model import Alert, AlertPhase
from gateway.alerts.rules import GATEWAY_SUBJECT, Rule, Selector

__all__ = [
    "GATEWAY_SUBJECT",
    "Alert",
    "AlertEngine",
    "AlertPhase",
    "AlertTransition",
    "Rule",
    "Selector",
]
