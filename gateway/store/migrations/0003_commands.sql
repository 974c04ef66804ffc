-- Commands accepted from the cloud (durable before the broker gets its PUBACK).
CREATE TABLE commands (
    id           TEXT PRIMARY KEY,
    type         TEXT NOT NULL,
    body         TEXT NOT NULL,          -- the command JSON
    digest       TEXT NOT NULL,          -- sha256 of the message as received
    received_at  REAL NOT NULL,
    expires_at   REAL NOT NULL,
    state        TEXT NOT NULL           -- accepted | running | done
);
CREATE INDEX commands_state ON commands (state, received_at);
