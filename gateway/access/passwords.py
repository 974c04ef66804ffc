"""Password hashes for the web users list, and ``store-gateway hash-password``.

scrypt from the standard library (no extra dependency), stored as
``scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>``. Verification is constant
time and runs off the event loop (it is deliberately slow).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import os
import sys

LOG2_N = 15  # n = 32768: ~50 ms and 32 MiB per hash on a store box
R = 8
P = 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


class BadHash(ValueError):
    """The stored hash is not in the format this gateway writes."""


def hash_password(password: str, *, log2_n: int = LOG2_N) -> str:
    salt = os.urandom(SALT_BYTES)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=2**log2_n, r=R, p=P, dklen=KEY_BYTES, maxmem=_MAXMEM
    )
    return "$".join(["scrypt", str(log2_n), str(R), str(P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    log2_n, r, p, salt, expected = _parse(stored)
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 4):
        raise BadHash("scrypt parameters out of range")
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=2**log2_n, r=r, p=p, dklen=len(expected), maxmem=_MAXMEM
    )
    return hmac.compare_digest(key, expected)


def check_hash_format(stored: str) -> str | None:
    """None if ``stored`` looks like a hash this gateway can verify, else what is wrong."""
    try:
        verify_format(stored)
    except BadHash as exc:
        return str(exc)
    return None


def verify_format(stored: str) -> None:
    _parse(stored)


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise BadHash(
            "expected scrypt$<log2 n>$<r>$<p>$<salt>$<hash> "
            "(make one with store-gateway hash-password)"
        )
    try:
        return int(parts[1]), int(parts[2]), int(parts[3]), _unb64(parts[4]), _unb64(parts[5])
    except ValueError as exc:
        raise BadHash(f"malformed scrypt hash: {exc}") from exc


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stdin", action="store_true", help="read the password from standard input (one line)"
    )


def run(args: argparse.Namespace) -> int:
    if args.stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("hash-password: the two passwords differ; nothing printed", file=sys.stderr)
            return 1
    if len(password) < 8:
        print("hash-password: use at least 8 characters", file=sys.stderr)
        return 1
    print(hash_password(password))
    return 0
