"""Technicians' access, unit by unit: codes (RFC 6238 vectors, drift, replay), recovery
codes, the sign-in guard's waits, the users' rules, the page's certificate."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import sqlite_utils

from gateway.access import totp, users
from gateway.access.store import UserRow, load_users
from gateway.store import Database
from gateway.web import tls
from gateway.web.access import ALLOWED, SENSITIVE, Action, Role, least_role
from gateway.web.security import FIRST_WAIT_S, LoginGuard

# RFC 6238 appendix B, SHA-1: the secret "12345678901234567890", 6 of its 8 digits.
RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.mark.parametrize(
    ("when", "code"),
    [(59, "287082"), (1111111109, "081804"), (1234567890, "005924"), (2000000000, "279037")],
)
def test_codes_are_rfc_6238(when: int, code: str) -> None:
    assert totp.code_at(RFC_SECRET, when) == code
    assert totp.check(RFC_SECRET, code, None, when) == when // 30


def test_one_step_of_drift_and_no_step_twice() -> None:
    now = 1_800_000_000.0
    step = int(now // 30)
    for drift in (-1, 0, 1):
        assert totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now + 30 * drift), None, now) == (
            step + drift
        )
    assert totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now + 60), None, now) is None
    assert totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now - 60), None, now) is None
    used = totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now), None, now)
    assert totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now), used, now) is None  # replay
    assert totp.check(RFC_SECRET, totp.code_at(RFC_SECRET, now - 30), used, now) is None
    assert totp.check(RFC_SECRET, "12345", None, now) is None
    assert totp.check(RFC_SECRET, "abcdef", None, now) is None


def test_recovery_codes_are_many_different_and_hashed_with_a_salt() -> None:
    codes = totp.recovery_codes()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(len(c) == 14 and c.count("-") == 2 for c in codes)
    assert totp.hash_code(codes[0], "ada") == totp.hash_code(f" {codes[0].upper()} ", "ada")
    assert totp.hash_code(codes[0], "ada") != totp.hash_code(codes[0], "tom")


def test_waits_double_per_user_and_the_address_has_its_own_limit() -> None:
    guard = LoginGuard(user_limit=3, address_limit=5, quiet_s=600)
    now = 1000.0
    waits = [guard.failed("tom", "10.0.0.9", now + i)[1] for i in range(3)]
    assert waits == [None, None, FIRST_WAIT_S]
    assert guard.wait("tom", "10.0.0.9", now + 3) == pytest.approx(FIRST_WAIT_S - 1)
    assert guard.wait("vera", "10.0.0.9", now + 3) is None  # the address is not held yet
    after = now + 2 + FIRST_WAIT_S + 1
    assert guard.wait("tom", "10.0.0.9", after) is None
    second = [guard.failed("tom", "10.0.0.8", after + i)[1] for i in range(3)]
    assert second[-1] == 2 * FIRST_WAIT_S  # the next wait of the same burst is twice as long
    # Five failures from one address, whoever's: the address waits, for everyone.
    for i, name in enumerate(["a", "b", "c", "d", "e"]):
        _, wait = guard.failed(name, "10.0.0.7", now + i)
    assert wait == FIRST_WAIT_S
    assert guard.wait("vera", "10.0.0.7", now + 5) is not None
    # A sign-in ends the burst and tells it; a quiet one ends it too.
    burst = guard.succeeded("tom")
    assert burst is not None and burst.count == 6
    assert {b.who for b in guard.ended(now + 5 + 10_000)} == {"a", "b", "c", "d", "e"}
    assert guard.recent(now + 6) == 11


def test_every_action_has_a_role_and_sensitive_ones_are_not_for_viewers() -> None:
    for action in Action:
        assert action in ALLOWED[Role.ADMIN]
        assert least_role(action) in Role
    assert not (SENSITIVE & ALLOWED[Role.VIEWER])
    assert ALLOWED[Role.VIEWER] <= ALLOWED[Role.TECHNICIAN] <= ALLOWED[Role.ADMIN]


def test_the_rules_of_users(tmp_path: Path) -> None:
    d = sqlite_utils.Database(tmp_path / "u.db")
    d.execute(
        "CREATE TABLE web_users (name TEXT PRIMARY KEY, role TEXT, password_hash TEXT, "
        "disabled INTEGER, totp_secret TEXT, totp_last_step INTEGER, created_at REAL, "
        "changed_at REAL, password_at REAL)"
    )
    d.execute("CREATE TABLE web_recovery_codes (name TEXT, code_hash TEXT, used_at REAL)")
    assert users.seed(d, [users.Seed("ada", "admin", "h")], 1.0) == 1
    assert users.seed(d, [users.Seed("eve", "admin", "h")], 2.0) == 0  # once only
    with pytest.raises(users.UserError, match="use 1 to 64 letters"):
        users.add(d, "bad name", "viewer", "h", 3.0)
    with pytest.raises(users.UserError, match="role 'boss'"):
        users.add(d, "bob", "boss", "h", 3.0)
    with pytest.raises(users.UserError, match="exists already"):
        users.add(d, "ada", "viewer", "h", 3.0)
    with pytest.raises(users.UserError, match="last admin"):
        users.change(d, "ada", 4.0, role="viewer")
    with pytest.raises(users.UserError, match="last admin"):
        users.change(d, "ada", 4.0, disabled=True)
    with pytest.raises(users.UserError, match="last admin"):
        users.remove(d, "ada")
    users.add(d, "bob", "admin", "h", 5.0)
    users.change(d, "ada", 6.0, role="viewer")
    assert [(u.name, u.role) for u in load_users(d)] == [("ada", "viewer"), ("bob", "admin")]
    with pytest.raises(users.UserError, match="at least 10"):
        users.check_password("short")
    assert isinstance(load_users(d)[0], UserRow)


async def test_enrolment_then_a_code_and_a_recovery_code_once(tmp_path: Path) -> None:
    clock = [1_800_000_000.0]
    db = Database(tmp_path / "g.db")
    await db.open()
    try:
        store = users.UserStore(db, [users.Seed("ada", "admin", "h")], clock=lambda: clock[0])
        await store.load()
        assert store.needs_second_factor("ada") and not store.has_second_factor("ada")
        enrolment = store.enrol("ada")
        assert enrolment.uri.startswith("otpauth://totp/store-gateway:ada?secret=")
        with pytest.raises(users.UserError, match="not the one the app shows"):
            await store.confirm_enrolment("ada", "000000")
        codes = await store.confirm_enrolment("ada", totp.code_at(enrolment.secret, clock[0]))
        # The code that confirmed it is used: the same step again is refused.
        same = totp.code_at(enrolment.secret, clock[0])
        assert await store.check_second_factor("ada", same) is None
        clock[0] += 30
        assert await store.check_second_factor("ada", totp.code_at(enrolment.secret, clock[0]))
        assert await store.check_second_factor("ada", codes[3]) == "recovery"
        assert await store.check_second_factor("ada", codes[3]) is None
        assert await store.recovery_left("ada") == 9
        await store.change("ada", reset_second_factor=True)
        assert not store.has_second_factor("ada") and await store.recovery_left("ada") == 0
    finally:
        await db.close()


def test_the_certificate_is_made_once_kept_and_made_again_near_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tls.ensure(tls.TlsOptions(), tmp_path, "gw-7", "127.0.0.1")
    assert made.made and made.self_signed and "gw-7" in made.names and "127.0.0.1" in made.names
    assert (tmp_path / tls.KEY_NAME).stat().st_mode & 0o777 == 0o600
    kept = tls.ensure(tls.TlsOptions(), tmp_path, "gw-7", "127.0.0.1")
    assert not kept.made and kept.fingerprint == made.fingerprint
    assert kept.not_after - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=800)
    (tmp_path / tls.CERT_NAME).write_text("damaged")
    again = tls.ensure(tls.TlsOptions(), tmp_path, "gw-7", "127.0.0.1")
    assert again.made and again.fingerprint != made.fingerprint
    # One that ends within RENEW_BEFORE_DAYS is replaced at the next start.
    monkeypatch.setattr(tls, "VALID_DAYS", tls.RENEW_BEFORE_DAYS - 1)
    short = tls.make_self_signed(tmp_path, "gw-7", ["localhost"])
    monkeypatch.undo()
    renewed = tls.ensure(tls.TlsOptions(), tmp_path, "gw-7", "127.0.0.1")
    assert renewed.made and renewed.fingerprint != short.fingerprint
    again = renewed
    ctx = tls.context(tls.TlsOptions(), again)
    assert ctx.minimum_version.name == "TLSv1_2"
    with pytest.raises(tls.TlsError, match="does not match"):
        tls.load(ctx, tmp_path / tls.CERT_NAME, _other_key(tmp_path))
    with pytest.raises(tls.TlsError, match="cannot read the certificate"):
        tls.describe(tmp_path / "none.pem", tmp_path / "none.key")


def _other_key(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    other.mkdir()
    tls.make_self_signed(other, "x", ["localhost"])
    return other / tls.KEY_NAME
