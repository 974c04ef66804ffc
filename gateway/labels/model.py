"""Typed values of the label pipeline: bindings, price items, twins, results."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TwinStatus(StrEnum):
    UNBOUND = "unbound"
    IN_SYNC = "in-sync"
    PENDING = "pending"
    UPDATING = "updating"
    FAILED = "failed"


class ResultStatus(StrEnum):
    DISPLAYED = "displayed"
    UNCHANGED = "unchanged"
    SUPERSEDED = "superseded"
    SKIPPED_STALE = "skipped-stale"
    UNBOUND = "unbound"
    FAILED = "failed"
    FLASHED = "flashed"
    HELD = "held"  # v1.2: the price guard held the item (error: the rules)
    DISCARDED = "discarded"  # v1.2: a held item was discarded by a review


@dataclass(frozen=True, slots=True)
class Binding:
    label_id: str
    sku: str
    template: str | None = None


@dataclass(frozen=True, slots=True)
class ContentRef:
    sku: str
    version: int
    content_hash: str


@dataclass(slots=True)
class LabelTwin:
    """What a label should show and what it is known to show."""

    label_id: str
    status: TwinStatus = TwinStatus.UNBOUND
    desired: ContentRef | None = None
    desired_command_id: str | None = None
    displayed: ContentRef | None = None
    displayed_at: float | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class LabelResult:
    """One target's outcome, as the contract's ``results[]`` entry."""

    command_id: str
    label_id: str | None
    sku: str | None
    version: int | None
    status: ResultStatus
    at: float
    error: str | None = None
