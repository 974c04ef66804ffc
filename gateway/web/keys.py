"""Typed keys for what the web app and its requests carry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from aiohttp import web

from gateway.web.security import Auth, Session

if TYPE_CHECKING:
    from gateway.daemon.app import Gateway
    from gateway.web.live import LiveFeed

GATEWAY_KEY: web.AppKey[Gateway] = web.AppKey("gateway")
AUTH_KEY = web.AppKey("auth", Auth)
LIVE_KEY: web.AppKey[LiveFeed] = web.AppKey("live")
METRICS_ACCESS_KEY: web.AppKey[Literal["localhost", "authenticated"]] = web.AppKey("metrics_access")
SESSION_KEY = web.RequestKey("session", Session)
