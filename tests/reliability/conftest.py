from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.bench.rig.broker import Mosquitto
from tests.integration.conftest import control, store

__all__ = ["control", "store"]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    (tmp_path / "broker").mkdir()
    m = Mosquitto(tmp_path / "broker")
    m.start()
    yield m
    m.stop()
