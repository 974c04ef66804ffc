"""The second factor: time-based one-time passwords (RFC 6238, with pyotp) and recovery
codes. Pure: secrets, codes and their checks; the user store keeps them.

A code is valid for its 30 s step and one step either side (a phone's clock drifts);
a step already used is refused (a code seen over a shoulder cannot be used again).
Recovery codes are long random words, shown once and kept as salted SHA-256 hashes
(their entropy, not a slow hash, is what protects them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp

STEP_S = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32()


def uri(secret: str, user: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=user, issuer_name=issuer)


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as an SVG, drawn on the box (the secret goes nowhere else)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)
    return out.getvalue().decode()


def check(secret: str, code: str, last_step: int | None, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (this one or one either side), if it is newer
    than ``last_step``; None: wrong, or already used."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP_S)
    step = int((time.time() if now is None else now) // STEP_S)
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(candidate * STEP_S), code):
            return candidate if last_step is None or candidate > last_step else None
    return None


def code_at(secret: str, when: float) -> str:
    """The code for ``when`` (what an authenticator shows; tests use it)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(when)


def recovery_codes() -> list[str]:
    """Ten fresh codes like ``k7mq-x3vd-p9wt`` (about 60 bits each)."""
    return [
        "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def hash_code(code: str, salt: str) -> str:
    normal = code.strip().lower().replace(" ", "")
    return hashlib.sha256(f"{salt}:{normal}".encode()).hexdigest()
