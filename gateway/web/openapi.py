"""The OpenAPI 3.1 description of the local JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from gateway import __version__
from gateway.web import openapi_access, openapi_more, openapi_prices
from gateway.web.openapi_common import ERRORS, NTS, NUM, STR, TS, ref, response

SCHEMAS: dict[str, Any] = {
    "DeviceHistory": {
        "type": "object",
        "required": ["device_id", "hours", "bucket_s", "series", "thresholds"],
        "properties": {
            "device_id": {"type": "string"},
            "hours": {"type": "number"},
            "bucket_s": {"type": ["integer", "null"]},
            "series": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["start", "mean", "min", "max"],
                        "properties": {
                            "start": {"type": "string"},
                            "mean": {"type": "number"},
                            "min": {"type": "number"},
                            "max": {"type": "number"},
                        },
                    },
                },
            },
            "thresholds": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rule", "metric", "op", "threshold", "clear", "severity"],
                    "properties": {
                        "rule": {"type": "string"},
                        "metric": {"type": "string"},
                        "op": {"enum": ["above", "below"]},
                        "threshold": {"type": "number"},
                        "clear": {"type": ["number", "null"]},
                        "severity": {"enum": ["info", "warning", "critical"]},
                    },
                },
            },
        },
    },
    "Energy": {
        "type": "object",
        "required": [
            "zones",
            "open",
            "forecast_today",
            "forecast_mape",
            "learned_days",
            "settings",
        ],
        "properties": {
            "zones": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["zone", "kind", "reachable", "on", "override", "today", "course"],
                    "properties": {
                        "zone": {"type": "string"},
                        "kind": {"enum": ["hvac", "lights"]},
                        "reachable": {"type": "boolean"},
                        "on": {"type": ["boolean", "null"]},
                        "setpoint": {"type": ["number", "null"]},
                        "level": {"type": ["integer", "null"]},
                        "temperature": {"type": ["number", "null"]},
                        "energy_kwh": {"type": ["number", "null"]},
                        "why": {"type": ["string", "null"]},
                        "writes": {"type": "integer"},
                        "override": {
                            "oneOf": [
                                {"type": "null"},
                                {
                                    "type": "object",
                                    "required": ["user", "until"],
                                    "properties": {
                                        "user": {"type": "string"},
                                        "until": {"type": "string"},
                                    },
                                },
                            ]
                        },
                        "problem": {"type": ["string", "null"]},
                        "today": {
                            "type": "object",
                            "required": ["since", "kwh", "fixed_schedule_kwh"],
                            "properties": {
                                "since": {"type": ["string", "null"]},
                                "kwh": {"type": ["number", "null"]},
                                "fixed_schedule_kwh": {"type": ["number", "null"]},
                            },
                        },
                        "course": {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {"type": "null"},
                                    {
                                        "type": "array",
                                        "items": {"type": ["number", "null"]},
                                        "minItems": 2,
                                        "maxItems": 2,
                                    },
                                ]
                            },
                        },
                    },
                },
            },
            "open": {"type": "boolean"},
            "forecast_today": {"type": "array", "items": {"type": "number"}},
            "footfall_today": {"type": "array", "items": {"type": ["number", "null"]}},
            "forecast_mape": {"type": ["number", "null"]},
            "learned_days": {"type": "integer"},
            "settings": {
                "type": "object",
                "required": ["from", "version", "applied_at"],
                "properties": {
                    "from": {"enum": ["configuration", "cloud"]},
                    "version": {"type": ["integer", "null"]},
                    "applied_at": {"type": ["string", "null"]},
                },
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "description": "error: in English; code and args: for the page to say it in its language",
        "properties": {
            "error": {"type": "string"},
            "code": {"type": "string"},
            "args": {"type": "object"},
        },
    },
    "Broker": {
        "type": "object",
        "required": ["connected", "state", "host", "port", "last_error"],
        "properties": {
            "connected": {"type": "boolean"},
            "state": {"type": "string"},
            "host": {"type": "string"},
            "port": {"type": "integer"},
            "session": {"type": "integer"},
            "connected_since": NTS,
            "disconnected_since": NTS,
            "last_error": STR,
            "published": {"type": "integer"},
            "delivered": {"type": "integer"},
            "publish_latency_s": NUM,
        },
    },
    "Buffer": {
        "type": "object",
        "required": ["pending", "bytes", "dropped", "oldest_age_s"],
        "properties": {
            "pending": {"type": "integer", "minimum": 0},
            "bytes": {"type": "integer", "minimum": 0},
            "dropped": {"type": "integer", "minimum": 0},
            "oldest_age_s": NUM,
        },
    },
    "LabelState": {
        "type": "object",
        "description": "what a label should show and shows (the contract's device-state label)",
        "required": ["sku", "desired", "displayed", "displayed_at", "status", "last_error"],
        "properties": {
            "sku": STR,
            "desired": {"oneOf": [{"type": "null"}, ref("ContentRef")]},
            "displayed": {"oneOf": [{"type": "null"}, ref("ContentRef")]},
            "displayed_at": NTS,
            "status": {"enum": ["unbound", "pending", "updating", "in-sync", "failed", "held"]},
            "last_error": STR,
        },
    },
    "ContentRef": {
        "type": "object",
        "required": ["sku", "version", "content_hash"],
        "properties": {
            "sku": {"type": "string"},
            "version": {"type": "integer"},
            "content_hash": {"type": "string"},
        },
    },
    "Label": {
        "type": "object",
        "required": ["label_id", "model", "online", "label", "can_flash", "can_repush"],
        "properties": {
            "label_id": {"type": "string"},
            "model": {"type": "string"},
            "online": {"type": "boolean"},
            "battery_pct": NUM,
            "last_seen": TS,
            "width": {"type": ["integer", "null"], "description": "the panel's pixels"},
            "height": {"type": ["integer", "null"]},
            "label": {"oneOf": [{"type": "null"}, ref("LabelState")]},
            "can_flash": {"type": "boolean", "description": "the label has an LED"},
            "can_repush": {"type": "boolean", "description": "it has content to write"},
        },
    },
    "Device": {
        "type": "object",
        "required": [
            "device_id",
            "address",
            "kind",
            "model",
            "name",
            "online",
            "first_seen",
            "last_seen",
            "rssi",
            "battery_pct",
            "battery_mv",
            "readings",
            "tags",
        ],
        "properties": {
            "device_id": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
            "address": {"type": "string", "pattern": "^[0-9A-F]{2}(:[0-9A-F]{2}){5}$"},
            "kind": {"enum": ["beacon", "sensor", "label", "unknown"]},
            "model": {"type": "string"},
            "name": STR,
            "online": {"type": ["boolean", "null"]},
            "first_seen": TS,
            "last_seen": TS,
            "rssi": {"type": ["integer", "null"]},
            "battery_pct": NUM,
            "battery_mv": {"type": ["integer", "null"]},
            "readings": {"type": "object", "additionalProperties": {"type": "number"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "interval_s": NUM,
            "beacon": {"type": ["object", "null"]},
            "label": {"type": ["object", "null"]},
            # Only in a store with several gateways:
            "owner": {**STR, "description": "the gateway that owns the device (null: none)"},
            "owner_epoch": {"type": ["integer", "null"], "minimum": 1},
            "heard_by": {
                "type": "object",
                "description": "other gateways that hear the device, with their RSSI",
                "additionalProperties": {"type": "integer"},
            },
        },
    },
    "Alert": {
        "type": "object",
        "required": ["id", "rule", "device_id", "phase", "severity", "metric", "started_at"],
        "properties": {
            "id": STR,
            "rule": {"type": "string"},
            "device_id": STR,
            "phase": {"enum": ["pending", "firing", "resolved"]},
            "severity": {"enum": ["info", "warning", "critical"]},
            "metric": {"type": "string"},
            "value": NUM,
            "threshold": {"type": "number"},
            "started_at": TS,
            "resolved_at": NTS,
            "message": {"type": "string"},
            "acknowledged_by": STR,
            "silenced_until": NTS,
            "silenced_by": STR,
        },
    },
    "Status": {
        "type": "object",
        "required": [
            "store_id",
            "gateway_id",
            "version",
            "started_at",
            "now",
            "devices",
            "adapters",
            "components",
            "broker",
            "buffer",
            "alerts",
            "ownership",
            "shelf",
            "prices_held",
            "energy",
        ],
        "properties": {
            "store_id": {"type": "string"},
            "gateway_id": {"type": "string"},
            "version": {"type": "string"},
            "started_at": TS,
            "now": {**TS, "description": "the gateway's clock"},
            "devices": {
                "type": "object",
                "required": ["total", "online"],
                "properties": {
                    "total": {"type": "integer", "minimum": 0},
                    "online": {"type": "integer", "minimum": 0},
                },
            },
            "adapters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "state", "adverts", "adverts_per_s"],
                    "properties": {
                        "name": {"type": "string"},
                        "address": STR,
                        "state": {"enum": ["up", "down", "recovering"]},
                        "mode": STR,
                        "adverts": {"type": "integer"},
                        "adverts_per_s": {"type": "number"},
                        "restarts": {"type": "integer"},
                        "last_error": STR,
                    },
                },
            },
            "components": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "state", "restarts"],
                    "properties": {
                        "name": {"type": "string"},
                        "state": {"enum": ["starting", "running", "restarting", "stopped"]},
                        "restarts": {"type": "integer"},
                        "last_error": STR,
                        "critical": {"type": "boolean"},
                    },
                },
            },
            "broker": {"oneOf": [{"type": "null"}, ref("Broker")]},
            "buffer": {"oneOf": [{"type": "null"}, ref("Buffer")]},
            "alerts": {
                "type": "object",
                "required": ["firing", "pending"],
                "properties": {"firing": {"type": "integer"}, "pending": {"type": "integer"}},
            },
            "database_replaced": STR,
            "energy": {"type": "boolean", "description": "the store has energy zones"},
            "ownership": {
                "type": ["object", "null"],
                "description": "several gateways in one store: devices owned per gateway",
                "properties": {
                    "owned": {"type": "object", "additionalProperties": {"type": "integer"}},
                    "offline": {"type": "array", "items": {"type": "string"}},
                },
            },
            "shelf": {"oneOf": [{"type": "null"}, ref("Shelf")]},
            "prices_held": {"type": "integer", "minimum": 0},
            "web": {
                "type": "object",
                "required": ["tls", "client_certificates"],
                "properties": {
                    "tls": {
                        "description": "the certificate served; null: plain HTTP",
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "object",
                                "required": ["fingerprint", "not_after", "self_signed"],
                                "properties": {
                                    "fingerprint": {"type": "string"},
                                    "subject": {"type": "string"},
                                    "names": {"type": "array", "items": {"type": "string"}},
                                    "not_after": {"type": "string"},
                                    "self_signed": {"type": "boolean"},
                                },
                            },
                        ],
                    },
                    "client_certificates": {"type": "boolean"},
                },
            },
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "store-gateway local API", "version": __version__},
    "components": {
        "schemas": {**SCHEMAS, **openapi_prices.SCHEMAS, **openapi_access.SCHEMAS},
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sgw_session"},
            "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            "counter": {"type": "http", "scheme": "bearer"},
        },
    },
    "security": [{"session": []}],
    "paths": {
        "/api/status": {"get": {"responses": {"200": response(ref("Status")), **ERRORS}}},
        "/api/devices": {
            "get": {
                "responses": {
                    "200": response(
                        {
                            "type": "object",
                            "required": ["devices"],
                            "properties": {"devices": {"type": "array", "items": ref("Device")}},
                        }
                    ),
                    **ERRORS,
                }
            }
        },
        "/api/devices/{device_id}/history": {
            "get": {
                "summary": "A device's readings (mean, lowest, highest per 5 minutes) and the "
                "alert thresholds that watch them",
                "parameters": [
                    {
                        "name": "device_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "hours",
                        "in": "query",
                        "schema": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": 168,
                            "default": 24,
                        },
                    },
                ],
                "responses": {
                    "200": response(ref("DeviceHistory")),
                    "400": response(ref("Error"), "hours out of range"),
                    "404": response(ref("Error"), "No such device"),
                    **ERRORS,
                },
            }
        },
        "/api/alerts": {
            "get": {
                "responses": {
                    "200": response(
                        {
                            "type": "object",
                            "required": ["pending", "firing", "resolved"],
                            "properties": {
                                k: {"type": "array", "items": ref("Alert")}
                                for k in ("pending", "firing", "resolved")
                            },
                        }
                    ),
                    **ERRORS,
                }
            }
        },
        "/api/alerts/{alert_id}/acknowledge": {
            "post": {
                "security": [{"session": [], "csrf": []}],
                "summary": "Acknowledge an alert (technician)",
                "parameters": [
                    {
                        "name": "alert_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": response(ref("Alert")),
                    "404": response(ref("Error")),
                    **ERRORS,
                },
            }
        },
        "/api/alerts/{alert_id}/silence": {
            "post": {
                "security": [{"session": [], "csrf": []}],
                "summary": "Silence an alert for a duration (technician)",
                "parameters": [
                    {
                        "name": "alert_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["duration_s"],
                                "properties": {
                                    "duration_s": {
                                        "type": "integer",
                                        "minimum": 60,
                                        "maximum": 604800,
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": response(ref("Alert")),
                    "400": response(ref("Error")),
                    "404": response(ref("Error")),
                    **ERRORS,
                },
            }
        },
        "/api/labels": {
            "get": {
                "summary": "Shelf labels with desired and displayed content",
                "responses": {
                    "200": response(
                        {
                            "type": "object",
                            "required": ["labels"],
                            "properties": {"labels": {"type": "array", "items": ref("Label")}},
                        }
                    ),
                    **ERRORS,
                },
            }
        },
        "/api/labels/{label_id}/repush": {
            "post": {
                "security": [{"session": [], "csrf": []}],
                "summary": "Write the label's desired content again (technician)",
                "parameters": [
                    {
                        "name": "label_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": response({"type": "object"}),
                    "409": response(ref("Error")),
                    **ERRORS,
                },
            }
        },
        "/api/footfall/{counter_id}": {
            "post": {
                "security": [{"counter": []}],
                "summary": "A door counter's report of people in and out per period (its token)",
                "parameters": [
                    {
                        "name": "counter_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "token",
                        "in": "query",
                        "required": False,
                        "description": "the counter's token, for counters that cannot set headers",
                        "schema": {"type": "string"},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "description": "in the counter's configured format (generic: "
                                "{periods: [{start, end, in, out, line?}]}; vivotek)",
                            }
                        }
                    },
                },
                "responses": {
                    "200": response(
                        {
                            "type": "object",
                            "required": ["stored", "repeated", "too_old"],
                            "properties": {
                                "stored": {"type": "integer", "minimum": 0},
                                "repeated": {"type": "integer", "minimum": 0},
                                "too_old": {"type": "integer", "minimum": 0},
                            },
                        }
                    ),
                    "400": response(ref("Error"), "The report cannot be taken (nothing stored)"),
                    "401": response(ref("Error"), "Unknown counter or wrong token"),
                },
            }
        },
        "/api/energy": {
            "get": {
                "summary": "Lighting and air-conditioning zones, today's forecast footfall",
                "responses": {
                    "200": response(ref("Energy")),
                    "404": response(ref("Error"), "No energy zones configured"),
                    **ERRORS,
                },
            }
        },
        "/api/energy/zones/{zone}/override": {
            "post": {
                "security": [{"session": [], "csrf": []}],
                "summary": "Set a zone by hand for a bounded time (technician)",
                "parameters": [
                    {"name": "zone", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["on", "duration_s"],
                                "properties": {
                                    "on": {"type": "boolean"},
                                    "setpoint": {"type": "number"},
                                    "level": {"type": "integer", "minimum": 0, "maximum": 100},
                                    "duration_s": {
                                        "type": "number",
                                        "exclusiveMinimum": 0,
                                        "maximum": 14400,
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": response(
                        {
                            "type": "object",
                            "required": ["zone", "user", "until"],
                            "properties": {
                                "zone": {"type": "string"},
                                "user": {"type": "string"},
                                "until": {"type": "string"},
                            },
                        }
                    ),
                    "400": response(ref("Error"), "Outside the zone's bounds"),
                    "404": response(ref("Error"), "No such zone"),
                    **ERRORS,
                },
            }
        },
        "/api/energy/zones/{zone}/release": {
            "post": {
                "security": [{"session": [], "csrf": []}],
                "summary": "End a zone's override now: the plan takes it back (technician)",
                "parameters": [
                    {"name": "zone", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": response({"type": "object", "required": ["zone"]}),
                    "404": response(ref("Error"), "No such zone"),
                    **ERRORS,
                },
            }
        },
        "/api/config": {
            "get": {
                "summary": "The running configuration, secrets removed (admin)",
                "responses": {"200": response({"type": "object"}), **ERRORS},
            }
        },
        "/api/live": {
            "get": {
                "summary": "Server-sent events: 'update' with status and changed devices",
                "responses": {"200": {"description": "text/event-stream"}, **ERRORS},
            }
        },
        **openapi_prices.PATHS,
        **openapi_more.PATHS,
        **openapi_access.PATHS,
    },
}


if __name__ == "__main__":  # the page's build reads it (scripts/build-page)
    import json
    import sys

    json.dump(OPENAPI, sys.stdout, indent=1, ensure_ascii=False)
