"""Ownership of devices among the gateways of one store (contract v1.1)."""

from gateway.ownership.claims import Claim, ClaimedAlert, ClaimError, ShownContent
from gateway.ownership.ownership import (
    Gained,
    Lost,
    Ownership,
    OwnershipOptions,
    Step,
)

__all__ = [
    "Claim",
    "ClaimError",
    "ClaimedAlert",
    "Gained",
    "Lost",
    "Ownership",
    "OwnershipOptions",
    "ShownContent",
    "Step",
]
