"""``store-gateway counter-token ID``: a new token for a door's people counter.

Prints the token (set it in the counter: a bearer token, or ``?token=`` in its report
URL) and the configuration lines that admit it (only the token's SHA-256 is kept)."""

from __future__ import annotations

import argparse
import hashlib
import re
import secrets
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("counter_id", help="the counter's id, e.g. door-north")
    parser.add_argument("--device-id", default="000000000000", help="12 hex: its MAC address")
    parser.add_argument("--format", default="generic", choices=("generic", "vivotek"))


def run(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", args.counter_id):
        print(
            f"counter-token: {args.counter_id!r} is not an id (lower-case letters, digits, '-')",
            file=sys.stderr,
        )
        return 2
    device_id = args.device_id.lower().replace(":", "")
    if not re.fullmatch(r"[0-9a-f]{12}", device_id):
        print(f"counter-token: --device-id {args.device_id!r}: not 12 hex digits", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    print(f"token (set it in the counter; it is not shown again): {token}")
    print()
    print("[[energy.counters]]")
    print(f'id = "{args.counter_id}"')
    print(f'token_sha256 = "{digest}"')
    print(f'format = "{args.format}"')
    print(f'device_id = "{device_id}"')
    return 0
