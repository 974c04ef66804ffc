"""The OpenAPI description of signing in, one's account, and the admins' users, sessions
and audit (merged into ``openapi.OPENAPI``)."""

from __future__ import annotations

from typing import Any

from gateway.web.openapi_common import ACT, ERRORS, NUM, STR, body, obj, ref, response

_ROLE = {"enum": ["viewer", "technician", "admin"]}
_WAIT = "Too many failed attempts: args.wait_s (and Retry-After) says how long to wait"

SCHEMAS: dict[str, Any] = {
    "Session": {
        "type": "object",
        "required": ["user", "role", "csrf", "second_factor", "enrol_required"],
        "properties": {
            "user": {"type": "string"},
            "role": _ROLE,
            "csrf": {"type": "string", "minLength": 20},
            "second_factor": {"type": "boolean", "description": "the user has one set up"},
            "enrol_required": {
                "type": "boolean",
                "description": "the role needs a second factor and the user has none: "
                "the session may only set one up",
            },
            "stepped_up_until": {
                **NUM,
                "description": "POSIX seconds until which sensitive actions need no code",
            },
            "recovery_left": {"type": "integer", "minimum": 0},
        },
        "additionalProperties": False,
    },
    "User": obj(
        ["name", "role", "disabled", "second_factor", "password_at", "sessions"],
        name={"type": "string"},
        role=_ROLE,
        disabled={"type": "boolean"},
        second_factor={"type": "boolean"},
        second_factor_required={"type": "boolean"},
        password_at={"type": "number", "description": "POSIX seconds"},
        changed_at={"type": "number"},
        sessions={"type": "integer", "minimum": 0},
    ),
    "AuditEntry": {
        "type": "object",
        "description": "contract 1.2 audit object, with when",
        "required": ["at", "actor", "action", "via", "ok", "second_factor"],
        "properties": {
            "at": {"type": "number"},
            "at_text": {"type": "string"},
            "actor": STR,
            "role": STR,
            "action": {"type": "string"},
            "target": STR,
            "via": {"enum": ["page", "api", "cli"]},
            "from": STR,
            "second_factor": {"type": "boolean"},
            "ok": {"type": "boolean"},
            "detail": STR,
        },
    },
    "WebSession": obj(
        ["id", "user", "role", "address", "signed_in_at", "idle_s", "second_factor", "yours"],
        id={"type": "string"},
        user={"type": "string"},
        role=_ROLE,
        address={"type": "string"},
        signed_in_at={"type": "number"},
        idle_s={"type": "number"},
        second_factor={"type": "boolean"},
        yours={"type": "boolean"},
    ),
}

_NAME = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]

PATHS: dict[str, Any] = {
    "/api/login": {
        "post": {
            "security": [],
            "summary": "Sign in: the password, then the second factor's code when the user has "
            "one; sets the session cookie and returns the CSRF token",
            "requestBody": body(
                obj(
                    ["user", "password"],
                    user={"type": "string"},
                    password={"type": "string"},
                    code={"type": "string", "description": "TOTP code, or a recovery code"},
                )
            ),
            "responses": {
                "200": response(ref("Session")),
                "401": response(
                    ref("Error"),
                    "wrong-credentials, or second-factor-required (give the code)",
                ),
                "429": response(ref("Error"), _WAIT),
            },
        }
    },
    "/api/logout": {
        "post": {"security": ACT, "responses": {"200": response({"type": "object"}), **ERRORS}}
    },
    "/api/session": {"get": {"responses": {"200": response(ref("Session")), **ERRORS}}},
    "/api/me/password": {
        "post": {
            "security": ACT,
            "summary": "Change one's password (every other session of the user ends)",
            "requestBody": body(
                obj(["current", "new"], current={"type": "string"}, new={"type": "string"})
            ),
            "responses": {
                "200": response(ref("Session")),
                "400": response(ref("Error"), "The new password is too short"),
                "403": response(ref("Error"), "The current password is wrong"),
                **ERRORS,
            },
        }
    },
    "/api/me/second-factor": {
        "post": {
            "security": ACT,
            "summary": "Start setting up a second factor: a new secret and its QR code (SVG, "
            "drawn on the box); in force once a code confirms it",
            "responses": {
                "200": response(
                    obj(
                        ["secret", "uri", "qr_svg"],
                        secret={"type": "string"},
                        uri={"type": "string"},
                        qr_svg={"type": "string"},
                    )
                ),
                **ERRORS,
            },
        }
    },
    "/api/me/second-factor/confirm": {
        "post": {
            "security": ACT,
            "summary": "Confirm the new second factor with a code; returns ten recovery codes, "
            "shown this once",
            "requestBody": body(obj(["code"], code={"type": "string"})),
            "responses": {
                "200": response(
                    obj(
                        ["recovery_codes"],
                        recovery_codes={"type": "array", "items": {"type": "string"}},
                    )
                ),
                "400": response(ref("Error"), "wrong-code, or no set-up started"),
                **ERRORS,
            },
        }
    },
    "/api/me/step-up": {
        "post": {
            "security": ACT,
            "summary": "Confirm the second factor again: sensitive actions for 5 minutes",
            "requestBody": body(obj(["code"], code={"type": "string"})),
            "responses": {
                "200": response(ref("Session")),
                "409": response(ref("Error"), "No second factor set up"),
                **ERRORS,
                "403": response(ref("Error"), "wrong-code (or used already)"),
                "429": response(ref("Error"), _WAIT),
            },
        }
    },
    "/api/users": {
        "get": {
            "summary": "The users (admin)",
            "responses": {
                "200": response(obj(["users"], users={"type": "array", "items": ref("User")})),
                **ERRORS,
            },
        },
        "post": {
            "security": ACT,
            "summary": "Add a user (admin; a step-up)",
            "requestBody": body(
                obj(
                    ["name", "role", "password"],
                    name={"type": "string"},
                    role=_ROLE,
                    password={"type": "string", "minLength": 10},
                )
            ),
            "responses": {
                "201": response(ref("User")),
                "400": response(ref("Error"), "A bad name, role or password (user-invalid)"),
                **ERRORS,
            },
        },
    },
    "/api/users/{name}": {
        "post": {
            "security": ACT,
            "summary": "Change a user's role, state or password (admin; a step-up); their "
            "sessions end",
            "parameters": _NAME,
            "requestBody": body(
                obj(
                    [],
                    role=_ROLE,
                    disabled={"type": "boolean"},
                    password={"type": "string", "minLength": 10},
                )
            ),
            "responses": {
                "200": response(ref("User")),
                "400": response(ref("Error"), "Nothing to change, or the last admin"),
                "404": response(ref("Error"), "No such user"),
                **ERRORS,
            },
        },
        "delete": {
            "security": ACT,
            "summary": "Remove a user (admin; a step-up)",
            "parameters": _NAME,
            "responses": {
                "200": response(obj(["removed"], removed={"type": "string"})),
                "400": response(ref("Error"), "The last admin"),
                "404": response(ref("Error"), "No such user"),
                **ERRORS,
            },
        },
    },
    "/api/users/{name}/second-factor/reset": {
        "post": {
            "security": ACT,
            "summary": "Reset someone's second factor: they set up a new one (admin; a step-up)",
            "parameters": _NAME,
            "responses": {
                "200": response(ref("User")),
                "404": response(ref("Error"), "No such user"),
                **ERRORS,
            },
        }
    },
    "/api/sessions": {
        "get": {
            "summary": "Everyone signed in (admin)",
            "responses": {
                "200": response(
                    obj(["sessions"], sessions={"type": "array", "items": ref("WebSession")})
                ),
                **ERRORS,
            },
        }
    },
    "/api/sessions/{session_id}/sign-out": {
        "post": {
            "security": ACT,
            "summary": "Sign a session out (admin; a step-up)",
            "parameters": [
                {"name": "session_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": response(
                    obj(
                        ["signed_out", "user"],
                        signed_out={"type": "string"},
                        user={"type": "string"},
                    )
                ),
                "404": response(ref("Error"), "No such session"),
                **ERRORS,
            },
        }
    },
    "/api/audit": {
        "get": {
            "summary": "What people did, newest first (admin)",
            "parameters": [
                {"name": "actor", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "action",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "an action or its start (price. for every price decision)",
                },
                {"name": "since", "in": "query", "schema": {"type": "number"}},
                {"name": "until", "in": "query", "schema": {"type": "number"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
            ],
            "responses": {
                "200": response(
                    obj(["entries"], entries={"type": "array", "items": ref("AuditEntry")})
                ),
                "400": response(ref("Error"), "A bad filter"),
                **ERRORS,
            },
        }
    },
}
