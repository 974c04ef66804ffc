"""``store-gateway keygen --out DIR [--kid ID]``: an Ed25519 key pair for signing commands.

Writes ``<kid>.private.pem`` (mode 0600) and ``<kid>.public.pem``, refuses to
overwrite, and prints the ``[[security.trusted_keys]]`` entry for the gateway.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from joserfc.jwk import OKPKey


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, help="directory for the key files")
    parser.add_argument("--kid", help="key id (default: cloud-YYYY-MM)")


def run(args: argparse.Namespace) -> int:
    kid = args.kid or f"cloud-{datetime.now(UTC):%Y-%m}"
    if not kid or any(c in kid for c in "/\\ \t\n\"'"):
        print(
            f"keygen: {kid!r} is not usable as a key id (no spaces, quotes or slashes)",
            file=sys.stderr,
        )
        return 2
    out: Path = args.out
    private_path = out / f"{kid}.private.pem"
    public_path = out / f"{kid}.public.pem"
    for path in (private_path, public_path):
        if path.exists():
            print(f"keygen: {path} exists; refusing to overwrite a key", file=sys.stderr)
            return 1
    key = OKPKey.generate_key("Ed25519")
    out.mkdir(parents=True, exist_ok=True)
    # Private key: created with mode 0600 from the start, never world-readable.
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.as_pem(private=True))
    public_path.write_bytes(key.as_pem(private=False))
    x = key.as_dict(private=False)["x"]
    print(f"# private key: {private_path} (keep it in the cloud; never on a store box)")
    print(f"# public key:  {public_path}")
    print("[[security.trusted_keys]]")
    print(f'kid = "{kid}"')
    print(f'x = "{x}"')
    return 0
