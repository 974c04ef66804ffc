"""A gateway's claim on a device: what the gateways of one store tell each other.

A claim is a retained message on ``{prefix}/{store}/gw/{gw}/owns/{device}`` (see
``Topics.claim``); an empty retained payload withdraws it. Each topic has one
writer (its gateway), so what a topic holds never depends on the order in which
the broker delivered several gateways' messages; the owner is chosen from all
the live claims by their contents (:func:`rank`).

It carries what a new owner needs to continue without the cloud: the epoch, the
owner's RSSI (so others know whether they hear the device clearly better), the
alerts firing on the device (the new owner continues them under the same id) and,
for labels, the commands already answered for it (so no target is answered twice),
what it shows (so the same content is not written again) and whether a transfer to
it is running (a label is not taken over in the middle of one).

Claims come from other boxes over the network: parsed strictly, bounded, and a bad
one is dropped with a log line, never trusted.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SCHEMA = "owner-claim/1"
ID = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
DEVICE_ID = Annotated[str, Field(pattern=r"^[0-9a-f]{12}$")]
MAX_BYTES = 16 * 1024
MAX_ALERTS = 16
MAX_ANSWERED = 32
NOT_HEARD = -200  # rank of an owner that does not hear its device now


class ClaimError(ValueError):
    """A claim message that cannot be used."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClaimedAlert(_Model):
    """An alert firing on the device, continued by the next owner under the same id."""

    rule: str = Field(min_length=1, max_length=128)
    id: str = Field(min_length=1, max_length=64)
    started_at: float = Field(ge=0)
    metric: str = Field(max_length=64)
    threshold: float
    severity: str = Field(max_length=16)
    message: str = Field(max_length=512)
    value: float | None = None


class ShownContent(_Model):
    """What a label shows, as its owner knows it: a new owner that wants the same
    content does not write it again."""

    sku: str = Field(min_length=1, max_length=128)
    version: int = Field(ge=0)
    content_hash: str = Field(pattern=r"^[0-9a-f]{8,64}$")


class Claim(_Model):
    schema_: str = Field(SCHEMA, alias="schema", pattern=f"^{SCHEMA}$")
    store_id: ID
    gateway_id: ID
    device_id: DEVICE_ID
    epoch: int = Field(ge=1, le=2**53)
    rssi: int | None = Field(None, ge=-127, le=20)  # None: the owner does not hear it now
    alerts: tuple[ClaimedAlert, ...] = Field((), max_length=MAX_ALERTS)
    answered: tuple[Annotated[str, Field(min_length=1, max_length=128)], ...] = Field(
        (), max_length=MAX_ANSWERED
    )
    shown: ShownContent | None = None  # labels: what it displays
    busy: bool = False  # labels: a transfer to it is running (not taken over meanwhile)

    def dump(self) -> bytes:
        return json.dumps(
            self.model_dump(mode="json", by_alias=True), separators=(",", ":")
        ).encode()


def rank(claim: Claim) -> tuple[int, int, str]:
    """Smaller is stronger: the highest epoch, then the best RSSI, then the gateway id that
    sorts first. Every gateway computes the same answer from the same claims."""
    rssi = NOT_HEARD if claim.rssi is None else claim.rssi
    return (-claim.epoch, -rssi, claim.gateway_id)


def parse(payload: bytes, *, store_id: str, gateway_id: str, device_id: str) -> Claim | None:
    """The claim in a retained message of ``gateway_id`` about ``device_id`` (None: an
    empty payload, the claim withdrawn). Raises ClaimError naming what is wrong."""
    if not payload:
        return None
    if len(payload) > MAX_BYTES:
        raise ClaimError(f"claim of {len(payload)} bytes exceeds {MAX_BYTES}")
    try:
        data: Any = json.loads(payload)
        claim = Claim.model_validate(data)
    except (ValueError, ValidationError) as exc:
        raise ClaimError(f"not a claim: {str(exc)[:300]}") from exc
    if (claim.store_id, claim.gateway_id, claim.device_id) != (store_id, gateway_id, device_id):
        raise ClaimError(
            f"claim names {claim.store_id}/{claim.gateway_id}/{claim.device_id} but was "
            f"published on the topic of {store_id}/{gateway_id}/{device_id}"
        )
    return claim


HEARING_SCHEMA = "hearing/1"
SHARDS = "0123456789abcdef"
MAX_HEARING_BYTES = 64 * 1024


def shard_of(device_id: str) -> str:
    return device_id[-1]


def dump_hearing(gateway_id: str, devices: dict[str, int]) -> bytes:
    body = {"schema": HEARING_SCHEMA, "gateway_id": gateway_id, "devices": devices}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def parse_hearing(payload: bytes, *, gateway_id: str, shard: str) -> dict[str, int]:
    """The devices (and RSSI) a gateway reports hearing in one shard; ClaimError if the
    message is not usable. An empty payload: none."""
    if not payload:
        return {}
    if len(payload) > MAX_HEARING_BYTES:
        raise ClaimError(f"hearing report of {len(payload)} bytes exceeds {MAX_HEARING_BYTES}")
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise ClaimError(f"hearing report is not JSON: {exc}") from exc
    if not isinstance(body, dict) or body.get("schema") != HEARING_SCHEMA:
        raise ClaimError("not a hearing/1 report")
    if body.get("gateway_id") != gateway_id or shard not in SHARDS:
        raise ClaimError(f"hearing report of {body.get('gateway_id')!r} on {gateway_id}'s topic")
    devices = body.get("devices")
    if not isinstance(devices, dict):
        raise ClaimError("hearing report without devices")
    out = {}
    for device_id, rssi in devices.items():
        ok = isinstance(device_id, str) and len(device_id) == 12 and shard_of(device_id) == shard
        if not ok or not all(c in SHARDS for c in device_id):
            raise ClaimError(f"hearing report names {device_id!r}")
        if not isinstance(rssi, int) or isinstance(rssi, bool) or not -127 <= rssi <= 20:
            raise ClaimError(f"hearing report gives {device_id} an RSSI of {rssi!r}")
        out[device_id] = rssi
    return out
