-- Which SKU each shelf label shows, with which template.
CREATE TABLE label_bindings (
    label_id  TEXT PRIMARY KEY,
    sku       TEXT NOT NULL,
    template  TEXT,
    bound_at  REAL NOT NULL
);
CREATE INDEX label_bindings_sku ON label_bindings (sku);

-- The newest price item received per SKU (version strictly increasing per SKU).
CREATE TABLE sku_items (
    sku         TEXT PRIMARY KEY,
    version     INTEGER NOT NULL,
    item        TEXT NOT NULL,          -- the command's item as JSON
    command_id  TEXT,
    valid_from  REAL,                   -- POSIX seconds; NULL = at once
    received_at REAL NOT NULL
);

-- Desired vs displayed content per label (the label's twin).
CREATE TABLE label_twins (
    label_id           TEXT PRIMARY KEY,
    desired_sku        TEXT,
    desired_version    INTEGER,
    desired_hash       TEXT,
    desired_command_id TEXT,
    displayed_sku      TEXT,
    displayed_version  INTEGER,
    displayed_hash     TEXT,
    displayed_at       REAL,
    status             TEXT NOT NULL,   -- unbound | in-sync | pending | updating | failed
    last_error         TEXT,
    updated_at         REAL NOT NULL
);

-- Rendered content by hash: the packed bytes for the label and a PNG preview.
CREATE TABLE label_content (
    content_hash TEXT PRIMARY KEY,
    model        TEXT NOT NULL,
    packed       BLOB NOT NULL,
    preview_png  BLOB NOT NULL,
    created_at   REAL NOT NULL
);

-- Per-target results of label commands until they are acknowledged to the cloud.
CREATE TABLE label_results (
    command_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,        -- order within the command
    label_id   TEXT,
    sku        TEXT,
    version    INTEGER,
    status     TEXT,                    -- NULL while the target is still in progress
    at         REAL,
    error      TEXT,
    acked      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (command_id, seq)
);
CREATE INDEX label_results_open ON label_results (command_id, status, acked);
