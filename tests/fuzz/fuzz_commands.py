"""Coverage-guided fuzzing of the command path (atheris / libFuzzer): JWS parsing and
verification, JSON, the contract's schema, the command model, targets and times.

Run with ``scripts/fuzz commands [libFuzzer options]``. Half of the inputs go in as
they are (a JWS, mostly refused at the signature); the other half go in as the
payload of a correctly signed command, so the fuzzer also reaches what comes after
the signature. Anything but ``Rejected`` (or a valid command) is a finding. An empty
corpus folder is seeded with a valid price update.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from joserfc.jwk import OKPKey

    from gateway.commands.inbox import InboxOptions, Rejected, check_command
    from gateway.commands.jws import sign

KEY = OKPKey.generate_key("Ed25519")
OPTIONS = InboxOptions(
    "store-0042", "gw-1", {"cloud-1": OKPKey.import_key(KEY.as_dict(private=False))}
)
NOW = time.time()


def one_input(data: bytes) -> None:
    raw = data[1:]
    if data[:1] == b"s":  # sign whatever the fuzzer made: the checks after the signature
        raw = sign(raw, KEY, "cloud-1").encode()
    with contextlib.suppress(Rejected):
        check_command(raw, OPTIONS, NOW)


def seed(corpus: Path) -> None:
    """Start an empty corpus with a valid price update (as payload to be signed)."""
    if any(corpus.iterdir()):
        return
    command = {
        "schema": "command/1",
        "id": "5b0c2f7e-1d7a-4c55-9d2e-3f6a8b9c0d1e",
        "store_id": "store-0042",
        "gateway_id": None,
        "type": "price-update",
        "issued_at": "2026-11-24T22:00:00.000Z",
        "expires_at": "2099-01-01T00:00:00.000Z",
        "body": {"items": [{"sku": "6901234567892", "version": 12, "price": "12.90",
                            "currency": "CNY", "name": "乌龙茶 500ml"}]},
    }  # fmt: skip
    (corpus / "price-update").write_bytes(b"s" + json.dumps(command).encode())


def main() -> None:
    args = sys.argv
    corpus = next((Path(a) for a in args[1:] if not a.startswith("-")), None)
    if corpus is not None and corpus.is_dir():
        seed(corpus)
    atheris.Setup(args, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
