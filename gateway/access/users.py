"""The users of the page and the API, kept on the box (SQLite, mirrored in memory).

The configuration's ``[[web.users]]`` seed the table once, when it is empty; from then
on ``store-gateway users`` and the page's Users view change it. Every change is
checked here (a name, a role, a password long enough, never the last admin removed or
demoted) and raises :class:`UserError` with what is wrong.

The second factor (``gateway/access/totp.py``): a user sets it up by scanning a QR code
drawn on the box and confirming a first code, and gets ten recovery codes, shown once.
Roles in ``required`` must have one (they may sign in only to set it up).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import sqlite_utils

from gateway.access import store, totp
from gateway.access.audit import Entry
from gateway.access.passwords import hash_password, verify_password
from gateway.access.store import UserRow
from gateway.store import Database
from gateway.timeutil import format_epoch

NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
ROLES = ("viewer", "technician", "admin")
MIN_PASSWORD = 10


class UserError(ValueError):
    """A change that cannot be made; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, slots=True)
class Seed:
    """A user as the configuration gives it."""

    name: str
    role: str
    password_hash: str


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise UserError(
            f"user name {name!r}: use 1 to 64 letters, digits, dots, dashes or underscores"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role {role!r}: one of {', '.join(ROLES)}")


# ---- the changes, as functions on a database (the daemon's, or a stopped one's) --------


def add(d: sqlite_utils.Database, name: str, role: str, password_hash: str, now: float) -> UserRow:
    check_name(name)
    check_role(role)
    if _get(d, name) is not None:
        raise UserError(f"user {name!r} exists already (change it with passwd or role)")
    row = UserRow(name, role, password_hash, False, None, None, now, now, now)
    store.save_user(d, row)
    return row


def change(
    d: sqlite_utils.Database,
    name: str,
    now: float,
    *,
    role: str | None = None,
    password_hash: str | None = None,
    disabled: bool | None = None,
    reset_second_factor: bool = False,
) -> UserRow:
    row = _require(d, name)
    if role is not None:
        check_role(role)
        if row.role == "admin" and role != "admin":
            _keep_an_admin(d, name)
        row.role = role
    if disabled is not None:
        if disabled and row.role == "admin":
            _keep_an_admin(d, name)
        row.disabled = disabled
    if password_hash is not None:
        row.password_hash, row.password_at = password_hash, now
    if reset_second_factor:
        row.totp_secret, row.totp_last_step = None, None
        store.set_recovery_codes(d, name, [])
    row.changed_at = now
    store.save_user(d, row)
    return row


def remove(d: sqlite_utils.Database, name: str) -> None:
    row = _require(d, name)
    if row.role == "admin":
        _keep_an_admin(d, name)
    store.delete_user(d, name)


def seed(d: sqlite_utils.Database, seeds: Iterable[Seed], now: float) -> int:
    """The configuration's users, once: only into an empty table. Returns how many."""
    if store.load_users(d):
        return 0
    n = 0
    for s in seeds:
        store.save_user(
            d, UserRow(s.name, s.role, s.password_hash, False, None, None, now, now, now)
        )
        n += 1
    return n


def _get(d: sqlite_utils.Database, name: str) -> UserRow | None:
    return next((u for u in store.load_users(d) if u.name == name), None)


def _require(d: sqlite_utils.Database, name: str) -> UserRow:
    row = _get(d, name)
    if row is None:
        raise UserError(f"no user {name!r} (store-gateway users list names them)")
    return row


def _keep_an_admin(d: sqlite_utils.Database, name: str) -> None:
    admins = [u for u in store.load_users(d) if u.role == "admin" and not u.disabled]
    if [u.name for u in admins] == [name]:
        raise UserError(f"{name!r} is the last admin: make another user admin first")


# ---- the daemon's directory ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str


class UserStore:
    """The users in memory, every change written first (one writer: the daemon's)."""

    def __init__(
        self,
        db: Database,
        seeds: Iterable[Seed] = (),
        required: Iterable[str] = ("admin",),
        issuer: str = "store-gateway",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._seeds = list(seeds)
        self.required = frozenset(required)
        self._issuer = issuer
        self._clock = clock
        self._users: dict[str, UserRow] = {}
        self._pending: dict[str, str] = {}  # user -> secret shown, not confirmed yet
        self.listeners: list[Callable[[str], None]] = []  # a user changed (sessions end)

    async def load(self) -> int:
        """Read the users (seeding an empty table from the configuration); how many seeded."""
        now = self._clock()

        def read(d: sqlite_utils.Database) -> tuple[int, list[UserRow]]:
            n = seed(d, self._seeds, now)
            return n, store.load_users(d)

        seeded, rows = await self._db.run(read)
        self._users = {u.name: u for u in rows}
        return seeded

    def get(self, name: str) -> UserRow | None:
        return self._users.get(name)

    def role_of(self, name: str) -> str | None:
        """The user's role; None: no such user, or disabled."""
        u = self._users.get(name)
        return None if u is None or u.disabled else u.role

    def all(self) -> list[UserRow]:
        return sorted(self._users.values(), key=lambda u: u.name)

    def verify_password(self, name: str, password: str) -> bool:
        """Blocking (scrypt): call it off the event loop."""
        u = self._users.get(name)
        return u is not None and not u.disabled and verify_password(password, u.password_hash)

    def needs_second_factor(self, name: str) -> bool:
        """The user has one, or their role must."""
        u = self._users.get(name)
        return u is not None and (u.totp_secret is not None or u.role in self.required)

    def has_second_factor(self, name: str) -> bool:
        u = self._users.get(name)
        return u is not None and u.totp_secret is not None

    # ---- changes --------------------------------------------------------------------------

    async def add(self, name: str, role: str, password: str) -> UserRow:
        check_password(password)
        hashed = await _hash(password)
        row = await self._db.run(lambda d: add(d, name, role, hashed, self._clock()))
        self._users[name] = row
        return row

    async def change(
        self,
        name: str,
        *,
        role: str | None = None,
        password: str | None = None,
        disabled: bool | None = None,
        reset_second_factor: bool = False,
    ) -> UserRow:
        hashed = None
        if password is not None:
            check_password(password)
            hashed = await _hash(password)
        row = await self._db.run(
            lambda d: change(
                d,
                name,
                self._clock(),
                role=role,
                password_hash=hashed,
                disabled=disabled,
                reset_second_factor=reset_second_factor,
            )
        )
        self._users[name] = row
        if reset_second_factor:
            self._pending.pop(name, None)
        self._changed(name)
        return row

    async def remove(self, name: str) -> None:
        await self._db.run(lambda d: remove(d, name))
        self._users.pop(name, None)
        self._changed(name)

    def _changed(self, name: str) -> None:
        for listener in self.listeners:
            listener(name)

    # ---- the second factor ------------------------------------------------------------------

    def enrol(self, name: str) -> Enrolment:
        """A new secret for ``name`` (not in force until a first code confirms it)."""
        u = self._users.get(name)
        if u is None:
            raise UserError(f"no user {name!r}")
        secret = totp.new_secret()
        self._pending[name] = secret
        address = totp.uri(secret, name, self._issuer)
        return Enrolment(secret, address, totp.qr_svg(address))

    async def confirm_enrolment(self, name: str, code: str) -> list[str]:
        """A first code of the new secret: the second factor is in force; returns the
        recovery codes (shown once). UserError: no enrolment started, or a wrong code."""
        secret = self._pending.get(name)
        if secret is None:
            raise UserError("start setting up the second factor first")
        step = totp.check(secret, code, None, self._clock())
        if step is None:
            raise UserError("that code is not the one the app shows now: try the next one")
        codes = totp.recovery_codes()
        hashes = [totp.hash_code(c, name) for c in codes]
        row = replace(self._users[name], totp_secret=secret, totp_last_step=step)

        def write(d: sqlite_utils.Database) -> None:
            store.save_user(d, row)
            store.set_recovery_codes(d, name, hashes)

        await self._db.run(write)
        self._users[name] = row
        del self._pending[name]
        return codes

    async def check_second_factor(self, name: str, code: str) -> str | None:
        """``"totp"`` or ``"recovery"`` when ``code`` is good (a time step or a recovery
        code is used once only); None otherwise."""
        u = self._users.get(name)
        if u is None or u.totp_secret is None:
            return None
        now = self._clock()
        step = totp.check(u.totp_secret, code, u.totp_last_step, now)
        if step is not None:
            row = replace(u, totp_last_step=step)
            await self._db.run(lambda d: store.save_user(d, row))
            self._users[name] = row
            return "totp"
        hashed = totp.hash_code(code, name)
        used = await self._db.run(lambda d: store.use_recovery_code(d, name, hashed, now))
        return "recovery" if used else None

    async def recovery_left(self, name: str) -> int:
        return await self._db.read(lambda d: store.recovery_codes_left(d, name))


async def _hash(password: str) -> str:
    import asyncio

    return await asyncio.to_thread(hash_password, password)


def view(u: UserRow) -> dict[str, object]:
    """A user as ``store-gateway users list`` shows it (no secret in it)."""
    return {
        "name": u.name,
        "role": u.role,
        "disabled": u.disabled,
        "second_factor": u.totp_secret is not None,
        "password_at": format_epoch(u.password_at),
        "changed_at": format_epoch(u.changed_at),
    }


async def apply(
    users: UserStore,
    body: Mapping[str, object],
    record: Callable[[Entry], Awaitable[None]],
) -> dict[str, object]:
    """A ``store-gateway users`` request (to the running daemon through its local socket,
    or on a stopped gateway's database): the change made through the store (sessions of
    a changed user end), audited as done ``via`` the command line; or the error."""
    action, name = str(body.get("action")), str(body.get("name") or "")
    actor = str(body.get("actor") or "") or None
    role = str(body.get("role") or "")
    done: tuple[str, str, str | None]  # (what it is, the audit's action, its detail)
    try:
        if action == "list":
            return {"users": [view(u) for u in users.all()]}
        if action == "add":
            await users.add(name, role, str(body.get("password", "")))
            done = (f"added {name} ({role})", "user.add", f"role {role}")
        elif action == "passwd":
            await users.change(name, password=str(body.get("password", "")))
            done = (f"password of {name} changed", "user.change", "password set")
        elif action == "role":
            await users.change(name, role=role)
            done = (f"{name} is {role} now", "user.change", f"role {role}")
        elif action in ("disable", "enable"):
            await users.change(name, disabled=action == "disable")
            done = (f"{name} {action}d", "user.change", f"{action}d")
        elif action == "remove":
            await users.remove(name)
            done = (f"removed {name}", "user.remove", None)
        elif action == "reset-second-factor":
            await users.change(name, reset_second_factor=True)
            done = (
                f"second factor of {name} reset: they set up a new one at their next sign-in",
                "second-factor.reset",
                None,
            )
        else:
            return {"error": f"unknown action {action!r}"}
    except UserError as exc:
        await record(
            Entry(actor, None, _audit_action(action), name, "cli", ok=False, detail=str(exc))
        )
        return {"error": str(exc)}
    await record(Entry(actor, None, done[1], name, "cli", detail=done[2]))
    return {"done": done[0]}


def _audit_action(action: str) -> str:
    return {
        "add": "user.add",
        "remove": "user.remove",
        "reset-second-factor": "second-factor.reset",
    }.get(action, "user.change")
