"""The two pinned environments agree: a store's box runs what the tests ran."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+?)(?:\s*;\s*(.+))?$", re.M)


def pins(name: str) -> dict[tuple[str, str], str]:
    text = (ROOT / name).read_text()
    return {(m[1].lower(), m[3] or ""): m[2] for m in PIN.finditer(text)}


def test_the_box_gets_the_tested_versions_and_no_test_tools() -> None:
    box, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert box and dev
    differ = {k: (v, dev.get(k)) for k, v in box.items() if dev.get(k) != v}
    assert differ == {}, "requirements.lock: uv pip compile it with -c requirements-dev.lock"
    names = {name for name, _ in box}
    assert {"aiohttp", "bleak", "pydantic", "paho-mqtt"} <= names
    assert not names & {"pytest", "playwright", "py-opendisplay", "mypy", "ruff", "hypothesis"}
    assert {"pytest", "py-opendisplay"} <= {name for name, _ in dev}
