"""scripts/install.sh into a temporary root: idempotent, never overwrites the config."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "install.sh"


def manifest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), "--root", str(root), "--no-venv", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_install_twice_same_tree_and_config_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = install(root)
    assert first.returncode == 0, first.stderr
    assert (root / "lib/systemd/system/store-gateway.service").is_file()
    assert (root / "usr/lib/sysusers.d/store-gateway.conf").is_file()
    assert (root / "opt/store-gateway/src/gateway/__init__.py").is_file()
    config = root / "etc/store-gateway/gateway.toml"
    config.write_text(config.read_text() + "\n# edited by the store's technician\n")
    before = manifest(root)
    second = install(root)
    assert second.returncode == 0, second.stderr
    assert manifest(root) == before
    assert "edited by the store's technician" in config.read_text()


def test_uninstall_keeps_data_unless_purged(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert install(root).returncode == 0
    data = root / "var/lib/store-gateway"
    data.mkdir(parents=True)
    (data / "gateway.db").write_text("x")
    out = install(root, "--uninstall")
    assert out.returncode == 0 and not (root / "opt/store-gateway").exists()
    assert (data / "gateway.db").exists() and (root / "etc/store-gateway/gateway.toml").exists()
    assert install(root, "--uninstall", "--purge").returncode == 0
    assert not data.exists() and not (root / "etc/store-gateway").exists()


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    out = install(tmp_path, "--frobnicate")
    assert out.returncode == 2 and "unknown option --frobnicate" in out.stderr


def test_install_builds_a_working_environment(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = subprocess.run(
        ["bash", str(SCRIPT), "--root", str(root)], capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-2000:]
    app = root / "opt/store-gateway"
    assert list((app / "venv").rglob("gateway/__pycache__/*.pyc"))  # compiled at install
    # The gateway's libraries only: no test tools on a store's box.
    for tool in ("pytest", "playwright", "opendisplay", "mypy"):
        assert not list((app / "venv").rglob(f"site-packages/{tool}/__init__.py")), tool
    version = subprocess.run(
        [str(app / "venv/bin/python"), "-m", "gateway", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.returncode == 0 and version.stdout.startswith("store-gateway ")
    wrapper = (app / "bin/store-gateway").read_text()
    assert "/opt/store-gateway/venv/bin/python -m gateway" in wrapper
    assert "HTTPS certificate is made on the box at its first start" in out.stdout
    # The installed environment with the installed example configuration makes the
    # page's certificate and prints its fingerprint (what the service does at its start).
    cert = subprocess.run(
        [
            str(app / "venv/bin/python"),
            "-m",
            "gateway",
            "web-cert",
            "--config",
            str(root / "etc/store-gateway/gateway.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "STOREGW_DATA_DIR": str(tmp_path / "data")},
    )
    assert cert.returncode == 0, cert.stderr
    assert re.search(r"^SHA-256 +([0-9A-F]{2}:){31}[0-9A-F]{2}$", cert.stdout, re.M), cert.stdout
    assert (tmp_path / "data" / "web-cert.pem").is_file()
