"""The MQTT contract with the cloud, version 1.1: schemas and topic names.

The JSON Schemas in ``schemas/`` are copies of the normative contract (a test
checks that they stay identical to it). The gateway validates inbound commands
against them; the tests validate every payload the gateway publishes.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # jsonschema (~2 MiB) is imported with the first command, not at start
    from jsonschema import Draft202012Validator

SchemaName = Literal["ack", "command", "device-state", "event", "gateway-status", "telemetry"]

SCHEMA_NAMES: tuple[SchemaName, ...] = (
    "ack",
    "command",
    "device-state",
    "event",
    "gateway-status",
    "telemetry",
)


@cache
def validator(name: SchemaName) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    text = (
        resources.files(__package__).joinpath("schemas", f"{name}.schema.json").read_text("utf-8")
    )
    schema = json.loads(text)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(name: SchemaName, payload: object) -> list[str]:
    """Every way ``payload`` breaks the schema, as ``path: message`` lines (empty if valid)."""
    errors = sorted(validator(name).iter_errors(payload), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]
