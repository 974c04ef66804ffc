"""The OpenAPI description of what the page uses besides the core API: lifting a
silence, flashing a label, the label previews, and the open ``/healthz`` and
``/metrics`` (merged into ``openapi.OPENAPI``)."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi_common import ERRORS, ref, response


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


PATHS: dict[str, Any] = {
    "/api/alerts/{alert_id}/unsilence": {
        "post": {
            "security": [{"session": [], "csrf": []}],
            "summary": "Lift an alert's silence now (technician)",
            "parameters": [_path("alert_id")],
            "responses": {
                "200": response(ref("Alert")),
                "404": response(ref("Error"), "No such alert"),
                **ERRORS,
            },
        }
    },
    "/api/labels/{label_id}/flash": {
        "post": {
            "security": [{"session": [], "csrf": []}],
            "summary": "Flash the label's LED (technician); labels without one answer 409",
            "parameters": [_path("label_id")],
            "responses": {
                "200": response({"type": "object"}),
                "409": response(ref("Error"), "The label has no LED (code no-led)"),
                **ERRORS,
            },
        }
    },
    "/api/labels/{label_id}/{which}.png": {
        "get": {
            "summary": "What the label should show (desired) or shows (displayed), as a PNG "
            "at the panel's pixels and colours",
            "parameters": [
                _path("label_id"),
                {
                    "name": "which",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": ["desired", "displayed"]},
                },
            ],
            "responses": {
                "200": {"description": "image/png"},
                "404": response(ref("Error"), "No such content"),
                **ERRORS,
            },
        }
    },
    "/healthz": {
        "get": {
            "security": [],
            "summary": "Open: 200 when every critical component runs, 503 with the problems",
            "responses": {
                "200": response(
                    {
                        "type": "object",
                        "required": ["status", "problems"],
                        "properties": {
                            "status": {"enum": ["ok", "degraded"]},
                            "problems": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                ),
                "503": {"description": "degraded: the same body, with the problems"},
            },
        }
    },
    "/metrics": {
        "get": {
            "security": [],
            "summary": "Prometheus text format; open to localhost, or a session "
            "(web.metrics_access)",
            "responses": {"200": {"description": "text/plain; version=0.0.4"}, **ERRORS},
        }
    },
}
