"""Sign-in, sessions, CSRF, abnormal use and security headers for the page and the API.

*Signing in*: a user's password, and their second factor's code when they have one
(or their role must: then the session may only set one up). Failed sign-ins are counted
per user and per address (:class:`LoginGuard`): after ``USER_LIMIT`` failures the user
waits, after ``ADDRESS_LIMIT`` the address does, each wait twice the one before (up to
``MAX_WAIT_S``), and the person is told how long; another user on the same address is
not held up until the address's own limit.

*Sessions* live in memory (a restart signs everyone out): a random token in an
HttpOnly, SameSite=Strict (and, over HTTPS, Secure) cookie. A session ends after
``idle_s`` without a request, after ``lifetime_s`` at the latest, when an admin signs it
out, and when its user's password, role or state changes. Every state-changing request
must carry the session's CSRF token in ``X-CSRF-Token`` and, when the browser sends
one, an ``Origin`` matching the host.

*Step-up*: a sensitive action needs the second factor confirmed within ``STEP_UP_S``
(``gateway/web/access.py``). *Pace*: a session acting faster than a person could (more
than ``PACE_PER_MIN`` actions of one kind a minute) is slowed (answered 429).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from gateway.web.access import STEP_UP_S, Action, Role

COOKIE = "sgw_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}
HSTS = "max-age=31536000"  # only over HTTPS

USER_LIMIT = 5  # failed sign-ins of one user before they wait
ADDRESS_LIMIT = 20  # failed sign-ins from one address (any users) before it waits
FIRST_WAIT_S = 30.0
MAX_WAIT_S = 3600.0
BURST_QUIET_S = 600.0  # a burst of failures ends after this long without one
PACE_PER_MIN = 30  # actions of one kind a minute a person does at the most


class Directory(Protocol):
    """The users (kept on the box: ``gateway/access/users.py``)."""

    def role_of(self, name: str) -> str | None:
        """The user's role; None: no such user, or disabled."""
        ...

    def verify_password(self, name: str, password: str) -> bool:
        """Blocking (scrypt)."""
        ...

    def needs_second_factor(self, name: str) -> bool: ...

    def has_second_factor(self, name: str) -> bool: ...

    async def check_second_factor(self, name: str, code: str) -> str | None:
        """``"totp"`` or ``"recovery"`` for a good code (each used once), else None."""
        ...


@dataclass
class Session:
    token: str
    user: str
    role: Role
    csrf: str
    address: str
    created: float  # wall clock
    expires_mono: float
    last_mono: float
    id: str = field(default_factory=lambda: secrets.token_hex(6))  # shown to admins
    second_factor_mono: float | None = None  # when a second factor was last confirmed
    enrol_only: bool = False  # signed in to set up the second factor its role needs
    paces: dict[str, deque[float]] = field(default_factory=dict)
    slowed: dict[str, float] = field(default_factory=dict)  # action -> when first slowed

    def stepped_up(self, now_mono: float) -> bool:
        return (
            self.second_factor_mono is not None and now_mono - self.second_factor_mono <= STEP_UP_S
        )


@dataclass
class Failures:
    count: int = 0  # in the current burst
    first: float = 0.0
    last: float = 0.0
    waits: int = 0  # waits imposed in this burst (each twice the one before)
    until: float = 0.0


@dataclass(frozen=True)
class Burst:
    """Failed sign-ins of one user (or address) that belong together: told once."""

    who: str
    address: str | None
    count: int
    minutes: float


class LoginGuard:
    def __init__(
        self,
        user_limit: int = USER_LIMIT,
        address_limit: int = ADDRESS_LIMIT,
        quiet_s: float = BURST_QUIET_S,
    ) -> None:
        self.user_limit = user_limit
        self.address_limit = address_limit
        self.quiet_s = quiet_s
        self._users: dict[str, Failures] = {}
        self._addresses: dict[str, Failures] = {}
        self._recent: deque[float] = deque()  # every failure, for the alert

    def wait(self, user: str, address: str, now: float) -> float | None:
        """Seconds the user (or the address) must wait before trying again, if any."""
        waits = [
            f.until - now
            for f in (self._users.get(user), self._addresses.get(address))
            if f is not None and f.until > now
        ]
        return max(waits) if waits else None

    def failed(self, user: str, address: str, now: float) -> tuple[int, float | None]:
        """One more failure: (the user's failures in this burst, the wait it imposes)."""
        self._recent.append(now)
        if len(self._users) > 10_000:  # bound memory under a scan of names
            self._users.clear()
        if len(self._addresses) > 10_000:
            self._addresses.clear()
        waits = []
        for table, key, limit in (
            (self._users, user, self.user_limit),
            (self._addresses, address, self.address_limit),
        ):
            f = table.setdefault(key, Failures())
            if f.count and now - f.last > self.quiet_s:
                f.count, f.waits = 0, 0
            if not f.count:
                f.first = now
            f.count += 1
            f.last = now
            if f.count >= limit and f.count % limit == 0:
                f.until = now + min(MAX_WAIT_S, FIRST_WAIT_S * 2**f.waits)
                f.waits += 1
                waits.append(f.until - now)
        return self._users[user].count, max(waits) if waits else None

    def succeeded(self, user: str) -> Burst | None:
        """The user signed in: their burst (if any) ends."""
        f = self._users.pop(user, None)
        if f is None or f.count == 0:
            return None
        return Burst(user, None, f.count, (f.last - f.first) / 60)

    def ended(self, now: float) -> list[Burst]:
        """Bursts quiet for ``quiet_s`` (forgotten now): each to be told once."""
        out = []
        for table in (self._users,):
            for key, f in list(table.items()):
                if now - f.last > self.quiet_s and now > f.until:
                    out.append(Burst(key, None, f.count, (f.last - f.first) / 60))
                    del table[key]
        for key, f in list(self._addresses.items()):
            if now - f.last > self.quiet_s and now > f.until:
                del self._addresses[key]
        return out

    def recent(self, now: float, window_s: float = 600.0) -> int:
        """Failed sign-ins in the last ``window_s`` (the sign-in burst alert watches it)."""
        while self._recent and now - self._recent[0] > window_s:
            self._recent.popleft()
        return len(self._recent)


@dataclass(frozen=True)
class Slowed:
    seconds: float  # until the oldest action of the minute leaves it
    limit: int
    first: bool  # the first refusal of this slowed minute (audited)


@dataclass(frozen=True)
class Outcome:
    """What a sign-in came to."""

    kind: Literal["ok", "wrong", "wait", "second-factor"]
    session: Session | None = None
    wait_s: float | None = None
    failures: int = 0  # the user's failures in this burst (wrong)
    burst: Burst | None = None  # a burst the success ended (ok)
    factor: str | None = None  # "totp" or "recovery" (ok with a second factor)


class Auth:
    def __init__(
        self,
        directory: Directory,
        lifetime_s: float = 8 * 3600.0,
        idle_s: float = 30 * 60.0,
        guard: LoginGuard | None = None,
        secure: bool = False,
    ) -> None:
        self._dir = directory
        self._lifetime = lifetime_s
        self._idle = idle_s
        self.guard = guard or LoginGuard()
        self.secure = secure
        self._sessions: dict[str, Session] = {}

    async def login(
        self, client: str, name: str, password: str, code: str | None = None
    ) -> Outcome:
        now, mono = time.time(), time.monotonic()
        wait = self.guard.wait(name, client, now)
        if wait is not None:
            return Outcome("wait", wait_s=wait)
        role = self._dir.role_of(name)
        ok = role is not None and await asyncio.to_thread(self._dir.verify_password, name, password)
        factor: str | None = None
        if ok and self._dir.has_second_factor(name):
            if not code:
                return Outcome("second-factor")  # the password was right: ask for the code
            factor = await self._dir.check_second_factor(name, code)
            ok = factor is not None
        if not ok or role is None:
            failures, wait = self.guard.failed(name, client, now)
            return Outcome("wrong", wait_s=wait, failures=failures)
        burst = self.guard.succeeded(name)
        session = Session(
            secrets.token_urlsafe(32),
            name,
            Role[role.upper()],
            secrets.token_urlsafe(32),
            client,
            now,
            mono + self._lifetime,
            mono,
            second_factor_mono=mono if factor else None,
            enrol_only=factor is None and self._dir.needs_second_factor(name),
        )
        if len(self._sessions) > 1000:
            self._expire(mono)
        self._sessions[session.token] = session
        return Outcome("ok", session=session, burst=burst, factor=factor)

    async def step_up(self, session: Session, code: str) -> str | None:
        """The second factor confirmed again (a sensitive action follows)."""
        factor = await self._dir.check_second_factor(session.user, code)
        if factor is not None:
            session.second_factor_mono = time.monotonic()
        return factor

    async def confirm_password(self, session: Session, password: str) -> bool:
        return await asyncio.to_thread(self._dir.verify_password, session.user, password)

    def reissue(self, old: Session) -> Session:
        """The same person's session under a new token (after their password changed,
        which ended every session of theirs)."""
        self._sessions.pop(old.token, None)
        mono = time.monotonic()
        fresh = replace(
            old,
            token=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            last_mono=mono,
            paces={},
            slowed={},
        )
        self._sessions[fresh.token] = fresh
        return fresh

    def logout(self, token: str) -> None:
        self._sessions.pop(token, None)

    def session_for(self, request: web.Request) -> Session | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        mono = time.monotonic()
        if mono > session.expires_mono or mono - session.last_mono > self._idle:
            del self._sessions[token]
            return None
        session.last_mono = mono
        return session

    def sessions(self) -> list[Session]:
        self._expire(time.monotonic())
        return sorted(self._sessions.values(), key=lambda s: s.created)

    def sign_out(self, session_id: str) -> Session | None:
        for token, s in list(self._sessions.items()):
            if s.id == session_id:
                del self._sessions[token]
                return s
        return None

    def sign_out_user(self, name: str, keep: str | None = None) -> int:
        """Every session of ``name`` ends (but ``keep``, the token of the one changing it)."""
        gone = [t for t, s in self._sessions.items() if s.user == name and t != keep]
        for token in gone:
            del self._sessions[token]
        return len(gone)

    def user_changed(self, name: str) -> None:
        """The user's password, role or state changed (or they were removed)."""
        self.sign_out_user(name)

    def enrolled(self, session: Session) -> None:
        session.enrol_only = False
        session.second_factor_mono = time.monotonic()

    def pace(self, session: Session, action: Action) -> Slowed | None:
        """How long to wait when the session acts faster than a person could."""
        now = time.monotonic()
        q = session.paces.setdefault(action.value, deque())
        while q and now - q[0] > 60:
            q.popleft()
        if len(q) >= PACE_PER_MIN:
            since = session.slowed.get(action.value)
            first = since is None or now - since > 60
            if first:
                session.slowed[action.value] = now
            return Slowed(60 - (now - q[0]), PACE_PER_MIN, first)
        q.append(now)
        return None

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.token,
            httponly=True,
            samesite="Strict",
            secure=self.secure,
            path="/",
            max_age=int(self._lifetime),
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    def _expire(self, mono: float) -> None:
        for token, s in list(self._sessions.items()):
            if mono > s.expires_mono or mono - s.last_mono > self._idle:
                del self._sessions[token]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def security_headers(tls: bool) -> Middleware:
    headers = dict(SECURITY_HEADERS)
    if tls:
        headers["Strict-Transport-Security"] = HSTS

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers.update({k: v for k, v in headers.items() if k not in exc.headers})
            raise
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    return middleware


def csrf_ok(request: web.Request, session: Session) -> bool:
    if request.method in SAFE_METHODS:
        return True
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return False
    sent = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(sent.encode(), session.csrf.encode())
