"""Every benchmark, run on a small scale (``--smoke``), so that none rots unnoticed.

The full runs are ``./scripts/bench``; here each target must run every stage to
completion, write its figures and leave nothing behind (the harness fails the
run otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLES = {
    "ingest": ("ingest-pipeline", "ingest-whole-daemon", "virtual-store"),
    "outbox": ("outbox-commit", "outbox-drain", "outbox-recovery"),
    "alerts": ("alerts-latency",),
    "footprint": ("footprint",),
    "labels": ("labels",),
    "hypermarket": ("hypermarket",),
    "energy": ("energy",),
}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("target", list(TABLES))
def test_benchmark_runs_to_completion(target: str, tmp_path: Path) -> None:
    results = tmp_path / "results"
    out = subprocess.run(
        [sys.executable, "-m", f"gateway.bench.{target}", "--smoke"],
        cwd=ROOT,
        env={**os.environ, "STORE_GATEWAY_BENCH_RESULTS": str(results), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=560,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    for table in TABLES[target]:
        rows = json.loads((results / f"{table}.json").read_text())["rows"]
        # Figures are numbers; a few rows spell out a breakdown (e.g. per gateway).
        assert rows and all(isinstance(r["value"], int | float | str) for r in rows), table
        assert any(isinstance(r["value"], int | float) for r in rows), table
        assert all(r["value"] > 0 for r in rows if r.get("ratio") is not None), table


def test_a_benchmark_that_stops_says_where_and_leaves_nothing(tmp_path: Path) -> None:
    """A labels run on a scenario that does not exist stops at once with the reason."""
    out = subprocess.run(
        [sys.executable, "-m", "gateway.bench.labels", str(tmp_path / "missing.toml")],
        cwd=ROOT,
        env={**os.environ, "STORE_GATEWAY_BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1
    assert "bench labels: stopped while rendering" in out.stdout, out.stdout
    assert "missing.toml" in out.stdout and "left behind" not in out.stdout
    kept = out.stdout.split("scratch folder kept: ", 1)[1].split()[0]
    assert Path(kept).is_dir()  # kept for its logs
    shutil.rmtree(kept)


def test_a_benchmark_told_to_stop_stops_what_it_started(tmp_path: Path) -> None:
    """SIGTERM in the middle of a run: it says where it was, and no process it started
    (the virtual store, the broker, the gateway) outlives it."""
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.bench.labels", "--smoke"],
        cwd=ROOT,
        env={
            **os.environ,
            "STORE_GATEWAY_BENCH_RESULTS": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "STORE_GATEWAY_TEST_TAG": tag,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # the store, the broker and a gateway are up
            if "waiting for the cloud" in line:
                break
        time.sleep(1.0)
        assert len(_tagged(tag)) >= 3, "the run has not started its processes"
        proc.terminate()
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert "bench labels: stopped while" in out and "SIGTERM received" in out, out
        assert _tagged(tag) == []
    finally:
        proc.kill()
        for pid in _tagged(tag):  # whatever outlived it, not left to the next test
            os.kill(pid, 9)
    kept = out.split("scratch folder kept: ", 1)[1].split()[0]
    shutil.rmtree(kept)


def _tagged(tag: str) -> list[int]:
    """Processes alive whose environment carries ``tag`` (the bench and its children)."""
    needle = f"STORE_GATEWAY_TEST_TAG={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            alive = (entry / "stat").read_text().split()[2] != "Z"
            if alive and needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
