"""Compact JWS with EdDSA / Ed25519 (RFC 7515, RFC 8037), through joserfc.

joserfc is a maintained JOSE library with explicit algorithm allow-lists, so
``none`` and the HS256-with-a-public-key confusion are refused by
construction. The contract fixes the algorithm name ``EdDSA``; joserfc warns
that RFC 9864 prefers ``Ed25519`` now, which this contract version predates.
joserfc (with cryptography, ~3 MiB) is imported on first use: a gateway with
no trusted keys never loads it.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joserfc.jwk import OKPKey

warnings.filterwarnings("ignore", message="EdDSA is deprecated")

ALGORITHMS = ["EdDSA"]


class BadSignature(Exception):
    """Not a valid JWS, or not signed by a trusted key; the text says which."""


def public_key_from_x(x: str) -> OKPKey:
    from joserfc.jwk import OKPKey

    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})


def public_key_from_pem(path: Path) -> OKPKey:
    from joserfc.jwk import OKPKey

    key = OKPKey.import_key(path.read_bytes())
    if key.as_dict().get("crv") != "Ed25519":
        raise ValueError(f"{path} is not an Ed25519 key")
    return key


def header_of(token: bytes) -> dict[str, object]:
    parts = token.split(b".")
    if len(parts) != 3:
        raise BadSignature("not a compact JWS (expected three dot-separated parts)")
    try:
        raw = base64.urlsafe_b64decode(parts[0] + b"=" * (-len(parts[0]) % 4))
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadSignature("the JWS header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise BadSignature("the JWS header is not a JSON object")
    return header


def verify(token: bytes, keys: Mapping[str, OKPKey]) -> bytes:
    """The payload of a compact JWS signed by one of ``keys`` (by ``kid``)."""
    header = header_of(token)
    if header.get("alg") not in ALGORITHMS:
        raise BadSignature(f"algorithm {header.get('alg')!r} is not accepted (only EdDSA)")
    if "crit" in header or header.get("b64") is False:
        raise BadSignature("critical or unencoded-payload headers are not accepted")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise BadSignature(f"unknown key id {kid!r}")
    from joserfc import jws
    from joserfc.errors import JoseError

    try:
        obj = jws.deserialize_compact(token, keys[kid], algorithms=ALGORITHMS)
    except JoseError as exc:
        raise BadSignature(f"signature does not verify with key {kid!r}") from exc
    return bytes(obj.payload)


def sign(payload: bytes, private_key: OKPKey, kid: str) -> str:
    from joserfc import jws

    return jws.serialize_compact(
        {"alg": "EdDSA", "kid": kid}, payload, private_key, algorithms=ALGORITHMS
    )
