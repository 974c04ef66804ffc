"""Labels shared out between gateways that hear them about equally.

Ownership follows radio: a label goes to the gateway that hears it best, and moves only
to one that hears it clearly better. Labels are not spread evenly over a floor, though
(a grocery aisle holds more than a furniture aisle), so the box nearest the dense aisles
owns more of them than the others, and every campaign waits for it: the makespan is set
by the gateway with the most labels.

A gateway owning clearly fewer bound labels than another (by more than ``tolerance`` of
the mean, and at least ``minimum``) takes some of that one's labels that it hears about
as well (no more than half the margin worse, half the margin above the floor): a
``1/n`` share of the difference per round (``n`` gateways online), so the two end
about even and neither can overtake the other; nothing flows back. A round takes
``balance_hold_s`` (the counts settle). Which labels is decided by a hash of their
ids, not by RSSI, and a label chosen stays chosen while it is heard within the
margin: the choice must stay the same while the hold time runs, and RSSI moves with
every advert. A label moved between two gateways stays where it is for
``moved_min_s`` (a device heard equally by two gateways changes owner at most once
in that time).

Pure: the counts and what this gateway hears in, the labels to take out.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Candidate:
    """A label another gateway owns that this one hears about as well."""

    device_id: str
    owner: str


def shares(
    counts: Mapping[str, int],
    me: str,
    gateways: Collection[str],
    *,
    tolerance: float,
    minimum: int,
) -> dict[str, int]:
    """How many labels this gateway takes from each gateway that owns clearly more
    (``counts``: bound labels owned per gateway; ``gateways``: those online, this one
    among them)."""
    n = len(gateways)
    if n < 2 or me not in gateways:
        return {}
    mine = counts.get(me, 0)
    mean = sum(counts.get(g, 0) for g in gateways) / n
    slack = max(minimum, tolerance * mean)
    out = {}
    for g in gateways:
        diff = counts.get(g, 0) - mine
        if g != me and diff > slack:
            out[g] = diff // n
    return out


def pick(
    candidates: Iterable[Candidate], quotas: Mapping[str, int], chosen: Collection[str] = ()
) -> set[str]:
    """The labels to take: per owner, up to its quota, those ``chosen`` in the round
    before first (their hold time runs on), then in the order of a hash of their ids
    (the same choice every round, spread over the floor, not aisle by aisle)."""
    by_owner: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if quotas.get(c.owner, 0) > 0:
            by_owner[c.owner].append(c)
    out: set[str] = set()
    for owner, found in by_owner.items():
        found.sort(
            key=lambda c: (c.device_id not in chosen, zlib.crc32(c.device_id.encode()), c.device_id)
        )
        out.update(c.device_id for c in found[: quotas[owner]])
    return out
