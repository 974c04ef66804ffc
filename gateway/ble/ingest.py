"""Advert ingest: the per-advert hot path from a scanner callback into the registry.

Per advert: a payload fingerprint (identical repeats skip decoding and only
refresh presence and RSSI), the pure decoder, a registry update. No I/O, no
log line, no allocation that outlives the call. Counters are plain integers
read by the status page and the metrics.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from drivers.decode import decode, payload_fingerprint
from drivers.types import Advertisement, DecodeError, DeviceKind, Observation
from gateway.registry import Registry

log = structlog.get_logger("gateway.ble")

_MAX_FINGERPRINTS = 50_000  # bound memory against a street full of phones
_UNKNOWN = Observation(kind=DeviceKind.UNKNOWN, model="unknown")


@dataclass(frozen=True)
class IngestOptions:
    bthome_keys: Mapping[str, bytes] = field(default_factory=dict)
    accept_unknown: bool = False
    allow: frozenset[str] = frozenset()  # device ids; empty = everything
    deny: frozenset[str] = frozenset()
    min_rssi: int | None = None


@dataclass
class IngestCounters:
    received: int = 0
    repeated: int = 0
    decoded: int = 0
    ignored: int = 0
    errors: int = 0


class AdvertIngest:
    def __init__(self, registry: Registry, options: IngestOptions) -> None:
        self._registry = registry
        self._options = options
        self._fingerprints: dict[str, object] = {}
        self._complained: set[str] = set()
        self.counters = IngestCounters()

    def reconfigure(self, options: IngestOptions) -> None:
        self._options = options
        self._fingerprints.clear()
        self._complained.clear()

    def handle(self, adv: Advertisement) -> None:
        counters = self.counters
        counters.received += 1
        opts = self._options
        if opts.min_rssi is not None and adv.rssi is not None and adv.rssi < opts.min_rssi:
            counters.ignored += 1
            return
        now_mono = time.monotonic()
        now_wall = time.time()
        address = adv.address
        fingerprint = payload_fingerprint(adv)
        if self._fingerprints.get(address) == fingerprint:
            if self._registry.heard(address, adv.rssi, now_mono, now_wall, adv.adapter):
                counters.repeated += 1
                return
        elif len(self._fingerprints) >= _MAX_FINGERPRINTS:
            self._fingerprints.clear()
        self._fingerprints[address] = fingerprint
        if opts.allow or opts.deny:
            device_id = address.replace(":", "").lower()
            if device_id in opts.deny or (opts.allow and device_id not in opts.allow):
                counters.ignored += 1
                return
        try:
            obs = decode(adv, bthome_keys=opts.bthome_keys)
        except DecodeError as exc:
            counters.errors += 1
            if address not in self._complained:  # one line per device, not per advert
                self._complained.add(address)
                log.warning("advert not decodable", address=address, error=str(exc))
            return
        if obs is None:
            if not opts.accept_unknown:
                counters.ignored += 1
                return
            obs = _UNKNOWN
        counters.decoded += 1
        self._registry.observe(adv, obs, now_mono, now_wall)
