-- The durable outbox: every message bound for the broker, until its PUBACK.
CREATE TABLE outbox (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream    TEXT NOT NULL,        -- status | acks | events | state | telemetry
    priority  INTEGER NOT NULL,     -- 0 status and acks, 1 events, 2 device state, 3 telemetry
    topic     TEXT NOT NULL,
    payload   BLOB NOT NULL,        -- the JSON as produced ("historical" is set at send time)
    retain    INTEGER NOT NULL,
    seq       INTEGER,              -- per-stream seq, or the device's state seq
    conflate  TEXT,                 -- status and device state: only the newest per key is kept
    created   REAL NOT NULL,        -- wall clock of production
    offline   INTEGER NOT NULL,     -- produced while the broker was unreachable
    bytes     INTEGER NOT NULL
);
CREATE INDEX outbox_order ON outbox (priority, id);
CREATE UNIQUE INDEX outbox_conflate ON outbox (conflate) WHERE conflate IS NOT NULL;
CREATE INDEX outbox_stream ON outbox (stream, id);

-- Messages that can never be published (too large, refused by the broker).
CREATE TABLE outbox_dead (
    id       INTEGER PRIMARY KEY,
    stream   TEXT NOT NULL,
    topic    TEXT NOT NULL,
    payload  BLOB NOT NULL,
    seq      INTEGER,
    created  REAL NOT NULL,
    reason   TEXT NOT NULL,
    dead_at  REAL NOT NULL
);

-- Per-device state seq (strictly increasing, persisted) and last publication.
CREATE TABLE device_seq (
    device_id TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL
);
