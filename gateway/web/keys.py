"""Typed keys for what the web app and its requests carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from aiohttp import web

from gateway.web.port import WebPort
from gateway.web.security import Auth, Session

if TYPE_CHECKING:
    from gateway.web.live import LiveFeed

PORT_KEY: web.AppKey[WebPort] = web.AppKey("port")
AUTH_KEY = web.AppKey("auth", Auth)
LIVE_KEY: web.AppKey[LiveFeed] = web.AppKey("live")
METRICS_ACCESS_KEY: web.AppKey[Literal["localhost", "authenticated"]] = web.AppKey("metrics_access")
SESSION_KEY = web.RequestKey("session", Session)
