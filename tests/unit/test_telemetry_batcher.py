"""Telemetry sampling: readings beyond their dead-bands as they come, every reading once
per sample interval (steady readings too), batched by age."""

from __future__ import annotations

from gateway.bridge.telemetry import TelemetryBatcher, TelemetryOptions
from gateway.registry import DeviceRecord
from tests.helpers.records import record


def _sensor() -> DeviceRecord:
    return record(
        "c40900000001",
        readings={"temperature_c": 4.2, "humidity_pct": 80.0},
        readings_at=1_700_000_000.0,
    )


def test_every_reading_once_per_interval_and_changes_as_they_come() -> None:
    now = [0.0]
    batcher = TelemetryBatcher(
        TelemetryOptions(sample_interval_s=10.0, max_delay_s=1.0), clock=lambda: now[0]
    )
    device = _sensor()
    batcher.sample(device)  # first: due
    assert batcher.pending() == 2
    now[0] = 3.0
    batcher.sample(device)  # steady, not due yet: nothing
    assert batcher.pending() == 2
    batcher.sample(device, ("temperature_c",))  # beyond its dead-band: taken now
    assert batcher.pending() == 3
    now[0] = 9.6
    batcher.sample(device)  # not due without slack
    assert batcher.pending() == 3
    batcher.sample(device, slack=0.5)  # a tick's worth early counts as due
    assert batcher.pending() == 5
    (batch,) = batcher.due_batches()
    assert [name for _, _, name, _ in batch] == [
        "temperature_c",
        "humidity_pct",
        "temperature_c",
        "temperature_c",
        "humidity_pct",
    ]
    assert batcher.due_batches() == []


def test_a_batch_waits_for_its_age_unless_forced() -> None:
    now = [0.0]
    batcher = TelemetryBatcher(
        TelemetryOptions(sample_interval_s=10.0, max_delay_s=2.0), clock=lambda: now[0]
    )
    batcher.sample(_sensor())
    now[0] = 1.0
    assert batcher.due_batches() == []
    assert len(batcher.due_batches(force=True)) == 1
    batcher.sample(_sensor(), ("humidity_pct",))
    now[0] = 3.5
    assert len(batcher.due_batches()) == 1
