"""The OpenAPI description of the price guard's part of the API: held prices, their
review, and the shelf (merged into ``openapi.OPENAPI``)."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi_common import ERRORS, NUM, STR, ref, response

_MONEY = {"type": "string", "pattern": r"^\d{1,9}(\.\d{1,4})?$"}
_NMONEY = {"oneOf": [{"type": "null"}, _MONEY]}
_INT = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Any] = {
    "Shelf": {
        "type": "object",
        "description": "contract 1.2 gateway-status.shelf: the labels this gateway owns",
        "required": ["bound", "current", "pending", "held", "failed", "compliance"],
        "properties": {
            "bound": _INT,
            "current": _INT,
            "pending": _INT,
            "held": _INT,
            "failed": _INT,
            "compliance": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "time_to_shelf_s": {
                "type": "object",
                "required": ["window_h", "count", "p50", "p95", "max"],
                "properties": {
                    "window_h": {"type": "number"},
                    "count": _INT,
                    "p50": NUM,
                    "p95": NUM,
                    "max": NUM,
                },
            },
        },
    },
    "HeldPrice": {
        "type": "object",
        "required": ["sku", "version", "price", "currency", "rules", "labels", "held_at"],
        "properties": {
            "sku": {"type": "string"},
            "version": {"type": "integer"},
            "price": _MONEY,
            "currency": {"type": "string"},
            "original_price": _NMONEY,
            "previous_price": _NMONEY,
            "lowest_prior_price": _NMONEY,
            "history_days": NUM,
            "window_days": {"type": "integer", "description": "the prior-price window"},
            "rules": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rule", "mode", "message"],
                    "properties": {
                        "rule": {"type": "string"},
                        "mode": {"enum": ["warn", "hold"]},
                        "message": {"type": "string"},
                    },
                },
            },
            "labels": _INT,
            "label_ids": {"type": "array", "items": {"type": "string"}},
            "name": STR,
            "promo_text": STR,
            "unit_price_text": STR,
            "valid_from": STR,
            "current_version": {"type": ["integer", "null"]},
            "held_at": {"type": "string"},
            "command_id": STR,
            "error": {"type": "string"},
        },
    },
    "Prices": {
        "type": "object",
        "required": ["held", "rules"],
        "properties": {
            "held": {"type": "array", "items": ref("HeldPrice")},
            "rules": {"type": "object"},
            "currency": STR,
            "rules_version": {"type": "integer"},
            "held_alert_after_s": {"type": "number"},
        },
    },
    "ShelfLabel": {
        "type": "object",
        "required": ["label_id", "sku", "state", "shows", "should_show", "reason"],
        "properties": {
            "label_id": {"type": "string"},
            "sku": STR,
            "state": {"enum": ["current", "pending", "failed", "unbound"]},
            "shows": {"type": ["integer", "null"]},
            "should_show": {"type": ["integer", "null"]},
            "held_version": {"type": ["integer", "null"]},
            "held_because": STR,
            "reason": STR,
            "reason_code": {
                "enum": [None, "not-bound", "no-price", "failed", "writing", "waiting"]
            },
            "model": STR,
            "online": {"type": "boolean"},
            "width": {"type": ["integer", "null"], "description": "the panel's pixels"},
            "label": {"oneOf": [{"type": "null"}, ref("LabelState")]},
        },
    },
    "ShelfSearch": {
        "type": "object",
        "required": ["sku", "current", "held", "labels"],
        "properties": {
            "sku": {"type": "string"},
            "current": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["version", "price", "currency"],
                        "properties": {
                            "version": {"type": "integer"},
                            "price": _MONEY,
                            "currency": {"type": "string"},
                        },
                    },
                ]
            },
            "held": {"oneOf": [{"type": "null"}, ref("HeldPrice")]},
            "labels": {"type": "array", "items": ref("ShelfLabel")},
        },
    },
}


def _decision(action: str, what: str) -> dict[str, Any]:
    return {
        "post": {
            "security": [{"session": [], "csrf": []}],
            "summary": f"{what} a held price (admin; a step-up: the second factor confirmed "
            "within 5 minutes)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["sku", "version"],
                            "properties": {
                                "sku": {"type": "string", "minLength": 1, "maxLength": 64},
                                "version": {"type": "integer", "minimum": 1},
                                "note": {"type": "string", "maxLength": 200},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": response(
                    {
                        "type": "object",
                        "required": ["sku", "version", "decision"],
                        "properties": {
                            "sku": {"type": "string"},
                            "version": {"type": "integer"},
                            "decision": {"const": action},
                        },
                    }
                ),
                "400": response(ref("Error"), "A bad sku, version or note"),
                "409": response(ref("Error"), "Not held (decided or superseded meanwhile)"),
                **ERRORS,
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/prices": {
        "get": {
            "summary": "The price rules in force and every price held for review",
            "responses": {"200": response(ref("Prices")), **ERRORS},
        }
    },
    "/api/prices/release": _decision("release", "Release"),
    "/api/prices/discard": _decision("discard", "Discard"),
    "/api/prices/preview.png": {
        "get": {
            "summary": "A held price as it would look on one of its labels (PNG)",
            "parameters": [
                {"name": "sku", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "version", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "label_id", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "image/png"},
                "404": response(ref("Error"), "Not held, or not one of its labels"),
                **ERRORS,
            },
        }
    },
    "/api/shelf/rewrite": {
        "post": {
            "security": [{"session": [], "csrf": []}],
            "summary": "Write every label bound to a SKU again (technician; a step-up)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["sku"],
                            "properties": {"sku": {"type": "string", "minLength": 1}},
                        }
                    }
                },
            },
            "responses": {
                "200": response(
                    {
                        "type": "object",
                        "required": ["sku", "labels"],
                        "properties": {
                            "sku": {"type": "string"},
                            "labels": {"type": "array", "items": {"type": "string"}},
                        },
                    }
                ),
                "404": response(ref("Error"), "No label is bound to the SKU"),
                **ERRORS,
            },
        }
    },
    "/api/shelf": {
        "get": {
            "summary": "Every label of a SKU (or of a label's SKU): what it shows, what it "
            "should show, and why they differ",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": response(ref("ShelfSearch")),
                "400": response(ref("Error"), "No query"),
                "404": response(ref("Error"), "No such SKU or label"),
                **ERRORS,
            },
        }
    },
}
