"""What components tell the cloud, as events: decided where the facts live."""

from __future__ import annotations

from gateway.alerts.engine import AlertTransition
from gateway.alerts.model import Alert, AlertPhase
from gateway.alerts.views import alert_event
from gateway.bridge import payloads
from gateway.contract import schema_errors
from gateway.contract.events import Event
from gateway.registry import ChangeKind, DeviceChange, DeviceRecord
from gateway.registry.events import lifecycle_event
from tests.helpers.records import record

IDENT = payloads.Identity("store-1", "gw-1")


def sent(event: Event) -> dict[str, object]:
    """The event as the outbox sends it (with its ``msg_id`` and ``seq``)."""
    return {
        **payloads.of_event(IDENT, event),
        "msg_id": "12345678-1234-1234-1234-123456789abc",
        "seq": 1,
    }


def device(name: str | None = "Fridge 3") -> DeviceRecord:
    return record(
        "a4c138000001",
        model="ruuvi-tag",
        first_seen=1.0,
        last_seen=2.0,
        last_seen_mono=2.0,
        name=name,
    )


def test_lifecycle_events_follow_the_change_kinds() -> None:
    new = lifecycle_event(DeviceChange(device(), frozenset({ChangeKind.NEW})), 1e9)
    assert new is not None and new.type == "device.new" and new.severity == "info"
    back = lifecycle_event(DeviceChange(device(), frozenset({ChangeKind.ONLINE})), 1e9)
    assert back is not None and back.message == "Fridge 3 is back online"
    gone = lifecycle_event(DeviceChange(device(None), frozenset({ChangeKind.OFFLINE})), 1e9)
    assert gone is not None and gone.severity == "warning"
    assert gone.message == "A4:C1:38:00:00:01 went offline"
    both = lifecycle_event(
        DeviceChange(device(), frozenset({ChangeKind.NEW, ChangeKind.ONLINE})), 1e9
    )
    assert both is not None and both.type == "device.new"
    for kinds in ({ChangeKind.READINGS}, {ChangeKind.LABEL}, {ChangeKind.BATTERY}):
        assert lifecycle_event(DeviceChange(device(), frozenset(kinds)), 1e9) is None
    for event in (new, back, gone):
        assert schema_errors("event", sent(event)) == [], event


def test_alert_events_carry_the_contract_alert_object() -> None:
    alert = Alert(
        rule="fridge-warm",
        subject="a4c138000001",
        phase=AlertPhase.FIRING,
        since_mono=5.0,
        started_at=1_000_000.0,
        severity="critical",
        metric="temperature",
        threshold=8.0,
        value=9.1,
        id="al-1",
        message="fridge 3 at 9.1 °C",
    )
    fired = alert_event(AlertTransition("firing", alert))
    assert (fired.type, fired.severity, fired.at) == ("alert.firing", "critical", 1_000_000.0)
    assert fired.alert is not None and fired.alert["resolved_at"] is None
    alert.resolved_at = 1_000_600.0
    resolved = alert_event(AlertTransition("resolved", alert))
    assert resolved.type == "alert.resolved" and resolved.at == 1_000_600.0
    assert resolved.alert is not None and resolved.alert["resolved_at"].startswith("1970-01-12")
    for event in (fired, resolved):
        assert schema_errors("event", sent(event)) == [], event
