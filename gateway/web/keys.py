"""Typed keys for what the web app and its requests carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from gateway.access.audit import AuditLog
from gateway.access.users import UserStore
from gateway.web.port import WebPort
from gateway.web.security import Auth, Session

if TYPE_CHECKING:
    from gateway.web.live import LiveFeed

PORT_KEY: web.AppKey[WebPort] = web.AppKey("port")
AUTH_KEY = web.AppKey("auth", Auth)
USERS_KEY = web.AppKey("users", UserStore)
AUDIT_KEY = web.AppKey("audit", AuditLog)
LIVE_KEY: web.AppKey[LiveFeed] = web.AppKey("live")
METRICS_ACCESS_KEY: web.AppKey[Literal["localhost", "authenticated"]] = web.AppKey("metrics_access")
WEB_INFO_KEY: web.AppKey[dict[str, Any]] = web.AppKey("web_info")  # TLS, shown on the overview
SESSION_KEY = web.RequestKey("session", Session)
AUDIT_NOTE_KEY: web.RequestKey[tuple[str | None, str | None]] = web.RequestKey("audit_note")
