"""Pieces the OpenAPI description is made of (``openapi.py``, ``openapi_prices.py``)."""

from __future__ import annotations

from typing import Any

TS = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"}
NTS = {"oneOf": [{"type": "null"}, TS]}
NUM = {"type": ["number", "null"]}
STR = {"type": ["string", "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "401": response(ref("Error"), "Not logged in"),
    "403": response(
        ref("Error"),
        "Missing CSRF token, or the role may not (code forbidden), or a step-up is needed "
        "first (step-up, second-factor-needed), or the second factor must be set up first "
        "(second-factor-setup)",
    ),
    "429": response(ref("Error"), "Faster than a person acts (too-fast); Retry-After says when"),
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def obj(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


ACT: list[dict[str, list[str]]] = [{"session": [], "csrf": []}]  # a state change
