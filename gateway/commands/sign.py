"""``store-gateway sign-command --key FILE [--kid ID] [--fill] < command.json``.

Validates the command against the contract's schema, then prints the compact
JWS the gateway accepts. ``--fill`` adds a fresh ``id``, ``issued_at`` (now)
and ``expires_at`` (in 24 h) where missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from joserfc.jwk import OKPKey

from gateway.commands.jws import sign
from gateway.contract import schema_errors
from gateway.timeutil import format_ts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, type=Path, help="Ed25519 private key (PEM)")
    parser.add_argument("--kid", help="key id (default: the key file's name before '.private')")
    parser.add_argument("--fill", action="store_true", help="fill id, issued_at, expires_at")


def run(args: argparse.Namespace) -> int:
    try:
        key = OKPKey.import_key(args.key.read_bytes())
    except OSError as exc:
        print(f"sign-command: cannot read {args.key}: {exc.strerror}", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"sign-command: {args.key} is not an Ed25519 private key ({exc})", file=sys.stderr)
        return 1
    if not key.is_private or key.as_dict().get("crv") != "Ed25519":
        print(f"sign-command: {args.key} is not an Ed25519 private key", file=sys.stderr)
        return 1
    kid = args.kid or args.key.name.split(".private")[0].removesuffix(".pem")
    try:
        command = json.loads(sys.stdin.buffer.read())
    except (ValueError, UnicodeDecodeError) as exc:
        print(f"sign-command: standard input is not JSON ({exc})", file=sys.stderr)
        return 1
    if args.fill and isinstance(command, dict):
        now = datetime.now(UTC)
        command.setdefault("id", str(uuid.uuid4()))
        command.setdefault("issued_at", format_ts(now))
        command.setdefault("expires_at", format_ts(now + timedelta(hours=24)))
    errors = schema_errors("command", command)
    if errors:
        for e in errors:
            print(f"sign-command: {e}", file=sys.stderr)
        return 1
    payload = json.dumps(command, separators=(",", ":"), ensure_ascii=False).encode()
    print(sign(payload, key, kid))
    return 0
