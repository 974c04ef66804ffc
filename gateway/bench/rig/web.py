"""The gateway's page and API as benches and acceptance runs use them: over HTTPS,
trusting the certificate the gateway made for itself in its data directory (and only
that one), signing in with a second factor (set up on first sign-in, as an admin must)."""

from __future__ import annotations

import ssl
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from gateway.access import totp
from gateway.web.tls import CERT_NAME


def trust(data_dir: Path, timeout_s: float = 30.0) -> ssl.SSLContext:
    """A client context trusting the gateway's own certificate (waits until it is made)."""
    cert = data_dir / CERT_NAME
    deadline = time.monotonic() + timeout_s
    while not cert.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the gateway made no certificate in {data_dir}")
        time.sleep(0.1)
    return ssl.create_default_context(cafile=str(cert))


def metrics_text(data_dir: Path, port: int) -> str:
    """``/metrics`` (open to localhost)."""
    url = f"https://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10, context=trust(data_dir)) as response:
        return str(response.read().decode())


class Codes:
    """An authenticator app: the code of each time step, never the same step twice."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._last = -1

    def next(self) -> str:
        step = int(time.time() // totp.STEP_S)
        if step <= self._last:  # this step was used: the next one (the gateway takes it)
            step = self._last + 1
        if step > int(time.time() // totp.STEP_S) + totp.DRIFT_STEPS:
            time.sleep(totp.STEP_S)  # more than one a step asked for: wait for the next
            return self.next()
        self._last = step
        return totp.code_at(self.secret, step * totp.STEP_S)


class AdminPage:
    """Someone on the gateway's page, through its API (session, CSRF, step-ups)."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self._data_dir = data_dir
        self.session: aiohttp.ClientSession | None = None
        self.csrf = ""
        self.codes: Codes | None = None

    async def login(self, user: str, password: str) -> None:
        """Signed in; a second factor set up first when the role needs one."""
        connector = aiohttp.TCPConnector(ssl=trust(self._data_dir))
        self.session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        body: dict[str, str] = {"user": user, "password": password}
        if self.codes is not None:
            body["code"] = self.codes.next()
        view = await self._send("POST", "/api/login", body)
        self.csrf = view["csrf"]
        if view["enrol_required"]:
            enrolment = await self._send("POST", "/api/me/second-factor", {})
            self.codes = Codes(enrolment["secret"])
            await self._send("POST", "/api/me/second-factor/confirm", {"code": self.codes.next()})

    async def get(self, path: str) -> Any:
        return await self._send("GET", path, None)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        """A POST; a step-up first when the server asks for one."""
        try:
            return await self._send("POST", path, body)
        except StepUpNeeded:
            assert self.codes is not None
            await self._send("POST", "/api/me/step-up", {"code": self.codes.next()})
            return await self._send("POST", path, body)

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        assert self.session is not None
        headers = {"X-CSRF-Token": self.csrf, "Origin": self.base} if self.csrf else {}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as resp:
            answer = await resp.json()
            if resp.status == 403 and answer.get("code") == "step-up":
                raise StepUpNeeded(path)
            assert resp.status in (200, 201), (path, resp.status, answer)
            return answer

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


class StepUpNeeded(Exception):
    """The action needs the second factor confirmed again."""
