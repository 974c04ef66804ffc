-- Key/value state of the gateway itself (session counter, stream sequence numbers...).
CREATE TABLE gateway_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
