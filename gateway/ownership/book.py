"""What one gateway knows of the store's claims: every gateway's claims as the broker
delivered them, which gateways are online, and what the others report hearing.

Pure bookkeeping, no decisions: :class:`gateway.ownership.ownership.Ownership` decides
from it. The claims of this gateway are in the book too (put there when made), so a
device's owner is read the same way whoever it is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from gateway.ownership.claims import Claim, rank


class ClaimBook:
    def __init__(self, me: str, offline_grace_s: float) -> None:
        self.me = me
        self.offline_grace_s = offline_grace_s
        self.now = float("-inf")  # the time of the owner's last step (for the grace)
        self._claims: dict[str, dict[str, Claim]] = {}  # device -> gateway -> live claim
        self._last: dict[str, dict[str, Claim]] = {}  # the same, withdrawn ones kept
        self._offline: set[str] = set()
        self._offline_since: dict[str, float] = {}
        self._online: set[str] = set()
        self._heard_by: dict[str, dict[str, int]] = {}  # device -> other gateway -> RSSI
        self._reported: dict[str, dict[str, set[str]]] = {}  # gateway -> shard -> devices

    # ---- what arrives -------------------------------------------------------------------------

    def put(self, claim: Claim) -> None:
        """A claim made (this gateway's) or seen (another's)."""
        self._claims.setdefault(claim.device_id, {})[claim.gateway_id] = claim
        self._last.setdefault(claim.device_id, {})[claim.gateway_id] = claim

    def withdrawn(self, device_id: str, gateway_id: str) -> None:
        """The gateway's claim on the device is gone from the broker (its last is kept)."""
        self._claims.get(device_id, {}).pop(gateway_id, None)

    def status_seen(self, gateway_id: str, online: bool) -> None:
        if online:
            self._offline.discard(gateway_id)
            self._offline_since.pop(gateway_id, None)
            self._online.add(gateway_id)
        else:
            if gateway_id not in self._offline:
                self._offline_since[gateway_id] = self.now
            self._offline.add(gateway_id)
            self._online.discard(gateway_id)

    def hearing_seen(self, gateway_id: str, shard: str, devices: Mapping[str, int]) -> None:
        """Another gateway's report of what it hears in one shard."""
        before = self._reported.setdefault(gateway_id, {}).get(shard, set())
        for device_id in before - set(devices):
            self._heard_by.get(device_id, {}).pop(gateway_id, None)
        for device_id, rssi in devices.items():
            self._heard_by.setdefault(device_id, {})[gateway_id] = rssi
        self._reported[gateway_id][shard] = set(devices)

    # ---- claims -------------------------------------------------------------------------------

    def devices(self) -> Iterator[str]:
        """Every device with a claim on the broker."""
        return iter(self._claims)

    def claim(self, device_id: str, gateway_id: str) -> Claim | None:
        """The gateway's claim on the device, if still on the broker."""
        return self._claims.get(device_id, {}).get(gateway_id)

    def last(self, device_id: str, gateway_id: str) -> Claim | None:
        """The last claim the gateway published on the device (withdrawn since or not)."""
        return self._last.get(device_id, {}).get(gateway_id)

    def lasts(self, device_id: str) -> Mapping[str, Claim]:
        """Every gateway's last claim on the device (withdrawn since or not)."""
        return self._last.get(device_id, {})

    def standing(self, device_id: str, gateway_id: str) -> bool:
        """The gateway's claim on the device is still on the broker (not withdrawn)."""
        return gateway_id in self._claims.get(device_id, {})

    def counts(self, gateway_id: str) -> bool:
        """The gateway's claims count: it is this one, online, or went offline less than
        ``offline_grace_s`` ago."""
        if gateway_id == self.me or gateway_id not in self._offline:
            return True
        since = self._offline_since.get(gateway_id, float("-inf"))
        return self.now - since < self.offline_grace_s

    def live(self, device_id: str) -> list[Claim]:
        return [c for gw, c in self._claims.get(device_id, {}).items() if self.counts(gw)]

    def winner(self, device_id: str) -> Claim | None:
        live = self.live(device_id)
        return min(live, key=rank) if live else None

    def previous(self, device_id: str) -> Claim | None:
        """Whom this gateway takes the device from: the strongest claim of another gateway
        still on the broker (its gateway may be offline), else the strongest ever seen. A
        claim withdrawn when it lost a race long ago says nothing of the device's history."""
        others = [c for gw, c in self._claims.get(device_id, {}).items() if gw != self.me]
        if not others:
            others = [c for gw, c in self._last.get(device_id, {}).items() if gw != self.me]
        return min(others, key=rank) if others else None

    def newest_epoch(self, device_id: str) -> int | None:
        """The highest epoch any claim on the device was made in (None: never claimed)."""
        return max((c.epoch for c in self._last.get(device_id, {}).values()), default=None)

    def told_elsewhere(self, device_id: str, command_id: str) -> bool:
        """Another gateway's last claim on the device (withdrawn since or not) says the
        command was answered there."""
        return any(
            gw != self.me and command_id in claim.answered
            for gw, claim in self._last.get(device_id, {}).items()
        )

    def settled(self, device_id: str) -> bool:
        """No other online gateway's claim on the device stands."""
        return all(
            gw == self.me or gw not in self._online or gw in self._offline
            for gw in self._claims.get(device_id, {})
        )

    # ---- gateways -----------------------------------------------------------------------------

    def online(self) -> set[str]:
        """The other gateways whose status says online."""
        return {g for g in self._online if g not in self._offline}

    def offline(self) -> set[str]:
        return set(self._offline)

    def first_online(self) -> bool:
        """This gateway's id sorts first among the gateways online."""
        return all(self.me < gw for gw in self._online)

    # ---- hearing ------------------------------------------------------------------------------

    def heard_by(self, device_id: str) -> dict[str, int]:
        """The other gateways, not offline, that report hearing the device, with their RSSI."""
        heard = self._heard_by.get(device_id, {})
        return {gw: rssi for gw, rssi in heard.items() if gw not in self._offline}

    def reported(self, device_id: str, gateway_id: str) -> int | None:
        """The RSSI the gateway's latest report gives for the device (None: not in it)."""
        return self._heard_by.get(device_id, {}).get(gateway_id)
