"""What the reliability drills share: the gateway's drill configuration and the tally."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cloud import Cloud


def config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "gw.toml"
    path.write_text(f"""
store_id = "drill-store"
gateway_id = "gw-1"
data_dir = "{tmp_path / "data"}"
[ble]
adapters = ["hci0"]
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = "5s"
reconnect_min = "0.2s"
reconnect_max = "1s"
[telemetry]
sample_interval = "1s"
batch_max_delay = "0.5s"
batch_max_readings = 20
[device_state]
min_interval = "1s"
status_heartbeat = "5s"
[web]
enabled = false
[logging]
level = "warning"
""")
    return path


def tally(cloud: Cloud, name: str) -> None:
    """Print produced / delivered / duplicates / lost per stream; lost must be 0."""
    for stream in ("telemetry", "events", "acks"):
        got, dupes = cloud.seqs(stream)
        lost = cloud.gaps(stream)
        produced = max(got) if got else 0
        print(
            f"{name}: {stream}: produced {produced} delivered {len(got)} duplicates {dupes} "
            f"lost {len(lost)}"
        )
        assert lost == [], (stream, lost[:20])
    assert cloud.violations == [], cloud.violations[:5]
