"""The packaged schemas are exact copies of the normative contract."""

import json
from pathlib import Path

import pytest

from gateway.contract import SCHEMA_NAMES, schema_errors, validator

CONTRACT = Path(__file__).resolve().parents[2].parent / "shared" / "contract"


@pytest.mark.skipif(not CONTRACT.is_dir(), reason="the shared contract is not beside this checkout")
@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_identical_to_contract(name: str) -> None:
    packaged = Path(__file__).resolve().parents[2] / "gateway" / "contract" / "schemas"
    assert json.loads((packaged / f"{name}.schema.json").read_text()) == json.loads(
        (CONTRACT / f"{name}.schema.json").read_text()
    )


@pytest.mark.skipif(not CONTRACT.is_dir(), reason="the shared contract is not beside this checkout")
def test_contract_examples_validate() -> None:
    mapping = {
        "ack-completed": "ack",
        "command-price-update": "command",
        "device-state-label": "device-state",
        "device-state-sensor": "device-state",
        "event-alert": "event",
        "event-dropped": "event",
        "status-online": "gateway-status",
        "telemetry": "telemetry",
    }
    for stem, name in mapping.items():
        payload = json.loads((CONTRACT / "examples" / f"{stem}.json").read_text())
        assert schema_errors(name, payload) == [], stem  # type: ignore[arg-type]


def test_errors_name_the_path() -> None:
    validator("telemetry")
    errors = schema_errors("telemetry", {"schema": "telemetry/1", "readings": []})
    assert any("readings" in e for e in errors)
    assert any("'store_id' is a required property" in e for e in errors)
