"""Registry records for unit tests: a device as the registry would hold it."""

from __future__ import annotations

from typing import Any

from drivers.types import DeviceKind
from gateway.registry import DeviceRecord


def record(
    device_id: str, kind: DeviceKind = DeviceKind.SENSOR, model: str = "ruuvi-rawv2", **fields: Any
) -> DeviceRecord:
    """A device first and last seen at 0 (``fields`` overrides any of the record's
    fields), its address derived from its id."""
    address = ":".join(device_id[i : i + 2] for i in range(0, 12, 2)).upper()
    base: dict[str, Any] = {"first_seen": 0, "last_seen": 0, "last_seen_mono": 0}
    return DeviceRecord(
        device_id=device_id, address=address, kind=kind, model=model, **{**base, **fields}
    )
