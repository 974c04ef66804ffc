"""Signed cloud commands for tests and benchmarks: one key made per process, commands built
and signed as the cloud does."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from joserfc.jwk import OKPKey

from gateway.commands.jws import sign
from gateway.timeutil import format_epoch

KEY = OKPKey.generate_key("Ed25519")
KID = "cloud-1"


def trusted_keys() -> dict[str, OKPKey]:
    """The gateway side: the public half of the test key, by key id."""
    return {KID: OKPKey.import_key(KEY.as_dict(private=False))}


def public_x() -> str:
    """The public key as it goes into a configuration file (``x`` of the JWK)."""
    return str(KEY.as_dict(private=False)["x"])


def command(
    type_: str, body: dict[str, Any], *, store_id: str = "demo-store", lifetime_s: float = 600
) -> dict[str, Any]:
    now = time.time()
    return {
        "schema": "command/1",
        "id": str(uuid.uuid4()),
        "store_id": store_id,
        "gateway_id": None,
        "type": type_,
        "issued_at": format_epoch(now - 1),
        "expires_at": format_epoch(now + lifetime_s),
        "body": body,
    }


def signed(cmd: dict[str, Any]) -> bytes:
    return sign(json.dumps(cmd).encode(), KEY, KID).encode()


def signed_command(type_: str, body: dict[str, Any], *, store_id: str = "demo-store") -> bytes:
    return signed(command(type_, body, store_id=store_id))
