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
    """Every example of the contract validates against the schema its name starts with
    (``event-price-held.json``: ``event``; ``status-online.json``: ``gateway-status``)."""
    prefixes = {"status": "gateway-status", "device": "device-state"}
    examples = sorted((CONTRACT / "examples").glob("*.json"))
    assert len(examples) >= 11
    for path in examples:
        head = path.stem.split("-")[0]
        name = prefixes.get(head, head)
        assert name in SCHEMA_NAMES, path.name
        payload = json.loads(path.read_text())
        assert schema_errors(name, payload) == [], path.name  # type: ignore[arg-type]


def test_errors_name_the_path() -> None:
    validator("telemetry")
    errors = schema_errors("telemetry", {"schema": "telemetry/1", "readings": []})
    assert any("readings" in e for e in errors)
    assert any("'store_id' is a required property" in e for e in errors)
