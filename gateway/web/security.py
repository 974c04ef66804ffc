"""Users, sessions, CSRF, login rate limiting and security headers for the web page.

Sessions live in memory (a restart logs everyone out): a random token in an
HttpOnly, SameSite=Strict cookie. Every state-changing request must carry the
session's CSRF token in ``X-CSRF-Token`` and, when the browser sends one, an
``Origin`` matching the host. Failed logins are limited per client address.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal

from aiohttp import web

from gateway.web.passwords import BadHash, verify_password

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


class Role(IntEnum):
    VIEWER = 1
    TECHNICIAN = 2
    ADMIN = 3


RoleName = Literal["viewer", "technician", "admin"]


@dataclass(frozen=True)
class WebUser:
    name: str
    role: RoleName
    password_hash: str

    @property
    def level(self) -> Role:
        return Role[self.role.upper()]


@dataclass
class Session:
    token: str
    user: str
    role: Role
    csrf: str
    expires_mono: float


@dataclass
class LoginLimiter:
    """At most ``max_failures`` failed logins per client address per ``window_s``."""

    max_failures: int = 5
    window_s: float = 300.0
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, client: str, now: float) -> float | None:
        q = self._failures.get(client)
        if not q:
            return None
        while q and now - q[0] > self.window_s:
            q.popleft()
        if len(q) < self.max_failures:
            return None
        return self.window_s - (now - q[0])

    def failed(self, client: str, now: float) -> None:
        if len(self._failures) > 10_000:  # bound memory under a scan of addresses
            self._failures.clear()
        self._failures.setdefault(client, deque()).append(now)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


class Auth:
    def __init__(
        self,
        users: Mapping[str, WebUser],
        session_lifetime_s: float,
        limiter: LoginLimiter,
        secure_cookies: bool,
    ) -> None:
        self._users = dict(users)
        self._lifetime = session_lifetime_s
        self._limiter = limiter
        self._secure = secure_cookies
        self._sessions: dict[str, Session] = {}

    def set_users(self, users: Mapping[str, WebUser]) -> None:
        self._users = dict(users)
        # Sessions of removed or demoted users end now.
        for token, s in list(self._sessions.items()):
            user = self._users.get(s.user)
            if user is None or user.level != s.role:
                del self._sessions[token]

    async def login(self, client: str, name: str, password: str) -> Session | float | None:
        """A new session, or seconds to wait (rate limited), or None (bad credentials)."""
        now = time.monotonic()
        wait = self._limiter.retry_after(client, now)
        if wait is not None:
            return wait
        user = self._users.get(name)
        if user is None or not await self._verify(user, password):
            self._limiter.failed(client, now)
            return None
        self._limiter.succeeded(client)
        token = secrets.token_urlsafe(32)
        session = Session(
            token, user.name, user.level, secrets.token_urlsafe(32), now + self._lifetime
        )
        if len(self._sessions) > 1000:
            self._expire(now)
        self._sessions[token] = session
        return session

    async def confirm(self, client: str, name: str, password: str) -> bool | float:
        """A signed-in person confirms a sensitive action with their password again:
        True, False (wrong), or seconds to wait (too many failures from ``client``)."""
        now = time.monotonic()
        wait = self._limiter.retry_after(client, now)
        if wait is not None:
            return wait
        user = self._users.get(name)
        ok = user is not None and await self._verify(user, password)
        if not ok:
            self._limiter.failed(client, now)
        return ok

    @staticmethod
    async def _verify(user: WebUser, password: str) -> bool:
        try:
            return await asyncio.to_thread(verify_password, password, user.password_hash)
        except BadHash:
            return False

    def logout(self, token: str) -> None:
        self._sessions.pop(token, None)

    def session_for(self, request: web.Request) -> Session | None:
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        session = self._sessions.get(token)
        if session is None:
            return None
        if time.monotonic() > session.expires_mono:
            del self._sessions[token]
            return None
        return session

    def set_cookie(self, response: web.StreamResponse, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            session.token,
            httponly=True,
            samesite="Strict",
            secure=self._secure,
            path="/",
            max_age=int(self._lifetime),
        )

    def clear_cookie(self, response: web.StreamResponse) -> None:
        response.del_cookie(COOKIE, path="/")

    def _expire(self, now: float) -> None:
        for token, s in list(self._sessions.items()):
            if now > s.expires_mono:
                del self._sessions[token]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k not in exc.headers})
        raise
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    return response


def csrf_ok(request: web.Request, session: Session) -> bool:
    if request.method in SAFE_METHODS:
        return True
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return False
    sent = request.headers.get(CSRF_HEADER, "")
    return hmac.compare_digest(sent.encode(), session.csrf.encode())
